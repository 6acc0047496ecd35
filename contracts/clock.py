"""Clock ticks (``qg.clock.v1``): the only way wall-clock time enters decisions."""

from __future__ import annotations

from typing import ClassVar

from contracts import topics
from contracts.base import AwareDatetime, Payload


class ClockTicked(Payload):
    event_type: ClassVar[str] = "qunguard.clock.ticked.v1"
    topic: ClassVar = topics.CLOCK
    now: AwareDatetime

    def partition_key(self) -> str:
        return "clock"
