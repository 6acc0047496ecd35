"""The event log interface: one contract, two engines (Kafka and embedded SQLite).

Delivery is at-least-once: a consumer sees every record of its subscribed topics at least once, in
order per (topic, partition), and a record whose offset it has committed is not delivered to its
group again. Records with the same key always land in the same partition. Effectively-once
processing is built on top of this by the worker (inbox dedupe + outbox in one transaction).
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = field(default=())


@dataclass(frozen=True)
class TopicPartition:
    topic: str
    partition: int


class LogUnavailable(RuntimeError):
    """The log cannot be reached now; callers retry with backoff rather than crash."""


def partition_for(key: bytes | None, partitions: int) -> int:
    """Stable key → partition for the embedded log (Kafka uses its own murmur2 partitioner)."""
    if partitions <= 1 or key is None:
        return 0
    return zlib.crc32(key) % partitions


class Producer(ABC):
    @abstractmethod
    def publish(self, topic: str, key: bytes | None, value: bytes,
                headers: Sequence[tuple[str, bytes]] = ()) -> None:
        """Queue one record. Durable only after ``flush`` returns."""

    @abstractmethod
    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until every queued record is durably on the log; raises LogUnavailable."""

    def publish_many(self, items: Iterable[tuple[str, bytes | None, bytes]]) -> None:
        for topic, key, value in items:
            self.publish(topic, key, value)

    @abstractmethod
    def close(self) -> None: ...


class Consumer(ABC):
    """A member of a named consumer group, committing offsets by hand."""

    @abstractmethod
    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        """Next records after this member's position, in per-partition order."""

    @abstractmethod
    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        """Commit next-offsets (the offset of the next record to read); default: the current position."""

    @abstractmethod
    def seek_to_beginning(self) -> None:
        """Move this member's position to the start of every assigned partition."""

    @abstractmethod
    def seek_to_time(self, when: datetime) -> None:
        """Move to the first record whose log timestamp is at or after ``when``."""

    @abstractmethod
    def end_offsets(self) -> dict[TopicPartition, int]:
        """The next offset to be written, per partition of the subscribed topics."""

    @abstractmethod
    def committed(self) -> dict[TopicPartition, int]:
        """The group's committed next-offsets (0 where nothing was committed)."""

    def lag(self) -> int:
        ends, done = self.end_offsets(), self.committed()
        return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())

    @abstractmethod
    def close(self) -> None: ...


class EventLog(ABC):
    """A factory for producers and consumers of one log, plus topic administration."""

    @abstractmethod
    def create_topics(self) -> list[str]:
        """Create every topic of ``contracts.topics`` that is missing; returns the names created."""

    @abstractmethod
    def producer(self) -> Producer: ...

    @abstractmethod
    def consumer(self, group: str, topics: Sequence[str]) -> Consumer: ...

    @abstractmethod
    def ping(self) -> None:
        """Raise LogUnavailable when the log cannot be reached."""

    def close(self) -> None:
        """Release shared resources."""
