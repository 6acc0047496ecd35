"""Who may be in which group: catalog section 2 (``member.*``).

Deadline rules (departed or transferred members not removed, new hires not added, silent members)
set timers keyed by group and account; the removal or join that satisfies them cancels the timer by
its *event* time, so a removal posted before the deadline but processed late still counts.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from contracts import chat, roster
from contracts.violations import Evidence
from services.rules.detectors._common import (
    Seconds,
    accounts_on,
    department_head,
    group_admin_employees,
    roles_of,
    who,
)
from services.rules.detectors.base import (
    ActiveRule,
    Finding,
    Input,
    Output,
    Remember,
    StateView,
    TimerCancel,
    TimerFired,
    TimerSet,
    detector,
)
from services.rules.state import GroupRecord

INTERNAL = ["company", "management", "department", "project"]


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _in_scope(rule: ActiveRule, g: GroupRecord) -> bool:
    """A live group inside the pack's and the rule's scope (roster events carry no group, so the
    engine cannot check the scope for these detectors: they pick the groups themselves)."""
    return rule.covers(g) and not g.dissolved and not g.retired


class ExternalParams(_P):
    categories: list[str] = INTERNAL


@detector("external_member", on=(chat.MemberJoined,), params=ExternalParams)
def external_member(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """内部群只允许员工；外部人员须经部门领导批准并登记 / only employees, unless approved."""
    g, p = inp.group, inp.event
    if g is None or not g.registered or g.category not in rule.params.categories or inp.actor is not None:
        return []
    if "external" in state.approvals(p.platform, p.group_id, p.user_id):
        return []
    inviter = state.person_by_account(p.platform, p.operator_id) if p.operator_id else None
    ev = Evidence(summary=f"非员工账号 {p.nickname or p.user_id} 未经批准入群 / an unapproved outsider joined",
                  details={"inviter": p.operator_id})
    return [rule.finding(inp, ev, employee_id=None,
                         liable_employee_ids=(inviter.employee_id,) if inviter else ())]


class ProbationParams(_P):
    categories: list[str] = ["management"]


@detector("probation_member", on=(chat.MemberJoined,), params=ProbationParams)
def probation_member(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """试用期/实习员工入群须部门负责人批准 / probation staff need their head's approval to join."""
    g, a, p = inp.group, inp.actor, inp.event
    if g is None or a is None or a.status not in ("probation", "intern") or g.category not in rule.params.categories:
        return []
    if "probation" in state.approvals(p.platform, p.group_id, p.user_id):
        return []
    ev = Evidence(summary=f"{a.name} 试用期未经批准入群 / on probation, joined without approval")
    return [rule.finding(inp, ev)]


