"""``qg ingest wecom-archive FILE``: batches, idempotent re-runs, bad lines named."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from contracts import topics
from services.common.settings import get_settings
from services.ingest.cli import app
from tests.integration.ingest.helpers import read_topic

pytestmark = pytest.mark.integration


def record(i: int, roomid: str = "wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA") -> bytes:
    return orjson.dumps({"msgid": f"1000{i}_1772414100", "action": "send", "from": "zhangsan", "tolist": ["lisi"],
                         "roomid": roomid, "msgtime": 1772414100123 + i, "msgtype": "text",
                         "text": {"content": f"第{i}条：月底前提交报销单 🧾"}})


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("QG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QG_EVENTLOG", "embedded")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_import_is_batched_idempotent_and_summarised_in_chinese_first(env):
    file = env / "archive.jsonl"
    file.write_bytes(b"\n".join([record(i) for i in range(25)] + [record(99, roomid="")]) + b"\n")
    runner = CliRunner()
    first = runner.invoke(app, ["wecom-archive", str(file), "--batch", "10"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("导入完成：新增 25 条，重复 0 条，跳过 1 条")
    again = runner.invoke(app, ["wecom-archive", str(file)])
    assert "新增 0 条，重复 25 条" in again.output
    assert len(read_topic(env / "eventlog.db", topics.CHAT.name)) == 25


def test_bad_line_stops_the_import_naming_the_line(env):
    file = env / "archive.jsonl"
    file.write_bytes(b"\n".join([record(1), record(2), b'{"msgid": "x", "action": "send"}']) + b"\n")
    result = CliRunner().invoke(app, ["wecom-archive", str(file), "--batch", "2"])
    assert result.exit_code == 1
    assert "lines[3].from" in result.output and "此前 2 条已导入" in result.output
