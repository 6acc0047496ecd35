"""HR facts and the group registry (``qg.roster.v1``), produced by the roster service.

Keyed by employee id for people, by group ref for groups, so each one's history stays in order.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts import topics
from contracts.base import AwareDatetime, Payload, group_ref
from contracts.chat import Platform

Level = Literal["staff", "manager", "executive"]
Status = Literal["probation", "intern", "regular", "departed"]
GroupCategory = Literal["company", "management", "department", "project", "external"]


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    platform: Platform
    user_id: str = Field(min_length=1)


class EmployeeEvent(Payload):
    topic: ClassVar = topics.ROSTER
    employee_id: str = Field(min_length=1, description="Stable id (the HR employee number).")
    occurred_at: AwareDatetime

    def partition_key(self) -> str:
        return self.employee_id


class EmployeeFacts(BaseModel):
    """What rules and penalties need to know of a person, carried whole in hire/update events."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    department_id: str | None = None
    department: str | None = None
    level: Level = "staff"
    status: Status = "regular"
    manager_id: str | None = None
    title: str | None = None
    hire_date: date | None = None
    leave_date: date | None = None
    handover_date: date | None = None
    accounts: list[Account] = Field([], description=(
        "Every platform account of the person. A hire carries them all (no IdentityLinked follows "
        "a hire); later changes come as IdentityLinked / IdentityUnlinked."))
    mobile: str | None = Field(None, description="Work mobile number (mainland), when HR provides it.")


class EmployeeHired(EmployeeEvent):
    event_type: ClassVar[str] = "qunguard.roster.employee_hired.v1"
    facts: EmployeeFacts


class EmployeeUpdated(EmployeeEvent):
    event_type: ClassVar[str] = "qunguard.roster.employee_updated.v1"
    facts: EmployeeFacts


class EmployeeTransferred(EmployeeEvent):
    event_type: ClassVar[str] = "qunguard.roster.employee_transferred.v1"
    # Defaults: the envelope drops None values, so a transfer into or out of "no department" must
    # still parse (it was a 500 on the first SCIM PATCH giving a department to a User without one).
    old_department_id: str | None = None
    new_department_id: str | None = None
    handover_date: date | None = None
    facts: EmployeeFacts


class EmployeeDeparted(EmployeeEvent):
    event_type: ClassVar[str] = "qunguard.roster.employee_departed.v1"
    leave_date: date
    facts: EmployeeFacts


class IdentityLinked(EmployeeEvent):
    event_type: ClassVar[str] = "qunguard.roster.identity_linked.v1"
    account: Account


class IdentityUnlinked(EmployeeEvent):
    event_type: ClassVar[str] = "qunguard.roster.identity_unlinked.v1"
    account: Account


class DepartmentChanged(Payload):
    event_type: ClassVar[str] = "qunguard.roster.department_changed.v1"
    topic: ClassVar = topics.ROSTER
    department_id: str
    name: str
    parent_id: str | None = None
    head_id: str | None = None
    deleted: bool = False
    occurred_at: AwareDatetime

    def partition_key(self) -> str:
        return f"dept:{self.department_id}"


class GroupInfo(BaseModel):
    """A registered group as the registry knows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    category: GroupCategory
    owner_id: str | None = Field(None, description="Employee id of the owner.")
    admin_ids: list[str] = []
    department_id: str | None = None
    purpose: str | None = None
    member_scope: str | None = None
    lifetime: Literal["permanent", "temporary"] = "permanent"
    end_date: date | None = None
    required: bool = Field(False, description="Members may not leave it on their own.")
    registered_by: str | None = None
    approved_by: str | None = None
    approved_at: AwareDatetime | None = None


class GroupEvent(Payload):
    topic: ClassVar = topics.ROSTER
    platform: Platform
    group_id: str
    occurred_at: AwareDatetime

    def partition_key(self) -> str:
        return group_ref(self.platform, self.group_id)


class GroupRegistered(GroupEvent):
    event_type: ClassVar[str] = "qunguard.roster.group_registered.v1"
    info: GroupInfo


class GroupUpdated(GroupEvent):
    event_type: ClassVar[str] = "qunguard.roster.group_updated.v1"
    info: GroupInfo


class GroupRetired(GroupEvent):
    event_type: ClassVar[str] = "qunguard.roster.group_retired.v1"
    reason: str | None = None


class MemberApproved(GroupEvent):
    """An external member, or a probation employee joining early, approved for one group."""

    event_type: ClassVar[str] = "qunguard.roster.member_approved.v1"
    user_id: str = Field(description="Platform account id of the approved member.")
    kind: Literal["external", "probation"]
    approved_by: str
    until: date | None = None


class MembershipReconciled(GroupEvent):
    """Joins and leaves found by diffing a member snapshot against what events said."""

    event_type: ClassVar[str] = "qunguard.roster.membership_reconciled.v1"
    snapshot_event_id: str
    joined: list[str] = []
    left: list[str] = []


class ScimResourceChanged(Payload):
    """The whole SCIM document of a User or Group as last written by an identity provider.

    Roster keeps SCIM resources exactly as provisioned (every attribute, not only the facts the
    rules need), so a rebuild from the log reproduces what ``/scim/v2`` serves. Other services can
    ignore it: the facts they need come as the Employee*/DepartmentChanged events emitted with it.
    ``document`` is None when the resource was deleted.
    """

    event_type: ClassVar[str] = "qunguard.roster.scim_resource_changed.v1"
    topic: ClassVar = topics.ROSTER
    resource_type: Literal["User", "Group"]
    resource_id: str = Field(min_length=1)
    key: str = Field(min_length=1, description="Partition key: the employee id, or dept:<id> for a Group.")
    version: int = Field(ge=1)
    document: dict[str, Any] | None = None
    occurred_at: AwareDatetime

    def partition_key(self) -> str:
        return self.key
