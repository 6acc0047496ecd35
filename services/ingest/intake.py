"""Putting adapted events durably on the log, once: the IO half of every ingest endpoint.

Order, and why (the guarantee is "acknowledged ⇒ durably on the log"), in one database transaction:

1. Claim each event's deterministic id in ``ingest_seen_event`` (insert-or-ignore, returning the ids
   actually inserted); ids already there, or repeated inside the request, are duplicates.
2. Publish each newly claimed canonical event (``qg.chat.v1``) and the raw receipt (``qg.ingest.raw.v1``).
3. ``flush`` — only now are they durable. If it raises, the transaction rolls back: nothing claimed.
4. Record the receipt and commit; the caller answers the platform.

These steps run on one writer thread for whatever requests are waiting (group commit), so under
load many webhooks share one log fsync and one database transaction. Everything that is pure CPU
(event ids, envelope bytes, table rows) is done before, in the request's own thread (:func:`prepare`).

A crash after 3 and before the commit makes the platform's retry publish the same ids again; every
consumer's inbox drops them (ids are deterministic). Replicas sharing one database serialise on the
claimed rows. Requests that yield no chat events (heartbeats, one-to-one chats) leave no
receipt: they are not the company's group business and would only fill an audit topic kept forever.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import queue
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property

import orjson
from sqlalchemy import Engine, select
from sqlmodel import Session

from contracts import topics
from contracts.chat import Platform, RawPayloadReceived
from contracts.ids import derive_id
from services.common import metrics
from services.common.eventlog.base import LogUnavailable, Producer
from services.ingest.adapters.base import Parsed, SignatureResult
from services.ingest.envelopes import envelope_bytes, platform_event_uuid
from services.ingest.models import RawReceipt, SeenEvent
from services.ingest.store import RowInserter, WalCheckpointer

#: Kafka refuses records over ~1 MB by default; long bodies (a 10,000-event batch) go out in parts.
RAW_PART_BYTES = 256 * 1024
RAW_PART_IDS = 4000
_LOOKUP_CHUNK = 2000
#: Events claimed per step of a large group commit; each step's flush overlaps the next step's claim.
PIPELINE_EVENTS = 2000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """One request as received, before any parsing."""

    adapter: str
    platform: Platform
    received_at: datetime
    body: bytes
    signature: SignatureResult
    headers: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def receipt_id(self) -> str:
        return derive_id("receipt", self.adapter, hashlib.sha256(self.body).hexdigest(),
                         self.received_at.isoformat())

    @property
    def source(self) -> str:
        return f"qunguard/ingest/{self.adapter}"


@dataclass(frozen=True)
class Outcome:
    accepted: int
    duplicates: int
    ignored: int
    receipt_id: str | None
    event_ids: list[str]

    def answer(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "ignored": self.ignored}


@dataclass(frozen=True, slots=True)
class _ChatRecord:
    """One canonical chat event ready to claim and publish."""

    event_id: str
    key: bytes
    value: bytes
    seen: tuple[object, ...]  # its ``ingest_seen_event`` row, in ``_SEEN_COLUMNS`` order


@dataclass
class Prepared:
    """A request's records, built by the caller's thread so the writer thread only does IO.

    ``ids`` lists every event id in request order (a twin inside the request appears twice and
    counts as a duplicate); ``chat`` holds the first occurrence of each id.
    """

    receipt: Receipt
    parsed: Parsed
    ids: list[str]
    chat: list[_ChatRecord]
    raw: list[tuple[bytes, bytes]]
    body_text: str
    body_encoding: str
    future: Future[Outcome] = field(default_factory=Future)


def prepare(receipt: Receipt, parsed: Parsed) -> Prepared:
    """Event ids, envelope bytes and table rows of one request (pure CPU, no IO)."""
    source, receipt_id = receipt.source, receipt.receipt_id
    ids: list[str] = []
    chat: list[_ChatRecord] = []
    first: set[str] = set()
    for record in parsed.records():
        data = record.data
        platform, group_id, platform_id = data["platform"], data["group_id"], data["platform_event_id"]
        eid = platform_event_uuid(platform, platform_id)
        ids.append(eid)
        if eid in first:
            continue
        first.add(eid)
        key = f"{platform}:{group_id}"
        event_type = record.event_type
        value = envelope_bytes(event_type, data, id=eid, source=source, time=data["occurred_at"], partitionkey=key)
        chat.append(_ChatRecord(eid, key.encode(), value, (
            eid, platform, platform_id, event_type, group_id, record.occurred_at, receipt_id, value.decode())))
    body_text, encoding = _text_of(parsed.audit_body if parsed.audit_body is not None else receipt.body)
    return Prepared(receipt, parsed, ids, chat, raw_records(receipt, parsed, ids, body_text, encoding),
                    body_text, encoding)


class Intake:
    """Publishes, flushes, then remembers; one per process, safe to call from any thread or task.

    Group commit: requests queue their prepared records for one writer thread, which takes
    everything waiting (up to ``max_batch_events``) without lingering, does one claim, one publish +
    ``flush`` and one database transaction for all of it, then answers each request. Under load many
    webhooks share one fsync of the log; alone, a request waits for nobody. Each request's outcome is
    exactly what it would be on its own (a twin in the same group commit counts as a duplicate for
    the later request). Envelopes and rows are built in the caller's thread (:func:`prepare`), so the
    writer holds the GIL as little as possible and the event loop keeps answering while it waits
    on fsync.
    """

    def __init__(self, producer: Producer, engine: Engine, service: str = "ingest",
                 max_batch_events: int = 20_000) -> None:
        self.producer = producer
        self.engine = engine
        self.service = service
        self.max_batch_events = max_batch_events
        self._queue: queue.SimpleQueue[Prepared | None] = queue.SimpleQueue()
        self._sqlite = engine.dialect.name == "sqlite"
        self._checkpointer = WalCheckpointer(engine) if self._sqlite else None
        self._flusher = ThreadPoolExecutor(1, thread_name_prefix="ingest-flush")
        self._writer = threading.Thread(target=self._run, name="ingest-intake", daemon=True)
        self._writer.start()

    def accept(self, receipt: Receipt, parsed: Parsed) -> Outcome:
        """Block until the request's events are durably on the log (or raise why not)."""
        return self.submit(prepare(receipt, parsed)).result()

    async def accept_async(self, receipt: Receipt, parsed: Parsed) -> Outcome:
        return await asyncio.wrap_future(self.submit(prepare(receipt, parsed)))

    async def accept_prepared(self, job: Prepared) -> Outcome:
        """For callers that ran :func:`prepare` off the event loop (large batches)."""
        return await asyncio.wrap_future(self.submit(job))

    def close(self) -> None:
        """Finish queued work, then stop the writer."""
        self._queue.put(None)
        self._writer.join()
        self._flusher.shutdown()
        if self._checkpointer is not None:
            self._checkpointer.close()

    def submit(self, job: Prepared) -> Future[Outcome]:
        if not job.ids:
            job.future.set_result(Outcome(0, 0, job.parsed.ignored, None, []))
        elif not self._writer.is_alive():
            job.future.set_exception(LogUnavailable("ingest writer stopped"))
        else:
            self._queue.put(job)
        return job.future

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs, size, stop = [job], len(job.ids), False
            while size < self.max_batch_events:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
                size += len(more.ids)
            self._commit_group(jobs)
            if stop:
                return

    def _commit_group(self, jobs: list[Prepared]) -> None:
        try:
            outcomes = self._commit(jobs)
        except BaseException as exc:  # noqa: BLE001 - every waiting request learns why
            log.warning("ingest commit of %d requests failed: %s", len(jobs), exc)
            for job in jobs:
                job.future.set_exception(exc)
            return
        for job, outcome in zip(jobs, outcomes):
            job.future.set_result(outcome)

    def _commit(self, jobs: list[Prepared]) -> list[Outcome]:
        """One transaction: claim ids (insert-or-ignore, RETURNING the new ones), publish, flush, commit.

        The seen rows commit only after every flush returned; if one raises, they all roll back.
        Large groups are claimed in chunks of :data:`PIPELINE_EVENTS`, and each chunk's flush runs in
        the flusher thread while the next chunk is claimed: the two SQLite files (or the database and
        Kafka) work at the same time instead of one after the other. Each flush still finishes before
        more is published, and all of them before the commit.
        """
        candidates: list[tuple[int, _ChatRecord]] = []
        in_group: set[str] = set()
        for n, job in enumerate(jobs):
            for record in job.chat:
                if record.event_id not in in_group:  # the first request of the group to carry it gets it
                    in_group.add(record.event_id)
                    candidates.append((n, record))
        fresh_per_job = [0] * len(jobs)
        chat_topic, raw_topic = topics.CHAT.name, topics.RAW.name
        raw = [(raw_topic, key, value) for job in jobs for key, value in job.raw]
        chunks = [candidates[i:i + PIPELINE_EVENTS] for i in range(0, len(candidates), PIPELINE_EVENTS)] or [[]]
        with self.engine.begin() as conn:
            if self._sqlite:  # checkpoint in WalCheckpointer's thread, not inside this COMMIT
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            flushing: Future[None] | None = None
            for i, chunk in enumerate(chunks):
                claimed = _SEEN.insert(conn, [record.seen for _, record in chunk])
                records = []
                for n, record in chunk:
                    if record.event_id in claimed:
                        records.append((chat_topic, record.key, record.value))
                        fresh_per_job[n] += 1
                if i == len(chunks) - 1:
                    records.extend(raw)
                if flushing is not None:
                    flushing.result()
                if len(chunks) == 1:  # a webhook's group: no thread hop
                    self._publish_and_flush(records)
                else:
                    flushing = self._flusher.submit(self._publish_and_flush, records)
            if flushing is not None:
                flushing.result()
            outcomes = [Outcome(fresh, len(job.ids) - fresh, job.parsed.ignored, job.receipt.receipt_id, job.ids)
                        for job, fresh in zip(jobs, fresh_per_job)]
            _RECEIPTS.insert(conn, [_receipt_row(job, o) for job, o in zip(jobs, outcomes)])
        if self._checkpointer is not None:
            self._checkpointer.wrote(sum(len(r.value) for _, r in candidates) + sum(len(j.body_text) for j in jobs))
        metrics.PRODUCED.labels(self.service, chat_topic).inc(sum(fresh_per_job))
        metrics.PRODUCED.labels(self.service, raw_topic).inc(len(raw))
        return outcomes

    def _publish_and_flush(self, records: list[tuple[str, bytes, bytes]]) -> None:
        publish = self.producer.publish
        for topic, key, value in records:
            publish(topic, key, value)
        self.producer.flush()

    def already_seen(self, ids: Iterable[str]) -> set[str]:
        unique = list(dict.fromkeys(ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(unique), _LOOKUP_CHUNK):
                chunk = unique[i:i + _LOOKUP_CHUNK]
                found.update(conn.execute(select(SeenEvent.event_id).where(SeenEvent.event_id.in_(chunk))).scalars())
        return found


def raw_records(receipt: Receipt, parsed: Parsed, event_ids: list[str], text: str,
                encoding: str) -> list[tuple[bytes, bytes]]:
    """The receipt as ``RawPayloadReceived`` records (key, value), split into parts small enough for Kafka."""
    chunks = _split(text, RAW_PART_BYTES) or [""]
    id_chunks = [event_ids[i:i + RAW_PART_IDS] for i in range(0, len(event_ids), RAW_PART_IDS)] or [[]]
    parts = max(len(chunks), len(id_chunks))
    out = []
    for n in range(parts):
        payload = RawPayloadReceived(
            receipt_id=receipt.receipt_id, adapter=receipt.adapter, platform=receipt.platform,
            received_at=receipt.received_at, headers=dict(receipt.headers),
            body=chunks[n] if n < len(chunks) else "", body_encoding=encoding, signature=receipt.signature,
            event_ids=id_chunks[n] if n < len(id_chunks) else [], group_id=parsed.group_id,
            part=n + 1, parts=parts,
        )
        data = payload.model_dump(mode="json", exclude_none=True)
        key = payload.partition_key()
        out.append((key.encode(), envelope_bytes(payload.event_type, data, id=derive_id("raw", receipt.receipt_id, n + 1),
                                                 source=receipt.source, time=data["received_at"], partitionkey=key)))
    return out


def _text_of(body: bytes) -> tuple[str, str]:
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), "base64"


