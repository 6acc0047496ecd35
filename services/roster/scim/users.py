"""SCIM Users: create, replace, patch, delete — each one a ScimResourceChanged plus employee events.

Every write validates with scim2-models, checks uniqueness (userName; one User per employee; one
person per platform account), then applies ``ScimResourceChanged`` and whatever
:func:`services.roster.changes.decide` says the facts change means, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, PatchOp, SCIMException
from sqlmodel import Session

from contracts.ids import derive_id
from contracts.roster import ScimResourceChanged
from services.roster import writes
from services.roster.models import ScimResource
from services.roster.scim import store
from services.roster.scim.errors import ScimError
from services.roster.scim.facts import employee_id_of, facts_of
from services.roster.scim.resources import ENTERPRISE_URN, POLICY, EnterpriseUser, ScimUser


def parse(body: Any, ctx: Context) -> ScimUser:
    if not isinstance(body, dict):
        raise ScimError(400, "请求体须为 JSON 对象 / body must be a JSON object", "invalidSyntax")
    try:
        return ScimUser.model_validate(body, scim_ctx=ctx, scim_policy=POLICY)
    except (ValidationError, SCIMException) as exc:
        raise ScimError.from_validation(exc) from exc


def load(row: ScimResource) -> ScimUser:
    return ScimUser.model_validate(row.document, scim_policy=POLICY)


def _document(user: ScimUser, resource_id: str) -> dict[str, Any]:
    """What we keep: the User as a query would return it, minus server-computed parts."""
    user = user.model_copy(deep=True)
    user.id, user.meta, user.groups, user.password = resource_id, None, None, None
    return user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, scim_policy=POLICY)


def _department_lookup(session: Session, resource_id: str, user: ScimUser,
                       assigned: tuple[str, str] | None) -> tuple[ScimUser, Callable[[str | None], str | None]]:
    """The User as its facts are computed (department settled), and how department names map to ids.

    The enterprise ``department`` wins; a User without one keeps the department Group it is a
    member of (IdPs that manage departments as groups PUT Users without the attribute, which must
    not look like a transfer to "no department"); the stored document stays as sent. ``assigned`` is (Group id, name) when a Group
    membership is the cause of this write: that Group's id is used even if names repeat.
    """
    ent = user[EnterpriseUser]
    if assigned is None and not (ent and ent.department):
        for group_id, name in store.departments_of_user(session, resource_id):
            user = user.model_copy(deep=True)
            ent = user[EnterpriseUser] or EnterpriseUser()
            ent.department = name
            user[EnterpriseUser] = ent
            assigned = (group_id, name)
            break

    def lookup(name: str | None) -> str | None:
        if assigned is not None and name == assigned[1]:
            return assigned[0]
        return writes.department_id_for(session, name)
    return user, lookup


def _write(session: Session, user: ScimUser, resource_id: str, employee_id: str, version: int,
           at: datetime, assigned: tuple[str, str] | None = None) -> ScimResource:
    """Check conflicts, then apply the document event and the employee events it implies."""
    if store.user_name_taken(session, user.user_name or "", except_id=resource_id):
        raise ScimError(409, f"userName 已存在 / userName {user.user_name!r} is already taken", "uniqueness")
    settled, department_id_for = _department_lookup(session, resource_id, user, assigned)
    facts = facts_of(settled, department_id_for, at)
    clashes = writes.linked_elsewhere(session, employee_id, facts.accounts)
    if clashes:
        account, other = clashes[0]
        raise ScimError(409, f"账号已属于员工 {other} / {account.platform} account {account.user_id} is "
                             f"already linked to employee {other}", "uniqueness")
    document = _document(user, resource_id)
    writes.apply(session, ScimResourceChanged(resource_type="User", resource_id=resource_id, key=employee_id,
                                              version=version, document=document, occurred_at=at),
                 id=derive_id("roster", "scim", resource_id, version), at=at)
    writes.change_employee(session, employee_id, facts, at, cause=f"scim:{resource_id}:{version}")
    return store.get(session, "User", resource_id)


def create(session: Session, body: Any, at: datetime) -> ScimResource:
    user = parse(body, Context.RESOURCE_CREATION_REQUEST)
    try:
        employee_id = employee_id_of(user)
    except ValueError as exc:
        raise ScimError(400, f"缺少工号 / {exc}", "invalidValue") from exc
    if store.user_name_taken(session, user.user_name or ""):
        raise ScimError(409, f"userName 已存在 / userName {user.user_name!r} is already taken", "uniqueness")
    if store.user_for_employee(session, employee_id) is not None:
        raise ScimError(409, f"工号 {employee_id} 已有 SCIM 用户 / employee {employee_id} is already provisioned",
                        "uniqueness")
    return _write(session, user, str(uuid.uuid4()), employee_id, 1, at)


def replace(session: Session, resource_id: str, body: Any, at: datetime, if_match: str | None) -> ScimResource:
    row = store.get(session, "User", resource_id)
    store.check_precondition(row, if_match)
    user = parse(body, Context.RESOURCE_REPLACEMENT_REQUEST)
    if isinstance(body, dict) and body.get("id") not in (None, resource_id):
        raise ScimError(400, "id 不可修改 / id is immutable", "mutability")
    if _document(user, resource_id) == row.document:
        return row  # RFC 7644 §3.5.1 allows a no-op replace; nothing happened, so no event
    return _write(session, user, resource_id, row.key, row.version + 1, at)


def _entra_compatible(body: Any) -> Any:
    """Entra ID sends booleans as "True"/"False" and a manager as a bare id string; normalise them."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        return body
    for op in body["Operations"]:
        if not isinstance(op, dict):
            continue
        path, value = str(op.get("path") or ""), op.get("value")
        if path.lower() == "active" and isinstance(value, str) and value.lower() in ("true", "false"):
            op["value"] = value.lower() == "true"
        elif path.lower() == f"{ENTERPRISE_URN}:manager".lower() and isinstance(value, str):
            op["value"] = {"value": value}
        elif not path and isinstance(value, dict):
            active = value.get("active")
            if isinstance(active, str) and active.lower() in ("true", "false"):
                value["active"] = active.lower() == "true"
    return body


