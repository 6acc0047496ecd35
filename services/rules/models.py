"""SQLModel tables of the rules service: the engine's state and the violations projection.

The engine's state tables hold the facts as JSON documents keyed by their natural keys (the engine
reads whole records, never queries inside them), plus the few indexed columns it looks up by: an
account's employee, a timer's due time and scope. ``store.SqlState`` maps them to the
``RulesState`` interface. ``Violation`` and ``PolicyVersion`` serve the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
from sqlmodel import Field, SQLModel


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def _ts(index: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=index))


class RulesPerson(SQLModel, table=True):
    __tablename__ = "rules_person"
    employee_id: str = Field(primary_key=True)
    doc: dict = _json()


class RulesAccount(SQLModel, table=True):
    __tablename__ = "rules_account"
    platform: str = Field(primary_key=True)
    user_id: str = Field(primary_key=True)
    employee_id: str = Field(index=True)


class RulesDepartment(SQLModel, table=True):
    __tablename__ = "rules_department"
    department_id: str = Field(primary_key=True)
    doc: dict = _json()


class RulesGroup(SQLModel, table=True):
    __tablename__ = "rules_group"
    platform: str = Field(primary_key=True)
    group_id: str = Field(primary_key=True)
    doc: dict = _json()


class RulesMember(SQLModel, table=True):
    __tablename__ = "rules_member"
    platform: str = Field(primary_key=True)
    group_id: str = Field(primary_key=True)
    user_id: str = Field(primary_key=True, index=True)
    doc: dict = _json()


class RulesApproval(SQLModel, table=True):
    __tablename__ = "rules_approval"
    platform: str = Field(primary_key=True)
    group_id: str = Field(primary_key=True)
    user_id: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)


class RulesWindow(SQLModel, table=True):
    """Recent messages per group and per member (flooding, back-and-forth)."""

    __tablename__ = "rules_window"
    key: str = Field(primary_key=True)
    items: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class RulesMemory(SQLModel, table=True):
    """What detectors asked to remember (ad digests, shares per month, reminded tonight)."""

    __tablename__ = "rules_memory"
    key: str = Field(primary_key=True)
    value: dict = _json()


class RulesTimer(SQLModel, table=True):
    __tablename__ = "rules_timer"
    rule_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    scope: str = Field(index=True)
    due: datetime = _ts(index=True)
    fired: bool = Field(default=False, index=True)
    doc: dict = _json()


class RulesFlagged(SQLModel, table=True):
    __tablename__ = "rules_flagged"
    violation_id: str = Field(primary_key=True)


class PolicyVersion(SQLModel, table=True):
    __tablename__ = "rules_policy_version"
    policy_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    effective_from: datetime = _ts()
    sha256: str
    published_by: str
    published_at: datetime = _ts()
    event_id: str
    doc: dict = _json()


class Violation(SQLModel, table=True):
    """A violation as flagged (and possibly dismissed), for ``GET /v1/violations``."""

    __tablename__ = "rules_violation"
    violation_id: str = Field(primary_key=True)
    rule_id: str = Field(index=True)
    category: str = Field(index=True)
    severity: str
    policy_id: str
    policy_version: int
    platform: str
    group_id: str | None = Field(default=None, index=True)
    user_id: str | None = None
    employee_id: str | None = Field(default=None, index=True)
    occurred_at: datetime = _ts(index=True)
    needs_review: bool = False
    dismissed: bool = False
    dismissed_by: str | None = None
    dismissed_reason: str | None = Field(default=None, sa_column=Column(Text))
    doc: dict = _json()


class RulesStateVersion(SQLModel, table=True):
    """One row counting the transactions that wrote the state: how a process holding the state in
    memory (``cache.StateCache``) learns that someone else wrote it, or that its own write rolled back."""

    __tablename__ = "rules_state_version"
    id: int = Field(default=1, primary_key=True)
    version: int = 0


STATE_TABLES = [RulesPerson, RulesAccount, RulesDepartment, RulesGroup, RulesMember, RulesApproval, RulesWindow,
                RulesMemory, RulesTimer, RulesFlagged, RulesStateVersion]
ALL_TABLES = [t.__table__ for t in STATE_TABLES + [PolicyVersion, Violation]]
