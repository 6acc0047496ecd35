"""The embedded event log: an append-only log in one SQLite file, behind the Kafka-shaped contract.

Why SQLite: `qg up` on one machine must need nothing but the package, yet keep every guarantee the
services rely on (per-partition order, committed offsets per group, replay from the beginning).

How it stays correct with several processes on one machine:
- WAL mode, so readers never block the single writer; every write is ``BEGIN IMMEDIATE`` (takes the
  write lock up front, so two appenders serialise instead of deadlocking on a lock upgrade). Waiting
  for that lock is done here with sub-millisecond backoff rather than SQLite's busy handler, whose
  1, 2, 5, 10 … 100 ms sleeps made a producer and a committing consumer queue behind each other at
  1,000 transactions/s (p50 latency went from ~2 ms to ~1 s under load).
- Offsets are allocated inside the append transaction from ``partitions.next_offset``; a reader can
  therefore never see offset n+1 before offset n.
- ``synchronous=FULL`` for producers: the WAL is fsynced at each commit, so a record is on disk when
  ``flush`` returns (the contract says "durable after flush"). NORMAL would survive a process crash
  but could lose the last transactions on power loss; the cost of FULL is one fsync per flush, which
  the producer amortises by writing all queued records in one transaction. Consumers use NORMAL:
  losing their last offset commits or heartbeats on power loss only means redelivery (which the
  contract allows and the workers' inbox absorbs), and it keeps commits short.
- Consumer groups are coordinated through tables (see ``groups.py``, ``embedded_consumer.py``): heartbeats with a lease,
  explicit ownership of each partition, commits accepted only from the partition's current owner.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from contracts import topics as registry
from services.common.eventlog.base import (
    EventLog,
    LogUnavailable,
    Producer,
    partition_for,
)
from services.common.eventlog.codec import encode_headers

if TYPE_CHECKING:
    from services.common.eventlog.embedded_consumer import EmbeddedConsumer

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS partitions (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, log_offset INTEGER NOT NULL,
    key BLOB, value BLOB NOT NULL, timestamp_ms INTEGER NOT NULL, headers BLOB,
    PRIMARY KEY (topic, partition, log_offset));
CREATE INDEX IF NOT EXISTS records_by_time ON records (topic, partition, timestamp_ms);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition));
CREATE TABLE IF NOT EXISTS group_generations (grp TEXT PRIMARY KEY, generation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS group_members (
    grp TEXT NOT NULL, member_id TEXT NOT NULL, topics TEXT NOT NULL,
    joined_ms INTEGER NOT NULL, heartbeat_ms INTEGER NOT NULL, PRIMARY KEY (grp, member_id));
CREATE TABLE IF NOT EXISTS group_owners (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, member_id TEXT NOT NULL,
    PRIMARY KEY (grp, topic, partition));
"""

