"""Roster projections: people, identities, departments, SCIM documents, the group registry, membership.

Every table here is a fold over ``qg.roster.v1``, ``qg.chat.v1`` and ``qg.policy.v1`` written only by
``handlers.py``; ``qg rebuild roster`` drops and refolds them. Columns that record processing time
are avoided on purpose so a rebuild is byte-identical.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Employee(SQLModel, table=True):
    """One person as HR last described them (the facts of the latest employee event)."""

    __tablename__ = "roster_employee"
    employee_id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    department_id: str | None = Field(default=None, max_length=200, index=True)
    department: str | None = Field(default=None, max_length=200)
    level: str = Field(default="staff", max_length=20)
    status: str = Field(default="regular", max_length=20, index=True)
    manager_id: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=200)
    hire_date: date | None = None
    leave_date: date | None = None
    handover_date: date | None = None
    mobile: str | None = Field(default=None, max_length=40)
    version: int = Field(default=0, description="Number of employee events applied; seeds event ids.")
    updated_at: datetime | None = Field(default=None, description="Event time of the last change.")


class Identity(SQLModel, table=True):
    """A platform account linked to an employee: (platform, user id) → employee id."""

    __tablename__ = "roster_identity"
    platform: str = Field(primary_key=True, max_length=20)
    user_id: str = Field(primary_key=True, max_length=200)
    employee_id: str = Field(max_length=100, index=True)


class StatusHistory(SQLModel, table=True):
    """What happened to an employee and when (hire, transfer, departure, identity changes)."""

    __tablename__ = "roster_status_history"
    event_id: str = Field(primary_key=True, max_length=100)
    employee_id: str = Field(max_length=100, index=True)
    version: int
    kind: str = Field(max_length=40)
    occurred_at: datetime
    status: str | None = Field(default=None, max_length=20)
    department_id: str | None = Field(default=None, max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Department(SQLModel, table=True):
    __tablename__ = "roster_department"
    department_id: str = Field(primary_key=True, max_length=200)
    name: str = Field(max_length=200, index=True)
    parent_id: str | None = Field(default=None, max_length=200)
    head_id: str | None = Field(default=None, max_length=100)
    deleted: bool = False


class ScimResource(SQLModel, table=True):
    """A SCIM User or Group exactly as provisioned (the document served by ``/scim/v2``)."""

    __tablename__ = "roster_scim_resource"
    __table_args__ = (UniqueConstraint("resource_type", "name_key", name="uq_roster_scim_name"),)
    resource_id: str = Field(primary_key=True, max_length=100)
    resource_type: str = Field(max_length=10)
    name_key: str = Field(max_length=300, description="userName or displayName, case-folded: unique per type.")
    external_id: str | None = Field(default=None, max_length=300, index=True)
    key: str = Field(max_length=200, description="Employee id (User) or dept:<id> (Group).")
    version: int
    created: datetime
    last_modified: datetime
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class RegisteredGroup(SQLModel, table=True):
    """A chat group in the registry: what it is for and who answers for it."""

    __tablename__ = "roster_group"
    ref: str = Field(primary_key=True, max_length=300)
    platform: str = Field(max_length=20)
    group_id: str = Field(max_length=250)
    info: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    retired: bool = False
    retired_reason: str | None = None
    version: int = 0
    registered_at: datetime
    updated_at: datetime


class MemberApproval(SQLModel, table=True):
    __tablename__ = "roster_member_approval"
    ref: str = Field(primary_key=True, max_length=300)
    user_id: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=20)
    approved_by: str = Field(max_length=100)
    approved_at: datetime
    until: date | None = None


class Membership(SQLModel, table=True):
    """One account in one chat group as the chat events (and snapshots) tell it."""

    __tablename__ = "roster_membership"
    __table_args__ = (Index("ix_roster_membership_user", "platform", "user_id"),)
    ref: str = Field(primary_key=True, max_length=300)
    user_id: str = Field(primary_key=True, max_length=200)
    platform: str = Field(max_length=20)
    present: bool = True
    nickname: str | None = Field(default=None, max_length=300)
    role: str | None = Field(default=None, max_length=20)
    invited_by: str | None = Field(default=None, max_length=200)
    joined_at: datetime | None = None
    left_at: datetime | None = None
    how: str = Field(default="event", max_length=20,
                     description="event | message | reconciliation: what last told us the membership.")
    evidence_event_id: str | None = Field(default=None, max_length=100)
    last_seen_at: datetime | None = None


class ChatGroup(SQLModel, table=True):
    """What chat events told us of a group (its name, last snapshot): for groups not yet registered too."""

    __tablename__ = "roster_chat_group"
    ref: str = Field(primary_key=True, max_length=300)
    platform: str = Field(max_length=20)
    group_id: str = Field(max_length=250)
    name: str | None = Field(default=None, max_length=300)
    dissolved: bool = False
    last_snapshot_event_id: str | None = Field(default=None, max_length=100)
    last_snapshot_at: datetime | None = None


class ActivePolicy(SQLModel, table=True):
    """The organisation settings of the latest published policy that roster needs (one row per policy)."""

    __tablename__ = "roster_policy"
    policy_id: str = Field(primary_key=True, max_length=200)
    version: int
    effective_from: datetime
    nickname_template: str = Field(max_length=300)


PROJECTION_TABLES = [
    Employee.__table__, Identity.__table__, StatusHistory.__table__, Department.__table__,
    ScimResource.__table__, RegisteredGroup.__table__, MemberApproval.__table__, Membership.__table__,
    ChatGroup.__table__, ActivePolicy.__table__,
]
