"""Dead letters (``qg.deadletter.v1``): records a worker could not handle, kept for inspection."""

from __future__ import annotations

from typing import ClassVar

from contracts import topics
from contracts.base import AwareDatetime, Payload


class RecordDeadLettered(Payload):
    event_type: ClassVar[str] = "qunguard.deadletter.record_dead_lettered.v1"
    topic: ClassVar = topics.DEADLETTER
    consumer_group: str
    origin_topic: str
    origin_partition: int
    origin_offset: int
    key: str | None = None
    value_base64: str
    reason: str
    error: str
    dead_lettered_at: AwareDatetime

    def partition_key(self) -> str:
        return self.key or f"{self.origin_topic}:{self.origin_partition}"
