"""Fold chat and roster events into the rules state (``evolve``): who is who, which group is what.

Kept apart from detection so the engine's order is visible: roster facts are folded *before*
detectors run (a departure's detector needs the leave date), chat events *after* (a self-exit's
detector needs the membership that the exit removes; flooding counts the window before this message).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import singledispatch

from contracts import chat, roster
from services.rules.state import (
    Department,
    GroupRecord,
    Membership,
    Person,
    Recent,
    RulesState,
    evolve,
)

GROUP_WINDOW = 30            # recent messages kept per group (back-and-forth, copies)
USER_WINDOW = 60             # recent messages kept per member of a group (flooding)
WINDOW_SPAN = timedelta(hours=24)
ACTIVE_DAYS_KEPT = 60


def person_from(employee_id: str, facts: roster.EmployeeFacts, old: Person | None = None,
                **extra: object) -> Person:
    accounts = tuple(sorted((a.platform, a.user_id) for a in facts.accounts))
    if not accounts and old is not None:
        accounts = old.accounts
    values = {"employee_id": employee_id, "name": facts.name, "department_id": facts.department_id,
                  "department": facts.department, "level": facts.level, "status": facts.status,
                  "manager_id": facts.manager_id, "hire_date": facts.hire_date, "leave_date": facts.leave_date,
                  "handover_date": facts.handover_date, "accounts": accounts,
                  "old_department_id": old.old_department_id if old else None}
    values.update(extra)
    return Person(**values)  # type: ignore[arg-type]


def group_or_new(state: RulesState, platform: str, group_id: str, at: datetime) -> GroupRecord:
    return state.group(platform, group_id) or GroupRecord(platform=platform, group_id=group_id, first_seen=at)


# -- roster -------------------------------------------------------------------------------------

@singledispatch
def fold_roster(payload: object, state: RulesState, event_id: str) -> None:
    """Unknown roster payloads change nothing."""


@fold_roster.register(roster.EmployeeHired)
@fold_roster.register(roster.EmployeeUpdated)
@fold_roster.register(roster.EmployeeDeparted)
def _employee(p: roster.EmployeeEvent, state: RulesState, event_id: str) -> None:
    old = state.person(p.employee_id)
    extra = {"leave_date": p.leave_date} if isinstance(p, roster.EmployeeDeparted) else {}
    if isinstance(p, roster.EmployeeDeparted):
        extra["status"] = "departed"
    state.put_person(person_from(p.employee_id, p.facts, old, **extra))  # type: ignore[attr-defined]


@fold_roster.register(roster.EmployeeTransferred)
def _transferred(p: roster.EmployeeTransferred, state: RulesState, event_id: str) -> None:
    old = state.person(p.employee_id)
    state.put_person(person_from(p.employee_id, p.facts, old, old_department_id=p.old_department_id,
                                 handover_date=p.handover_date or p.facts.handover_date))


@fold_roster.register(roster.IdentityLinked)
@fold_roster.register(roster.IdentityUnlinked)
def _identity(p: roster.IdentityLinked, state: RulesState, event_id: str) -> None:
    person = state.person(p.employee_id) or Person(employee_id=p.employee_id, name=p.employee_id)
    accounts = set(person.accounts)
    acc = (p.account.platform, p.account.user_id)
    if isinstance(p, roster.IdentityLinked):
        accounts.add(acc)
    else:
        accounts.discard(acc)
    state.put_person(Person(**{**person.__dict__, "accounts": tuple(sorted(accounts))}))


@fold_roster.register(roster.DepartmentChanged)
def _department(p: roster.DepartmentChanged, state: RulesState, event_id: str) -> None:
    state.put_department(Department(p.department_id, p.name, p.head_id, p.parent_id))


@fold_roster.register(roster.GroupRegistered)
@fold_roster.register(roster.GroupUpdated)
def _registered(p: roster.GroupRegistered, state: RulesState, event_id: str) -> None:
    info = p.info
    g = group_or_new(state, p.platform, p.group_id, p.occurred_at)
    state.put_group(g.evolve(
        registered=True, name=info.name or g.name, category=info.category, owner_employee_id=info.owner_id,
        admin_employee_ids=tuple(info.admin_ids), department_id=info.department_id, lifetime=info.lifetime,
        end_date=info.end_date, required=info.required, retired=False))


@fold_roster.register(roster.GroupRetired)
def _retired(p: roster.GroupRetired, state: RulesState, event_id: str) -> None:
    state.put_group(group_or_new(state, p.platform, p.group_id, p.occurred_at).evolve(retired=True))


@fold_roster.register(roster.MemberApproved)
def _approved(p: roster.MemberApproved, state: RulesState, event_id: str) -> None:
    state.add_approval(p.platform, p.group_id, p.user_id, p.kind)


@fold_roster.register(roster.MembershipReconciled)
def _reconciled(p: roster.MembershipReconciled, state: RulesState, event_id: str) -> None:
    for user in p.joined:
        if state.member(p.platform, p.group_id, user) is None:
            state.put_member(Membership(p.platform, p.group_id, user, joined_at=p.occurred_at,
                                        joined_event_id=event_id))
    for user in p.left:
        state.drop_member(p.platform, p.group_id, user)


# -- chat ---------------------------------------------------------------------------------------

@singledispatch
def fold_chat(payload: object, state: RulesState, event_id: str) -> None:
    """Unknown chat payloads change nothing."""


@fold_chat.register(chat.MessagePosted)
def fold_message(p: chat.MessagePosted, state: RulesState, event_id: str) -> None:
    """A message: the group's last message and active day, the sender's membership, both windows.
    The engine calls it directly (not through ``fold_chat``'s dispatch): it runs for every message."""
    t = p.occurred_at
    g = state.group(p.platform, p.group_id)
    day = t.date()
    if g is None:
        state.put_group(GroupRecord(platform=p.platform, group_id=p.group_id, first_seen=t, last_message_at=t,
                                    active_days=(day,), name=p.group_name))
    elif g.active_days and g.active_days[-1] == day and (g.name or not p.group_name):
        state.put_group(evolve(g, last_message_at=t))  # the common case: not the group's first message today
    else:
        changes: dict[str, object] = {"last_message_at": t}
        if day not in g.active_days:
            changes["active_days"] = (g.active_days + (day,))[-ACTIVE_DAYS_KEPT:]
        if not g.name and p.group_name:
            changes["name"] = p.group_name
        state.put_group(g.evolve(**changes))
    m = state.member(p.platform, p.group_id, p.user_id)
    nickname = p.nickname if p.nickname is not None else m.nickname if m else None
    role = p.sender_role or (m.role if m else "member")
    if m is None:
        state.put_member(Membership(p.platform, p.group_id, p.user_id, nickname=nickname, last_spoke_at=t, role=role))
    else:
        state.put_member(evolve(m, last_spoke_at=t, nickname=nickname, role=role))
    recent = Recent(t, event_id, p.user_id, p.msg_type, None, (p.text or "")[:500])
    since = t - WINDOW_SPAN
    ref = f"{p.platform}:{p.group_id}"
    state.append_window("g:" + ref, recent, since, GROUP_WINDOW)
    state.append_window(f"u:{ref}|{p.user_id}", recent, since, USER_WINDOW)


@fold_chat.register(chat.MemberJoined)
def _joined(p: chat.MemberJoined, state: RulesState, event_id: str) -> None:
    state.put_member(Membership(p.platform, p.group_id, p.user_id, p.nickname, p.occurred_at, event_id,
                                p.operator_id))
    state.put_group(group_or_new(state, p.platform, p.group_id, p.occurred_at))


@fold_chat.register(chat.MemberLeft)
@fold_chat.register(chat.MemberRemoved)
def _left(p: chat.MemberLeft, state: RulesState, event_id: str) -> None:
    state.drop_member(p.platform, p.group_id, p.user_id)


@fold_chat.register(chat.NicknameChanged)
def _nickname(p: chat.NicknameChanged, state: RulesState, event_id: str) -> None:
    m = state.member(p.platform, p.group_id, p.user_id) or Membership(p.platform, p.group_id, p.user_id)
    state.put_member(Membership(**{**m.__dict__, "nickname": p.nickname}))


@fold_chat.register(chat.GroupCreated)
def _created(p: chat.GroupCreated, state: RulesState, event_id: str) -> None:
    g = group_or_new(state, p.platform, p.group_id, p.occurred_at)
    state.put_group(g.evolve(created_at=p.occurred_at, creator_user_id=p.user_id, created_event_id=event_id,
                             name=p.group_name or g.name, owner_user_id=g.owner_user_id or p.user_id))
    if state.member(p.platform, p.group_id, p.user_id) is None:
        state.put_member(Membership(p.platform, p.group_id, p.user_id, joined_at=p.occurred_at,
                                    joined_event_id=event_id, role="owner"))


@fold_chat.register(chat.GroupRenamed)
def _renamed(p: chat.GroupRenamed, state: RulesState, event_id: str) -> None:
    state.put_group(group_or_new(state, p.platform, p.group_id, p.occurred_at).evolve(name=p.group_name))


@fold_chat.register(chat.GroupDissolved)
def _dissolved(p: chat.GroupDissolved, state: RulesState, event_id: str) -> None:
    state.put_group(group_or_new(state, p.platform, p.group_id, p.occurred_at).evolve(dissolved=True))


@fold_chat.register(chat.AdminChanged)
def _admin(p: chat.AdminChanged, state: RulesState, event_id: str) -> None:
    g = group_or_new(state, p.platform, p.group_id, p.occurred_at)
    admins = set(g.admin_user_ids)
    if p.change == "set":
        admins.add(p.user_id)
    elif p.change == "unset":
        admins.discard(p.user_id)
    owner = p.user_id if p.change == "owner" else g.owner_user_id
    state.put_group(g.evolve(admin_user_ids=tuple(sorted(admins)), owner_user_id=owner))
    m = state.member(p.platform, p.group_id, p.user_id) or Membership(p.platform, p.group_id, p.user_id)
    role = {"set": "admin", "unset": "member", "owner": "owner"}[p.change]
    state.put_member(Membership(**{**m.__dict__, "role": role}))


@fold_chat.register(chat.MembersSnapshot)
def _snapshot(p: chat.MembersSnapshot, state: RulesState, event_id: str) -> None:
    current = {m.user_id: m for m in state.members(p.platform, p.group_id)}
    listed = {m.user_id: m for m in p.members}
    for user in current.keys() - listed.keys():
        state.drop_member(p.platform, p.group_id, user)
    for user, snap in listed.items():
        old = current.get(user) or Membership(p.platform, p.group_id, user, joined_at=p.occurred_at,
                                              joined_event_id=event_id)
        state.put_member(Membership(**{**old.__dict__, "nickname": snap.nickname, "role": snap.role}))
    g = group_or_new(state, p.platform, p.group_id, p.occurred_at)
    admins = tuple(sorted(u for u, m in listed.items() if m.role == "admin"))
    owner = next((u for u, m in listed.items() if m.role == "owner"), g.owner_user_id)
    state.put_group(g.evolve(admin_user_ids=admins, owner_user_id=owner))
