"""The group registry's decisions (pure): what registering, updating, retiring, approving means.

Each function checks the request against the registry's current state and returns the event to
apply (with its deterministic id), or raises :class:`RegistryError` with a Chinese-first message.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.chat import Platform
from contracts.ids import derive_id
from contracts.roster import GroupCategory, GroupInfo, GroupRegistered, GroupRetired, GroupUpdated, MemberApproved


class RegistryError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class GroupRegistration(BaseModel):
    """What a group admin, HR or an admin submits to register or update a group."""

    model_config = ConfigDict(extra="forbid")
    platform: Platform
    group_id: str = Field(min_length=1, max_length=250)
    name: str = Field(min_length=1, max_length=300)
    category: GroupCategory
    owner_id: str | None = Field(None, description="Employee id of the owner (群主).")
    admin_ids: list[str] = Field([], description="Employee ids of the admins (管理员).")
    department_id: str | None = None
    purpose: str | None = Field(None, max_length=2000)
    member_scope: str | None = Field(None, max_length=2000)
    lifetime: Literal["permanent", "temporary"] = "permanent"
    end_date: date | None = None
    required: bool = False
    approved_by: str | None = None

    @model_validator(mode="after")
    def _temporary_needs_end(self) -> "GroupRegistration":
        if self.lifetime == "temporary" and self.end_date is None:
            raise ValueError("临时群必须填写结束日期 / a temporary group needs end_date")
        if self.lifetime == "permanent" and self.end_date is not None:
            raise ValueError("长期群不应有结束日期 / a permanent group has no end_date")
        return self


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, description="Platform account id of the member.")
    kind: Literal["external", "probation"]
    until: date | None = None


def info_of(req: GroupRegistration, registered_by: str, at: datetime,
            previous: dict[str, Any] | None) -> GroupInfo:
    approved_by = req.approved_by or (previous or {}).get("approved_by")
    approved_at = at if req.approved_by else (previous or {}).get("approved_at")
    return GroupInfo(name=req.name, category=req.category, owner_id=req.owner_id, admin_ids=sorted(set(req.admin_ids)),
                     department_id=req.department_id, purpose=req.purpose, member_scope=req.member_scope,
                     lifetime=req.lifetime, end_date=req.end_date, required=req.required,
                     registered_by=(previous or {}).get("registered_by") or registered_by,
                     approved_by=approved_by, approved_at=approved_at)


def register(req: GroupRegistration, existing: dict[str, Any] | None, version: int, by: str,
             at: datetime) -> tuple[str, GroupRegistered | GroupUpdated]:
    """Register a new group, or re-register a retired one. A live registration is a conflict."""
    if existing is not None and not existing["retired"]:
        raise RegistryError(409, f"群已登记 / group {req.platform}:{req.group_id} is already registered")
    event = GroupRegistered(platform=req.platform, group_id=req.group_id, occurred_at=at,
                            info=info_of(req, by, at, None))
    return derive_id("roster", "group", req.platform, req.group_id, version + 1), event


def update(req: GroupRegistration, existing: dict[str, Any] | None, version: int, by: str,
           at: datetime) -> tuple[str, GroupUpdated] | None:
    """The update event, or None when nothing changed (a repeated PUT)."""
    if existing is None or existing["retired"]:
        raise RegistryError(404, f"群未登记 / group {req.platform}:{req.group_id} is not registered")
    info = info_of(req, by, at, existing["info"])
    if info.model_dump(mode="json") == existing["info"]:
        return None
    event = GroupUpdated(platform=req.platform, group_id=req.group_id, occurred_at=at, info=info)
    return derive_id("roster", "group", req.platform, req.group_id, version + 1), event


def retire(platform: str, group_id: str, existing: dict[str, Any] | None, version: int, reason: str | None,
           at: datetime) -> tuple[str, GroupRetired]:
    if existing is None or existing["retired"]:
        raise RegistryError(404, f"群未登记或已注销 / group {platform}:{group_id} is not registered")
    event = GroupRetired(platform=platform, group_id=group_id, occurred_at=at, reason=reason)
    return derive_id("roster", "group", platform, group_id, version + 1), event


def approve(platform: str, group_id: str, existing: dict[str, Any] | None, req: ApprovalRequest, by: str,
            at: datetime) -> tuple[str, MemberApproved]:
    if existing is None or existing["retired"]:
        raise RegistryError(404, f"群未登记 / group {platform}:{group_id} is not registered")
    if req.until is not None and req.until < at.date():
        raise RegistryError(422, "批准截止日期已过 / until is in the past")
    event = MemberApproved(platform=platform, group_id=group_id, occurred_at=at, user_id=req.user_id, kind=req.kind,
                           approved_by=by, until=req.until)
    return derive_id("roster", "approval", platform, group_id, req.user_id, req.kind, str(req.until), at.isoformat()), event