def patch(session: Session, resource_id: str, body: Any, at: datetime, if_match: str | None) -> ScimResource:
    """RFC 7644 §3.5.2: all operations or none (we patch a copy and store it only if all succeed)."""
    row = store.get(session, "User", resource_id)
    store.check_precondition(row, if_match)
    user = load(row)
    try:
        operation = PatchOp[ScimUser].model_validate(_entra_compatible(body), scim_ctx=Context.RESOURCE_PATCH_REQUEST,
                                                     scim_policy=POLICY)
        changed = operation.patch(user, scim_policy=POLICY)
    except (ValidationError, SCIMException) as exc:
        raise ScimError.from_validation(exc) from exc
    if not changed or _document(user, resource_id) == row.document:
        return row
    return _write(session, user, resource_id, row.key, row.version + 1, at)


def assign_department(session: Session, resource_id: str, group_id: str, name: str, at: datetime) -> None:
    """A department Group gained this User (or was renamed): the User's department is that Group."""
    row = store.get(session, "User", resource_id)
    user = load(row)
    ent = user[EnterpriseUser] or EnterpriseUser()
    if ent.department == name and writes.current_facts(session, row.key).facts is not None and \
            writes.current_facts(session, row.key).facts.department_id == group_id:
        return
    ent.department = name
    user[EnterpriseUser] = ent
    _write(session, user, resource_id, row.key, row.version + 1, at, assigned=(group_id, name))


def delete(session: Session, resource_id: str, at: datetime, if_match: str | None) -> None:
    """The User is gone from the identity provider: the employee departs, the document is forgotten."""
    row = store.get(session, "User", resource_id)
    store.check_precondition(row, if_match)
    user = load(row)
    user.active = False
    facts = facts_of(user, lambda name: writes.department_id_for(session, name), at)
    version = row.version + 1
    writes.apply(session, ScimResourceChanged(resource_type="User", resource_id=resource_id, key=row.key,
                                              version=version, document=None, occurred_at=at),
                 id=derive_id("roster", "scim", resource_id, version), at=at)
    writes.change_employee(session, row.key, facts, at, cause=f"scim:{resource_id}:{version}")
