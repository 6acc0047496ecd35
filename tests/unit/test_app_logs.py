"""Log lines are JSON objects carrying the service and the request or event being handled."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from services.common import logs
from services.common.app import build_app
from services.common.settings import Settings

pytestmark = pytest.mark.unit


def _format(record: logging.LogRecord) -> dict:
    return json.loads(logs.JsonFormatter().format(record))


def test_a_line_has_time_level_logger_message_and_service() -> None:
    logs.configure("rules", "INFO", json=True)
    line = _format(logging.makeLogRecord({"name": "rules.engine", "levelname": "WARNING",
                                          "msg": "规则 %s 命中", "args": ("R-07",)}))
    assert line["level"] == "WARNING" and line["logger"] == "rules.engine"
    assert line["message"] == "规则 R-07 命中" and line["service"] == "rules"
    assert line["time"].endswith("+00:00")


def test_event_id_is_bound_for_a_block_and_then_dropped() -> None:
    record = logging.makeLogRecord({"msg": "handled"})
    with logs.bound(event_id="9f1c-evt"):
        assert _format(record)["event_id"] == "9f1c-evt"
    assert "event_id" not in _format(record)


def test_extras_are_kept_as_fields() -> None:
    record = logging.makeLogRecord({"msg": "dead-lettered", "topic": "qg.chat.v1", "offset": 42})
    line = _format(record)
    assert line["topic"] == "qg.chat.v1" and line["offset"] == 42


def test_uvicorn_access_lines_become_fields() -> None:
    record = logging.makeLogRecord({"name": "uvicorn.access", "msg": '%s - "%s %s HTTP/%s" %d',
                                    "args": ("10.0.0.5:5123", "GET", "/healthz", "1.1", 200)})
    line = _format(record)
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)


def test_request_id_appears_in_lines_logged_while_handling() -> None:
    router = APIRouter()

    @router.get("/work")
    def work() -> dict[str, str]:
        logging.getLogger("roster.api").info("导入花名册")
        return {}

    lines: list[dict] = []

    class Capture(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            lines.append(json.loads(logs.JsonFormatter().format(rec)))

    handler = Capture()
    logger = logging.getLogger("roster.api")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        TestClient(build_app("roster", Settings(), [router])).get("/work", headers={"X-Request-ID": "req-778"})
    finally:
        logger.removeHandler(handler)
    assert lines[0]["request_id"] == "req-778" and lines[0]["message"] == "导入花名册"
    assert "request_id" not in json.loads(logs.JsonFormatter().format(logging.makeLogRecord({"msg": "x"})))


def test_plain_format_for_terminals_still_shows_ids() -> None:
    with logs.bound(request_id="r-1"):
        text = logs.PlainFormatter().format(logging.makeLogRecord({"msg": "启动"}))
    assert "启动" in text and "request_id=r-1" in text
