"""`qg policy check`: every error, with its path and line, in Chinese and English."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from services.rules.cli import policy_app
from services.rules.policy.loader import check_text
from tests.unit.rules.world import POLICIES

pytestmark = pytest.mark.unit

BAD = """\
id: test-pack
version: 1
title: 测试
effective_from: 2025-01-01T00:00:00+08:00
organisation:
  timezone: Asia/Shanghia
rules:
  - id: content.flooding
    detector: flooding
    title: 刷屏
    params: {max_messages: 10, within: 60}
  - id: content.quiet_hours
    detector: quiet_hours
    title: 休息时段
  - id: reply.leader_task
    detector: leader_task_reply
    title: 领导任务
    params:
      within_minutes: -5
      surprise: 1
    ladder: nope
  - id: content.flooding
    detector: no_such_detector
    title: 重复
ladders:
  bad:
    steps: []
"""


@pytest.mark.parametrize("name", ["company-default", "jigongshan-points", "xy-qq-fines"])
def test_every_default_pack_is_valid(name: str):
    pack, errors = check_text((POLICIES / f"{name}.yaml").read_text(encoding="utf-8"))
    assert errors == [] and pack is not None


def test_check_reports_every_error_with_path_and_line():
    _, errors = check_text(BAD)
    found = {(e.path, e.line) for e in errors}
    assert ("organisation.timezone", 6) in found
    assert ("rules[2].params.within_minutes", 19) in found
    assert ("rules[2].params.surprise", 20) in found
    assert ("rules[2].ladder", 21) in found
    assert ("rules[3].detector", 23) in found
    assert ("rules[3].id", 22) in found
    assert ("ladders.bad.steps", 27) in found
    within = next(e for e in errors if e.path == "rules[2].params.within_minutes")
    assert (within.zh, within.en) == ("必须是正数", "must be positive")


def test_yaml_syntax_errors_name_the_line():
    _, [error] = check_text("id: x\nrules: [\n  - a\n")
    assert error.line is not None and "YAML" in error.en


def test_the_cli_exits_nonzero_and_prints_each_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    result = CliRunner().invoke(policy_app, ["check", str(bad), str(POLICIES / "xy-qq-fines.yaml")])
    assert result.exit_code == 1
    assert "rules[2].params.within_minutes: 必须是正数 / must be positive" in result.output
    assert "xy-qq-fines.yaml: 通过 / OK" in result.output


def test_the_checked_in_json_schema_is_current_and_accepts_the_default_packs():
    import json

    import jsonschema
    import yaml

    from services.rules.policy.schema import render

    assert (POLICIES / "schema.json").read_bytes() == render(), "run `qg policy schema`"
    schema = json.loads(render())
    for name in ("company-default", "jigongshan-points", "xy-qq-fines"):
        doc = json.loads(json.dumps(yaml.safe_load((POLICIES / f"{name}.yaml").read_text()), default=str))
        jsonschema.validate(doc, schema)
