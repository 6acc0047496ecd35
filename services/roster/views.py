"""Read models: a group with its members joined to the roster, an employee with identities and history."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from services.roster import membership
from services.roster.models import (
    ActivePolicy,
    ChatGroup,
    Employee,
    Identity,
    MemberApproval,
    Membership,
    RegisteredGroup,
    StatusHistory,
)


def nickname_template(session: Session) -> str:
    """The template of the most recently effective published policy; the default when none."""
    row = session.exec(select(ActivePolicy).order_by(ActivePolicy.effective_from.desc(),
                                                     ActivePolicy.version.desc())).first()
    return row.nickname_template if row else membership.DEFAULT_NICKNAME_TEMPLATE


def _person(emp: Employee) -> membership.Person:
    return membership.Person(employee_id=emp.employee_id, name=emp.name, status=emp.status,
                             department=emp.department, title=emp.title, level=emp.level, mobile=emp.mobile)


def group_summary(row: RegisteredGroup) -> dict[str, Any]:
    return {"ref": row.ref, "platform": row.platform, "group_id": row.group_id, **row.info,
            "retired": row.retired, "retired_reason": row.retired_reason,
            "registered_at": row.registered_at.isoformat(), "updated_at": row.updated_at.isoformat()}


def group_view(session: Session, ref: str, on: date | None, include_past: bool = False) -> dict[str, Any] | None:
    """The registry entry (if any) and every current member classified and checked against the template."""
    registered = session.get(RegisteredGroup, ref)
    chat_group = session.get(ChatGroup, ref)
    if registered is None and chat_group is None:
        return None
    query = select(Membership).where(Membership.ref == ref)
    if not include_past:
        query = query.where(Membership.present == True)  # noqa: E712
    members = list(session.exec(query.order_by(Membership.user_id)))
    platform = (registered or chat_group).platform
    ids = [m.user_id for m in members]
    identities = {i.user_id: i.employee_id for i in session.exec(
        select(Identity).where(Identity.platform == platform, Identity.user_id.in_(ids)))} if ids else {}
    employees = {e.employee_id: e for e in session.exec(
        select(Employee).where(Employee.employee_id.in_(set(identities.values()))))} if identities else {}
    approvals = {a.user_id: a for a in session.exec(select(MemberApproval).where(MemberApproval.ref == ref))}
    template = nickname_template(session)
    out_members = []
    for m in members:
        emp = employees.get(identities.get(m.user_id, ""))
        person = _person(emp) if emp else None
        approval = approvals.get(m.user_id)
        kind = membership.classify(person, membership.Approval(approval.kind, approval.until) if approval else None, on)
        out_members.append({
            "user_id": m.user_id, "present": m.present, "kind": kind,
            "employee_id": emp.employee_id if emp else None, "name": emp.name if emp else None,
            "department": emp.department if emp else None, "nickname": m.nickname, "role": m.role,
            "nickname_ok": membership.nickname_fits(template, m.nickname, person) if kind != "departed" else None,
            "expected_nickname": membership.render(template, person) if person else None,
            "invited_by": m.invited_by, "joined_at": m.joined_at.isoformat() if m.joined_at else None,
            "left_at": m.left_at.isoformat() if m.left_at else None, "how": m.how,
            "evidence_event_id": m.evidence_event_id,
        })
    return {"ref": ref, "registered": registered is not None,
            "registry": group_summary(registered) if registered else None,
            "name": (registered.info.get("name") if registered else None) or (chat_group.name if chat_group else None),
            "last_snapshot_event_id": chat_group.last_snapshot_event_id if chat_group else None,
            "nickname_template": template, "members": out_members,
            "counts": {k: sum(1 for m in out_members if m["kind"] == k and m["present"])
                       for k in ("employee", "departed", "external-approved", "probation-approved", "unknown")}}


def employee_view(session: Session, employee_id: str) -> dict[str, Any] | None:
    emp = session.get(Employee, employee_id)
    if emp is None:
        return None
    identities = list(session.exec(select(Identity).where(Identity.employee_id == employee_id)
                                   .order_by(Identity.platform, Identity.user_id)))
    groups = []
    for ident in identities:
        for m in session.exec(select(Membership).where(Membership.platform == ident.platform,
                                                       Membership.user_id == ident.user_id)):
            groups.append({"ref": m.ref, "user_id": m.user_id, "present": m.present, "nickname": m.nickname,
                           "joined_at": m.joined_at.isoformat() if m.joined_at else None,
                           "left_at": m.left_at.isoformat() if m.left_at else None})
    history = session.exec(select(StatusHistory).where(StatusHistory.employee_id == employee_id)
                           .order_by(StatusHistory.version))
    return {**employee_summary(emp),
            "identities": [{"platform": i.platform, "user_id": i.user_id} for i in identities],
            "groups": sorted(groups, key=lambda g: g["ref"]),
            "history": [{"version": h.version, "kind": h.kind, "occurred_at": h.occurred_at.isoformat(),
                         "status": h.status, "department_id": h.department_id, "event_id": h.event_id, **h.detail}
                        for h in history]}


def employee_summary(emp: Employee) -> dict[str, Any]:
    return {"employee_id": emp.employee_id, "name": emp.name, "department_id": emp.department_id,
            "department": emp.department, "level": emp.level, "status": emp.status, "manager_id": emp.manager_id,
            "title": emp.title, "hire_date": emp.hire_date.isoformat() if emp.hire_date else None,
            "leave_date": emp.leave_date.isoformat() if emp.leave_date else None,
            "handover_date": emp.handover_date.isoformat() if emp.handover_date else None}


def employees_page(session: Session, department: str | None, status: str | None, offset: int,
                   limit: int) -> dict[str, Any]:
    query = select(Employee)
    if department:
        query = query.where((Employee.department_id == department) | (Employee.department == department))
    if status:
        query = query.where(Employee.status == status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Employee.employee_id).offset(offset).limit(limit))
    return {"total": int(total), "offset": offset, "limit": limit, "items": [employee_summary(e) for e in rows]}
