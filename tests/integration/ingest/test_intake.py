"""The intake writer on SQLite and PostgreSQL: claims once, publishes what it claimed, keeps receipts.

The seen-id claim and the receipt rows go through the database driver directly (multi-row
``INSERT … ON CONFLICT DO NOTHING RETURNING``); these tests prove the rows read back through the ORM
as the ORM would have written them, and that a failed flush leaves nothing claimed.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from sqlmodel import Session, select

from contracts import topics
from services.common.db import create_tables, make_engine
from services.common.eventlog.base import LogUnavailable
from services.common.eventlog.embedded import EmbeddedLog
from services.ingest.adapters import generic
from services.ingest.intake import Intake, Receipt, lookup
from services.ingest.models import TABLES, RawReceipt, SeenEvent
from tests.integration.ingest.helpers import generic_message, read_topic

pytestmark = pytest.mark.integration

RECEIVED = datetime(2026, 3, 2, 1, 15, 3, 250000, tzinfo=timezone.utc)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    create_tables(engine, TABLES)
    yield engine
    engine.dispose()


@pytest.fixture
def event_log(tmp_path):
    log = EmbeddedLog(tmp_path / "eventlog.db")
    yield log
    log.close()


def receipt_of(body: bytes, at: datetime = RECEIVED) -> Receipt:
    return Receipt(adapter="generic", platform="wechat", received_at=at, body=body, signature="verified",
                   headers={"content-type": "application/json", "user-agent": "考勤系统/2.1"})


def batch(ids: range) -> bytes:
    return orjson.dumps({"events": [generic_message(i, f"第{i}条：今晚 21:00 上线 🚀") for i in ids]})


def test_a_batch_larger_than_one_statement_is_claimed_once_and_reads_back_through_the_orm(engine, event_log, tmp_path):
    intake = Intake(event_log.producer(), engine)
    try:
        first_body, second_body = batch(range(1200)), batch(range(1100, 1300))
        first = intake.accept(receipt_of(first_body), generic.parse_canonical(first_body))
        second = intake.accept(receipt_of(second_body, RECEIVED + timedelta(seconds=1)),
                               generic.parse_canonical(second_body))
    finally:
        intake.close()
    assert (first.accepted, first.duplicates) == (1200, 0)
    assert (second.accepted, second.duplicates) == (100, 100)
    on_log = read_topic(tmp_path / "eventlog.db", topics.CHAT.name)
    assert len(on_log) == 1300 and len({e.id for e in on_log}) == 1300
    event, receipt = lookup(engine, on_log[1250].id)
    assert event == orjson.loads(on_log[1250].model_dump_json(exclude_none=True))
    assert receipt["receipt_id"] == second.receipt_id
    assert receipt["received_at"] == (RECEIVED + timedelta(seconds=1)).isoformat()
    assert receipt["headers"]["user-agent"] == "考勤系统/2.1"
    assert receipt["event_ids"] == second.event_ids and receipt["body"] == second_body.decode()
    with Session(engine) as session:
        row = session.exec(select(SeenEvent).where(SeenEvent.event_id == on_log[0].id)).one()
        assert row.occurred_at == datetime(2026, 3, 2, 1, 15, tzinfo=timezone.utc)
        assert (row.platform, row.group_id, row.event_type) == ("wechat", "研发部-后端组", on_log[0].type)
        stored = session.exec(select(RawReceipt).where(RawReceipt.receipt_id == first.receipt_id)).one()
        assert (stored.accepted, stored.duplicates, len(stored.event_ids)) == (1200, 0, 1200)


def test_requests_sharing_a_group_commit_each_get_their_own_answer(engine, event_log):
    intake = Intake(event_log.producer(), engine)
    bodies = [batch(range(n * 50, n * 50 + 80)) for n in range(8)]  # neighbours overlap by 30 events
    outcomes = [None] * len(bodies)

    def post(n: int) -> None:
        outcomes[n] = intake.accept(receipt_of(bodies[n], RECEIVED + timedelta(milliseconds=n)),
                                    generic.parse_canonical(bodies[n]))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(bodies))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        intake.close()
    assert sum(o.accepted for o in outcomes) == 7 * 50 + 80
    assert all(o.accepted + o.duplicates == 80 for o in outcomes)


class FailingFlush:
    """A producer whose log is gone: publishes queue, ``flush`` raises."""

    def __init__(self) -> None:
        self.published = 0

    def publish(self, topic, key, value, headers=()):
        self.published += 1

    def flush(self, timeout_s: float = 30.0) -> None:
        raise LogUnavailable("broker unreachable")


def test_a_failed_flush_claims_nothing_so_the_retry_is_accepted_as_new(engine, event_log, tmp_path):
    body = batch(range(600))
    failing = Intake(FailingFlush(), engine)
    try:
        with pytest.raises(LogUnavailable):
            failing.accept(receipt_of(body), generic.parse_canonical(body))
    finally:
        failing.close()
    with Session(engine) as session:
        assert session.exec(select(SeenEvent)).first() is None
        assert session.exec(select(RawReceipt)).first() is None
    intake = Intake(event_log.producer(), engine)
    try:
        retry = intake.accept(receipt_of(body), generic.parse_canonical(body))
    finally:
        intake.close()
    assert (retry.accepted, retry.duplicates) == (600, 0)
    assert len(read_topic(tmp_path / "eventlog.db", topics.CHAT.name)) == 600


class FlushFailsSecondTime(FailingFlush):
    """The log goes away in the middle of a large group commit."""

    def __init__(self, log: EmbeddedLog) -> None:
        super().__init__()
        self.real = log.producer()
        self.flushes = 0

    def publish(self, topic, key, value, headers=()):
        self.real.publish(topic, key, value)

    def flush(self, timeout_s: float = 30.0) -> None:
        self.flushes += 1
        if self.flushes == 2:
            raise LogUnavailable("broker went away mid-batch")
        self.real.flush()


def test_a_flush_failing_midway_through_a_pipelined_batch_claims_nothing(engine, event_log, tmp_path, monkeypatch):
    monkeypatch.setattr("services.ingest.intake.PIPELINE_EVENTS", 250)
    body = batch(range(1000))
    producer = FlushFailsSecondTime(event_log)
    failing = Intake(producer, engine)
    try:
        with pytest.raises(LogUnavailable):
            failing.accept(receipt_of(body), generic.parse_canonical(body))
    finally:
        failing.close()
    assert producer.flushes == 2  # the first part reached the log before the failure
    with Session(engine) as session:
        assert session.exec(select(SeenEvent)).first() is None
    intake = Intake(event_log.producer(), engine)
    try:
        retry = intake.accept(receipt_of(body), generic.parse_canonical(body))
    finally:
        intake.close()
    assert (retry.accepted, retry.duplicates) == (1000, 0)
    chat = read_topic(tmp_path / "eventlog.db", topics.CHAT.name)
    assert {e.id for e in chat} == set(retry.event_ids)  # the first part twice: consumers drop the twin by id


def test_committed_rows_are_checkpointed_into_the_database_file_off_the_writer(tmp_path, event_log):
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    create_tables(engine, TABLES)
    intake = Intake(event_log.producer(), engine)
    try:
        body = batch(range(3000))
        intake.accept(receipt_of(body), generic.parse_canonical(body))
    finally:
        intake.close()
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "ingest.db").read_bytes())  # the database file alone, without its WAL
    copied = make_engine(f"sqlite:///{copy}")
    with copied.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM ingest_seen_event").scalar() == 3000
    copied.dispose()
    engine.dispose()
