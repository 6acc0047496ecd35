"""Sanctions, human decisions, appeals, reports and points (``qg.sanctions.v1``).

Every change to a person's ledger is one of these events; a correction is a new event (a reversal),
never an edit. Money is a decimal string in CNY ("50.00"), never a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts import topics
from contracts.base import AwareDatetime, Payload

SanctionKind = Literal[
    "reminder", "warning", "warning_apology", "public_criticism", "demerit", "major_demerit",
    "fine", "performance_deduction", "performance_points", "programme_points", "mute", "removal",
    "blacklist", "platform_ban", "demotion", "dismissal_recommendation", "referral",
]


class SanctionItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: SanctionKind
    amount_cny: Decimal | None = Field(None, description="Fines and fixed performance deductions.")
    percent: Decimal | None = Field(None, description="Performance deduction as a percent of the month.")
    whole_month: bool = False
    points: int | None = None
    duration_s: int | None = None
    note: str | None = None
    range_low: Decimal | None = Field(None, description="Lower bound of a range a human decides (CNY or points).")
    range_high: Decimal | None = Field(None, description="Upper bound of that range.")
    decider: str | None = Field(None, description="Who fixes a range, e.g. 董事长.")


class SanctionEvent(Payload):
    topic: ClassVar = topics.SANCTIONS
    sanction_id: str
    employee_id: str = Field(description="Employee id, or platform user ref when not linked.")

    def partition_key(self) -> str:
        return self.employee_id


class SanctionImposed(SanctionEvent):
    event_type: ClassVar[str] = "qunguard.sanctions.sanction_imposed.v1"
    violation_id: str | None = None
    rule_id: str
    ladder: str
    step: int = Field(ge=1)
    repeat_count: int = Field(ge=1)
    liability: Literal["actor", "shared"] = "actor"
    department_id: str | None = Field(None, description="The person's department when sanctioned.")
    review_id: str | None = Field(None, description="The review whose decision imposed it, if any.")
    items: list[SanctionItem]
    policy_id: str
    policy_version: int
    occurred_at: AwareDatetime
    decided_by: str = "ladder"


class ReviewRequested(SanctionEvent):
    event_type: ClassVar[str] = "qunguard.sanctions.review_requested.v1"
    review_id: str
    violation_id: str | None = None
    rule_id: str
    ladder: str
    step: int
    repeat_count: int
    proposed: list[SanctionItem]
    department_id: str | None = None
    reason: str
    policy_id: str
    policy_version: int
    occurred_at: AwareDatetime


class ReviewDecided(SanctionEvent):
    event_type: ClassVar[str] = "qunguard.sanctions.review_decided.v1"
    review_id: str
    decision: Literal["approved", "changed", "dismissed"]
    items: list[SanctionItem] = []
    decided_by: str
    reason: str = Field(min_length=1)
    decided_at: AwareDatetime


class AppealFiled(SanctionEvent):
    event_type: ClassVar[str] = "qunguard.sanctions.appeal_filed.v1"
    appeal_id: str
    filed_by: str
    grounds: str = Field(min_length=1)
    filed_at: AwareDatetime


class AppealDecided(SanctionEvent):
    event_type: ClassVar[str] = "qunguard.sanctions.appeal_decided.v1"
    appeal_id: str
    decision: Literal["upheld", "overturned"]
    decided_by: str
    reason: str = Field(min_length=1)
    decided_at: AwareDatetime


class SanctionReversed(SanctionEvent):
    event_type: ClassVar[str] = "qunguard.sanctions.sanction_reversed.v1"
    reversed_by: str
    reason: str
    cause_id: str = Field(description="The appeal or decision that reversed it.")
    reversed_at: AwareDatetime


class ReportFiled(Payload):
    """A member reports a message (举报). Keyed by reporter; the reported never sees who."""

    event_type: ClassVar[str] = "qunguard.sanctions.report_filed.v1"
    topic: ClassVar = topics.SANCTIONS
    report_id: str
    reporter_id: str
    reported_id: str
    platform: str
    group_id: str
    message_id: str | None = None
    message_event_id: str | None = None
    reason: str = Field(min_length=1)
    filed_at: AwareDatetime

    def partition_key(self) -> str:
        return self.reporter_id


class ReportDecided(Payload):
    event_type: ClassVar[str] = "qunguard.sanctions.report_decided.v1"
    topic: ClassVar = topics.SANCTIONS
    report_id: str
    reporter_id: str
    reported_id: str
    decision: Literal["upheld", "rejected"]
    reward_points: int = 0
    rule_id: str | None = None
    decided_by: str
    reason: str = Field(min_length=1)
    decided_at: AwareDatetime

    def partition_key(self) -> str:
        return self.reporter_id


class PointsAwarded(SanctionEvent):
    """Programme points earned (merits, report rewards); ``sanction_id`` is the entry's id."""

    event_type: ClassVar[str] = "qunguard.sanctions.points_awarded.v1"
    points: int
    reason: str
    department_id: str | None = None
    merit_id: str | None = None
    report_id: str | None = None
    rule_id: str | None = None
    occurred_at: AwareDatetime
