"""Faults, bounded in time: killed workers, a database that goes away, poison records, duplicate and
late deliveries. Each faulted run is compared with a clean run of the same generated day
(``reference``): the same violations, sanctions and ledger lines, none lost, none doubled.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from services.demo import activity as act
from services.demo import texts
from services.demo.player import plan
from tests.e2e import scenario_support as ss
from tests.e2e.conftest import System, running_system, topics_of
from tests.e2e.test_scenario import SECRETS_OBJ

pytestmark = pytest.mark.e2e
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def day() -> act.Activity:
    return act.day(ss.the_day(), 7)


@pytest.fixture(scope="module")
def reference(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              day: act.Activity) -> ss.Outcome:
    """The clean run every faulted run must end up equal to."""
    with running_system(request, tmp_path_factory.mktemp("reference"), "embedded-sqlite") as system:
        ss.load(system, day, SECRETS_OBJ)
        return ss.outcome(system)


def _chunks(events: list, n: int) -> list[list]:
    size = -(-len(events) // n)
    return [events[i:i + size] for i in range(0, len(events), size)]


def _assert_same(got: ss.Outcome, want: ss.Outcome) -> None:
    diff = got.differences(want)
    assert not diff, "\n".join(f"{name}: extra {extra}\n   missing {missing}" for name, (extra, missing) in diff.items())


def test_sigkill_of_each_worker_in_turn_during_the_load_loses_and_duplicates_nothing(
        request: pytest.FixtureRequest, tmp_path: Path, day: act.Activity, reference: ss.Outcome) -> None:
    with running_system(request, tmp_path, "embedded-sqlite") as system:
        feed = ss.setup(system, day, SECRETS_OBJ)
        names = ss.names_of(day)
        victims = ["rules-worker", "penalties-worker", "roster-worker", "ingest-worker"]
        with system.client() as http:
            for victim, chunk in zip(victims, _chunks(plan(day).chat, len(victims)), strict=True):
                ss.send_chat(http, system.urls, chunk, SECRETS_OBJ, names, feed)
                time.sleep(0.3)                      # mid-way through the chunk's processing
                system.kill(victim)
                assert not system.alive(victim)
                time.sleep(0.5)
                system.start(victim)
        ss.finish(system)
        _assert_same(ss.outcome(system), reference)


def _hold_sqlite_write_lock(path: Path, seconds: float, held: threading.Event) -> None:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_sqlite_write_lock_for_seconds_pauses_the_rules_worker_and_loses_nothing(
        request: pytest.FixtureRequest, tmp_path: Path, day: act.Activity, reference: ss.Outcome) -> None:
    with running_system(request, tmp_path, "embedded-sqlite") as system:
        feed = ss.setup(system, day, SECRETS_OBJ)
        chat = plan(day).chat
        half = len(chat) // 2
        held = threading.Event()
        locker = threading.Thread(target=_hold_sqlite_write_lock,
                                  args=(system.settings().data_dir / "rules.db", 6.0, held))
        with system.client() as http:
            ss.send_chat(http, system.urls, chat[:half], SECRETS_OBJ, ss.names_of(day), feed)
            locker.start()
            assert held.wait(30)
            ss.send_chat(http, system.urls, chat[half:], SECRETS_OBJ, ss.names_of(day), feed)
            locker.join()
        assert system.alive("rules-worker"), system.tail("rules-worker")
        ss.finish(system)
        _assert_same(ss.outcome(system), reference)


def _pg_outage(system: System, service: str, seconds: float, during: threading.Event) -> None:
    """Refuse new connections to the service's database and terminate the open ones, for a while."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(system.database_urls[service])
    admin = url.set(database="postgres", drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                     "pg_backend_pid()", (url.database,))
        during.set()
        time.sleep(seconds)
        conn.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')