AUTO_FLUSH_AT = 10_000  # queued records; bounds producer memory when a caller never flushes


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def connect(path: Path, busy_timeout_s: float = 10.0, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves) in WAL mode."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    deadline = time.monotonic() + busy_timeout_s
    while True:  # switching to WAL may report BUSY without calling the busy handler
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock, polling with 0.1 → 5 ms backoff up to the connection's busy timeout."""
    timeout_ms = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    deadline = time.monotonic() + timeout_ms / 1000
    delay = 0.0001
    conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise LogUnavailable(f"embedded log unusable: {exc}") from exc
                if time.monotonic() > deadline:
                    raise LogUnavailable(f"embedded log is locked: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.005)
    finally:
        conn.execute(f"PRAGMA busy_timeout={timeout_ms}")


@contextmanager
def write_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolls back and raises LogUnavailable when locked or failing."""
    _begin_immediate(conn)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            raise LogUnavailable(f"embedded log write failed: {exc}") from exc
        raise


class EmbeddedLog(EventLog):
    """The log in the SQLite file at ``path`` (created with its parent folders when missing).

    ``lease_s``: how long a consumer-group member may stay silent (no poll or commit) before the
    others take its partitions over, like Kafka's max poll interval.
    """

    def __init__(self, path: str | os.PathLike[str], lease_s: float = 6.0,
                 busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lease_ms = int(lease_s * 1000)
        self.busy_timeout_s = busy_timeout_s
        self._partition_counts: dict[str, int] = {}
        conn = self.connect()
        try:
            with write_txn(conn):  # not executescript(): it would COMMIT our transaction
                for statement in filter(str.strip, SCHEMA.split(";")):
                    conn.execute(statement)
        finally:
            conn.close()
        self.create_topics()

    def connect(self, synchronous: str = "FULL") -> sqlite3.Connection:
        try:
            return connect(self.path, self.busy_timeout_s, synchronous)
        except sqlite3.Error as exc:
            raise LogUnavailable(f"cannot open embedded log {self.path}: {exc}") from exc

    def create_topics(self) -> list[str]:
        return self.ensure_topics({t.name: t.partitions for t in registry.ALL})

    def ensure_topics(self, wanted: dict[str, int]) -> list[str]:
        """Create the partitions of each topic that has none yet; returns the names created."""
        conn = self.connect()
        try:
            existing = dict(conn.execute("SELECT topic, COUNT(*) FROM partitions GROUP BY topic").fetchall())
            missing = {name: n for name, n in wanted.items() if name not in existing}
            created: list[str] = []
            if missing:
                with write_txn(conn):
                    for name, count in missing.items():
                        cur = conn.executemany(
                            "INSERT OR IGNORE INTO partitions (topic, partition) VALUES (?, ?)",
                            [(name, p) for p in range(count)])
                        if cur.rowcount:
                            created.append(name)
            rows = conn.execute("SELECT topic, COUNT(*) FROM partitions GROUP BY topic").fetchall()
            self._partition_counts.update(dict(rows))
            return created
        finally:
            conn.close()

    def partitions_of(self, topic: str) -> int:
        """Partition count of ``topic``; an unknown topic is created (registry count, else 1)."""
        count = self._partition_counts.get(topic)
        if count is None:
            known = registry.BY_NAME.get(topic)
            self.ensure_topics({topic: known.partitions if known else 1})
            count = self._partition_counts[topic]
        return count

    def producer(self) -> EmbeddedProducer:
        return EmbeddedProducer(self)

    def consumer(self, group: str, topics: Sequence[str]) -> EmbeddedConsumer:
        from services.common.eventlog.embedded_consumer import EmbeddedConsumer

        return EmbeddedConsumer(self, group, topics)

    def ping(self) -> None:
        conn = self.connect()
        try:
            conn.execute("SELECT 1 FROM partitions LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise LogUnavailable(f"embedded log {self.path} unreadable: {exc}") from exc
        finally:
            conn.close()


class EmbeddedProducer(Producer):
    """Queues records in memory; ``flush`` appends them all in one transaction (one fsync)."""

    def __init__(self, log_: EmbeddedLog) -> None:
        self._log = log_
        self._conn = log_.connect()
        self._queue: list[tuple[str, int, bytes | None, bytes, int, bytes | None]] = []
        self._lock = threading.Lock()

    def publish(self, topic: str, key: bytes | None, value: bytes,
                headers: Sequence[tuple[str, bytes]] = ()) -> None:
        partition = partition_for(key, self._log.partitions_of(topic))
        item = (topic, partition, key, value, _now_ms(), encode_headers(headers))
        with self._lock:
            self._queue.append(item)
            full = len(self._queue) >= AUTO_FLUSH_AT
        if full:
            self.flush()

    def flush(self, timeout_s: float = 30.0) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
            if not batch:
                return
            try:
                self._append(batch)
            except BaseException:
                self._queue[:0] = batch  # keep them, in order, for the caller's retry
                raise

    def _append(self, batch: list[tuple[str, int, bytes | None, bytes, int, bytes | None]]) -> None:
        conn = self._conn
        with write_txn(conn):
            next_offsets: dict[tuple[str, int], int] = {}
            rows = []
            for topic, partition, key, value, ts, headers in batch:
                tp = (topic, partition)
                offset = next_offsets.get(tp)
                if offset is None:
                    found = conn.execute(
                        "SELECT next_offset FROM partitions WHERE topic = ? AND partition = ?", tp).fetchone()
                    if found is None:
                        raise ValueError(f"no partition {partition} in topic {topic!r}")
                    offset = found[0]
                rows.append((topic, partition, offset, key, value, ts, headers))
                next_offsets[tp] = offset + 1
            conn.executemany(
                "INSERT INTO records (topic, partition, log_offset, key, value, timestamp_ms, headers)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.executemany("UPDATE partitions SET next_offset = ? WHERE topic = ? AND partition = ?",
                             [(n, t, p) for (t, p), n in next_offsets.items()])

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._conn.close()
