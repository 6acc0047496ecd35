"""The rules worker and API over a real log and database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from contracts.policy import PolicyPublished
from services.common.auth import hash_token
from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.outbox import topic_of
from services.rules.api import create_app
from services.rules.worker import build_worker
from tests.unit.rules.test_replay import Recorder, a_day
from tests.unit.rules.world import POLICIES

pytestmark = pytest.mark.integration
CST = ZoneInfo("Asia/Shanghai")
H = {"Authorization": "Bearer c"}


def drain(worker) -> None:
    consumer = worker.log.consumer(worker.name, worker.topics)
    try:
        idle = 0
        while idle < 3:
            idle = idle + 1 if worker.run_once(consumer, timeout_s=0.2) == 0 else 0
    finally:
        consumer.close()
    worker.relay.drain()


def test_published_pack_flags_a_day_of_chat_and_compliance_can_dismiss_and_replay(settings_factory, db_url):
    settings = settings_factory(rules_database_url=db_url, tokens=f"{hash_token('c')}:compliance:合规部")
    log = open_log(settings)
    log.create_topics()
    engine = make_engine(db_url)
    worker = build_worker(settings, log=log, engine=engine)
    worker.create_tables()
    app = create_app(settings, engine=engine, log=log)
    app.state.clock = lambda: datetime(2025, 1, 1, 9, 0, tzinfo=CST)
    with TestClient(app) as client:
        text = (POLICIES / "company-default.yaml").read_text(encoding="utf-8")
        bad = client.post("/v1/policies", json={"yaml": text.replace("within_minutes: 30", "within_minutes: -30")},
                          headers=H)
        assert bad.status_code == 422
        assert {"field": "rules[42].params.within_minutes", "message": "必须是正数 / must be positive",
                "line": str(text[:text.index("within_minutes: 30")].count("\n") + 1)} in bad.json()["errors"]
        assert client.post("/v1/policies", json={"yaml": text}, headers=H).status_code == 201
        assert client.post("/v1/policies", json={"yaml": text}, headers=H).status_code == 409
        assert client.get("/v1/policies/company-default/versions", headers=H).json()["items"][0]["version"] == 1

        # HR facts precede the chat, and ticks follow it (a worker reads topics in no particular order).
        recorded = [r.event for r in a_day(Recorder()).recorded if not isinstance(r.event.payload(), PolicyPublished)]
        producer = log.producer()
        for topic in ("qg.roster.v1", "qg.chat.v1", "qg.clock.v1"):
            for e in recorded:
                if topic_of(e) == topic:
                    producer.publish(topic_of(e), e.key, e.to_bytes())
            producer.flush()
            drain(worker)

        listed = client.get("/v1/violations", params={"rule_id": "content.flooding"}, headers=H).json()
        assert listed["total"] == 1
        vid = listed["items"][0]["violation_id"]
        detail = client.get(f"/v1/violations/{vid}", headers=H).json()
        assert detail["rule"]["params"]["max_messages"] == 10 and detail["policy"]["version"] == 1
        assert len(detail["causing_event_ids"]) == 10
        assert client.post(f"/v1/violations/{vid}/dismiss", json={"reason": ""}, headers=H).status_code == 422
        assert client.post(f"/v1/violations/{vid}/dismiss", json={"reason": "演练消息，非真实刷屏"},
                           headers=H).status_code == 200
        assert client.post(f"/v1/violations/{vid}/dismiss", json={"reason": "再次"}, headers=H).status_code == 409
        assert client.get(f"/v1/violations/{vid}", headers=H).json()["dismissed"] is True
        worker.relay.drain()
        everything = client.get("/v1/violations", params={"limit": 2}, headers=H).json()
        assert everything["total"] >= 3 and len(everything["items"]) == 2

        body = {"yaml": text, "since": "2025-03-03T00:00:00+08:00", "until": "2025-03-05T00:00:00+08:00"}
        first = client.post("/v1/replays", json=body, headers=H)
        second = client.post("/v1/replays", json=body, headers=H)
        assert first.status_code == 200 and first.content == second.content
        report = first.json()
        assert report["by_rule"]["reply.leader_task"] == 1
        assert [v["rule_id"] for v in report["diff"]["new"]] == ["content.flooding"]  # dismissed ≠ flagged
    engine.dispose()
    log.close()