def test_postgresql_outage_pauses_workers_answers_503_and_loses_nothing(
        request: pytest.FixtureRequest, tmp_path: Path, day: act.Activity, reference: ss.Outcome) -> None:
    with running_system(request, tmp_path, "embedded-postgresql") as system:
        feed = ss.setup(system, day, SECRETS_OBJ)
        chat = plan(day).chat
        half = len(chat) // 2
        during = threading.Event()
        answers: list[httpx.Response] = []
        with system.client(timeout=10) as http:
            ss.send_chat(http, system.urls, chat[:half], SECRETS_OBJ, ss.names_of(day), feed)
            outage = threading.Thread(target=_pg_outage, args=(system, "rules", 6.0, during))
            outage.start()
            assert during.wait(30)
            time.sleep(0.5)
            answers.append(http.get(system.url("rules") + "/v1/violations"))
            answers.append(http.get(system.url("rules") + "/readyz"))
            ss.send_chat(http, system.urls, chat[half:], SECRETS_OBJ, ss.names_of(day), feed)  # ingest is up
            outage.join()
        for r in answers:
            assert r.status_code == 503 and r.headers["content-type"].startswith(PROBLEM), \
                f"{r.request.url.path} during the outage: {r.status_code} {r.headers.get('content-type')} {r.text[:200]}"
        assert system.alive("rules-worker"), system.tail("rules-worker")
        ss.finish(system)
        _assert_same(ss.outcome(system), reference)


def _dead_letters(system: System) -> list:
    from contracts.envelope import decode

    event_log = system.open_log()
    consumer = event_log.consumer(f"e2e-deadletters-{time.time_ns()}", ["qg.deadletter.v1"])
    try:
        consumer.seek_to_beginning()
        out, idle = [], 0
        while idle < 3:
            records = consumer.poll(1.0, 500)
            idle = 0 if records else idle + 1
            out += [decode(r.value).payload() for r in records]
        return out
    finally:
        consumer.close()
        event_log.close()


def test_poison_records_on_every_topic_land_in_the_deadletter_topic_and_processing_continues(
        system: System, day: act.Activity) -> None:
    ss.setup(system, day, SECRETS_OBJ)
    consumed = {t for s in ("ingest", "roster", "rules", "penalties") for t in topics_of(s)}
    poison = b"\x00\x01not a cloud event \xe4\xb8\xad"
    for topic in sorted(consumed):
        system.publish_raw(topic, b"poison", poison)
    # then ordinary work: an ad in a department group must still be flagged
    g = next(x for x in day.company.groups if x.category == "department")
    who = next(e for e in day.company.employees if e.employee_id in g.members and e.level == "staff")
    ad = {"platform": g.platform, "type": "message", "id": "e2e-after-poison-1", "group_id": g.group_id,
          "user_id": who.accounts[g.platform], "nickname": who.nickname, "msg_type": "text",
          "text": "加微信领取内部优惠券，代理招募中", "time": (day.start + timedelta(hours=10)).isoformat()}
    with system.client() as http:
        assert http.post(system.url("ingest") + "/v1/ingest/generic", json={"events": [ad]}).status_code == 202
    system.wait_idle()
    found = [v for v in ss.violations(system) if v["rule_id"] == "content.ads" and v["user_id"] == ad["user_id"]]
    assert found, "processing did not continue after the poison records"
    letters = _dead_letters(system)
    got = {(d.consumer_group, d.origin_topic) for d in letters if base64.b64decode(d.value_base64) == poison}
    want = {(s, t) for s in ("ingest", "roster", "rules", "penalties") for t in topics_of(s)}
    assert got == want, f"missing {sorted(want - got)}; unexpected {sorted(got - want)}"


def test_duplicate_deliveries_and_replies_after_their_sla_tick_give_the_same_ledger_as_clean_delivery(
        request: pytest.FixtureRequest, tmp_path: Path, day: act.Activity, reference: ss.Outcome) -> None:
    replies = set(texts.TASK_REPLIES) | set(texts.ACKS)
    chat = plan(day).chat
    late = [e for e in chat if e.body.get("text") in replies]
    first = [e for e in chat if e.body.get("text") not in replies]
    assert late, "the day has no replies to hold back"
    with running_system(request, tmp_path, "embedded-sqlite") as system:
        feed = ss.setup(system, day, SECRETS_OBJ)
        with system.client() as http:
            ss.send_chat(http, system.urls, first, SECRETS_OBJ, ss.names_of(day), feed, copies=2)
            system.wait_idle()
            system.tick(day.end)                 # every SLA of the day has passed
            system.wait_idle()
            ss.send_chat(http, system.urls, late, SECRETS_OBJ, ss.names_of(day), feed, copies=2)
        ss.finish(system)
        _assert_same(ss.outcome(system), reference)
