"""The Kafka event log (kafka-python), behind the same contract as the embedded log.

Producer: ``acks=all``, idempotence where the broker supports it (kafka-python turns it off with a
warning for brokers older than 0.11; we log which we got), lz4 compression when the ``lz4`` package is
installed, else gzip, and a short linger so one flush ships big batches.

Consumer: manual commits only, ``auto_offset_reset=earliest`` (a new group reads history, which is
what a rebuild wants), and a short ``max_poll_interval_ms`` because some brokers (Tansu) wait that
long for members to rejoin during a rebalance.

Two broker quirks are absorbed here so callers see Kafka semantics everywhere:
- some brokers answer ListOffsets(latest) with the last *batch's* base offset + 1; ``end_offsets``
  confirms the value with the high watermark of a fetch at that position;
- ``offsets_for_times`` may answer at batch granularity (an offset a little before the first record
  at that time); after ``seek_to_time`` the consumer skips leading records older than the target.

``topic_prefix`` maps registry names onto physical topics (``<prefix>qg.chat.v1``): environments
sharing one cluster, and tests isolating themselves, use it; records come back with registry names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.codec import has_lz4
from kafka.errors import (
    KafkaError,
    TopicAlreadyExistsError,
)
from kafka.partitioner.default import DefaultPartitioner, murmur2

from contracts import topics as registry
from services.common.eventlog.base import (
    EventLog,
    LogUnavailable,
    Producer,
)

if TYPE_CHECKING:
    from services.common.eventlog.kafka_consumer import KafkaLogConsumer

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long the broker may hold an empty fetch. Kafka answers as soon as data arrives; Tansu was seen
# to sit on the fetch (p95 latency ≈ 240 ms at 500 ms). 100 ms bounds that for ~10 idle fetches/s.
FETCH_MAX_WAIT_MS = 100


def compression_type() -> str:
    """lz4 when its codec is installed (fast, light on CPU), else gzip (always available)."""
    return "lz4" if has_lz4() else "gzip"


class CachedMurmur2Partitioner(DefaultPartitioner):
    """Kafka's default key → partition (murmur2, as the Java client), with the hash cached per key.

    Keys repeat (a chat group's ref, an employee id) and kafka-python's murmur2 is pure Python:
    caching it removes about a quarter of the per-record cost of ``send``.
    """

    def __init__(self) -> None:
        self._hash = lru_cache(maxsize=1 << 16)(lambda key: murmur2(key) & 0x7FFFFFFF)

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: Any, cluster: Any) -> int:
        if serialized_key is None:
            return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        ordered = sorted(partitions)
        return ordered[self._hash(serialized_key) % len(ordered)]


def with_backoff(make: Callable[[int], T], what: str, timeout_s: float) -> T:
    """Call ``make(bootstrap_timeout_ms)`` until it reaches the brokers; exponential backoff up to 5 s.

    Each attempt's own bootstrap wait is capped by what is left of ``timeout_s``, so the whole call
    gives up on time (kafka-python alone would wait 30 s per attempt).
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        attempt_ms = int(max(0.2, min(5.0, deadline - time.monotonic())) * 1000)
        try:
            return make(attempt_ms)
        except (KafkaError, OSError) as exc:
            if time.monotonic() + delay > deadline:
                raise LogUnavailable(f"Kafka unreachable for {what}: {exc}") from exc
            log.warning("Kafka unreachable for %s (%s); retrying in %.1fs", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class KafkaLog(EventLog):
    """Kafka at ``bootstrap`` (``host:port[,host:port]``).

    ``max_poll_interval_ms`` bounds both how long a member may go between polls and how long a
    rebalance waits for it; ``session_timeout_ms`` is how soon a crashed member's partitions move
    (real Kafka brokers refuse values under their ``group.min.session.timeout.ms``, 6 s by default).
    """

    def __init__(self, bootstrap: str, client_id: str = "qunguard", *, topic_prefix: str = "",
                 max_poll_interval_ms: int = 5000, session_timeout_ms: int = 10000,
                 connect_timeout_s: float = 30.0, request_timeout_ms: int = 15000,
                 replication_factor: int = -1) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.prefix = topic_prefix
        self.max_poll_interval_ms = max_poll_interval_ms
        self.session_timeout_ms = session_timeout_ms
        self.connect_timeout_s = connect_timeout_s
        self.request_timeout_ms = request_timeout_ms
        self.replication_factor = replication_factor
        self._admin: KafkaAdminClient | None = None

    # -- names ------------------------------------------------------------------------------
    def physical(self, topic: str) -> str:
        return self.prefix + topic

    def logical(self, name: str) -> str:
        return name[len(self.prefix):] if self.prefix and name.startswith(self.prefix) else name

    # -- administration ---------------------------------------------------------------------
    def admin(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = with_backoff(
                lambda ms: KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin",
                                            request_timeout_ms=self.request_timeout_ms, bootstrap_timeout_ms=ms),
                "admin client", self.connect_timeout_s)
        return self._admin

    def create_topics(self) -> list[str]:
        admin = self.admin()
        try:
            existing = set(admin.list_topics())
        except KafkaError as exc:
            raise LogUnavailable(f"cannot list Kafka topics: {exc}") from exc
        created: list[str] = []
        for topic in registry.ALL:
            name = self.physical(topic.name)
            if name in existing:
                continue
            new = NewTopic(name, topic.partitions, self.replication_factor,
                           topic_configs={"retention.ms": str(topic.retention_ms)})
            try:
                admin.create_topics([new])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another process: same outcome
            except KafkaError as exc:
                raise LogUnavailable(f"cannot create Kafka topic {name}: {exc}") from exc
        if created:
            log.info("created Kafka topics %s", [self.physical(n) for n in created])
        return created

    def delete_topics(self) -> None:
        """Delete this log's topics (tests clean up their prefixed topics with it)."""
        admin = self.admin()
        mine = [n for n in admin.list_topics() if n in {self.physical(t.name) for t in registry.ALL}]
        if mine:
            admin.delete_topics(mine)

    def ping(self) -> None:
        try:
            self.admin().list_topics()
        except KafkaError as exc:
            self.close()
            raise LogUnavailable(f"Kafka at {self.bootstrap} does not answer: {exc}") from exc

    def producer(self) -> KafkaLogProducer:
        return KafkaLogProducer(self)

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaLogConsumer:
        from services.common.eventlog.kafka_consumer import KafkaLogConsumer

        return KafkaLogConsumer(self, group, topics)

    def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()


class KafkaLogProducer(Producer):
    def __init__(self, log_: KafkaLog) -> None:
        self._log = log_
        self.compression = compression_type()
        self._producer: KafkaProducer = with_backoff(lambda ms: KafkaProducer(
            bootstrap_timeout_ms=ms,
            bootstrap_servers=log_.bootstrap, client_id=log_.client_id, acks="all",
            compression_type=self.compression, linger_ms=5, partitioner=CachedMurmur2Partitioner(), batch_size=512 * 1024,
            max_request_size=4 * 1024 * 1024, max_block_ms=10_000,
            request_timeout_ms=log_.request_timeout_ms, retry_backoff_ms=200,
        ), "producer", log_.connect_timeout_s)
        self.idempotent = bool(self._producer.config.get("enable_idempotence"))
        log.info("Kafka producer ready: compression=%s idempotent=%s%s", self.compression, self.idempotent,
                 "" if self.idempotent else " (broker does not support it; duplicates are deduped by consumers)")
        self._error: BaseException | None = None

    def _failed(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc

    def publish(self, topic: str, key: bytes | None, value: bytes,
                headers: Sequence[tuple[str, bytes]] = ()) -> None:
        try:
            future = self._producer.send(self._log.physical(topic), key=key, value=value,
                                         headers=list(headers) or None)
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka refused a record for {topic}: {exc}") from exc
        future.add_errback(self._failed)

    def flush(self, timeout_s: float = 30.0) -> None:
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka flush did not complete in {timeout_s}s: {exc}") from exc
        error, self._error = self._error, None
        if error is not None:
            raise LogUnavailable(f"Kafka did not acknowledge every record: {error}") from error

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued (raising LogUnavailable if that fails), then release the client."""
        try:
            self.flush(timeout_s)
        finally:
            try:
                self._producer.close(timeout=min(2.0, timeout_s))
            except KafkaError as exc:  # records it could not deliver were reported by flush
                log.warning("Kafka producer closed with undelivered records: %s", exc)
