"""Violations, dismissals and merits (``qg.violations.v1``), produced by the rules service."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts import topics
from contracts.base import AwareDatetime, Payload
from contracts.chat import Platform

Severity = Literal["info", "low", "medium", "high", "critical"]


class Evidence(BaseModel):
    """Why a rule fired, precise enough to show a compliance officer (and the person) later."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    summary: str = Field(description="One line, Chinese first.")
    text: str | None = Field(None, description="The original text that was judged.")
    span: tuple[int, int] | None = Field(None, description="[start, end) of the match in `text`.")
    matched: str | None = None
    term: str | None = Field(None, description="The lexicon term or pattern that matched.")
    details: dict[str, Any] = {}


class ViolationDetected(Payload):
    event_type: ClassVar[str] = "qunguard.violations.violation_detected.v1"
    topic: ClassVar = topics.VIOLATIONS
    violation_id: str
    rule_id: str
    category: str
    severity: Severity
    ladder: str | None = None
    policy_id: str
    policy_version: int
    platform: Platform
    group_id: str | None = None
    user_id: str | None = Field(None, description="Platform account of the actor.")
    employee_id: str | None = None
    liable_employee_ids: list[str] = Field([], description="Others sanctioned with the actor.")
    occurred_at: AwareDatetime
    causing_event_ids: list[str]
    evidence: Evidence
    needs_review: bool = False

    def partition_key(self) -> str:
        return self.employee_id or f"{self.platform}:{self.user_id}"


class ViolationDismissed(Payload):
    event_type: ClassVar[str] = "qunguard.violations.violation_dismissed.v1"
    topic: ClassVar = topics.VIOLATIONS
    violation_id: str
    employee_id: str | None = None
    user_ref: str | None = None
    dismissed_by: str
    reason: str = Field(min_length=1)
    dismissed_at: AwareDatetime

    def partition_key(self) -> str:
        return self.employee_id or self.user_ref or self.violation_id


class MeritDetected(Payload):
    """A positive event of the points programme (an original share, admin duty…)."""

    event_type: ClassVar[str] = "qunguard.violations.merit_detected.v1"
    topic: ClassVar = topics.VIOLATIONS
    merit_id: str
    rule_id: str
    kind: Literal["daily_share", "monthly_streak", "best_post", "reshare", "admin_duty"]
    policy_id: str
    policy_version: int
    platform: Platform
    group_id: str | None = None
    user_id: str | None = None
    employee_id: str | None = None
    occurred_at: AwareDatetime
    causing_event_ids: list[str]
    evidence: Evidence

    def partition_key(self) -> str:
        return self.employee_id or f"{self.platform}:{self.user_id}"