def _split(text: str, max_bytes: int) -> list[str]:
    """Cut text into pieces of at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    if len(text.encode()) <= max_bytes:
        return [text] if text else []
    pieces, start = [], 0
    step = max_bytes // 4  # a character is at most 4 bytes
    while start < len(text):
        end = min(len(text), start + step)
        while end < len(text) and len(text[start:end + step].encode()) <= max_bytes:
            end = min(len(text), end + step)
        pieces.append(text[start:end])
        start = end
    return pieces


_SEEN_COLUMNS = ("event_id", "platform", "platform_event_id", "event_type", "group_id", "occurred_at",
                 "receipt_id", "envelope")
_RECEIPT_COLUMNS = ("receipt_id", "adapter", "platform", "received_at", "headers", "body", "body_encoding",
                    "signature", "event_ids", "accepted", "duplicates", "ignored")
#: Claims seen ids: inserts the rows whose id is new and returns those ids (a retry's rows are skipped).
_SEEN = RowInserter(SeenEvent.__table__, _SEEN_COLUMNS, returning="event_id")
#: Receipts are keyed by a hash of body and receipt time; a republish after a crash skips the row.
_RECEIPTS = RowInserter(RawReceipt.__table__, _RECEIPT_COLUMNS)


def _receipt_row(job: Prepared, outcome: Outcome) -> tuple[object, ...]:
    r = job.receipt
    return (r.receipt_id, r.adapter, r.platform, r.received_at, dict(r.headers), job.body_text, job.body_encoding,
            r.signature, outcome.event_ids, outcome.accepted, outcome.duplicates, outcome.ignored)


def lookup(engine: Engine, event_id: str) -> tuple[dict[str, object], dict[str, object] | None] | None:
    """The published envelope of ``event_id`` and the receipt it first came in, or None."""
    with Session(engine) as session:
        seen = session.get(SeenEvent, event_id)
        if seen is None:
            return None
        receipt = session.get(RawReceipt, seen.receipt_id)
        event = orjson.loads(seen.envelope)
        if receipt is None:
            return event, None
        return event, {"receipt_id": receipt.receipt_id, "adapter": receipt.adapter,
                       "platform": receipt.platform, "received_at": _aware(receipt.received_at).isoformat(),
                       "headers": receipt.headers, "body": receipt.body, "body_encoding": receipt.body_encoding,
                       "signature": receipt.signature, "event_ids": receipt.event_ids}


def _aware(value: datetime) -> datetime:
    """Timestamps come back in UTC; keep the offset explicit in what we serve."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

