"""The Kafka log's consumer: manual commits, seeks that work before the first assignment, and the
broker quirks described in ``kafka.py`` (end offsets confirmed by a fetch, batch-granular time seeks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KTP
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from contracts import topics as registry
from services.common.eventlog.base import (
    Consumer,
    LogUnavailable,
    Record,
    TopicPartition,
)
from services.common.eventlog.kafka import FETCH_MAX_WAIT_MS, with_backoff

if TYPE_CHECKING:
    from services.common.eventlog.kafka import KafkaLog

log = logging.getLogger(__name__)


class _Listener(ConsumerRebalanceListener):
    """Runs on kafka-python's IO thread, where blocking calls are forbidden: it only flags work.

    A seek asked for before the first assignment is applied here when it needs no broker round
    trip (to the beginning); a seek to a time pauses the new partitions, and the consumer's own
    thread looks the offsets up and resumes them right after the poll that got the assignment.
    """

    def __init__(self, owner: KafkaLogConsumer) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            self.owner._floors.pop(tp, None)

    def on_partitions_assigned(self, assigned: Any) -> None:
        owner = self.owner
        pending, owner._pending_seek = owner._pending_seek, None
        if pending is None or not assigned:
            return
        if pending == 0:
            owner._consumer.seek_to_beginning(*assigned)
        else:
            owner._consumer.pause(*assigned)
            owner._deferred_seek = (pending, set(assigned))


class KafkaLogConsumer(Consumer):
    def __init__(self, log_: KafkaLog, group: str, topics: Sequence[str]) -> None:
        self._log = log_
        self.group = group
        self.topics = tuple(dict.fromkeys(topics))
        self._pending_seek: int | None = None  # 0 → beginning, else a time in ms
        self._deferred_seek: tuple[int, set[KTP]] | None = None  # set by the listener, see there
        self._floors: dict[KTP, tuple[int, int]] = {}  # tp → (min timestamp, applies below offset)
        self._probe: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer = with_backoff(lambda ms: KafkaConsumer(
            bootstrap_timeout_ms=ms,
            bootstrap_servers=log_.bootstrap, client_id=log_.client_id, group_id=group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_interval_ms=log_.max_poll_interval_ms, session_timeout_ms=log_.session_timeout_ms,
            heartbeat_interval_ms=max(500, log_.session_timeout_ms // 3),
            request_timeout_ms=max(log_.request_timeout_ms, 6000),
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS, max_partition_fetch_bytes=4 * 1024 * 1024,
        ), f"consumer {group}", log_.connect_timeout_s)
        self._consumer.subscribe([log_.physical(t) for t in self.topics], listener=_Listener(self))
        self._await_membership((log_.max_poll_interval_ms + log_.session_timeout_ms) / 1000 + 2)

    def _await_membership(self, timeout_s: float) -> None:
        """Join the group before returning, as the embedded consumer does.

        Without this the first polls of a new consumer come back empty while the broker runs the
        join (seconds on Tansu), and a caller reading "until three empty polls" stops before it has
        read anything. Records fetched while joining are not consumed: the position is put back.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                got = self._consumer.poll(timeout_ms=100, max_records=1, update_offsets=False)
            except KafkaError as exc:
                raise LogUnavailable(f"Kafka poll failed while joining {self.group}: {exc}") from exc
            for tp, records in got.items():
                if records:
                    self._consumer.seek(tp, records[0].offset)
            if self._joined():
                return
        log.warning("consumer group %s: not joined after %.0fs; polls will keep trying", self.group, timeout_s)

    def _joined(self) -> bool:
        if self._consumer.assignment():
            return True
        coordinator = getattr(self._consumer, "_coordinator", None)  # no public "joined" in kafka-python
        stable = getattr(coordinator, "generation_if_stable", None)
        return bool(stable and stable() is not None)

    def _logical_tp(self, tp: KTP) -> TopicPartition:
        return TopicPartition(self._log.logical(tp.topic), tp.partition)

    def assignment(self) -> set[TopicPartition]:
        return {self._logical_tp(tp) for tp in self._consumer.assignment()}

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
            if self._deferred_seek is not None:
                when_ms, tps = self._deferred_seek
                self._deferred_seek = None
                self._apply_seek(when_ms, tps)
                self._consumer.resume(*tps)
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka poll failed: {exc}") from exc
        out: list[Record] = []
        for tp, records in batches.items():
            topic = self._log.logical(tp.topic)
            for r in self._skip_before_floor(tp, records):
                out.append(Record(topic, tp.partition, r.offset, r.key, r.value, r.timestamp,
                                  tuple(r.headers or ())))
        return out

    def _skip_before_floor(self, tp: KTP, records: list[Any]) -> list[Any]:
        floor = self._floors.get(tp)
        if floor is None:
            return records
        min_ts, below = floor
        for i, r in enumerate(records):
            if r.timestamp >= min_ts or r.offset >= below:
                del self._floors[tp]
                return records[i:]
        return []

    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        try:
            if offsets is None:
                self._consumer.commit()
            elif offsets:
                self._consumer.commit({KTP(self._log.physical(tp.topic), tp.partition):
                                       OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()})
        except CommitFailedError as exc:
            log.warning("consumer group %s: commit refused after a rebalance (%s); records will be "
                        "redelivered", self.group, exc)
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka commit failed: {exc}") from exc

    def _partitions(self) -> list[KTP]:
        out = []
        for topic in self.topics:
            name = self._log.physical(topic)
            parts = self._consumer.partitions_for_topic(name)
            if not parts:
                known = registry.BY_NAME.get(topic)
                parts = set(range(known.partitions if known else 1))
            out += [KTP(name, p) for p in sorted(parts)]
        return out

    def committed(self) -> dict[TopicPartition, int]:
        """Read through an admin client: the consumer's own ``committed()`` talks to the group
        coordinator and, called while the group is (re)joining, restarted the join every time (seen
        on Tansu: a worker reporting lag every few seconds never got its partitions)."""
        try:
            if self._admin is None:
                self._admin = with_backoff(
                    lambda ms: KafkaAdminClient(bootstrap_servers=self._log.bootstrap, bootstrap_timeout_ms=ms,
                                                client_id=f"{self._log.client_id}-offsets",
                                                request_timeout_ms=self._log.request_timeout_ms),
                    "admin client", self._log.connect_timeout_s)
            found = self._admin.list_group_offsets({self.group: self._partitions()}).get(self.group, {})
        except KafkaError as exc:
            raise LogUnavailable(f"cannot read committed offsets: {exc}") from exc
        result = {}
        for tp in self._partitions():
            hit = found.get(tp)
            result[self._logical_tp(tp)] = hit.offset if hit is not None and hit.offset >= 0 else 0
        return result

    def end_offsets(self) -> dict[TopicPartition, int]:
        return {self._logical_tp(tp): n for tp, n in self._end_offsets(self._partitions()).items()}

    def _end_offsets(self, tps: list[KTP]) -> dict[KTP, int]:
        return confirmed_end_offsets(self._consumer, self._probe_consumer, tps, self._log.request_timeout_ms / 1000)

    def _probe_consumer(self) -> KafkaConsumer:
        if self._probe is None:
            self._probe = KafkaConsumer(bootstrap_servers=self._log.bootstrap, group_id=None,
                                        client_id=f"{self._log.client_id}-probe", enable_auto_commit=False,
                                        request_timeout_ms=max(self._log.request_timeout_ms, 6000))
        return self._probe

    def seek_to_beginning(self) -> None:
        self._seek(0)

    def seek_to_time(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("seek_to_time needs an aware datetime")
        self._seek(max(1, int(when.timestamp() * 1000)))

    def _seek(self, when_ms: int) -> None:
        """Seek the assigned partitions; with none assigned yet, the seek applies at the first assignment."""
        assigned = set(self._consumer.assignment())
        if assigned:
            self._apply_seek(when_ms, assigned)
        else:
            self._pending_seek = when_ms

    def _apply_seek(self, when_ms: int, tps: set[KTP]) -> None:
        self._floors = {tp: f for tp, f in self._floors.items() if tp not in tps}
        if when_ms == 0:
            self._consumer.seek_to_beginning(*tps)
            return
        found = self._consumer.offsets_for_times({tp: when_ms for tp in tps})
        ends = self._end_offsets(sorted(tps))
        for tp in tps:
            hit = found.get(tp)
            if hit is None:
                self._consumer.seek(tp, ends[tp])
            else:
                self._consumer.seek(tp, hit.offset)
                self._floors[tp] = (when_ms, ends[tp])

    def close(self) -> None:
        try:
            self._consumer.close(autocommit=False)
        finally:
            if self._probe is not None:
                self._probe.close()
                self._probe = None
            if self._admin is not None:
                self._admin.close()
                self._admin = None


def confirmed_end_offsets(consumer: KafkaConsumer, probe: Callable[[], KafkaConsumer], tps: list[KTP],
                          timeout_s: float) -> dict[KTP, int]:
    """ListOffsets(latest), confirmed by the high watermark of a fetch at that offset.

    Tansu's ListOffsets may answer below what a fetch already returns; a lag computed from it alone
    can read 0 while records are still unread. ``probe`` gives a group-less consumer for the fetch.
    """
    try:
        listed = dict(consumer.end_offsets(tps))
        to_check = [tp for tp, n in listed.items() if n > 0]
        if not to_check:
            return listed
        p = probe()
        p.assign(to_check)
        for tp in to_check:
            p.seek(tp, listed[tp] - 1)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            p.poll(timeout_ms=100, max_records=1, update_offsets=False)
            marks = {tp: p.highwater(tp) for tp in to_check}
            if all(m is not None for m in marks.values()):
                return {tp: max(n, marks.get(tp) or 0) for tp, n in listed.items()}
        raise LogUnavailable("Kafka did not answer a fetch for end offsets in time")
    except KafkaError as exc:
        raise LogUnavailable(f"cannot read end offsets: {exc}") from exc
