"""Thin handlers folding roster, chat and policy events into the roster projections, and ROUTES.

Handlers never commit (the worker or ``apply_locally`` owns the transaction) and never read the
wall clock: every time written here is an event time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import tuple_
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import select

from contracts import chat, roster
from contracts.base import group_ref
from contracts.ids import derive_id
from contracts.policy import PolicyPublished
from services.common.db import add_new, get_unflushed, load
from services.common.worker import Context
from services.roster import membership
from services.roster.models import (
    ActivePolicy,
    ChatGroup,
    Department,
    Employee,
    Identity,
    MemberApproval,
    Membership,
    RegisteredGroup,
    ScimResource,
    StatusHistory,
)

# -- people -------------------------------------------------------------------------------------

PRELOADED = "roster_preloaded"


def _get(ctx: Context, model: type, key: object):
    """``session.get``, unless a bulk writer (the CSV import) preloaded the whole table.

    The import applies ~10,000 events in one transaction; a primary-key lookup that misses costs a
    round trip each time, so the importer hands over every row it read (authoritative: a key not
    in the map does not exist) and handlers keep the map current as they add rows.
    """
    cache = ctx.session.info.get(PRELOADED, {}).get(model)
    if cache is None:
        return ctx.session.get(model, key)
    return cache.get(key)


def _add(ctx: Context, obj: object, key: object) -> None:
    ctx.session.add(obj)
    cache = ctx.session.info.get(PRELOADED, {}).get(type(obj))
    if cache is not None:
        cache[key] = obj


def _history(ctx: Context, emp: Employee, kind: str, at: datetime, **detail: object) -> None:
    ctx.session.add(StatusHistory(event_id=ctx.event.id, employee_id=emp.employee_id, version=emp.version,
                                  kind=kind, occurred_at=at, status=emp.status,
                                  department_id=emp.department_id,
                                  detail={k: v for k, v in detail.items() if v is not None}))


def _employee(ctx: Context, employee_id: str) -> Employee | None:
    return _get(ctx, Employee, employee_id)


def on_employee_facts(ctx: Context, p: roster.EmployeeHired | roster.EmployeeUpdated
                      | roster.EmployeeTransferred | roster.EmployeeDeparted) -> None:
    """Hire, update, transfer, departure: the event carries the whole facts; store them."""
    facts = p.facts.model_dump(exclude={"accounts"})
    emp = _employee(ctx, p.employee_id)
    if emp is None:
        emp = Employee(employee_id=p.employee_id, version=1, updated_at=p.occurred_at, **facts)
    else:
        for key, value in facts.items():
            if getattr(emp, key) != value:
                setattr(emp, key, value)
        emp.version += 1
        emp.updated_at = p.occurred_at
    _add(ctx, emp, emp.employee_id)
    kind = p.event_type.split(".")[2]
    detail: dict[str, object] = {}
    if isinstance(p, roster.EmployeeHired):
        for account in p.facts.accounts:
            _link(ctx, p.employee_id, account)
        detail["accounts"] = [a.model_dump() for a in p.facts.accounts] or None
    elif isinstance(p, roster.EmployeeTransferred):
        detail.update(old_department_id=p.old_department_id, new_department_id=p.new_department_id,
                      handover_date=p.handover_date.isoformat() if p.handover_date else None)
    elif isinstance(p, roster.EmployeeDeparted):
        detail["leave_date"] = p.leave_date.isoformat()
    _history(ctx, emp, kind, p.occurred_at, **detail)


def _link(ctx: Context, employee_id: str, account: roster.Account) -> None:
    key = (account.platform, account.user_id)
    row = _get(ctx, Identity, key)
    if row is None:
        _add(ctx, Identity(platform=account.platform, user_id=account.user_id, employee_id=employee_id), key)
    else:
        row.employee_id = employee_id
        ctx.session.add(row)


def on_identity_linked(ctx: Context, p: roster.IdentityLinked) -> None:
    _link(ctx, p.employee_id, p.account)
    _identity_history(ctx, p, "identity_linked")


def on_identity_unlinked(ctx: Context, p: roster.IdentityUnlinked) -> None:
    key = (p.account.platform, p.account.user_id)
    row = _get(ctx, Identity, key)
    if row is not None and row.employee_id == p.employee_id:
        ctx.session.delete(row)
        ctx.session.info.get(PRELOADED, {}).get(Identity, {}).pop(key, None)
    _identity_history(ctx, p, "identity_unlinked")


def _identity_history(ctx: Context, p: roster.IdentityLinked | roster.IdentityUnlinked, kind: str) -> None:
    emp = _employee(ctx, p.employee_id)
    if emp is None:  # identity of a person not (yet) on the roster: nothing to attach it to
        return
    emp.version += 1
    ctx.session.add(emp)
    _history(ctx, emp, kind, p.occurred_at, platform=p.account.platform, user_id=p.account.user_id)


def on_department_changed(ctx: Context, p: roster.DepartmentChanged) -> None:
    dept = ctx.session.get(Department, p.department_id) or Department(department_id=p.department_id, name=p.name)
    dept.name, dept.parent_id, dept.head_id, dept.deleted = p.name, p.parent_id, p.head_id, p.deleted
    ctx.session.add(dept)


def on_scim_resource_changed(ctx: Context, p: roster.ScimResourceChanged) -> None:
    """Keep the SCIM document as provisioned (or forget it when deleted)."""
    row = ctx.session.get(ScimResource, p.resource_id)
    if p.document is None:
        if row is not None:
            ctx.session.delete(row)
        return
    # userName is unique among Users (RFC 7643 §4.1.1); department names need not be unique.
    name = p.document.get("userName") if p.resource_type == "User" else p.resource_id
    if row is None:
        row = ScimResource(resource_id=p.resource_id, resource_type=p.resource_type, name_key="", key=p.key,
                           version=p.version, created=p.occurred_at, last_modified=p.occurred_at, document={})
    row.name_key = str(name or p.resource_id).casefold()
    row.external_id = p.document.get("externalId")
    row.key, row.version, row.last_modified, row.document = p.key, p.version, p.occurred_at, p.document
    ctx.session.add(row)


# -- the group registry -------------------------------------------------------------------------


def on_group_registered(ctx: Context, p: roster.GroupRegistered | roster.GroupUpdated) -> None:
    ref = group_ref(p.platform, p.group_id)
    row = ctx.session.get(RegisteredGroup, ref)
    if row is None:
        row = RegisteredGroup(ref=ref, platform=p.platform, group_id=p.group_id, info={},
                              registered_at=p.occurred_at, updated_at=p.occurred_at)
    row.info = p.info.model_dump(mode="json")
    row.retired, row.retired_reason = False, None
    row.version += 1
    row.updated_at = p.occurred_at
    ctx.session.add(row)


def on_group_retired(ctx: Context, p: roster.GroupRetired) -> None:
    row = ctx.session.get(RegisteredGroup, group_ref(p.platform, p.group_id))
    if row is not None:
        row.retired, row.retired_reason = True, p.reason
        row.version += 1
        row.updated_at = p.occurred_at
        ctx.session.add(row)


def on_member_approved(ctx: Context, p: roster.MemberApproved) -> None:
    ref = group_ref(p.platform, p.group_id)
    row = ctx.session.get(MemberApproval, (ref, p.user_id)) or MemberApproval(
        ref=ref, user_id=p.user_id, kind=p.kind, approved_by=p.approved_by, approved_at=p.occurred_at)
    row.kind, row.approved_by, row.approved_at, row.until = p.kind, p.approved_by, p.occurred_at, p.until
    ctx.session.add(row)


# -- membership from chat events ----------------------------------------------------------------


def _touched(ctx: Context, model: type, key: object, new: Callable[[], object]) -> Any:
    """The row of ``model`` at ``key`` as this transaction has it, created if there is none.

    Nearly every chat event touches one group and one membership row; with ``session.get`` each
    lookup flushed the previous event's change first (one UPDATE per message). Rows are created with
    ``add_new`` and found with ``get_unflushed``, so the batch's changes go out together at commit.
    """
    row = get_unflushed(ctx.session, model, key)
    if row is None:
        row = new()
        add_new(ctx.session, row, key)
    return row


def prefetch(session: OrmSession, payloads: list[Any]) -> None:
    """Load the chat groups and memberships a batch of events will touch, in a query or two.

    Without it the lookups were most of the roster worker: one primary-key SELECT per message, since a
    batch of 100 messages comes from nearly as many members. The worker calls this before the batch's
    handlers; what it finds, and what it does not, is held for ``get_unflushed``.
    """
    groups: set[str] = set()
    members: set[tuple[str, str]] = set()
    for p in payloads:
        if isinstance(p, chat.ChatEvent):
            ref = group_ref(p.platform, p.group_id)
            groups.add(ref)
            user_id = getattr(p, "user_id", None)
            if user_id:
                members.add((ref, user_id))
    load(session, ChatGroup, sorted(groups), ChatGroup.ref)
    load(session, Membership, sorted(members), tuple_(Membership.ref, Membership.user_id),
         key_of=lambda r: (r.ref, r.user_id))


def _chat_group(ctx: Context, p: chat.ChatEvent) -> ChatGroup:
    ref = group_ref(p.platform, p.group_id)
    row = _touched(ctx, ChatGroup, ref, lambda: ChatGroup(ref=ref, platform=p.platform, group_id=p.group_id))
    if p.group_name and row.name != p.group_name:
        row.name = p.group_name
    return row


def _member(ctx: Context, p: chat.ChatEvent, user_id: str) -> Membership:
    ref = group_ref(p.platform, p.group_id)
    return _touched(ctx, Membership, (ref, user_id),
                    lambda: Membership(ref=ref, user_id=user_id, platform=p.platform, present=False))


def _stale(row: Membership, at: datetime) -> bool:
    """An event older than what we already know of this member changes nothing (late delivery)."""
    return row.last_seen_at is not None and at < row.last_seen_at


def _mark_present(ctx: Context, row: Membership, at: datetime, how: str, invited_by: str | None = None) -> None:
    if not row.present:
        row.present, row.joined_at, row.left_at, row.how = True, at, None, how
        row.evidence_event_id = ctx.event.id
        row.invited_by = invited_by
    elif invited_by:
        row.invited_by = invited_by
    row.last_seen_at = at
    ctx.session.add(row)


def on_member_joined(ctx: Context, p: chat.MemberJoined) -> None:
    _chat_group(ctx, p)
    row = _member(ctx, p, p.user_id)
    if _stale(row, p.occurred_at):
        return
    if p.nickname is not None:
        row.nickname = p.nickname
    _mark_present(ctx, row, p.occurred_at, "event", p.operator_id)


def on_member_gone(ctx: Context, p: chat.MemberLeft | chat.MemberRemoved) -> None:
    _chat_group(ctx, p)
    row = _member(ctx, p, p.user_id)
    if _stale(row, p.occurred_at):
        return
    row.present, row.left_at, row.how, row.evidence_event_id = False, p.occurred_at, "event", ctx.event.id
    row.last_seen_at = p.occurred_at
    ctx.session.add(row)


def on_nickname_changed(ctx: Context, p: chat.NicknameChanged) -> None:
    _chat_group(ctx, p)
    row = _member(ctx, p, p.user_id)
    if _stale(row, p.occurred_at):
        return
    row.nickname = p.nickname
    _mark_present(ctx, row, p.occurred_at, "message")


def on_message_posted(ctx: Context, p: chat.MessagePosted) -> None:
    """Posting proves membership (a missed join) and shows the current nickname."""
    _chat_group(ctx, p)
    row = _member(ctx, p, p.user_id)
    if _stale(row, p.occurred_at):
        return
    if p.nickname is not None:
        row.nickname = p.nickname
    if p.sender_role:
        row.role = p.sender_role
    _mark_present(ctx, row, p.occurred_at, "message")


def on_admin_changed(ctx: Context, p: chat.AdminChanged) -> None:
    row = _member(ctx, p, p.user_id)
    row.role = {"set": "admin", "unset": "member", "owner": "owner"}[p.change]
    _mark_present(ctx, row, max(p.occurred_at, row.last_seen_at or p.occurred_at), "event")


def on_group_renamed(ctx: Context, p: chat.GroupRenamed | chat.GroupCreated) -> None:
    _chat_group(ctx, p)


def on_group_dissolved(ctx: Context, p: chat.GroupDissolved) -> None:
    _chat_group(ctx, p).dissolved = True


def on_members_snapshot(ctx: Context, p: chat.MembersSnapshot) -> None:
    """Reconcile: accounts the events missed become joins/leaves marked ``reconciliation``."""
    group = _chat_group(ctx, p)
    ref = group.ref
    rows = {m.user_id: m for m in ctx.session.exec(select(Membership).where(Membership.ref == ref))}
    present = [u for u, m in rows.items() if m.present]
    diff = membership.reconcile(present, [m.user_id for m in p.members])
    for member in p.members:
        row = rows.get(member.user_id) or _member(ctx, p, member.user_id)
        if member.user_id in diff.joined:
            row.present, row.joined_at, row.left_at = True, p.occurred_at, None
            row.how, row.evidence_event_id, row.invited_by = "reconciliation", ctx.event.id, None
        row.nickname, row.role = member.nickname if member.nickname is not None else row.nickname, member.role
        row.last_seen_at = max(p.occurred_at, row.last_seen_at or p.occurred_at)
        ctx.session.add(row)
    for user_id in diff.left:
        row = rows[user_id]
        row.present, row.left_at, row.how, row.evidence_event_id = False, p.occurred_at, "reconciliation", ctx.event.id
        row.last_seen_at = max(p.occurred_at, row.last_seen_at or p.occurred_at)
        ctx.session.add(row)
    group.last_snapshot_event_id, group.last_snapshot_at = ctx.event.id, p.occurred_at
    if not diff.empty:
        ctx.emit(roster.MembershipReconciled(platform=p.platform, group_id=p.group_id, occurred_at=p.occurred_at,
                                             snapshot_event_id=ctx.event.id, joined=diff.joined, left=diff.left),
                 id=derive_id("roster", "reconciled", ctx.event.id), time=p.occurred_at, causation=[ctx.event.id])


# -- policy ---------------------------------------------------------------------------------------


def on_policy_published(ctx: Context, p: PolicyPublished) -> None:
    row = ctx.session.get(ActivePolicy, p.policy_id)
    if row is not None and row.version > p.version:
        return
    row = row or ActivePolicy(policy_id=p.policy_id, version=p.version, effective_from=p.effective_from,
                              nickname_template="")
    row.version, row.effective_from = p.version, p.effective_from
    row.nickname_template = membership.template_from_pack(p.pack)
    ctx.session.add(row)


def _noop(ctx: Context, p: object) -> None:
    """Events roster emits for others; routed so the inbox records them and rebuild sees them."""


ROUTES = {
    roster.EmployeeHired: on_employee_facts,
    roster.EmployeeUpdated: on_employee_facts,
    roster.EmployeeTransferred: on_employee_facts,
    roster.EmployeeDeparted: on_employee_facts,
    roster.IdentityLinked: on_identity_linked,
    roster.IdentityUnlinked: on_identity_unlinked,
    roster.DepartmentChanged: on_department_changed,
    roster.ScimResourceChanged: on_scim_resource_changed,
    roster.GroupRegistered: on_group_registered,
    roster.GroupUpdated: on_group_registered,
    roster.GroupRetired: on_group_retired,
    roster.MemberApproved: on_member_approved,
    roster.MembershipReconciled: _noop,
    chat.MemberJoined: on_member_joined,
    chat.MemberLeft: on_member_gone,
    chat.MemberRemoved: on_member_gone,
    chat.NicknameChanged: on_nickname_changed,
    chat.MessagePosted: on_message_posted,
    chat.AdminChanged: on_admin_changed,
    chat.GroupCreated: on_group_renamed,
    chat.GroupRenamed: on_group_renamed,
    chat.GroupDissolved: on_group_dissolved,
    chat.MembersSnapshot: on_members_snapshot,
    PolicyPublished: on_policy_published,
}
