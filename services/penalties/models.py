"""The penalties service's projections (SQLModel tables).

Two families:
- **ledger state**, a fold over ``qg.sanctions.v1`` only (sanctions, reviews, appeals, reports,
  human decisions, ledger entries, accounts). ``LEDGER_TABLES`` are what the ledger digest covers.
- **reference state** from other services' topics (policy packs, employees, violations), read by
  the decision handlers and the API, never folded into the digest.

Money columns are ``Numeric(14, 2)`` (Decimal), never float. JSON columns hold contract models
dumped with ``mode="json"`` (Decimals as strings).

Times: every time column is ``UtcDateTime``. It stores UTC and always hands back an *aware* UTC
datetime, on SQLite (which drops offsets) as on PostgreSQL (which answers in the session's zone),
so every row dumped by the API serialises as ISO 8601 with ``Z``. Writing a naive datetime is a
bug (8 hours of ambiguity for payroll) and raises instead of guessing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Numeric, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back aware (UTC), whatever the database keeps.

    The one place the service makes its times unambiguous: the API and exports never see a naive
    datetime, because no column can produce one.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetime: give the offset (时间须带时区)")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:  # SQLite: stored as UTC text without the offset
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _ts() -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=False))


def _ts_opt() -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


def _money(default: Decimal | None = Decimal("0")) -> Any:
    return Field(default=default, sa_column=Column(Numeric(14, 2), nullable=default is None))


# -- reference state -----------------------------------------------------------------------------

class PolicyVersion(SQLModel, table=True):
    __tablename__ = "pen_policy"
    policy_id: str = Field(primary_key=True, max_length=100)
    version: int = Field(primary_key=True)
    effective_from: datetime = _ts()
    pack: dict = Field(sa_column=Column(JSON, nullable=False))


class Employee(SQLModel, table=True):
    __tablename__ = "pen_employee"
    employee_id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    department_id: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=200)
    status: str = Field(default="regular", max_length=20)
    accounts: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Department(SQLModel, table=True):
    __tablename__ = "pen_department"
    department_id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)


class Violation(SQLModel, table=True):
    """Every violation seen, with the payload (for audit) and what became of it."""

    __tablename__ = "pen_violation"
    violation_id: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(max_length=100)
    rule_id: str = Field(max_length=200, index=True)
    policy_id: str = Field(max_length=100)
    policy_version: int
    platform: str = Field(max_length=30)
    group_id: str | None = Field(default=None, max_length=200)
    employee_id: str | None = Field(default=None, max_length=100, index=True)
    occurred_at: datetime = _ts()
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default="received", max_length=20, description="received|awaiting_policy|decided|dismissed")
    dismissed_by: str | None = Field(default=None, max_length=200)
    dismissal_reason: str | None = None


class PendingMerit(SQLModel, table=True):
    """A merit that arrived before its policy version (they travel on different topics)."""

    __tablename__ = "pen_pending_merit"
    merit_id: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(max_length=100)
    policy_id: str = Field(max_length=100, index=True)
    policy_version: int
    occurred_at: datetime = _ts()
    payload: dict = Field(sa_column=Column(JSON, nullable=False))


# -- ledger state (fold over qg.sanctions.v1) ----------------------------------------------------

class Sanction(SQLModel, table=True):
    __tablename__ = "pen_sanction"
    sanction_id: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(max_length=100)
    employee_id: str = Field(max_length=100, index=True)
    department_id: str | None = Field(default=None, max_length=100)
    violation_id: str | None = Field(default=None, max_length=100, index=True)
    rule_id: str = Field(max_length=200)
    ladder: str = Field(max_length=200)
    step: int
    repeat_count: int
    liability: str = Field(max_length=10)
    items: list = Field(sa_column=Column(JSON, nullable=False))
    policy_id: str = Field(max_length=100)
    policy_version: int
    occurred_at: datetime = _ts()
    posted_at: datetime = _ts()
    month: str = Field(max_length=7, index=True)
    decided_by: str = Field(max_length=200)
    review_id: str | None = Field(default=None, max_length=100)
    status: str = Field(default="imposed", max_length=20, description="imposed|reversed")
    reversed_by: str | None = Field(default=None, max_length=200)
    reversal_reason: str | None = None
    reversal_cause_id: str | None = Field(default=None, max_length=100)


class Review(SQLModel, table=True):
    __tablename__ = "pen_review"
    review_id: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(max_length=100)
    sanction_id: str = Field(max_length=100)
    employee_id: str = Field(max_length=100, index=True)
    violation_id: str | None = Field(default=None, max_length=100)
    rule_id: str = Field(max_length=200)
    ladder: str = Field(max_length=200)
    step: int
    repeat_count: int
    proposed: list = Field(sa_column=Column(JSON, nullable=False))
    reason: str
    policy_id: str = Field(max_length=100)
    policy_version: int
    occurred_at: datetime = _ts()
    status: str = Field(default="pending", max_length=20, index=True)
    decided_by: str | None = Field(default=None, max_length=200)
    decision_reason: str | None = None
    decided_at: datetime | None = _ts_opt()


class Appeal(SQLModel, table=True):
    __tablename__ = "pen_appeal"
    appeal_id: str = Field(primary_key=True, max_length=100)
    sanction_id: str = Field(max_length=100, index=True)
    employee_id: str = Field(max_length=100)
    filed_by: str = Field(max_length=200)
    grounds: str
    filed_at: datetime = _ts()
    status: str = Field(default="open", max_length=20)
    decided_by: str | None = Field(default=None, max_length=200)
    decision_reason: str | None = None
    decided_at: datetime | None = _ts_opt()


class Report(SQLModel, table=True):
    """A 举报. ``reporter_id`` is confidential: only compliance views may show it."""

    __tablename__ = "pen_report"
    report_id: str = Field(primary_key=True, max_length=100)
    reporter_id: str = Field(max_length=100)
    reported_id: str = Field(max_length=100, index=True)
    platform: str = Field(max_length=30)
    group_id: str = Field(max_length=200)
    message_id: str | None = Field(default=None, max_length=200)
    message_event_id: str | None = Field(default=None, max_length=100)
    reason: str
    filed_at: datetime = _ts()
    status: str = Field(default="open", max_length=20)
    reward_points: int = 0
    rule_id: str | None = Field(default=None, max_length=200)
    decided_by: str | None = Field(default=None, max_length=200)
    decision_reason: str | None = None
    decided_at: datetime | None = _ts_opt()


class Decision(SQLModel, table=True):
    """Every human decision (who, when, why), for the audit trail; one row per decision event."""

    __tablename__ = "pen_decision"
    event_id: str = Field(primary_key=True, max_length=100)
    subject_id: str = Field(max_length=100, index=True, description="Sanction or report id.")
    kind: str = Field(max_length=30)
    decision: str = Field(max_length=30)
    actor: str = Field(max_length=200)
    reason: str
    at: datetime = _ts()


class Account(SQLModel, table=True):
    """The head of one person's hash chain; locked while an entry is appended (keeps order)."""

    __tablename__ = "pen_account"
    employee_id: str = Field(primary_key=True, max_length=100)
    last_seq: int = 0
    last_hash: str = Field(default="", max_length=64)


