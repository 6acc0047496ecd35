"""Enforcement commands and outcomes (``qg.enforcement.v1``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts import topics
from contracts.base import AwareDatetime, Payload, group_ref
from contracts.chat import Platform

Action = Literal["notice", "mute", "remove", "recall"]


class EnforcementEvent(Payload):
    topic: ClassVar = topics.ENFORCEMENT
    command_id: str
    platform: Platform
    group_id: str
    action: Action

    def partition_key(self) -> str:
        return group_ref(self.platform, self.group_id)


class EnforcementRequested(EnforcementEvent):
    event_type: ClassVar[str] = "qunguard.enforcement.requested.v1"
    requested_at: AwareDatetime
    user_id: str | None = None
    message_id: str | None = None
    duration_s: int | None = Field(None, ge=0)
    text: str | None = Field(None, description="Notice text, Chinese first.")
    sanction_id: str | None = None


class EnforcementSucceeded(EnforcementEvent):
    event_type: ClassVar[str] = "qunguard.enforcement.succeeded.v1"
    attempts: int
    completed_at: AwareDatetime
    platform_response: dict = {}


class EnforcementFailed(EnforcementEvent):
    event_type: ClassVar[str] = "qunguard.enforcement.failed.v1"
    attempts: int
    failed_at: AwareDatetime
    reason: str
    unsupported: bool = Field(False, description="The platform has no such action.")
