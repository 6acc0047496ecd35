"""The event log: ``open_log(settings)`` gives the configured engine behind one contract (see base.py).

``QG_EVENTLOG=embedded`` (default): an SQLite file at ``settings.log_path()``, for one machine.
``QG_EVENTLOG=kafka``: Kafka at ``QG_KAFKA_BOOTSTRAP``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.common.eventlog.base import (
    Consumer,
    EventLog,
    LogUnavailable,
    Producer,
    Record,
    TopicPartition,
    partition_for,
)

if TYPE_CHECKING:
    from services.common.settings import Settings

__all__ = ["Consumer", "EventLog", "LogUnavailable", "Producer", "Record", "TopicPartition",
           "open_log", "partition_for"]


def open_log(settings: Settings) -> EventLog:
    """The log ``settings`` point at. Kafka needs ``kafka_bootstrap``; embedded creates its folder.

    Imports are local so the embedded default never loads kafka-python, and vice versa.
    """
    if settings.eventlog == "kafka":
        if not settings.kafka_bootstrap:
            raise ValueError("QG_EVENTLOG=kafka 需要 QG_KAFKA_BOOTSTRAP / needs QG_KAFKA_BOOTSTRAP (host:port)")
        from services.common.eventlog.kafka import KafkaLog

        return KafkaLog(settings.kafka_bootstrap, settings.kafka_client_id,
                        topic_prefix=settings.kafka_topic_prefix,
                        max_poll_interval_ms=settings.kafka_max_poll_interval_ms)
    if settings.eventlog == "embedded":
        from services.common.eventlog.embedded import EmbeddedLog

        path = settings.log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return EmbeddedLog(path)
    raise ValueError(f"unknown event log engine {settings.eventlog!r}")
