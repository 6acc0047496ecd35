"""The audit chain end to end over HTTP: a QQ message comes in through the real ingest API (served by
uvicorn on a local port), becomes a sanction in penalties, and ``GET /v1/sanctions/{id}/audit``
follows it back to the canonical chat event and the raw OneBot body, reading ingest with the
service token (role auditor) exactly as under ``qg up``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import orjson
import pytest
import uvicorn
from fastapi.testclient import TestClient

from contracts import topics
from contracts.envelope import CloudEvent
from contracts.ids import derive_id
from contracts.violations import Evidence, ViolationDetected
from services.common import outbox
from services.common.auth import hash_token
from services.common.db import create_tables, make_engine
from services.common.settings import Settings
from services.ingest.adapters import onebot
from services.ingest.api import create_app as create_ingest_app
from services.penalties.api import create_app as create_penalties_app
from services.penalties.models import ALL_TABLES
from services.penalties.sanctioning import sanction_id
from tests.integration.ingest.helpers import AUDITOR_TOKEN, ONEBOT_SECRET, make_settings, read_topic
from tests.integration.penalties import scenario as sc
from tests.integration.penalties.api_support import feed

pytestmark = pytest.mark.integration
AD = "加我微信 wx-88888 领取内部优惠券，代理招募中，名额有限！"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ingest(tmp_path) -> Iterator[tuple[str, Settings]]:
    """The ingest API on a real socket; yields its base URL and settings."""
    settings = make_settings(tmp_path / "ingest")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_ingest_app(settings), host="127.0.0.1", port=port,
                                           log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "ingest did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", settings
    server.should_exit = True
    thread.join(timeout=10)


def post_qq_message(base_url: str, message_id: int) -> None:
    report = {"time": int(time.time()), "self_id": 3889001122, "post_type": "message", "message_type": "group",
              "sub_type": "normal", "message_id": message_id, "group_id": 80001, "user_id": 1001,
              "message": [{"type": "text", "data": {"text": AD}}], "raw_message": AD,
              "sender": {"user_id": 1001, "nickname": "张伟", "card": "张伟-销售部", "role": "member"}}
    body = orjson.dumps(report)
    answer = httpx.post(f"{base_url}/v1/ingest/onebot", content=body, timeout=5,
                        headers={"X-Signature": onebot.sign(body, ONEBOT_SECRET), "X-Self-ID": "3889001122",
                                 "Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text


def violation_of(chat: CloudEvent) -> CloudEvent:
    """What the rules service publishes for this chat message (the ad lexicon hit)."""
    at = datetime.fromisoformat(chat.data["occurred_at"])
    p = ViolationDetected(violation_id=derive_id("violation", chat.id, "content.ads"), rule_id="content.ads",
                          category="content", severity="medium", policy_id="default", policy_version=1,
                          platform="qq", group_id="80001", user_id="1001", employee_id="E1001", occurred_at=at,
                          causing_event_ids=[chat.id], evidence=Evidence(summary="发布广告", text=AD))
    return sc.ev(p, derive_id("violation-event", chat.id), at)


def penalties_client(engine, ingest_url: str, service_token: str | None) -> TestClient:
    settings = Settings(_env_file=None, tokens=f"{hash_token('tok-auditor')}:auditor:审计员",
                        ingest_url=ingest_url, service_token=service_token)
    return TestClient(create_penalties_app(settings, engine=engine))


def test_audit_of_a_chat_triggered_sanction_reaches_the_raw_onebot_body(ingest, tmp_path):
    base_url, ingest_settings = ingest
    post_qq_message(base_url, 1893456721)
    [chat] = read_topic(ingest_settings.log_path(), topics.CHAT.name)
    engine = make_engine(f"sqlite:///{tmp_path / 'penalties.db'}")
    create_tables(engine, outbox.RUNTIME_TABLES + ALL_TABLES)
    feed(engine, sc.policy_event(), *sc.roster_events(), violation_of(chat))
    sid = sanction_id(derive_id("violation", chat.id, "content.ads"), "E1001")
    auditor = {"Authorization": "Bearer tok-auditor"}

    with penalties_client(engine, base_url, AUDITOR_TOKEN) as client:
        audit = client.get(f"/v1/sanctions/{sid}/audit", headers=auditor)
    assert audit.status_code == 200, audit.text
    chain = audit.json()
    assert chain["sanction"]["rule_id"] == "content.ads" and chain["violation"]["causing_event_ids"] == [chat.id]
    [trigger] = chain["triggering_events"]
    assert trigger["status"] == "ok", trigger
    assert trigger["event"]["event"]["id"] == chat.id and trigger["event"]["event"]["data"]["text"] == AD
    receipt = trigger["event"]["receipt"]
    assert receipt["adapter"] == "onebot" and receipt["signature"] == "verified" and chat.id in receipt["event_ids"]
    raw = orjson.loads(receipt["body"])
    assert raw["message_id"] == 1893456721 and raw["raw_message"] == AD

    with penalties_client(engine, base_url, None) as client:  # no QG_SERVICE_TOKEN: a note, never a 500
        [unauth] = client.get(f"/v1/sanctions/{sid}/audit", headers=auditor).json()["triggering_events"]
    assert unauth["status"] == "unavailable" and "401" in unauth["note"]
    engine.dispose()
