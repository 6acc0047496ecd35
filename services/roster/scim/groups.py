"""SCIM Groups are departments: each write is a ScimResourceChanged plus a DepartmentChanged.

The department id is the Group's server id; its name is ``displayName``; its head and parent come
from our Group extension (``head.value``: employee id or SCIM User id; ``parent.value``: a Group
id). DepartmentChanged carries ``head_id`` as an employee id because that is what the rules look
up (``department_head``: ``state.person(dept.head_id)``).

Members must be Users we know (RFC 7644 §3.5.2: an invalid member value is ``invalidValue``).
Membership is the department: a User added to a Group gets that department (their enterprise
``department`` is set to the Group's name, which emits EmployeeTransferred when it changes), and
renaming a Group renames its members' department. Removing a member does not clear their
department: a move is an add to the new department, and "no department" is never implied.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, PatchOp, SCIMException
from sqlmodel import Session

from contracts.ids import derive_id
from contracts.roster import DepartmentChanged, ScimResourceChanged
from services.roster import writes
from services.roster.models import Department, Employee, ScimResource
from services.roster.scim import store, users
from services.roster.scim.errors import ScimError
from services.roster.scim.resources import POLICY, RosterGroup, ScimGroup


def parse(body: Any, ctx: Context) -> ScimGroup:
    if not isinstance(body, dict):
        raise ScimError(400, "请求体须为 JSON 对象 / body must be a JSON object", "invalidSyntax")
    try:
        return ScimGroup.model_validate(body, scim_ctx=ctx, scim_policy=POLICY)
    except (ValidationError, SCIMException) as exc:
        raise ScimError.from_validation(exc) from exc


def load(row: ScimResource) -> ScimGroup:
    return ScimGroup.model_validate(row.document, scim_policy=POLICY)


def _document(group: ScimGroup, resource_id: str) -> dict[str, Any]:
    group = group.model_copy(deep=True)
    group.id, group.meta = resource_id, None
    return group.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, scim_policy=POLICY)


def _check_members(session: Session, group: ScimGroup) -> None:
    for member in group.members or []:
        row = session.get(ScimResource, member.value or "")
        if row is None or row.resource_type != "User":
            raise ScimError(400, f"成员不存在 / member {member.value!r} is not a known User", "invalidValue")


def head_employee(session: Session, value: str | None) -> str | None:
    """``head.value`` → the head's employee id: a SCIM User id, else an employee id we know."""
    if not value or not value.strip():
        return None
    value = value.strip()
    row = session.get(ScimResource, value)
    if row is not None and row.resource_type == "User":
        return row.key
    if session.get(Employee, value) is not None:
        return value
    raise ScimError(400, f"部门负责人不存在 / head {value!r} is neither a User id nor a known employee id",
                    "invalidValue")


def parent_department(session: Session, value: str | None, resource_id: str) -> str | None:
    """``parent.value`` → a department id we know (Group id, or a department name), never a cycle."""
    if not value or not value.strip():
        return None
    value = value.strip()
    dept = session.get(Department, value)
    if dept is None or dept.deleted:
        found = writes.department_id_for(session, value)
        dept = session.get(Department, found) if found else None
    if dept is None or dept.deleted:
        raise ScimError(400, f"上级部门不存在 / parent department {value!r} is unknown", "invalidValue")
    seen, cursor = set(), dept
    while cursor is not None and cursor.department_id not in seen:
        if cursor.department_id == resource_id:
            raise ScimError(400, "上级部门不能是自身或下级 / a department cannot be its own ancestor", "invalidValue")
        seen.add(cursor.department_id)
        cursor = session.get(Department, cursor.parent_id) if cursor.parent_id else None
    return dept.department_id


def _member_ids(document: dict[str, Any] | None) -> set[str]:
    return {m.get("value") for m in (document or {}).get("members") or [] if m.get("value")}


def _write(session: Session, group: ScimGroup, resource_id: str, version: int, at: datetime,
           before: dict[str, Any] | None = None) -> ScimResource:
    if not (group.display_name or "").strip():
        raise ScimError(400, "部门名称不能为空 / displayName is required", "invalidValue")
    _check_members(session, group)
    ext = group[RosterGroup] or RosterGroup()
    head_id = head_employee(session, ext.head.value if ext.head else None)
    parent_id = parent_department(session, ext.parent.value if ext.parent else None, resource_id)
    name = group.display_name.strip()
    key = f"dept:{resource_id}"
    writes.apply(session, ScimResourceChanged(resource_type="Group", resource_id=resource_id, key=key,
                                              version=version, document=_document(group, resource_id),
                                              occurred_at=at),
                 id=derive_id("roster", "scim", resource_id, version), at=at)
    dept = session.get(Department, resource_id)
    if dept is None or (dept.name, dept.head_id, dept.parent_id, dept.deleted) != (name, head_id, parent_id, False):
        writes.apply(session, DepartmentChanged(department_id=resource_id, name=name, parent_id=parent_id,
                                                head_id=head_id, occurred_at=at),
                     id=derive_id("roster", "department", resource_id, version), at=at)
    renamed = before is not None and before.get("displayName") != name
    for user_id in sorted(_member_ids(_document(group, resource_id))):
        if renamed or user_id not in _member_ids(before):
            users.assign_department(session, user_id, resource_id, name, at)
    return store.get(session, "Group", resource_id)


def create(session: Session, body: Any, at: datetime) -> ScimResource:
    return _write(session, parse(body, Context.RESOURCE_CREATION_REQUEST), str(uuid.uuid4()), 1, at)


def replace(session: Session, resource_id: str, body: Any, at: datetime, if_match: str | None) -> ScimResource:
    row = store.get(session, "Group", resource_id)
    store.check_precondition(row, if_match)
    group = parse(body, Context.RESOURCE_REPLACEMENT_REQUEST)
    if _document(group, resource_id) == row.document:
        return row
    return _write(session, group, resource_id, row.version + 1, at, before=dict(row.document))


def patch(session: Session, resource_id: str, body: Any, at: datetime, if_match: str | None) -> ScimResource:
    row = store.get(session, "Group", resource_id)
    store.check_precondition(row, if_match)
    group = load(row)
    try:
        operation = PatchOp[ScimGroup].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST,
                                                      scim_policy=POLICY)
        changed = operation.patch(group, scim_policy=POLICY)
    except (ValidationError, SCIMException) as exc:
        raise ScimError.from_validation(exc) from exc
    if not changed or _document(group, resource_id) == row.document:
        return row
    return _write(session, group, resource_id, row.version + 1, at, before=dict(row.document))


def delete(session: Session, resource_id: str, at: datetime, if_match: str | None) -> None:
    row = store.get(session, "Group", resource_id)
    store.check_precondition(row, if_match)
    version = row.version + 1
    writes.apply(session, ScimResourceChanged(resource_type="Group", resource_id=resource_id, key=row.key,
                                              version=version, document=None, occurred_at=at),
                 id=derive_id("roster", "scim", resource_id, version), at=at)
    dept = session.get(Department, resource_id)
    writes.apply(session, DepartmentChanged(department_id=resource_id, name=row.document.get("displayName") or "",
                                            parent_id=dept.parent_id if dept else None,
                                            head_id=dept.head_id if dept else None, deleted=True, occurred_at=at),
                 id=derive_id("roster", "department", resource_id, version), at=at)
