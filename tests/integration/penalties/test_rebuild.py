"""A realistic month through the real worker and log; a rebuild reproduces the ledger digest exactly."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from services.common.auth import hash_token
from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.settings import Settings
from services.penalties.api import create_app
from services.penalties.store import ledger_digest, verify_all
from services.penalties.worker import build_worker, rebuild
from tests.integration.penalties import scenario as sc

pytestmark = pytest.mark.integration
RULES = ["content.ads", "content.flooding", "member.conduct", "content.redline.porn", "content.confidential"]


def month_of_events() -> list:
    """About 120 violations and merits over March 2024 (seeded), plus the policy and roster."""
    rnd = random.Random(20240301)
    people = list(sc.PEOPLE)
    out = [sc.policy_event(), *sc.roster_events()]
    for i in range(120):
        at = datetime(2024, 3, 1, 8, 0, tzinfo=sc.CST) + timedelta(minutes=rnd.randrange(0, 30 * 24 * 60))
        who = rnd.choice(people)
        if rnd.random() < 0.3:
            out.append(sc.merit(f"r{i}", rnd.choice(["daily_share", "best_post"]), who, at))
        elif rnd.random() < 0.1:
            liable = [p for p in people if p != who][:2]
            out.append(sc.violation(f"r{i}", "member.departed_not_removed", who, at, liable=liable))
        else:
            out.append(sc.violation(f"r{i}", rnd.choice(RULES), who, at))
    return out


def publish(log, events) -> None:
    producer = log.producer()
    for e in events:
        from services.common.outbox import topic_of
        producer.publish(topic_of(e), e.key, e.to_bytes())
    producer.flush()
    producer.close()


def drain(worker) -> None:
    consumer = worker.log.consumer(worker.name, worker.topics)
    try:
        idle = 0
        while idle < 3:
            idle = idle + 1 if worker.run_once(consumer, timeout_s=0.2) == 0 else 0
    finally:
        consumer.close()
    worker.relay.drain()


def test_rebuilding_a_month_of_sanctions_gives_the_identical_ledger_digest(tmp_path, pen_db_url):
    settings = Settings(eventlog="embedded", eventlog_path=tmp_path / "log.db", penalties_database_url=pen_db_url,
                        tokens=f"{hash_token('c')}:compliance:合规部,{hash_token('h')}:hr:人事部")
    log = open_log(settings)
    log.create_topics()
    engine = make_engine(pen_db_url)
    worker = build_worker(settings, log=log, engine=engine)
    worker.create_tables()
    publish(log, month_of_events())
    drain(worker)

    app = create_app(settings, engine=engine)
    app.state.clock = lambda: datetime(2024, 3, 31, 17, 0, tzinfo=sc.CST)
    with TestClient(app) as client:
        h, hr = {"Authorization": "Bearer c"}, {"Authorization": "Bearer h"}
        for review in client.get("/v1/reviews", headers=h).json()["items"]:
            client.post(f"/v1/reviews/{review['review_id']}/decision", headers=h,
                        json={"decision": "approved", "reason": "董事长批示",
                              "items": [{"kind": "programme_points", "points": -300}]}
                        if review["proposed"][0].get("decider") else {"decision": "dismissed", "reason": "情节轻微"})
        sanctions = client.get("/v1/sanctions", params={"limit": 500}, headers=h).json()["items"]
        for s in sanctions[:3]:
            aid = client.post(f"/v1/sanctions/{s['sanction_id']}/appeals", json={"grounds": "误判"}, headers=hr).json()
            client.post(f"/v1/appeals/{aid['appeal_id']}/decision", headers=h,
                        json={"decision": "overturned", "reason": "证据不足"})
    drain(worker)

    with Session(engine) as s:
        assert verify_all(s)[0] > 100
    before, after, count = rebuild(settings, log=log, engine=engine)
    assert count > 250
    assert before == after
    with Session(engine) as s:
        assert ledger_digest(s) == before and verify_all(s)[1] == []
    engine.dispose()
    log.close()
