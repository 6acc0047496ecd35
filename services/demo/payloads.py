"""The sample company as the roster service's inputs: SCIM 2.0 Users and group registrations.

SCIM Users carry the enterprise extension (employeeNumber, department, manager) and Qunguard's roster
extension (level, status, hireDate, leaveDate, handoverDate, accounts) exactly as
``services/roster/scim/resources.py`` publishes them under ``/scim/v2/Schemas``. Departments are
sent by name (``department``), which the roster uses as the department id when no SCIM Group of
that name exists — so group registrations name departments the same way.

Why ``hireDate`` is left out of the initial load by default: a User provisioned today for someone
hired years ago produces ``EmployeeHired``; ``member.new_hire_not_added`` would then count days 3–5
from the old hire date and flag every long-serving employee at once. New hires during the
simulated period always carry their ``hireDate``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.demo.company import Company, Employee, Group

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ROSTER_URN = "urn:qunguard:params:scim:schemas:extension:roster:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def scim_user(company: Company, e: Employee, *, department: str | None = None, status: str | None = None,
              hire_date: bool = False, leave_date: date | None = None, handover_date: date | None = None,
              active: bool = True) -> dict[str, Any]:
    """One employee as the SCIM User an HR system would POST or PUT."""
    family, given = e.name[0], e.name[1:]
    roster: dict[str, Any] = {
        "level": e.level,
        "status": status or e.status,
        "accounts": [{"platform": p, "value": v} for p, v in sorted(e.accounts.items())],
    }
    if hire_date:
        roster["hireDate"] = e.hire_date.isoformat()
    if leave_date:
        roster["leaveDate"] = leave_date.isoformat()
    if handover_date:
        roster["handoverDate"] = handover_date.isoformat()
    enterprise: dict[str, Any] = {"employeeNumber": e.employee_id, "organization": company.name,
                                  "department": department or e.department}
    if e.manager_id:
        enterprise["manager"] = {"value": e.manager_id}
    return {
        "schemas": [USER_URN, ENTERPRISE_URN, ROSTER_URN],
        "externalId": e.employee_id,
        "userName": f"{e.accounts['wecom']}@{company.domain}",
        "name": {"formatted": e.name, "familyName": family, "givenName": given},
        "displayName": e.name,
        "nickName": e.nickname,
        "title": e.title,
        "userType": "Employee",
        "active": active,
        "emails": [{"value": f"{e.accounts['wecom']}@{company.domain}", "type": "work", "primary": True}],
        "phoneNumbers": [{"value": e.mobile, "type": "mobile"}],
        ENTERPRISE_URN: enterprise,
        ROSTER_URN: roster,
    }


def scim_users(company: Company, *, hire_dates: bool = False) -> list[dict[str, Any]]:
    return [scim_user(company, e, hire_date=hire_dates) for e in company.employees]


def group_registration(group: Group) -> dict[str, Any]:
    """The body of ``POST /v1/groups`` (``services.roster.registry.GroupRegistration``)."""
    body: dict[str, Any] = {
        "platform": group.platform,
        "group_id": group.group_id,
        "name": group.name,
        "category": group.category,
        "owner_id": group.owner_id,
        "admin_ids": list(group.admin_ids),
        "department_id": group.department,
        "purpose": group.purpose,
        "member_scope": group.member_scope,
        "lifetime": group.lifetime,
        "required": group.category in ("company", "department"),
        "approved_by": "E0001",
    }
    if group.end_date is not None:
        body["end_date"] = group.end_date.isoformat()
    return body


def group_registrations(company: Company) -> list[dict[str, Any]]:
    return [group_registration(g) for g in company.groups]
