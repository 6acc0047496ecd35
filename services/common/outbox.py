"""The inbox and outbox tables, and the relay that publishes the outbox.

A handler's effects and the events it emits are written in the same transaction (outbox rows), so
a crash can never publish an event whose effects were lost, nor lose an event whose effects were
kept. The relay publishes rows in insertion order, flushes, and only then deletes them: a crash in
between republishes rows with the same event ids, which consumers drop through their inbox.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, bindparam, delete, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel

from contracts.base import REGISTRY
from contracts.envelope import CloudEvent
from services.common import metrics
from services.common.db import session_scope
from services.common.eventlog.base import EventLog, LogUnavailable

log = logging.getLogger("qunguard.outbox")


class InboxEntry(SQLModel, table=True):
    """One row per (consumer, event) handled: the dedupe that makes redelivery harmless."""

    __tablename__ = "qg_inbox"
    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=100)
    handled_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


class OutboxEntry(SQLModel, table=True):
    __tablename__ = "qg_outbox"
    seq: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=100)
    key: str | None = Field(default=None, max_length=300)
    value: bytes
    event_id: str = Field(max_length=100)


RUNTIME_TABLES = [InboxEntry.__table__, OutboxEntry.__table__]


def topic_of(event: CloudEvent) -> str:
    model = REGISTRY.get(event.type)
    if model is None:
        raise ValueError(f"unknown event type {event.type!r}")
    return model.topic.name


_OUTBOX_ROWS = "qg_outbox_rows"  # session.info key: outbox rows of this transaction, in order
_INBOX_ROWS = "qg_inbox_rows"    # session.info key: inbox rows recorded by mark_seen in this transaction
_MARKED = "qg_inbox_marked"      # session.info key: (consumer, event id) recorded in this transaction
# session.info key set by a worker's batch: events its handlers derive and apply (``apply_locally``)
# are checked against the inbox by its primary key when the batch commits, not one query each.
CHECK_AT_COMMIT = "qg_inbox_check_at_commit"


def enqueue(session: Session, event: CloudEvent, topic: str | None = None) -> None:
    """Queue ``event`` for publication when (and only if) the caller's transaction commits.

    Outbox and inbox rows (:func:`mark_seen`) are plain rows kept in the transaction and written in
    one statement each just before it commits, in the order they were queued: as ORM objects they
    were flushed with every handler's other rows, a third of the penalties worker's flushes (three
    derived events per violation, each with its inbox row), and nothing in the transaction reads
    them back (:func:`marked_here` answers "already handled here?").
    """
    session.info.setdefault(_OUTBOX_ROWS, []).append({"topic": topic or topic_of(event), "key": event.partitionkey,
                                                      "value": event.to_bytes(), "event_id": event.id})


@sa_event.listens_for(OrmSession, "before_commit")
def _write_queued_rows(session: Session) -> None:
    inbox, rows = session.info.pop(_INBOX_ROWS, None), session.info.pop(_OUTBOX_ROWS, None)
    if inbox:
        session.execute(InboxEntry.__table__.insert(), inbox)
    if rows:
        session.execute(OutboxEntry.__table__.insert(), rows)


@sa_event.listens_for(OrmSession, "after_rollback")
def _forget_queued_rows(session: Session) -> None:
    for key in (_INBOX_ROWS, _OUTBOX_ROWS, _MARKED):
        session.info.pop(key, None)


def applied_order(engine: Engine, consumer: str) -> dict[str, float]:
    """event id → when ``consumer`` applied it (epoch seconds), from its inbox.

    The order a service applied events in, across topics, is part of what its state means (a chat
    message judged before or after its sender's HR record); rebuilds and what-if replays reuse it.
    """
    with Session(engine) as session:
        rows = session.execute(select(InboxEntry.event_id, InboxEntry.handled_at)
                               .where(InboxEntry.consumer == consumer))
        return {event_id: (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()
                for event_id, at in rows}


_SEEN = select(InboxEntry.event_id).where(InboxEntry.consumer == bindparam("consumer"),
                                          InboxEntry.event_id == bindparam("event_id"))


def seen(session: Session, consumer: str, event_id: str) -> bool:
    """Whether ``consumer`` handled ``event_id``: in this transaction, or committed before. Asked
    through the connection, not ``session.get``: inbox rows are never loaded as objects, and the ORM's
    look-up cost about a third of a millisecond for every event a handler derives (three per
    violation in penalties) only to find nothing. Pending ORM changes are not flushed for it."""
    if marked_here(session, consumer, event_id):
        return True
    return session.connection().execute(_SEEN, {"consumer": consumer, "event_id": event_id}).first() is not None


def seen_among(session: Session, consumer: str, event_ids: list[str]) -> set[str]:
    """Which of ``event_ids`` ``consumer`` has handled: one query for a whole batch (a query per
    record also flushed the batch's pending rows each time, a fifth of a worker's CPU)."""
    found: set[str] = set()
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        found.update(session.scalars(select(InboxEntry.event_id).where(InboxEntry.consumer == consumer,
                                                                       InboxEntry.event_id.in_(chunk))))
    return found


_last_mark = datetime.min.replace(tzinfo=timezone.utc)


def mark_seen(session: Session, consumer: str, event_id: str) -> None:
    """Record ``event_id`` as handled (the row is written at commit, see :func:`enqueue`).
    ``handled_at`` is stamped now and strictly increases within a process, so the applied order read
    back by :func:`applied_order` has no ties even when a batch of records is handled within one
    microsecond, and a batch's records interleave correctly with what handlers record meanwhile
    (``apply_locally``)."""
    session.info.setdefault(_INBOX_ROWS, []).append({"consumer": consumer, "event_id": event_id,
                                                    "handled_at": _next_mark()})
    session.info.setdefault(_MARKED, set()).add((consumer, event_id))


def _next_mark() -> datetime:
    global _last_mark
    now = datetime.now(timezone.utc)
    _last_mark = now if now > _last_mark else _last_mark + timedelta(microseconds=1)
    return _last_mark


def marked_here(session: Session, consumer: str, event_id: str) -> bool:
    """Whether this transaction already recorded ``event_id`` as handled by ``consumer``.

    A batch checks the inbox once, up front (:func:`seen_among`); a handler may record more ids
    while the batch runs (an event the service derives and applies at once, ``apply_locally``). If
    that same event is also a later record of the batch — a worker refolding a log that already
    holds what it decides, after its database was restored — it must count as a duplicate, not
    fail the batch on the inbox's primary key.
    """
    return (consumer, event_id) in session.info.get(_MARKED, ())


class Relay:
    """Publishes outbox rows; one relay runs in each worker process."""

    def __init__(self, service: str, log_: EventLog, engine: Engine, *, batch: int = 1000,
                 idle_s: float = 0.05) -> None:
        self.service, self.log, self.engine = service, log_, engine
        self.batch, self.idle_s = batch, idle_s
        self._producer = None

    def _lock(self, session: Session) -> bool:
        """On PostgreSQL, one relay at a time per database keeps publication in order."""
        if self.engine.dialect.name != "postgresql":
            return True
        return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(727274)")).scalar())

    def publish_once(self) -> int:
        """Publish up to one batch; returns how many rows were published."""
        with session_scope(self.engine) as session:
            if not self._lock(session):
                return 0
            rows = list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.seq).limit(self.batch)))
            if not rows:
                return 0
            if self._producer is None:
                self._producer = self.log.producer()
            for row in rows:
                self._producer.publish(row.topic, row.key.encode() if row.key else None, row.value)
            self._producer.flush()
            session.execute(delete(OutboxEntry).where(OutboxEntry.seq <= rows[-1].seq))
            for row in rows:
                metrics.PRODUCED.labels(self.service, row.topic).inc()
            return len(rows)

    def pending(self) -> int:
        with Session(self.engine) as session:
            return int(session.execute(select(func.count()).select_from(OutboxEntry)).scalar() or 0)

    def run(self, stop: threading.Event) -> None:
        """Publish until ``stop`` is set, then drain what is left (best effort)."""
        backoff = self.idle_s
        while not stop.is_set():
            try:
                n = self.publish_once()
                backoff = self.idle_s
            except (LogUnavailable, Exception) as exc:  # noqa: BLE001 - the relay must survive outages
                log.warning("outbox relay paused: %s", exc)
                self._producer = None
                n, backoff = 0, min(backoff * 2 if backoff >= 0.5 else 0.5, 5.0)
            if n == 0:
                stop.wait(backoff)
        try:
            while self.publish_once():
                pass
        except Exception as exc:  # noqa: BLE001
            log.warning("outbox not fully drained at shutdown: %s", exc)
        if self._producer is not None:
            self._producer.close()

    def drain(self, timeout_s: float = 30.0) -> None:
        """Publish everything pending now (tests, CLI commands, rebuild)."""
        deadline = time.monotonic() + timeout_s
        while self.publish_once():
            if time.monotonic() > deadline:
                raise TimeoutError("outbox did not drain")
        if self._producer is not None:
            self._producer.flush()
