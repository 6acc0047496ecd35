"""A worker batch decides exactly what one transaction per event decides.

The worker loads a batch's violations, people, accounts and standing sanctions in a few queries
before its handlers run (``handlers.prefetch``), and keeps each person's standing sanctions in hand
while the batch imposes and reverses (``store.standing_sanctions``). If that view missed a sanction
imposed or reversed earlier in the same transaction, a repeat offender's count, and so their fine,
would differ from the one-event-per-transaction result: these tests compare the two, and the view
itself around a flush, a reversal and a rollback.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from contracts.envelope import CloudEvent
from contracts.ids import derive_id
from contracts.sanctions import SanctionImposed, SanctionItem, SanctionReversed
from contracts.violations import ViolationDismissed
from services.common import outbox
from services.common.db import create_tables, make_engine, session_scope
from services.common.eventlog.base import Record
from services.common.eventlog.embedded import EmbeddedLog
from services.common.worker import apply_locally
from services.penalties import store
from services.penalties.actions import CONSUMER, SOURCE
from services.penalties.folds import FOLD_ROUTES
from services.penalties.ladder import DaysWindow, listed_from
from services.penalties.models import ALL_TABLES, Sanction
from services.penalties.sanctioning import sanction_id
from services.penalties.worker import build_worker
from tests.integration.penalties import scenario as sc
from tests.integration.penalties.api_support import MARCH

pytestmark = pytest.mark.integration


def day() -> list[CloudEvent]:
    """Repeat offenders out of order (a re-count inside the batch), two liable people, a dismissal
    between two offences of one person, and people on three ladders."""
    h = lambda n: MARCH + timedelta(hours=n)  # noqa: E731
    events = [sc.violation("o3", "content.offtopic", "E1001", h(3), summary="闲聊"),
              sc.violation("a1", "content.ads", "E1002", h(1)),
              sc.violation("o2", "content.offtopic", "E1001", h(2), summary="闲聊"),
              sc.violation("a2", "content.ads", "E1002", h(4)),
              sc.violation("d1", "member.departed_not_removed", "E2001", h(5), liable=["E9001", "E2002"]),
              sc.violation("o1", "content.offtopic", "E1001", h(1), summary="闲聊"),
              sc.violation("a3", "content.ads", "E1002", h(6))]
    dismissed = ViolationDismissed(violation_id=sc.derive_id("violation", "a2"), employee_id="E1002",
                                   dismissed_by="compliance@example.com", reason="误判：内部活动链接",
                                   dismissed_at=h(7))
    events.append(sc.ev(dismissed, derive_id("dismissal", "a2"), h(7)))
    events += [sc.violation("a4", "content.ads", "E1002", h(8)),
               sc.violation("d2", "member.departed_not_removed", "E2002", h(9), liable=["E9001"]),
               sc.violation("o4", "content.offtopic", "E1001", h(10), summary="闲聊")]
    return events


def records(events: list[CloudEvent]) -> list[Record]:
    return [Record(topic=e.payload().topic.name, partition=0, offset=i, key=e.partitionkey.encode(),
                   value=e.to_bytes(), timestamp_ms=int(e.time.timestamp() * 1000))
            for i, e in enumerate(events)]


def sanctions(engine) -> list[tuple[str, str, str, int, int, tuple[str, ...]]]:
    with Session(engine) as s:
        return sorted((r.violation_id, r.employee_id, r.status, r.repeat_count, r.step,
                       tuple(sorted(i["kind"] for i in r.items))) for r in s.scalars(select(Sanction)))


def test_one_batch_decides_what_one_transaction_per_event_decides(engine, pen_db_url, tmp_path):
    log = EmbeddedLog(tmp_path / "log.db")
    batched = build_worker(None, log=log, engine=engine)
    assert batched.handle_batch(records(day())) == ["handled"] * len(day())

    alone_engine = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    create_tables(alone_engine, outbox.RUNTIME_TABLES + ALL_TABLES)
    alone = build_worker(None, log=log, engine=alone_engine)
    for record in records([sc.policy_event(), *sc.roster_events(), *day()]):
        alone.handle_batch([record])

    got = sanctions(engine)
    assert got == sanctions(alone_engine)
    assert any(status == "reversed" for _, _, status, *_ in got)  # the re-count and the dismissal happened
    with Session(engine) as a, Session(alone_engine) as b:
        assert store.ledger_digest(a) == store.ledger_digest(b)
    alone_engine.dispose()


def test_a_long_past_read_in_part_decides_what_reading_it_in_full_decides(engine, tmp_path):
    """A batch reads a person's offences from its earliest one on (less a window), and only counts
    the older ones of a ``forever`` ladder (``handlers.prefetch``); one event alone reads them all.
    A habitual offender's years, a window's edge, a late offence that re-counts later ones, and the
    dismissal of a years-old offence inside the batch must give the same sanctions either way."""
    d = lambda n: MARCH + timedelta(days=n)  # noqa: E731
    past = [sc.violation(f"pa{i}", "content.ads", "E1002", d(-400 + 40 * i)) for i in range(8)]  # forever
    past += [sc.violation(f"po{i}", "content.offtopic", "E1001", d(n))  # 90 days: two out, two in
             for i, n in enumerate((-200, -95, -80, -3))]
    batch = [sc.violation("na1", "content.ads", "E1002", d(0)),
             sc.violation("no1", "content.offtopic", "E1001", d(0.1)),
             sc.violation("nlate", "content.ads", "E1002", d(-100)),  # before two of the past: re-counted
             sc.ev(ViolationDismissed(violation_id=sc.derive_id("violation", "pa0"), employee_id="E1002",
                                      dismissed_by="compliance@example.com", reason="复核：系统误判",
                                      dismissed_at=d(0.2)), derive_id("dismissal", "pa0"), d(0.2)),
             sc.violation("na2", "content.ads", "E1002", d(0.3)),
             sc.violation("no2", "content.offtopic", "E1001", d(0.4))]
    log = EmbeddedLog(tmp_path / "log.db")
    alone_engine = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    create_tables(alone_engine, outbox.RUNTIME_TABLES + ALL_TABLES)
    batched, alone = build_worker(None, log=log, engine=engine), build_worker(None, log=log, engine=alone_engine)
    for record in records([sc.policy_event(), *sc.roster_events()]):
        alone.handle_batch([record])
    for record in records(past):
        batched.handle_batch([record])
        alone.handle_batch([record])

    assert batched.handle_batch(records(batch)) == ["handled"] * len(batch)
    for record in records(batch):
        alone.handle_batch([record])

    got = sanctions(engine)
    assert got == sanctions(alone_engine)
    standing_ads = [count for v, who, status, count, *_ in got if who == "E1002" and status == "imposed"
                    and v == sc.derive_id("violation", "na2")]
    assert standing_ads == [10], "7 of the 8 past (one dismissed), the late one and na1 before it"
    with Session(engine) as a, Session(alone_engine) as b:
        assert store.ledger_digest(a) == store.ledger_digest(b)
    alone_engine.dispose()


def imposed(n: str, at) -> CloudEvent:
    s = SanctionImposed(sanction_id=f"s-{n}", employee_id="E1001", violation_id=f"v-{n}", rule_id="content.offtopic",
                        ladder="reminder_then_fine", step=1, repeat_count=1, policy_id="default", policy_version=1,
                        occurred_at=at, items=[SanctionItem(kind="reminder")])
    return sc.ev(s, f"e-imposed-{n}", at)


def reversed_(n: str, at) -> CloudEvent:
    r = SanctionReversed(sanction_id=f"s-{n}", employee_id="E1001", reversed_by="hr@example.com", reason="申诉成立",
                         cause_id=f"appeal-{n}", reversed_at=at)
    return sc.ev(r, f"e-reversed-{n}", at)


def fold(session, event: CloudEvent) -> None:
    apply_locally(session, event, FOLD_ROUTES, consumer=CONSUMER, source=SOURCE)


def held(session) -> list[str]:
    earlier, listed = store.standing_sanctions(session, "E1001", "reminder_then_fine")
    assert earlier == 0  # read without a "since": every one is listed
    return sorted(v for _, v, _ in listed)


def test_standing_sanctions_follow_the_transaction_whether_read_before_or_after_it_writes(engine):
    t = MARCH
    with session_scope(engine) as session:
        fold(session, imposed("0", t))        # the person's ledger account exists from here on
    with session_scope(engine) as session:
        fold(session, imposed("1", t))        # written before anyone read the person's standing
        fold(session, imposed("2", t))        # (the second one not even flushed yet)
        assert held(session) == ["v-0", "v-1", "v-2"]  # so read after a flush
        fold(session, imposed("3", t + timedelta(hours=1)))
        fold(session, reversed_("1", t + timedelta(hours=2)))
        assert held(session) == ["v-0", "v-2", "v-3"]  # kept in hand: no query, yet exact
    with session_scope(engine) as session:
        assert held(session) == ["v-0", "v-2", "v-3"]  # and what was committed agrees
        fold(session, imposed("4", t + timedelta(hours=3)))
        session.rollback()
        assert held(session) == ["v-0", "v-2", "v-3"]  # a rolled-back sanction is forgotten


def test_a_derived_event_handled_before_is_skipped_in_a_batch_as_it_is_alone(engine, tmp_path):
    """A batch does not ask the inbox about each event it derives: an id handled before fails the
    batch's inbox insert, and the batch is handled again record by record, asking first."""
    already = derive_id("event", "sanction_imposed", sanction_id(sc.derive_id("violation", "a1"), "E1002"))
    log = EmbeddedLog(tmp_path / "log.db")
    alone_engine = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    create_tables(alone_engine, outbox.RUNTIME_TABLES + ALL_TABLES)
    alone = build_worker(None, log=log, engine=alone_engine)
    for record in records([sc.policy_event(), *sc.roster_events()]):
        alone.handle_batch([record])
    for eng in (engine, alone_engine):
        with session_scope(eng) as session:
            session.add(outbox.InboxEntry(consumer=CONSUMER, event_id=already))

    assert build_worker(None, log=log, engine=engine).handle_batch(records(day())) == ["handled"] * len(day())
    for record in records(day()):
        alone.handle_batch([record])

    got = sanctions(engine)
    assert got == sanctions(alone_engine)
    assert not any(v == sc.derive_id("violation", "a1") for v, *_ in got)  # skipped, as before
    alone_engine.dispose()


def test_a_view_held_for_later_offences_is_read_again_in_full_for_an_earlier_one(engine):
    """A batch holds a person's sanctions from its earliest offence on (less the window); asked about
    an earlier time (an appeal re-counting from a years-old offence), the view must not answer from
    what it holds."""
    t = MARCH
    with session_scope(engine) as session:
        for n, days in (("0", -300), ("1", -100), ("2", -1)):
            fold(session, imposed(n, t + timedelta(days=days)))
    key = ("E1001", "reminder_then_fine")  # a 90-day window
    with session_scope(engine) as session:
        store.load_standing(session, ["E1001"], {key: (t, listed_from(DaysWindow(days=90), t))})
        earlier, listed = store.standing_sanctions(session, *key, since=t)
        assert (earlier, [v for _, v, _ in listed]) == (0, ["v-2"])  # the older two cannot count: not read
        earlier, listed = store.standing_sanctions(session, *key, since=t - timedelta(days=200))
        assert (earlier, sorted(v for _, v, _ in listed)) == (0, ["v-0", "v-1", "v-2"])
