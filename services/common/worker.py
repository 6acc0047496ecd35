"""The worker runtime every service's consumer runs on.

Handling one record is a short pipeline with the offset commit as its explicit last step:

    decode → inbox dedupe → handler (projections + outbox rows), one DB transaction → commit offset

- Effectively once: a record handled and committed in the DB but not yet committed on the log is
  redelivered after a crash and dropped by the inbox; outbox rows are published by the relay.
- Poison: a record that cannot be decoded, or whose handler keeps raising, is written to
  ``qg.deadletter.v1`` (through the outbox, so it is durable) and the worker moves on.
- Transient outages: database errors that mean "not reachable now" pause the worker with backoff
  on the same record; nothing is skipped and no offset is committed meanwhile.
"""

from __future__ import annotations

import base64
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import Engine, Table, delete
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session

from contracts.base import Payload
from contracts.deadletter import RecordDeadLettered
from contracts.envelope import CloudEvent, EnvelopeError, decode, new_event
from contracts.ids import derive_id
from services.common import collector, metrics, outbox
from services.common.db import create_tables, drop_tables, session_scope
from services.common.eventlog.base import EventLog, Record, TopicPartition
from services.common.settings import DEFAULT_WORKER_BATCH

log = logging.getLogger("qunguard.worker")

Handler = Callable[["Context", Any], None]
Routes = dict[type[Payload], Handler]


@dataclass
class Context:
    """What a handler may touch: its transaction, the event, and ``emit``."""

    session: Session
    event: CloudEvent
    source: str
    record: Record | None = None
    rebuilding: bool = False
    emitted: list[CloudEvent] = field(default_factory=list)

    def emit(self, payload: Payload, *, id: str, time: datetime, causation: list[str] | None = None,
             correlation: str | None = None, subject: str | None = None) -> CloudEvent | None:
        """Queue a derived event in this transaction's outbox. While rebuilding, nothing: the event
        is already on the log (not even built: building them was 2 % of a rules rebuild)."""
        if self.rebuilding:
            return None
        ev = new_event(payload, id=id, source=self.source, time=time,
                       causation=causation if causation is not None else [self.event.id],
                       correlation=correlation or self.event.correlation or self.event.id,
                       subject=subject)
        self.emitted.append(ev)
        outbox.enqueue(self.session, ev)
        return ev


def apply_locally(session: Session, event: CloudEvent, routes: Routes, *, consumer: str,
                  source: str) -> bool:
    """For APIs: apply an event the service itself just created, in the caller's transaction.

    Runs the service's own handler (so the API reads its own writes), records the event in the
    inbox (so the worker skips it when it comes back from the log) and queues it in the outbox.
    Returns False, doing nothing, when the event was already applied (a retried request).
    """
    if outbox.marked_here(session, consumer, event.id):
        return False
    # In a worker's batch the inbox's primary key answers instead of a query per derived event (a
    # tenth of the penalties worker): an id already handled fails the batch's inbox insert at
    # commit, and the worker handles the batch again record by record, where this asks first.
    if not session.info.get(outbox.CHECK_AT_COMMIT):
        with session.no_autoflush:  # only the inbox is asked: what is pending need not be written first
            if outbox.seen(session, consumer, event.id):
                return False
    outbox.mark_seen(session, consumer, event.id)
    payload = event.payload()
    handler = routes.get(type(payload))
    if handler is not None:
        handler(Context(session=session, event=event, source=source), payload)
    outbox.enqueue(session, event)
    return True