class LedgerEntry(SQLModel, table=True):
    """One line of a person's ledger. Amounts are signed: a reversal is the negated line."""

    __tablename__ = "pen_ledger"
    __table_args__ = (UniqueConstraint("employee_id", "seq"), Index("ix_pen_ledger_month", "month"))
    entry_id: str = Field(primary_key=True, max_length=100)
    employee_id: str = Field(max_length=100, index=True)
    seq: int
    department_id: str | None = Field(default=None, max_length=100)
    month: str = Field(max_length=7)
    posted_at: datetime = _ts()
    kind: str = Field(max_length=40)
    amount_cny: Decimal = _money()
    percent: Decimal | None = _money(None)
    whole_month: bool = False
    points: int = 0
    sanction_id: str | None = Field(default=None, max_length=100, index=True)
    violation_id: str | None = Field(default=None, max_length=100)
    source_event_id: str = Field(max_length=100)
    reverses: str | None = Field(default=None, max_length=100)
    note: str | None = None
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


LEDGER_TABLES = [t.__table__ for t in (Sanction, Review, Appeal, Report, Decision, Account, LedgerEntry)]
REFERENCE_TABLES = [t.__table__ for t in (PolicyVersion, Employee, Department, Violation, PendingMerit)]
ALL_TABLES = REFERENCE_TABLES + LEDGER_TABLES
