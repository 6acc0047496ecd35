"""Groups themselves: creation, registration, naming, ownership, lifetime. Catalog section 1 (``group.*``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, field_validator

from contracts import chat, roster
from contracts.violations import Evidence
from services.rules.detectors._common import (
    PositiveInt,
    Seconds,
    group_admin_employees,
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


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _group_finding(rule: ActiveRule, g: GroupRecord, at, causes, summary: str, employee_id: str | None,
                   user_id: str | None = None, liable: tuple[str, ...] = (), **details) -> Finding:
    return Finding(rule_id=rule.id, category=rule.spec.category, severity=rule.spec.severity,
                   evidence=Evidence(summary=summary, text=g.name, details=details), platform=g.platform,
                   occurred_at=at, causing_event_ids=tuple(causes), group_id=g.group_id, user_id=user_id,
                   employee_id=employee_id, liable_employee_ids=liable, dedupe=(g.ref,))


class RegisterParams(_P):
    register_within_working_days: PositiveInt = 5


@detector("group_unregistered", on=(chat.GroupCreated, roster.GroupRegistered, chat.GroupDissolved, TimerFired),
          params=RegisterParams)
def group_unregistered(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """公司群须在创建后 N 个工作日内登记备案；逾期群主受罚 / register a group within N working days."""
    ev, ref = inp.event, f"{inp.platform}:{inp.group_id}"
    if isinstance(ev, chat.GroupCreated):
        created = inp.runtime.local(inp.time).date()  # type: ignore[attr-defined]
        due = inp.runtime.working_days_deadline(created, rule.params.register_within_working_days)  # type: ignore[attr-defined]
        return [TimerSet(key=ref, due=due, scope=ref, data={"platform": inp.platform, "group_id": inp.group_id,
                                                             "creator": ev.user_id})]
    if isinstance(ev, TimerFired):
        d = ev.data
        g = state.group(d["platform"], d["group_id"])
        if g is None or g.registered or g.dissolved or g.retired:
            return []
        creator = state.person_by_account(g.platform, d["creator"])
        return [_group_finding(rule, g, ev.due, ev.causing_event_ids,
                               f"群「{g.name or g.group_id}」创建后 {rule.params.register_within_working_days} 个工作日"
                               "内未登记 / not registered in time", creator.employee_id if creator else None,
                               d["creator"], deadline=ev.due.isoformat())]
    return [TimerCancel(ref, inp.time)]


class CreatorParams(_P):
    allowed_levels: list[str] = ["executive"]
    allowed_employees: list[str] = []
    allowed_departments: list[str] = []
    department_heads_may_create: bool = True


@detector("unauthorized_creator", on=(chat.GroupCreated,), params=CreatorParams)
def unauthorized_creator(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """只有总经办、副总或授权的行政中心可建群（部门群由部门经理建）/ only authorised people create groups."""
    a, p = inp.actor, rule.params
    if a is not None and (a.level in p.allowed_levels or a.employee_id in p.allowed_employees
                          or a.department_id in p.allowed_departments):
        return []
    if a is not None and p.department_heads_may_create and a.department_id:
        dept = state.department(a.department_id)
        if dept is not None and dept.head_id == a.employee_id:
            return []
    ev = Evidence(summary=f"{who(a, inp.user_id)} 无建群权限，创建了群「{inp.event.group_name or inp.group_id}」/ "
                          "created a group without authority")
    return [rule.finding(inp, ev)]


class NameParams(_P):
    pattern: str | None = None
    prefixes: list[str] = []
    use_company_abbreviations: bool = True
    use_department_names: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"正则无效 / invalid regex: {exc}") from exc
        return value


@detector("group_name_format", on=(chat.GroupCreated, chat.GroupRenamed, roster.GroupRegistered,
                                   roster.GroupUpdated), params=NameParams)
def group_name_format(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """群名 = 公司或部门简称 + 用途，如「天高集团官方微信平台」/ name = company or department + purpose."""
    ev, p = inp.event, rule.params
    name = ev.info.name if isinstance(ev, (roster.GroupRegistered, roster.GroupUpdated)) else ev.group_name
    if not name:
        return []
    prefixes = list(p.prefixes)
    if p.use_company_abbreviations:
        prefixes += inp.org.company_abbreviations
    if p.use_department_names and isinstance(ev, (roster.GroupRegistered, roster.GroupUpdated)) and ev.info.department_id:
        dept = state.department(ev.info.department_id)
        prefixes += [dept.name] if dept else []
    ok_pattern = p.pattern is None or re.fullmatch(p.pattern, name) is not None
    ok_prefix = not prefixes or any(name.startswith(x) and len(name) > len(x) for x in prefixes)
    if ok_pattern and ok_prefix:
        return []
    ev_ = Evidence(summary=f"群名「{name}」不符合「公司/部门简称+用途」格式 / group name does not follow the format",
                   text=name, details={"pattern": p.pattern, "prefixes": prefixes})
    return [rule.finding(inp, ev_, dedupe=(name,))]


class OwnerParams(_P):
    unknown_owner_grace_minutes: PositiveInt = 10


@detector("group_owner_not_employee", on=(roster.GroupRegistered, roster.GroupUpdated, TimerFired),
          params=OwnerParams)
def group_owner_not_employee(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """群主须为在职员工 / the owner must be a current employee.

    An owner who has left is flagged at once. An owner id HR has not told us about yet is judged
    after ``unknown_owner_grace_minutes``: the registration and the owner's hire travel on different
    partitions of the roster topic and may be read in either order."""
    ev, ref = inp.event, f"{inp.platform}:{inp.group_id}"
    if isinstance(ev, TimerFired):
        d = ev.data
        owner = state.person(d["owner_id"])
        g = state.group(d["platform"], d["group_id"])
        if owner is not None and owner.status != "departed" or g is None or g.owner_employee_id != d["owner_id"]:
            return []  # known by now, or the group has another owner since
        return [_owner_finding(rule, g, d["name"], d["owner_id"], owner, datetime.fromisoformat(d["at"]),
                               ev.causing_event_ids, d.get("registered_by"))]
    info = ev.info
    owner = state.person(info.owner_id) if info.owner_id else None
    if owner is not None and owner.status != "departed":
        return [TimerCancel(f"owner|{ref}", inp.time)]
    if owner is None and info.owner_id:
        return [TimerSet(key=f"owner|{ref}", scope=ref,
                         due=inp.time + timedelta(minutes=rule.params.unknown_owner_grace_minutes),
                         data={"platform": inp.platform, "group_id": inp.group_id, "owner_id": info.owner_id,
                               "name": info.name, "at": inp.time.isoformat(), "registered_by": info.registered_by})]
    g = inp.group or GroupRecord(platform=inp.platform or "other", group_id=inp.group_id or "")
    return [_owner_finding(rule, g, info.name, info.owner_id, owner, inp.time, (inp.event_id,), info.registered_by)]


def _owner_finding(rule: ActiveRule, g: GroupRecord, name: str | None, owner_id: str | None, owner, at, causes,
                   registered_by: str | None) -> Finding:
    state_word = "已离职 / has left" if owner is not None else "不是在职员工 / is not a current employee"
    return _group_finding(rule, g.evolve(name=name), at, tuple(causes),
                          f"群「{name}」的群主 {owner_id or '（无）'} {state_word}", registered_by, owner_id=owner_id)


class AdminsParams(_P):
    max_admins: PositiveInt = 2
    require_department_head_admin: bool = False


@detector("too_many_admins", on=(roster.GroupRegistered, roster.GroupUpdated, chat.AdminChanged), params=AdminsParams)
def too_many_admins(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """一个群 1 名群主、1–2 名管理员 / one owner and at most N admins."""
    ev, g = inp.event, inp.group
    if isinstance(ev, chat.AdminChanged):
        if g is None or ev.change != "set":
            return []
        admins = set(g.admin_user_ids) | {ev.user_id}
    else:
        admins = set(ev.info.admin_ids)
    if len(admins) <= rule.params.max_admins:
        return []
    g = g or GroupRecord(platform=inp.platform or "other", group_id=inp.group_id or "")
    owner = g.owner_employee_id or (ev.info.owner_id if not isinstance(ev, chat.AdminChanged) else None)
    return [_group_finding(rule, g, inp.time, (inp.event_id,),
                           f"群「{g.name or g.group_id}」有 {len(admins)} 名管理员，上限 {rule.params.max_admins} / "
                           "more admins than allowed", owner, admins=sorted(admins))]


@detector("group_owner_left", on=(roster.EmployeeDeparted, roster.EmployeeTransferred))
def group_owner_left(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """群主或管理员离职/调岗后须重新指定并登记 / name a new owner or admin when one leaves."""
    a = inp.actor
    if a is None:
        return []
    out: list[Output] = []
    for g in state.groups():
        if not g.registered or g.retired or g.dissolved:
            continue
        if a.employee_id == g.owner_employee_id or a.employee_id in g.admin_employee_ids:
            role = "群主" if a.employee_id == g.owner_employee_id else "管理员"
            liable = tuple(e for e in group_admin_employees(state, g) if e != a.employee_id)
            out.append(_group_finding(rule, g, inp.time, (inp.event_id,),
                                      f"{role} {a.name} 已离职或调岗，请重新指定并登记 / the {('owner' if role == '群主' else 'admin')} "
                                      "left: name a new one", liable[0] if liable else None, liable=liable[1:],
                                      left_employee_id=a.employee_id))
    return out


class TempParams(_P):
    dissolve_within_working_days: PositiveInt = 3


@detector("temp_not_dissolved", on=(roster.GroupRegistered, roster.GroupUpdated, roster.GroupRetired,
                                    chat.GroupDissolved, TimerFired), params=TempParams)
def temp_not_dissolved(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """临时/项目群在工作结束后 N 个工作日内解散 / dissolve temporary groups after their end date."""
    ev, ref = inp.event, f"{inp.platform}:{inp.group_id}"
    if isinstance(ev, (roster.GroupRegistered, roster.GroupUpdated)):
        if ev.info.lifetime != "temporary" or ev.info.end_date is None:
            return [TimerCancel(ref, inp.time)]
        due = inp.runtime.working_days_deadline(ev.info.end_date, rule.params.dissolve_within_working_days)  # type: ignore[attr-defined]
        return [TimerSet(key=ref, due=due, scope=ref, data={"platform": inp.platform, "group_id": inp.group_id,
                                                             "end_date": ev.info.end_date.isoformat()})]
    if isinstance(ev, TimerFired):
        g = state.group(ev.data["platform"], ev.data["group_id"])
        if g is None or g.dissolved or g.retired:
            return []
        return [_group_finding(rule, g, ev.due, ev.causing_event_ids,
                               f"临时群「{g.name or g.group_id}」于 {ev.data['end_date']} 结束后未按期解散 / "
                               "temporary group not dissolved in time", g.owner_employee_id,
                               liable=tuple(g.admin_employee_ids), deadline=ev.due.isoformat())]
    return [TimerCancel(ref, inp.time)]


class DiscussionParams(_P):
    active_days: PositiveInt = 5
    of_last_days: PositiveInt = 14


def in_unregistered_group(inp: Input, state: StateView) -> bool:
    """Precondition of ``discussion_not_upgraded``: the message is posted in a group we know of that
    is neither registered nor retired (registered groups are nearly all the traffic)."""
    g = inp.group
    return g is not None and not g.registered and not g.retired


@detector("discussion_not_upgraded", on=(chat.MessagePosted,), params=DiscussionParams, when=in_unregistered_group)
def discussion_not_upgraded(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """经常使用的临时讨论组须升级为登记群；发起人受罚 / an often-used discussion group must be registered."""
    g, p = inp.group, rule.params
    if g is None or g.registered or g.retired or state.counter(rule.memory_key(g.ref)):
        return []
    today = inp.runtime.local(inp.time).date()  # type: ignore[attr-defined]
    days = {d for d in g.active_days if today - d < timedelta(days=p.of_last_days)} | {today}
    if len(days) < p.active_days or today in g.active_days:
        return []  # flagged once: on the first message of the day that reaches the threshold
    creator = state.person_by_account(g.platform, g.creator_user_id) if g.creator_user_id else None
    causes = (g.created_event_id, inp.event_id) if g.created_event_id else (inp.event_id,)
    return [Remember(g.ref, {"flagged_at": inp.time.isoformat()}),
            _group_finding(rule, g, inp.time, causes,
                           f"未登记的讨论组「{g.name or g.group_id}」近 {p.of_last_days} 天有 {len(days)} 天在使用 / "
                           "an unregistered discussion group is used often", creator.employee_id if creator else None,
                           g.creator_user_id, active_days=len(days))]


class IdleParams(_P):
    idle_for: Seconds = 60 * 86400.0


@detector("group_idle", on=(chat.MessagePosted, TimerFired), params=IdleParams)
def group_idle(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """长期不用的群应撤销 / groups unused for a long time are retired.

    One timer per group, armed once and re-armed from the last message when it comes due early.
    """
    ev = inp.event
    if isinstance(ev, chat.MessagePosted):
        ref = inp.ref
        t = state.timer(rule.timer_ns, ref)
        if t is not None and not t.fired:
            return []  # armed already (every message but the group's first)
        return [TimerSet(key=ref, due=inp.time + timedelta(seconds=rule.params.idle_for), scope=ref,
                         data={"platform": inp.platform, "group_id": inp.group_id})]
    idle = timedelta(seconds=rule.params.idle_for)
    g = state.group(ev.data["platform"], ev.data["group_id"])
    if g is None or g.retired or g.dissolved:
        return []
    if g.last_message_at is not None and g.last_message_at + idle > ev.due:
        return [TimerSet(key=ev.key, due=g.last_message_at + idle, scope=ev.key, data=dict(ev.data),
                         causing_event_ids=tuple(ev.causing_event_ids))]
    days = int(rule.params.idle_for // 86400)
    return [_group_finding(rule, g, ev.due, ev.causing_event_ids,
                           f"群「{g.name or g.group_id}」已 {days} 天无人发言，建议撤销 / idle for {days} days",
                           g.owner_employee_id, last_message_at=g.last_message_at.isoformat() if g.last_message_at else None)]
