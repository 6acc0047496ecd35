"""The embedded log's consumer: one member of a consumer group, coordinated through SQLite tables.

Membership: every member heartbeats (on poll and commit) into ``group_members``; one that stays
silent longer than the log's lease is removed by the next member that notices. Ownership: a member
reads a partition only while it holds its row in ``group_owners``; partitions move (``groups.py``)
only once released or expired, and commits are accepted only from the owner, so a member that was
too slow cannot move the group's offsets backwards.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from services.common.eventlog.base import (
    Consumer,
    LogUnavailable,
    Record,
    TopicPartition,
)
from services.common.eventlog.codec import decode_headers
from services.common.eventlog.embedded import _now_ms, write_txn
from services.common.eventlog.groups import Member, assign, plan_handover

if TYPE_CHECKING:
    from services.common.eventlog.embedded import EmbeddedLog

log = logging.getLogger(__name__)
MAX_IDLE_SLEEP_S = 0.025  # poll backoff ceiling: bounds idle latency at ~25 ms, costs ~40 reads/s


class EmbeddedConsumer(Consumer):
    """One member of ``group``. Joins at creation; heartbeats on every poll and commit."""

    def __init__(self, log_: EmbeddedLog, group: str, topics: Sequence[str]) -> None:
        self._log = log_
        self.group = group
        self.topics = tuple(dict.fromkeys(topics))
        for topic in self.topics:
            log_.partitions_of(topic)
        self.member_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._conn = log_.connect(synchronous="NORMAL")  # see the module docstring
        self._lock = threading.RLock()
        self._positions: dict[TopicPartition, int] = {}
        self._pending_seek: tuple[str, int] | None = None
        self._committed_cache: dict[TopicPartition, int] = {}  # what this member last committed
        self._generation = -1
        self._waiting = False
        self._last_sync = 0.0
        self._turn = 0
        self._closed = False
        self._sync()

    # -- group membership -------------------------------------------------------------------
    def assignment(self) -> set[TopicPartition]:
        """The partitions this member owns now."""
        return set(self._positions)

    def _read_generation(self) -> int:
        row = self._conn.execute("SELECT generation FROM group_generations WHERE grp = ?",
                                 (self.group,)).fetchone()
        return row[0] if row else 0

    def _maybe_sync(self) -> None:
        now = time.monotonic()
        heartbeat_due = now - self._last_sync >= self._log.lease_ms / 3000
        waiting_due = self._waiting and now - self._last_sync >= 0.05
        if heartbeat_due or waiting_due or self._read_generation() != self._generation:
            self._sync()

    def _bump(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO group_generations (grp, generation) VALUES (?, 1) ON CONFLICT (grp)"
                     " DO UPDATE SET generation = generation + 1", (self.group,))

    def _sync(self) -> None:
        """Heartbeat, expire dead members, and release/take partitions towards the agreed assignment."""
        conn, g, me, now = self._conn, self.group, self.member_id, _now_ms()
        with write_txn(conn):
            joined = conn.execute("UPDATE group_members SET heartbeat_ms = ? WHERE grp = ? AND member_id = ?",
                                  (now, g, me)).rowcount
            if not joined:
                conn.execute("INSERT INTO group_members VALUES (?, ?, ?, ?, ?)",
                             (g, me, "\n".join(self.topics), now, now))
                self._bump(conn)
            dead = [r[0] for r in conn.execute(
                "SELECT member_id FROM group_members WHERE grp = ? AND heartbeat_ms < ?",
                (g, now - self._log.lease_ms))]
            if dead:
                log.warning("consumer group %s: members %s missed their lease; taking over", g, dead)
                for member in dead:
                    conn.execute("DELETE FROM group_members WHERE grp = ? AND member_id = ?", (g, member))
                    conn.execute("DELETE FROM group_owners WHERE grp = ? AND member_id = ?", (g, member))
                self._bump(conn)
            members = [Member(m, frozenset(t.split("\n"))) for m, t in conn.execute(
                "SELECT member_id, topics FROM group_members WHERE grp = ? ORDER BY joined_ms, member_id",
                (g,))]
            counts = dict(conn.execute("SELECT topic, COUNT(*) FROM partitions GROUP BY topic"))
            counts = {t: counts[t] for m in members for t in m.topics if t in counts}
            owners = {TopicPartition(t, p): m for t, p, m in conn.execute(
                "SELECT topic, partition, member_id FROM group_owners WHERE grp = ?", (g,))}
            plan = plan_handover(me, assign(counts, members), owners)
            for tp in plan.release:
                conn.execute("DELETE FROM group_owners WHERE grp = ? AND topic = ? AND partition = ?",
                             (g, tp.topic, tp.partition))
            if plan.release:
                self._bump(conn)
            conn.executemany("INSERT INTO group_owners VALUES (?, ?, ?, ?)",
                             [(g, tp.topic, tp.partition, me) for tp in plan.take])
            owned = {TopicPartition(t, p) for t, p in conn.execute(
                "SELECT topic, partition FROM group_owners WHERE grp = ? AND member_id = ?", (g, me))}
            generation = conn.execute("SELECT generation FROM group_generations WHERE grp = ?",
                                      (g,)).fetchone()[0]
        self._generation, self._waiting = generation, bool(plan.waiting)
        self._last_sync = time.monotonic()
        self._adopt(owned)

    def _adopt(self, owned: set[TopicPartition]) -> None:
        """Forget positions of lost partitions; start new ones at the committed offset (or a pending seek)."""
        for tp in set(self._positions) - owned:
            del self._positions[tp]
            self._committed_cache.pop(tp, None)
        new = owned - set(self._positions)
        if not new:
            return
        committed = self.committed()
        for tp in new:
            self._positions[tp] = committed.get(tp, 0)
        if self._pending_seek is not None:
            kind, when_ms = self._pending_seek
            self._pending_seek = None
            self._apply_seek(kind, when_ms, new)

    # -- reading ----------------------------------------------------------------------------
    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        deadline = time.monotonic() + max(0.0, timeout_s)
        delay = 0.002
        with self._lock:
            while True:
                self._check_open()
                try:
                    self._maybe_sync()
                    records = self._fetch(max_records)
                except sqlite3.OperationalError as exc:
                    raise LogUnavailable(f"embedded log read failed: {exc}") from exc
                remaining = deadline - time.monotonic()
                if records or remaining <= 0:
                    return records
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, MAX_IDLE_SLEEP_S)

    def _fetch(self, max_records: int) -> list[Record]:
        ends = self.end_offsets()
        ready = [tp for tp in sorted(self._positions, key=lambda t: (t.topic, t.partition))
                 if ends.get(tp, 0) > self._positions[tp]]
        if not ready:
            return []
        self._turn = (self._turn + 1) % len(ready)
        ready = ready[self._turn:] + ready[:self._turn]  # fairness across partitions
        out: list[Record] = []
        for tp in ready:
            if len(out) >= max_records:
                break
            rows = self._conn.execute(
                "SELECT log_offset, key, value, timestamp_ms, headers FROM records"
                " WHERE topic = ? AND partition = ? AND log_offset >= ? ORDER BY log_offset LIMIT ?",
                (tp.topic, tp.partition, self._positions[tp], max_records - len(out))).fetchall()
            for offset, key, value, ts, headers in rows:
                out.append(Record(tp.topic, tp.partition, offset, key, value, ts, decode_headers(headers)))
            if rows:
                self._positions[tp] = rows[-1][0] + 1
        return out

    def position(self, tp: TopicPartition) -> int | None:
        return self._positions.get(tp)

    # -- offsets ----------------------------------------------------------------------------
    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        with self._lock:
            self._check_open()
            wanted = dict(self._positions) if offsets is None else dict(offsets)
            wanted = {tp: o for tp, o in wanted.items() if self._committed_cache.get(tp) != o}
            if not wanted:
                return  # nothing moved since the last commit: no write transaction
            conn, g, me = self._conn, self.group, self.member_id
            refused = []
            with write_txn(conn):
                conn.execute("UPDATE group_members SET heartbeat_ms = ? WHERE grp = ? AND member_id = ?",
                             (_now_ms(), g, me))
                for tp, offset in wanted.items():
                    owner = conn.execute(
                        "SELECT member_id FROM group_owners WHERE grp = ? AND topic = ? AND partition = ?",
                        (g, tp.topic, tp.partition)).fetchone()
                    if owner is None or owner[0] != me:
                        refused.append(tp)
                        continue
                    conn.execute(
                        "INSERT INTO group_offsets VALUES (?, ?, ?, ?) ON CONFLICT (grp, topic, partition)"
                        " DO UPDATE SET next_offset = excluded.next_offset", (g, tp.topic, tp.partition, offset))
            self._committed_cache.update({tp: o for tp, o in wanted.items() if tp not in refused})
            if refused:
                log.warning("consumer group %s: commit for %s refused, partitions now owned by another "
                            "member (their records will be redelivered)", g, refused)

    def committed(self) -> dict[TopicPartition, int]:
        result = {tp: 0 for tp in self._all_partitions()}
        marks = ",".join("?" * len(self.topics))
        for topic, partition, offset in self._conn.execute(
                f"SELECT topic, partition, next_offset FROM group_offsets WHERE grp = ? AND topic IN ({marks})",
                (self.group, *self.topics)):
            result[TopicPartition(topic, partition)] = offset
        return result

    def end_offsets(self) -> dict[TopicPartition, int]:
        marks = ",".join("?" * len(self.topics))
        return {TopicPartition(t, p): n for t, p, n in self._conn.execute(
            f"SELECT topic, partition, next_offset FROM partitions WHERE topic IN ({marks})", self.topics)}

    def _all_partitions(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in self.topics for p in range(self._log.partitions_of(t))]

    # -- seeking ----------------------------------------------------------------------------
    def seek_to_beginning(self) -> None:
        self._seek("beginning", 0)

    def seek_to_time(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("seek_to_time needs an aware datetime")
        self._seek("time", int(when.timestamp() * 1000))

    def _seek(self, kind: str, when_ms: int) -> None:
        """Seek the owned partitions; with none owned yet, the seek applies to the first ones taken."""
        with self._lock:
            self._check_open()
            self._sync()
            if self._positions:
                self._apply_seek(kind, when_ms, set(self._positions))
            else:
                self._pending_seek = (kind, when_ms)

    def _apply_seek(self, kind: str, when_ms: int, tps: set[TopicPartition]) -> None:
        for tp in tps:
            if kind == "beginning":
                row = self._conn.execute("SELECT MIN(log_offset) FROM records WHERE topic = ? AND partition = ?",
                                         (tp.topic, tp.partition)).fetchone()
            else:
                row = self._conn.execute(
                    "SELECT MIN(log_offset) FROM records WHERE topic = ? AND partition = ? AND timestamp_ms >= ?",
                    (tp.topic, tp.partition, when_ms)).fetchone()
            if row[0] is None:  # empty, or nothing at/after that time: the end
                row = self._conn.execute("SELECT next_offset FROM partitions WHERE topic = ? AND partition = ?",
                                         (tp.topic, tp.partition)).fetchone()
            self._positions[tp] = row[0]

    # -- lifecycle --------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("consumer is closed")

    def close(self) -> None:
        """Leave the group at once (releasing partitions) without committing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                with write_txn(self._conn) as conn:
                    conn.execute("DELETE FROM group_members WHERE grp = ? AND member_id = ?",
                                 (self.group, self.member_id))
                    conn.execute("DELETE FROM group_owners WHERE grp = ? AND member_id = ?",
                                 (self.group, self.member_id))
                    self._bump(conn)
            except LogUnavailable as exc:
                log.warning("consumer %s could not leave group %s cleanly (%s); lease will expire",
                            self.member_id, self.group, exc)
            finally:
                self._positions.clear()
                self._conn.close()
