"""The worker runtime on a real log and a real database: dedupe, outbox, dead letters, rebuild."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import time
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlmodel import Session

from contracts.chat import MessagePosted
from contracts.roster import Account, EmployeeFacts, EmployeeHired
from contracts.envelope import decode, new_event
from contracts.ids import platform_event_id
from services.common import outbox
from services.common.db import make_engine, session_scope, state_digest
from services.common.worker import apply_locally
from tests.integration.runtime import toy_service
from tests.integration.runtime.toy_service import ToyCount, ToyKnown

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def message(tag: str, i: int, text: str = "大家好，明天上午九点开周会") -> bytes:
    """A chat message unique to one test (``tag``): tests may share a broker and its topics."""
    pid = f"{tag}-{i}"
    payload = MessagePosted(platform="qq", group_id="7001", platform_event_id=pid, message_id=pid,
                            occurred_at=T0 + timedelta(seconds=i), user_id=f"1000{i % 7}", text=text)
    return new_event(payload, id=platform_event_id("qq", pid), source="qunguard/test",
                     time=payload.occurred_at).to_bytes()


def ids(tag: str, *numbers: int) -> set[str]:
    return {platform_event_id("qq", f"{tag}-{i}") for i in numbers}


def publish(log, values: list[bytes], topic: str = "qg.chat.v1") -> None:
    producer = log.producer()
    for v in values:
        producer.publish(topic, b"qq:7001", v)
    producer.flush()
    producer.close()


def drain(worker, done=None, timeout_s: float = 60.0) -> None:
    """Run the worker until ``done()`` holds (default: everything up to the end offsets committed).

    A Kafka consumer group join can take seconds (the local broker waits out max_poll_interval),
    so "nothing came for a while" is no evidence of being done; the offsets are.
    """
    consumer = worker.log.consumer(worker.name, worker.topics)
    if done is None:
        def done() -> bool:
            ends = consumer.end_offsets()
            return all(consumer.committed().get(tp, 0) >= end for tp, end in ends.items())
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if worker.run_once(consumer, timeout_s=0.5) == 0 and done():
                break
        else:
            raise AssertionError("worker did not catch up in time")
    finally:
        consumer.close()
    worker.relay.drain()


def read_all(log, topic: str, group: str) -> list:
    consumer = log.consumer(group, [topic])
    out, idle = [], 0
    try:
        consumer.seek_to_beginning()
        while idle < 3:
            batch = consumer.poll(0.5, 1000)
            idle = idle + 1 if not batch else 0
            out.extend(batch)
    finally:
        consumer.close()
    return out


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def worker(log, db_url, tag):
    w = toy_service.build(log, db_url, name=f"toy-{tag}")
    w.create_tables()
    return w


def counts(engine, wanted: set[str]) -> dict[str, int]:
    with Session(engine) as s:
        return {r.event_id: r.applied for r in s.scalars(select(ToyCount)) if r.event_id in wanted}


def test_each_event_applies_once_even_when_delivered_twice(worker, log, tag):
    values = [message(tag, i) for i in range(20)]
    publish(log, values + values[:5])
    drain(worker)
    applied = counts(worker.engine, ids(tag, *range(20)))
    assert len(applied) == 20 and set(applied.values()) == {1}
    causes = {decode(r.value).causation for r in read_all(log, "qg.violations.v1", f"check-{tag}")}
    assert ids(tag, *range(20)) <= causes


def test_poison_record_goes_to_dead_letter_and_worker_keeps_going(worker, log, tag):
    publish(log, [message(tag, 1), b"\xff not json", message(tag, 2, "POISON"), message(tag, 3)])
    drain(worker)
    assert set(counts(worker.engine, ids(tag, 1, 2, 3))) == ids(tag, 1, 3)
    dead = [decode(r.value).payload() for r in read_all(log, "qg.deadletter.v1", f"check-{tag}")]
    reasons = sorted(d.reason for d in dead if d.consumer_group == worker.name)
    assert reasons == ["handler_error", "undecodable"]
    assert all(d.origin_topic == "qg.chat.v1" for d in dead)


def test_apply_locally_is_skipped_by_the_worker_when_the_event_comes_back(worker, log, tag):
    event = decode(message(tag, 42))
    with session_scope(worker.engine) as s:
        assert apply_locally(s, event, toy_service.ROUTES, consumer=worker.name, source="qunguard/toy")
    with session_scope(worker.engine) as s:
        assert not apply_locally(s, event, toy_service.ROUTES, consumer=worker.name, source="qunguard/toy")
    worker.relay.drain()      # the API's event reaches the log through the outbox …
    drain(worker)             # … and the worker does not apply it a second time
    assert counts(worker.engine, {event.id}) == {event.id: 1}


def hired(tag: str, user_id: str) -> bytes:
    payload = EmployeeHired(employee_id=f"E-{tag}", occurred_at=T0,
                            facts=EmployeeFacts(name="张三", accounts=[Account(platform="qq", user_id=user_id)]))
    return new_event(payload, id=platform_event_id("hr", tag), source="qunguard/test", time=T0).to_bytes()


def test_rebuild_refolds_in_the_order_events_were_applied_across_topics(worker, log, tag):
    """HR first, then chat, live; a rebuild reading the chat topic first would judge the sender unknown."""
    with session_scope(worker.engine) as s:   # the database may be shared with earlier tests
        s.execute(delete(ToyCount))
        s.execute(delete(ToyKnown))
    publish(log, [hired(tag, "10003")], topic="qg.roster.v1")
    drain(worker)
    publish(log, [message(tag, 3)])            # user 10003 posts, after HR told us who that is
    drain(worker)
    assert counts_known(worker.engine, ids(tag, 3)) == {True}
    with Session(worker.engine) as s:
        before = state_digest(s, [ToyCount.__table__, ToyKnown.__table__])
    worker.rebuild()
    with Session(worker.engine) as s:
        assert state_digest(s, [ToyCount.__table__, ToyKnown.__table__]) == before
    assert counts_known(worker.engine, ids(tag, 3)) == {True}


def counts_known(engine, wanted: set[str]) -> set[bool]:
    with Session(engine) as s:
        return {r.sender_known for r in s.scalars(select(ToyCount)) if r.event_id in wanted}


def test_rebuild_reproduces_the_same_projection(worker, log, tag):
    with session_scope(worker.engine) as s:   # the database may be shared with earlier tests
        s.execute(delete(ToyCount))
    publish(log, [message(tag, i) for i in range(30)])
    drain(worker)
    with Session(worker.engine) as s:
        before = state_digest(s, [ToyCount.__table__])
    assert worker.rebuild() >= 30
    with Session(worker.engine) as s:
        after = state_digest(s, [ToyCount.__table__])
        pending = s.execute(select(func.count()).select_from(outbox.OutboxEntry)).scalar()
    assert after == before
    assert pending == 0, "a rebuild must not emit derived events again"


def test_rebuild_frees_each_batchs_reference_cycles_and_gives_the_collector_back(worker, log, tag):
    """The rebuild runs the cyclic collector itself, once per batch: garbage in cycles must not pile
    up until the end of a million records, and the collector must be as the rebuild found it."""
    import gc
    import weakref

    class Cyclic:
        def __init__(self) -> None:
            self.me = self

    publish(log, [message(tag, i) for i in range(30)])
    drain(worker)
    made: list[weakref.ref] = []
    alive_at_start_of_record: list[int] = []
    folded = worker.routes[MessagePosted]

    def leave_a_cycle(ctx, msg):
        alive_at_start_of_record.append(sum(ref() is not None for ref in made))
        folded(ctx, msg)
        made.append(weakref.ref(Cyclic()))

    worker.routes = {**worker.routes, MessagePosted: leave_a_cycle}
    worker.rebuild_batch = 10
    enabled_before = gc.isenabled()
    worker.rebuild()
    assert len(made) >= 30
    # within a batch of 10 at most 9 earlier cycles can be alive: those of its own earlier records
    assert max(alive_at_start_of_record) <= 9, alive_at_start_of_record
    assert all(ref() is None for ref in made), "the last batch's cycles are freed too"
    assert gc.isenabled() == enabled_before
    assert gc.get_freeze_count() == 0, "thawed: what the rebuild held is the ordinary collector's again"


def test_a_polled_batch_is_applied_in_one_transaction(worker, log, tag):
    """One commit per poll, not per record: what makes a worker keep up with a busy log."""
    from sqlalchemy import event as sa_event

    publish(log, [message(tag, i) for i in range(50)])
    commits = []
    listener = lambda conn: commits.append(1)  # noqa: E731
    sa_event.listen(worker.engine, "commit", listener)
    try:
        drain(worker)
    finally:
        sa_event.remove(worker.engine, "commit", listener)
    assert len(counts(worker.engine, ids(tag, *range(50)))) == 50
    assert len(commits) < 10, f"{len(commits)} commits for 50 records"


def test_a_failing_record_rolls_its_batch_back_and_the_rest_is_applied_once(worker, log, tag):
    values = [message(tag, i) for i in range(10)]
    publish(log, values[:5] + [message(tag, 99, "POISON")] + values[5:] + values[:3])
    drain(worker)
    applied = counts(worker.engine, ids(tag, *range(10), 99))
    assert applied == {i: 1 for i in ids(tag, *range(10))}


def test_a_row_read_by_several_records_of_a_batch_is_read_once(worker, log, tag):
    """The identity map holds clean rows weakly; the unit of work keeps them for the transaction,
    so 50 messages from 7 senders look each sender up once per batch, not once per message."""
    from sqlalchemy import event as sa_event

    with session_scope(worker.engine) as s:
        for n in range(7):
            if s.get(ToyKnown, f"1000{n}") is None:
                s.add(ToyKnown(user_id=f"1000{n}"))
    publish(log, [message(tag, i) for i in range(50)])
    lookups: list[str] = []

    def count(conn, cursor, statement, *_):
        if "FROM toy_known" in statement:
            lookups.append(statement)

    sa_event.listen(worker.engine, "before_cursor_execute", count)
    try:
        drain(worker)
    finally:
        sa_event.remove(worker.engine, "before_cursor_execute", count)
    assert counts_known(worker.engine, ids(tag, *range(50))) == {True}
    assert 7 <= len(lookups) <= 14, f"{len(lookups)} look-ups of 7 senders for 50 messages"


def test_an_event_applied_locally_earlier_in_the_batch_is_a_duplicate_when_it_comes(worker, log, tag):
    """A handler may derive an event and apply it at once (``apply_locally``); if the same event is
    also a later record of the batch (a log refolded into a restored database), the batch neither
    fails on the inbox key nor applies it twice."""
    from services.common.eventlog.base import Record
    from services.common.worker import Worker

    derived = message(tag, 2)

    def derive(ctx, msg):
        toy_service.on_message(ctx, msg)
        if msg.message_id == f"{tag}-1":
            apply_locally(ctx.session, decode(derived), toy_service.ROUTES, consumer=worker.name,
                          source="qunguard/toy")

    w = Worker(worker.name, log, worker.engine, {MessagePosted: derive},
               projection_tables=worker.projection_tables, batch=50)
    records = [Record("qg.chat.v1", 0, i, b"qq:7001", v, 0) for i, v in enumerate([message(tag, 1), derived])]
    assert w.handle_batch(records) == ["handled", "duplicate"]
    assert counts(worker.engine, ids(tag, 1, 2)) == {i: 1 for i in ids(tag, 1, 2)}
