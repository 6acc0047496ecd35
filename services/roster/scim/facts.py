"""A SCIM User → the employee facts the rules need (pure).

Mapping (the README documents it for each identity provider):
- employee id: enterprise ``employeeNumber``, else ``externalId``, else ``userName`` — fixed when
  the User is created (HR systems key people by employee number; IdPs that lack one still work);
- name: ``name.formatted``, else familyName+givenName (Chinese order, no space), else ``displayName``;
- department: enterprise ``department``; manager: enterprise ``manager.value``;
- level, status, dates, accounts: our roster extension; ``active: false`` means departed whatever
  the extension says (IdPs deprovision by setting active false).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contracts.roster import Account, EmployeeFacts
from services.roster.scim.resources import (
    EnterpriseUser,
    RosterUser,
    ScimUser,
    local_date,
)


def employee_id_of(user: ScimUser) -> str:
    ent = user[EnterpriseUser]
    for candidate in (ent.employee_number if ent else None, user.external_id, user.user_name):
        if candidate and candidate.strip():
            return candidate.strip()
    raise ValueError("a User needs employeeNumber, externalId or userName")


def display_name_of(user: ScimUser) -> str:
    name = user.name
    if name is not None:
        if name.formatted and name.formatted.strip():
            return name.formatted.strip()
        parts = [p for p in (name.family_name, name.given_name) if p]
        if parts:
            joined_cjk = all(_is_cjk(p) for p in parts)
            return ("" if joined_cjk else " ").join(parts if joined_cjk else reversed(parts))
    return (user.display_name or user.nick_name or user.user_name or "").strip()


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _mobile(user: ScimUser) -> str | None:
    for phone in user.phone_numbers or []:
        if phone.value and (phone.type is None or str(phone.type) in ("mobile", "work")):
            return phone.value
    return None


def facts_of(user: ScimUser, department_id_for: Callable[[str | None], str | None],
             at: datetime) -> EmployeeFacts:
    """The facts of a User; ``department_id_for`` maps a department name to its id."""
    ent = user[EnterpriseUser] or EnterpriseUser()
    ext = user[RosterUser] or RosterUser()
    status = ext.status or "regular"
    leave_date = local_date(ext.leave_date)
    if user.active is False:
        status = "departed"
        leave_date = leave_date or at.date()
    elif status == "departed":
        leave_date = leave_date or at.date()
    accounts = [Account(platform=a.platform, user_id=a.value.strip())
                for a in ext.accounts or [] if a.platform and a.value and a.value.strip()]
    return EmployeeFacts(
        name=display_name_of(user) or employee_id_of(user),
        department_id=department_id_for(ent.department),
        department=ent.department or None,
        level=ext.level or "staff",
        status=status,
        manager_id=ent.manager.value if ent.manager and ent.manager.value else None,
        title=user.title or None,
        hire_date=local_date(ext.hire_date),
        leave_date=leave_date,
        handover_date=local_date(ext.handover_date),
        mobile=_mobile(user),
        accounts=sorted({(a.platform, a.user_id): a for a in accounts}.values(),
                        key=lambda a: (a.platform, a.user_id)),
    )
