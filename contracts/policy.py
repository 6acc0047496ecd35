"""Published policy pack versions (``qg.policy.v1``)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from contracts import topics
from contracts.base import AwareDatetime, Payload


class PolicyPublished(Payload):
    """A validated pack. ``pack`` is the whole document so replay needs nothing but the log."""

    event_type: ClassVar[str] = "qunguard.policy.published.v1"
    topic: ClassVar = topics.POLICY
    policy_id: str
    version: int = Field(ge=1)
    effective_from: AwareDatetime
    sha256: str = Field(description="Digest of the canonical JSON of the pack.")
    published_by: str
    pack: dict[str, Any]

    def partition_key(self) -> str:
        return self.policy_id