def _transient(exc: BaseException) -> bool:
    """Errors meaning "the database is not reachable now", worth waiting out."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Worker:
    """Consumes the topics of the payload types in ``routes`` as consumer group ``name``."""

    def __init__(self, name: str, log_: EventLog, engine: Engine, routes: Routes, *,
                 source: str | None = None, topics: Sequence[str] | None = None,
                 projection_tables: Iterable[Table] = (), batch: int = DEFAULT_WORKER_BATCH,
                 rebuild_batch: int = 5000,
                 max_attempts: int = 3, metrics_port: int | None = None,
                 prefetch: Callable[[Session, list[Payload]], None] | None = None) -> None:
        self.name, self.log, self.engine, self.routes = name, log_, engine, routes
        # Called with a batch's payloads before its handlers run, in the same transaction: a
        # service loads the rows they will touch in a few queries instead of one per record.
        self.prefetch = prefetch
        self.source = source or f"qunguard/{name}"
        self.topics = list(topics or sorted({p.topic.name for p in routes}))
        self.projection_tables = list(projection_tables)
        self.batch, self.max_attempts, self.metrics_port = batch, max_attempts, metrics_port
        # A rebuild wants throughput, not latency: every transaction writes back what its records
        # changed (the rules worker's windows and timers), so 5,000 records per transaction write a
        # busy key once where batches of 100 wrote it fifty times (rules: 2.2k → 7.3k records/s).
        self.rebuild_batch = rebuild_batch
        self._children: dict[tuple[Any, str], Any] = {}
        self.metrics_addr = "127.0.0.1"
        self.relay = outbox.Relay(name, log_, engine)
        self.stop = threading.Event()

    # -- set-up -------------------------------------------------------------------------------
    def create_tables(self) -> None:
        create_tables(self.engine, outbox.RUNTIME_TABLES + self.projection_tables)

    # -- records ------------------------------------------------------------------------------
    def _metric(self, family: Any, label: str) -> Any:
        """The child of a per-record metric for (this worker, ``label``), looked up once: ``labels()``
        takes a lock and validates its arguments, twice per record (4 % of a rebuild)."""
        child = self._children.get((family, label))
        if child is None:
            child = self._children[(family, label)] = family.labels(self.name, label)
        return child

    def _prepare(self, record: Record) -> tuple[CloudEvent, Payload, Handler] | str:
        """Decode a record and find its handler, or say why it will not be handled."""
        self._metric(metrics.CONSUMED, record.topic).inc()
        try:
            event = decode(record.value)
            payload = event.payload()
        except EnvelopeError as exc:
            self._dead_letter(record, "undecodable", str(exc))
            return "dead-lettered"
        handler = self.routes.get(type(payload))
        if handler is None:
            return "ignored"
        return event, payload, handler

    def handle(self, record: Record, *, rebuilding: bool = False) -> str:
        """Handle one record in its own transaction; returns 'handled', 'duplicate', 'ignored' or
        'dead-lettered'. Raises only when stopping during a database outage (nothing is committed)."""
        prepared = self._prepare(record)
        if isinstance(prepared, str):
            return prepared
        return self._handle_alone(record, *prepared, rebuilding=rebuilding)

    def handle_batch(self, records: Sequence[Record], *, rebuilding: bool = False) -> list[str]:
        """Handle records in order in one transaction: one commit per batch, not per record.

        A commit is most of what a small handler costs (an fsync on PostgreSQL), and services that
        keep state in memory (rules) pay their version check once per transaction. If a handler
        fails, the whole batch is rolled back and handled again record by record, so only the
        poison record is retried and dead-lettered, exactly as without batching.
        """
        statuses: list[str | None] = []
        work: list[tuple[int, Record, CloudEvent, Payload, Handler]] = []
        for record in records:
            prepared = self._prepare(record)
            statuses.append(prepared if isinstance(prepared, str) else None)
            if not isinstance(prepared, str):
                work.append((len(statuses) - 1, record, *prepared))
        if len(work) <= 1:
            for i, record, event, payload, handler in work:
                statuses[i] = self._handle_alone(record, event, payload, handler, rebuilding=rebuilding)
            return [s or "ignored" for s in statuses]
        backoff = 0.2
        while True:
            started = time.perf_counter()
            try:
                done: dict[int, str] = {}
                with session_scope(self.engine) as session:
                    session.info[outbox.CHECK_AT_COMMIT] = True
                    batch_ids = outbox.seen_among(session, self.name, [w[2].id for w in work])
                    if self.prefetch is not None:
                        self.prefetch(session, [w[3] for w in work if w[2].id not in batch_ids])
                    for i, record, event, payload, handler in work:
                        if event.id in batch_ids or outbox.marked_here(session, self.name, event.id):
                            done[i] = "duplicate"
                            continue
                        outbox.mark_seen(session, self.name, event.id)
                        handler(Context(session, event, self.source, record, rebuilding), payload)
                        done[i] = "handled"
                per_record = (time.perf_counter() - started) / len(work)
                for i, record, event, *_ in work:
                    statuses[i] = done[i]
                    if done[i] == "duplicate":
                        metrics.DUPLICATES.labels(self.name).inc()
                    else:
                        self._metric(metrics.HANDLE_SECONDS, event.type).observe(per_record)
                return [s or "ignored" for s in statuses]
            except Exception as exc:  # noqa: BLE001 - classification below decides
                if _transient(exc):
                    if self.stop.is_set():
                        raise
                    log.warning("database unavailable, pausing on a batch of %d from %s@%s: %s", len(work),
                                work[0][1].topic, work[0][1].offset, exc)
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                log.warning("batch of %d failed (%s: %s); handling its records one by one", len(work),
                            type(exc).__name__, exc)
                for i, record, event, payload, handler in work:
                    statuses[i] = self._handle_alone(record, event, payload, handler, rebuilding=rebuilding)
                return [s or "ignored" for s in statuses]

    def _handle_alone(self, record: Record, event: CloudEvent, payload: Payload, handler: Handler, *,
                      rebuilding: bool = False) -> str:
        attempts, backoff = 0, 0.2
        while True:
            started = time.perf_counter()
            try:
                with session_scope(self.engine) as session:
                    if outbox.seen(session, self.name, event.id):
                        metrics.DUPLICATES.labels(self.name).inc()
                        return "duplicate"
                    outbox.mark_seen(session, self.name, event.id)
                    handler(Context(session, event, self.source, record, rebuilding), payload)
                self._metric(metrics.HANDLE_SECONDS, event.type).observe(time.perf_counter() - started)
                return "handled"
            except Exception as exc:  # noqa: BLE001 - classification below decides
                if _transient(exc):
                    if self.stop.is_set():
                        raise
                    log.warning("database unavailable, pausing on %s@%s: %s", record.topic, record.offset, exc,
                                extra={"event_id": event.id})
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                attempts += 1
                log.exception("handler failed (%d/%d) on %s", attempts, self.max_attempts, event.type,
                              extra={"event_id": event.id})
                if attempts >= self.max_attempts:
                    self._dead_letter(record, "handler_error", f"{type(exc).__name__}: {exc}")
                    return "dead-lettered"

    def _dead_letter(self, record: Record, reason: str, error: str) -> None:
        payload = RecordDeadLettered(
            consumer_group=self.name, origin_topic=record.topic, origin_partition=record.partition,
            origin_offset=record.offset, key=record.key.decode("utf-8", "replace") if record.key else None,
            value_base64=base64.b64encode(record.value).decode(), reason=reason, error=error[:4000],
            dead_lettered_at=datetime.now(timezone.utc))
        event = new_event(payload, id=derive_id("deadletter", self.name, record.topic, record.partition,
                                                record.offset),
                          source=self.source, time=datetime.fromtimestamp(record.timestamp_ms / 1000, timezone.utc))
        with session_scope(self.engine) as session:
            outbox.enqueue(session, event)
        metrics.DEAD_LETTERS.labels(self.name, record.topic, reason).inc()
        log.error("dead-lettered %s[%d]@%d: %s: %s", record.topic, record.partition, record.offset, reason, error[:500])

    # -- the loop -------------------------------------------------------------------------------
    def run_once(self, consumer, timeout_s: float = 1.0) -> int:
        """Poll one batch, handle it, commit its offsets; returns the number of records handled."""
        records = consumer.poll(timeout_s, self.batch)
        if not records:
            return 0
        self.handle_batch(records)
        collector.between_batches()
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        consumer.commit(offsets)
        return len(records)

    def run(self, stop: threading.Event | None = None) -> None:
        """Run until SIGTERM/SIGINT or ``stop``; starts the outbox relay beside the consumer."""
        if stop is not None:
            self.stop = stop
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop.set())
        if self.metrics_port:
            from prometheus_client import start_http_server
            start_http_server(self.metrics_port, addr=self.metrics_addr)
        self.create_tables()
        relay = threading.Thread(target=self.relay.run, args=(self.stop,), name=f"{self.name}-relay", daemon=True)
        relay.start()
        consumer = self.log.consumer(self.name, self.topics)
        log.info("worker %s consuming %s", self.name, ", ".join(self.topics))
        last_lag = 0.0
        try:
            while not self.stop.is_set():
                try:
                    self.run_once(consumer)
                except (OperationalError, InterfaceError):
                    if not self.stop.is_set():
                        raise
                if time.monotonic() - last_lag > 5:
                    last_lag = time.monotonic()
                    metrics.LAG.labels(self.name).set(consumer.lag())
                    metrics.OUTBOX_PENDING.labels(self.name).set(self.relay.pending())
        finally:
            consumer.close()
            self.stop.set()
            relay.join(timeout=30)
            log.info("worker %s stopped", self.name)

    # -- rebuild --------------------------------------------------------------------------------
    def rebuild(self) -> int:
        """Drop the projections and fold them again from the start of the log.

        The live worker must be stopped. Derived events are not emitted again (they are already on
        the log: the outbox is drained first); every record folded is recorded in the inbox, so the
        live worker, when restarted, skips what the rebuild already applied. Returns the number of
        records folded.

        Order matters across topics (a chat message judged before or after its sender's HR record
        gives different answers), and per-partition order is all the log promises. So the rebuild
        refolds in the order the service originally applied the events, which its inbox recorded
        (``handled_at``); events it never applied follow in log-append order. Records are held in
        memory while sorting (about 1.2 GB per million 1-KB events).
        """
        self.relay.drain()
        applied = outbox.applied_order(self.engine, self.name)
        drop_tables(self.engine, self.projection_tables)
        create_tables(self.engine, outbox.RUNTIME_TABLES + self.projection_tables)
        with session_scope(self.engine) as session:
            session.execute(delete(outbox.InboxEntry).where(outbox.InboxEntry.consumer == self.name))
        started = time.perf_counter()
        records = self._read_to_end()
        read_s = time.perf_counter() - started
        never = float("inf")
        records.sort(key=lambda r: (applied.get(_peek_id(r.value), never), r.timestamp_ms, r.topic,
                                    r.partition, r.offset))
        sorted_s = time.perf_counter() - started
        # Records are decoded batch by batch: a decoded chat message takes 4.4 KB, six times its
        # bytes. The million records stay alive until the end, and the cyclic collector would walk
        # all of them on every full collection (11 % of a million-event rebuild): frozen, it only
        # walks what the fold allocates, and only between batches (``collector.folding_a_log``).
        with collector.folding_a_log():
            for start in range(0, len(records), self.rebuild_batch):
                self.handle_batch(records[start:start + self.rebuild_batch], rebuilding=True)
                collector.between_batches(full_pass_allowed=False)
        log.info("rebuilt %s from %d records: read %.1f s, sorted %.1f s, folded %.1f s", self.name,
                 len(records), read_s, sorted_s - read_s, time.perf_counter() - started - sorted_s)
        return len(records)

    def _read_to_end(self) -> list[Record]:
        """Every record of the subscribed topics up to the end offsets seen at the start."""
        consumer = self.log.consumer(f"{self.name}-rebuild-{time.time_ns()}", self.topics)
        try:
            consumer.seek_to_beginning()
            ends = consumer.end_offsets()
            done: dict[TopicPartition, int] = {}
            records: list[Record] = []
            stalled_since = time.monotonic()
            while any(done.get(tp, 0) < end for tp, end in ends.items()):
                batch = consumer.poll(1.0, max(self.batch, 5000))
                if batch:
                    stalled_since = time.monotonic()
                elif time.monotonic() - stalled_since > 60:
                    raise RuntimeError(f"rebuild of {self.name}: no records for 60 s before the end "
                                       f"offsets {ends} (read up to {done})")
                for record in batch:
                    tp = TopicPartition(record.topic, record.partition)
                    if record.offset < ends.get(tp, 0):
                        records.append(record)
                    done[tp] = max(done.get(tp, 0), record.offset + 1)
            return records
        finally:
            consumer.close()


def _peek_id(value: bytes) -> str | None:
    try:
        return orjson.loads(value).get("id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