@detector("unauthorized_invite", on=(chat.MemberJoined,))
def unauthorized_invite(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """只有群主和管理员可以拉人入群 / only the owner and admins add members."""
    p = inp.event
    if not p.operator_id or p.operator_id == p.user_id:
        return []
    inviter = state.person_by_account(p.platform, p.operator_id)
    if roles_of(state, inp, p.operator_id, inviter) & {"owner", "admin"}:
        return []
    ev = Evidence(summary=f"{who(inviter, p.operator_id)} 非群主/管理员，擅自拉 {p.nickname or p.user_id} 入群 / "
                          "invited a member without being owner or admin", details={"invited": p.user_id})
    return [rule.finding(inp, ev, user_id=p.operator_id, employee_id=inviter.employee_id if inviter else None)]


class SelfExitParams(_P):
    required_categories: list[str] = ["company", "department"]


@detector("self_exit", on=(chat.MemberLeft,), params=SelfExitParams)
def self_exit(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """员工不得自行退出必须加入的群 / members may not leave their required groups."""
    g, a = inp.group, inp.actor
    if g is None or a is None or a.status == "departed":
        return []
    required = g.required or (g.registered and g.category in rule.params.required_categories
                              and (g.category != "department" or g.department_id in (None, a.department_id)))
    if not required:
        return []
    ev = Evidence(summary=f"{a.name} 自行退出必须加入的群「{g.name or g.group_id}」/ left a required group")
    return [rule.finding(inp, ev)]


_FIELDS = ("department", "name", "company", "city", "phone")


class NicknameParams(_P):
    daily: bool = False  # 鸡公山: −10 points per day with a non-compliant profile


@detector("nickname_format", on=(chat.MemberJoined, chat.NicknameChanged, chat.MessagePosted), params=NicknameParams)
def nickname_format(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """群昵称须符合实名模板（如「部门-姓名」）/ the display name must follow the template."""
    p = inp.event
    nick = getattr(p, "nickname", None)
    if nick is None:
        return []
    if isinstance(p, chat.MessagePosted) and not rule.params.daily:
        m = state.member(p.platform, p.group_id, p.user_id)
        if m is not None and m.nickname == nick:
            return []  # judged when it was set (nearly every message)
    org, a = inp.org, inp.actor
    template = org.nickname_template
    if template is None or a is None or a.level in org.nickname_exempt_levels:
        return []
    extra: list[Output] = []
    dedupe: tuple[str, ...] = (nick,)
    if isinstance(p, chat.MessagePosted) and rule.params.daily:
        day = inp.local.date().isoformat()
        key = f"{p.platform}:{p.group_id}|{p.user_id}|{day}"
        if state.counter(rule.memory_key(key)):
            return []
        extra, dedupe = [Remember(key, {"e": inp.event_id})], (nick, day)
    values = {"name": a.name, "department": a.department or "", "company": inp.org.name or ""}
    pattern = re.escape(template)
    for f in _FIELDS:
        esc = re.escape("{" + f + "}")
        pattern = pattern.replace(esc, re.escape(values[f]) if values.get(f) else r"[^\s]+")
    if re.fullmatch(pattern, nick.strip()):
        return []
    expected = template.format(**{f: values.get(f) or f"<{f}>" for f in _FIELDS})
    ev = Evidence(summary=f"群昵称「{nick}」不符合「{expected}」/ display name does not follow the template",
                  text=nick, details={"expected": expected, "template": template})
    return extra + [rule.finding(inp, ev, dedupe=dedupe)]


class RemoveParams(_P):
    within_days: int = 3
    working_days: bool = False


def _deadline(inp: Input, start, p: RemoveParams):
    rt = inp.runtime
    if p.working_days:
        return rt.working_days_deadline(start, p.within_days)  # type: ignore[attr-defined]
    return rt.end_of_day(start + timedelta(days=p.within_days))  # type: ignore[attr-defined]


def _removal_timers(rule: ActiveRule, inp: Input, state: StateView, groups: list[GroupRecord], start,
                    p: RemoveParams) -> list[Output]:
    a = inp.actor
    out: list[Output] = []
    for g in groups:
        for user in accounts_on(a, g.platform):
            if state.member(g.platform, g.group_id, user) is not None:
                out.append(TimerSet(key=f"{g.ref}|{user}", due=_deadline(inp, start, p), scope=f"{g.ref}|{user}",
                                    data={"platform": g.platform, "group_id": g.group_id, "user_id": user,
                                          "employee_id": a.employee_id, "name": a.name}))
    return out


def _cancel_on_leave(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    return [TimerCancel(f"{inp.platform}:{inp.group_id}|{inp.user_id}", inp.time)]


def _groups_of(state: StateView, person) -> list[GroupRecord]:
    out = []
    for platform, user in person.accounts:
        for m in state.groups_of(platform, user):
            g = state.group(platform, m.group_id)
            if g is not None:
                out.append(g)
    return out


@detector("departed_not_removed", on=(roster.EmployeeDeparted, chat.MemberLeft, chat.MemberRemoved, TimerFired),
          params=RemoveParams)
def departed_not_removed(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """离职员工须在 N 天内移出群；逾期群主和管理员连带 / departed staff removed within N days."""
    ev = inp.event
    if isinstance(ev, roster.EmployeeDeparted) and inp.actor is not None:
        groups = [g for g in _groups_of(state, inp.actor) if _in_scope(rule, g)]
        return _removal_timers(rule, inp, state, groups, ev.leave_date, rule.params)
    if isinstance(ev, TimerFired):
        d = ev.data
        g = state.group(d["platform"], d["group_id"])
        if g is None or state.member(d["platform"], d["group_id"], d["user_id"]) is None:
            return []
        liable = group_admin_employees(state, g)
        owner = g.owner_employee_id or (liable[0] if liable else None)
        e = Evidence(summary=f"离职人员 {d['name']} 超过期限仍在群「{g.name or g.group_id}」中 / "
                             "a departed employee is still in the group after the deadline",
                     details={"departed_employee_id": d["employee_id"], "deadline": ev.due.isoformat()})
        return [Finding(rule_id=rule.id, category=rule.spec.category, severity=rule.spec.severity, evidence=e,
                        platform=g.platform, occurred_at=ev.due, causing_event_ids=tuple(ev.causing_event_ids),
                        group_id=g.group_id, user_id=d["user_id"], employee_id=owner,
                        liable_employee_ids=tuple(liable), dedupe=(g.ref, d["user_id"]))]
    return _cancel_on_leave(rule, inp, state)


@detector("transferred_not_removed", on=(roster.EmployeeTransferred, chat.MemberLeft, chat.MemberRemoved,
                                         TimerFired), params=RemoveParams)
def transferred_not_removed(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """调岗交接完成后须退出原岗位的群 / after a transfer, leave the old role's groups after handover."""
    ev = inp.event
    if isinstance(ev, roster.EmployeeTransferred) and inp.actor is not None:
        handover = ev.handover_date or inp.actor.handover_date
        if handover is None or ev.old_department_id is None:
            return []
        groups = [g for g in _groups_of(state, inp.actor) if _in_scope(rule, g)
                  and g.category == "department" and g.department_id == ev.old_department_id]
        return _removal_timers(rule, inp, state, groups, handover, rule.params)
    if isinstance(ev, TimerFired):
        d = ev.data
        g = state.group(d["platform"], d["group_id"])
        if g is None or state.member(d["platform"], d["group_id"], d["user_id"]) is None:
            return []
        e = Evidence(summary=f"{d['name']} 调岗交接后仍在原部门群「{g.name or g.group_id}」/ still in the old "
                             "department's group after handover", details={"deadline": ev.due.isoformat()})
        return [Finding(rule_id=rule.id, category=rule.spec.category, severity=rule.spec.severity, evidence=e,
                        platform=g.platform, occurred_at=ev.due, causing_event_ids=tuple(ev.causing_event_ids),
                        group_id=g.group_id, user_id=d["user_id"], employee_id=d["employee_id"],
                        dedupe=(g.ref, d["user_id"]))]
    return _cancel_on_leave(rule, inp, state)


class NewHireParams(_P):
    add_between: tuple[int, int] = (3, 5)
    categories: list[str] = ["company", "department"]
    historic_after_days: int = Field(30, ge=0, description=(
        "A hire whose add-by deadline had passed more than this many days before the hire event "
        "arrived is a historic record (an initial HR import, a backfill), not judged."))


def new_hire_deadline(rule: ActiveRule, inp: Input, ev: roster.EmployeeHired) -> datetime | None:
    """The add-by deadline of a hire, or None when the rule does not judge this hire.

    Not judged (precisely): (1) the deadline is before the pack's ``effective_from`` — the rule was
    not in force when the obligation fell due; (2) the deadline had passed more than
    ``historic_after_days`` days before the hire event's time — the record describes someone hired
    long ago (an initial import of long-serving staff), and whether they were added in their first
    days is not something our records can show. A hire recorded a few days late is still judged:
    its deadline fires as soon as the event arrives.
    """
    start = ev.facts.hire_date or inp.runtime.local(inp.time).date()  # type: ignore[attr-defined]
    due = inp.runtime.end_of_day(start + timedelta(days=rule.params.add_between[1]))  # type: ignore[attr-defined]
    if due < inp.runtime.pack.effective_from:
        return None
    if due < inp.time - timedelta(days=rule.params.historic_after_days):
        return None
    return due


@detector("new_hire_not_added", on=(roster.EmployeeHired, TimerFired), params=NewHireParams)
def new_hire_not_added(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """新员工入职第 3–5 天内由部门负责人拉入公司群和部门群 / new hires added by day 5.

    Historic hires (an initial HR import of long-serving staff) are not judged: see
    :func:`new_hire_deadline`."""
    ev = inp.event
    if isinstance(ev, roster.EmployeeHired):
        due = new_hire_deadline(rule, inp, ev)
        if due is None:
            return []
        return [TimerSet(key=ev.employee_id, due=due, data={"employee_id": ev.employee_id}, scope=ev.employee_id)]
    if not isinstance(ev, TimerFired):
        return []
    person = state.person(ev.data["employee_id"])
    if person is None or person.status == "departed":
        return []
    missing = []
    for g in state.groups():
        wanted = g.registered and g.category in rule.params.categories and _in_scope(rule, g) and (
            g.category != "department" or g.department_id == person.department_id)
        if not wanted:
            continue
        joined = [state.member(g.platform, g.group_id, u) for u in accounts_on(person, g.platform)]
        if not any(m is not None and (m.joined_at is None or m.joined_at <= ev.due) for m in joined):
            missing.append(g)
    if not missing:
        return []
    head = department_head(state, person.department_id)
    names = "、".join(g.name or g.group_id for g in missing)
    e = Evidence(summary=f"新员工 {person.name} 入职 {rule.params.add_between[1]} 天内未加入：{names} / "
                         "new hire not added to required groups", details={"groups": [g.ref for g in missing]})
    return [Finding(rule_id=rule.id, category=rule.spec.category, severity=rule.spec.severity, evidence=e,
                    platform=missing[0].platform, occurred_at=ev.due, causing_event_ids=tuple(ev.causing_event_ids),
                    group_id=missing[0].group_id, employee_id=person.employee_id,
                    liable_employee_ids=(head.employee_id,) if head else ())]


class InactiveParams(_P):
    silent_for: Seconds = 90 * 86400.0


@detector("inactive_member", on=(chat.MessagePosted, chat.MemberJoined, chat.MemberLeft, chat.MemberRemoved,
                                 TimerFired), params=InactiveParams)
def inactive_member(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """三个月不发言的成员应清退 / members silent for 90 days are removed.

    One timer per membership, armed once; when it comes due and the member spoke meanwhile, it is
    re-armed from their last message instead of firing (so a message costs a lookup, not a write).
    """
    ev, key = inp.event, inp.member_ref
    if isinstance(ev, (chat.MessagePosted, chat.MemberJoined)):
        t = state.timer(rule.timer_ns, key)
        if t is not None and not t.fired:
            return []  # armed already (nearly every message)
        silent = timedelta(seconds=rule.params.silent_for)
        return [TimerSet(key=key, due=inp.time + silent, scope=key,
                         data={"platform": inp.platform, "group_id": inp.group_id, "user_id": inp.user_id})]
    if not isinstance(ev, TimerFired):
        return [TimerCancel(key, inp.time)]
    silent = timedelta(seconds=rule.params.silent_for)
    d = ev.data
    m = state.member(d["platform"], d["group_id"], d["user_id"])
    if m is None:
        return []
    last = m.last_spoke_at or m.joined_at
    if last is not None and last + silent > ev.due:
        return [TimerSet(key=ev.key, due=last + silent, scope=ev.key, data=d,
                         causing_event_ids=tuple(ev.causing_event_ids))]
    person = state.person_by_account(d["platform"], d["user_id"])
    days = int(rule.params.silent_for // 86400)
    e = Evidence(summary=f"{who(person, d['user_id'])} 已 {days} 天未发言 / silent for {days} days",
                 details={"last_spoke_at": last.isoformat() if last else None})
    return [Finding(rule_id=rule.id, category=rule.spec.category, severity=rule.spec.severity, evidence=e,
                    platform=d["platform"], occurred_at=ev.due, causing_event_ids=tuple(ev.causing_event_ids),
                    group_id=d["group_id"], user_id=d["user_id"], employee_id=person.employee_id if person else None,
                    dedupe=(ev.due.isoformat(),))]


@detector("unrelated_group", on=(chat.MemberJoined,))
def unrelated_group(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """不得加入与本职工作无关的部门群 / nobody joins another department's group without reason."""
    g, a = inp.group, inp.actor
    if g is None or a is None or not g.registered or g.category != "department" or not g.department_id:
        return []
    if a.department_id == g.department_id or a.level == "executive":
        return []
    if "external" in state.approvals(g.platform, g.group_id, inp.user_id or ""):
        return []
    ev = Evidence(summary=f"{a.name}（{a.department or '-'}）加入了无关部门的群「{g.name or g.group_id}」/ "
                          "joined another department's group")
    return [rule.finding(inp, ev)]
