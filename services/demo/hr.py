"""HR changes and membership cases: hires, transfers, departures (as SCIM documents), joins, kicks,
self-exits, nickname changes, outsiders, an unregistered group and an expired one.

Deadline labels name the deadline the default pack sets (departed members removed within 3 days,
transferred ones 3 days after handover, new hires in the company and department groups by day 5,
groups registered within 5 working days); a case is labelled only when that deadline passes before
the simulated period ends, so the rules engine has an event past it.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from services.demo import texts
from services.demo.activity import Builder, HrChange, at
from services.demo.company import DEPARTMENTS, Employee, Group
from services.demo.payloads import scim_user

INTERNAL = ("company", "management", "department", "project")


def _end_of_day(d: date) -> datetime:
    return at(d, 23, 59, 59)


def _officials(b: Builder) -> set[str]:
    return {e for g in b.company.groups for e in (g.owner_id, *g.admin_ids)}


def plain_staff(b: Builder, department: str | None = None) -> str:
    """A regular staff member who owns/administers no group and has no HR change yet."""
    pool = [e.employee_id for e in b.people.values() if e.level == "staff" and e.status == "regular"
            and e.employee_id not in b.busy and e.employee_id not in _officials(b)
            and not any(e.employee_id in g.members for g in b.extra_groups)
            and e.department not in ("总经办",) and (department is None or e.department == department)]
    eid = b.rng.choice(sorted(pool))
    b.busy.add(eid)
    return eid


def dept_group(b: Builder, department: str) -> Group:
    return next(g for g in b.groups("department") if g.department == department)


def groups_of(b: Builder, eid: str) -> list[Group]:
    return [g for g in b.company.groups if eid in b.members[g.ref]]


def _operator(g: Group, eid: str) -> str:
    return g.admin_ids[0] if g.admin_ids and g.admin_ids[0] != eid else g.owner_id


def remove(b: Builder, g: Group, eid: str, t: datetime) -> None:
    op = _operator(g, eid)
    b.add(g, t, "member_removed", b.account(g, eid), clean=False, nickname=b.nickname(eid),
          operator_id=b.account(g, op))
    b.leave(g, eid)


def add_member(b: Builder, g: Group, eid: str, t: datetime, operator: str | None = None) -> None:
    op = operator or _operator(g, eid)
    b.add(g, t, "member_joined", b.account(g, eid), clean=False, nickname=b.nickname(eid),
          operator_id=b.account(g, op))
    b.join(g, eid)
    b.reserved.add((g.ref, t.date(), eid))


def _change(b: Builder, kind: str, e: Employee, t: datetime, method: str, **doc) -> HrChange:
    change = HrChange(f"hr-{kind}-{e.employee_id}-{t:%Y%m%d}", t, kind, e.employee_id, method,
                      scim_user(b.company, e, **doc))
    b.hr.append(change)
    return change


# -- departures, transfers, hires --------------------------------------------------------------

def depart(b: Builder, t: datetime, leave: date, removed_at: datetime | None, period_end: datetime) -> None:
    eid = plain_staff(b)
    e = b.people[eid]
    change = _change(b, "depart", e, t, "PUT", status="departed", leave_date=leave, active=False)
    due = _end_of_day(leave + timedelta(days=3))
    for g in groups_of(b, eid):
        if removed_at is not None:
            remove(b, g, eid, removed_at + timedelta(minutes=b.rng.randint(0, 30)))
        elif g.category in INTERNAL and due < period_end:
            b.label("member.departed_not_removed", change.id, g, b.account(g, eid), due, "离职未移出 / still in")


def transfer(b: Builder, t: datetime, handover: date, removed_at: datetime | None, period_end: datetime) -> None:
    old = b.rng.choice([d.name for d in DEPARTMENTS[1:]])
    eid = plain_staff(b, old)
    new = b.rng.choice([d.name for d in DEPARTMENTS[1:] if d.name != old])
    e = dataclasses.replace(b.people[eid], department=new, manager_id=b.company.heads[new])
    b.people[eid] = e
    change = _change(b, "transfer", e, t, "PUT", handover_date=handover)
    add_member(b, dept_group(b, new), eid, t + timedelta(hours=2))
    g_old = dept_group(b, old)
    due = _end_of_day(handover + timedelta(days=3))
    if removed_at is not None:
        remove(b, g_old, eid, removed_at)
    elif due < period_end:
        b.label("member.transferred_not_removed", change.id, g_old, b.account(g_old, eid), due, "调岗未退原部门群")


def new_accounts(b: Builder, n: int) -> dict[str, str]:
    """Platform accounts for the ``n``-th employee, none already held by anyone in the company.

    The builder's generator may repeat the company generator's draws (both start from the same
    seed), so a drawn id is checked against every account in use and drawn again on a clash: a
    duplicate would make the roster refuse the hire (SCIM 409) and the hire would never reach rules."""
    rng = b.rng
    taken = {(platform, user) for e in b.people.values() for platform, user in e.accounts.items()}
    makers = {"qq": lambda: str(rng.randint(3_000_000_000, 3_999_999_999)),
              "dingtalk": lambda: "1" + "".join(rng.choice("0123456789") for _ in range(16)),
              "wecom": lambda: f"tg{n:04d}",
              "feishu": lambda: "ou_" + f"{rng.getrandbits(128):032x}"}
    accounts: dict[str, str] = {}
    for platform, make in makers.items():
        for _ in range(100):
            value = make()
            if (platform, value) not in taken:
                break
        else:
            raise RuntimeError(f"no free {platform} account for hire #{n} / 无可用账号")
        accounts[platform] = value
    return accounts


def hire(b: Builder, t: datetime, hired: date, added_at: datetime | None, period_end: datetime) -> None:
    dept = b.rng.choice([d for d in DEPARTMENTS[1:]])
    n = len(b.people) + 1
    rng = b.rng
    accounts = new_accounts(b, n)
    from services.demo.names import person_name

    e = Employee(f"E{n:04d}", person_name(rng, {p.name for p in b.people.values()}), dept.name, "staff",
                 "probation", rng.choice(dept.titles), b.company.heads[dept.name], hired,
                 "19" + "".join(rng.choice("0123456789") for _ in range(9)), accounts)
    b.people[e.employee_id] = e
    b.hires.append(e)
    b.busy.add(e.employee_id)
    change = _change(b, "hire", e, t, "POST", hire_date=True)
    required = [g for g in b.groups("company")] + [dept_group(b, dept.name)]
    due = _end_of_day(hired + timedelta(days=5))
    if added_at is not None:
        for i, g in enumerate(required):
            add_member(b, g, e.employee_id, added_at + timedelta(minutes=5 * i))
    elif due < period_end:
        b.label("member.new_hire_not_added", change.id, required[0], e.employee_id, due, "新员工未入群")


# -- groups that are not in the registry, or should be gone ---------------------------------------

def unregistered_group(b: Builder, created: datetime, active_days: list[date], period_end: datetime) -> None:
    """A sales rep creates a discussion group nobody registers, and uses it on ``active_days``."""
    from services.demo.company import Group as G

    creator = plain_staff(b, "销售部")
    b.busy.discard(creator)  # speaks in other groups as usual; only their HR record stays untouched
    mates = b.rng.sample([e for e in sorted(dept_group(b, "销售部").members) if e != creator and e not in b.busy
                          and e not in _officials(b) and b.people[e].status == "regular"], 4)
    g = G("wecom", "wr" + f"{b.rng.getrandbits(104):026x}", "天高销售部华南攻坚小组", "project", creator, (),
          tuple([creator] + mates))
    b.extra_groups.append(g)
    b.members[g.ref] = {creator}
    ev = b.add(g, created, "group_created", b.account(g, creator), clean=False)
    b.label("group.unauthorized_creator", ev.id, g, b.account(g, creator), created, "普通员工建群 / staff created")
    from services.demo.activity import working_days

    wd = working_days(created.date() + timedelta(days=1), created.date() + timedelta(days=20))
    due = _end_of_day(wd[4])
    if due < period_end:
        b.label("group.unregistered", ev.id, g, b.account(g, creator), due, "5 个工作日未登记 / unregistered")
    for i, m in enumerate(mates):
        add_member(b, g, m, created + timedelta(minutes=1 + i), operator=creator)
    for n, d in enumerate(active_days):
        t = at(d, 10, 15)
        for k in range(3):
            who = [creator, *mates][(n + k) % 5]
            ev = b.say(g, who, t + timedelta(minutes=7 * k), b.unique_text(texts.STAFF_ONLY, g, d, who))
            if n == 4 and k == 0:
                b.label("group.discussion_not_upgraded", ev.id, g, b.account(g, creator), ev.time,
                        "未登记讨论组频繁使用 / used often")


def expired_groups(b: Builder) -> None:
    """Temporary groups whose end date plus 3 working days passed before the period: flagged on
    registration (the label's event is the registration itself)."""
    for g in b.groups("project"):
        if g.end_date is not None and g.end_date < b.company.as_of - timedelta(days=7):
            b.label("group.temp_not_dissolved", f"registration:{g.ref}", g, g.owner_id,
                    at(b.company.as_of, 0), "临时群到期未解散 / expired")


def setup(b: Builder, days: list[date], profile: str) -> None:
    first, end = days[0], _end_of_day(days[-1])
    expired_groups(b)
    if profile == "day":
        d = first
        depart(b, at(d, 7, 0), d - timedelta(days=1), at(d, 9, 40), end)
        depart(b, at(d, 7, 1), d - timedelta(days=5), None, end)
        transfer(b, at(d, 7, 2), d - timedelta(days=1), at(d, 10, 10), end)
        transfer(b, at(d, 7, 3), d - timedelta(days=6), None, end)
        hire(b, at(d, 7, 4), d - timedelta(days=8), None, end)
        hire(b, at(d, 7, 5), d - timedelta(days=2), at(d, 10, 0), end)
        unregistered_group(b, at(d - timedelta(days=10), 10), [d], end)
        return
    for k, offset in enumerate((2, 9, 16, 22)):
        d = first + timedelta(days=offset)
        hire(b, at(d, 8, 30), d, at(d + timedelta(days=3), 10) if k % 2 == 0 else None, end)
    for k, offset in enumerate((3, 10, 17)):
        d = first + timedelta(days=offset)
        depart(b, at(d, 8, 35), d, at(d + timedelta(days=1), 10) if k != 1 else None, end)
    for k, offset in enumerate((5, 12)):
        d = first + timedelta(days=offset)
        transfer(b, at(d, 8, 40), d + timedelta(days=2), at(d + timedelta(days=3), 10) if k == 0 else None, end)
    from services.demo.activity import working_days

    wd = working_days(first + timedelta(days=1), days[-1])
    unregistered_group(b, at(first + timedelta(days=1), 9, 30), wd[:6], end)


# -- joins, kicks, exits, nicknames (one day's worth) -------------------------------------------------

def _outsider_id(b: Builder, platform: str) -> str:
    rng = b.rng
    return {"qq": lambda: str(rng.randint(4_000_000_000, 4_199_999_999)),
            "wecom": lambda: "wm" + f"{rng.getrandbits(120):030x}",
            "dingtalk": lambda: "2" + "".join(rng.choice("0123456789") for _ in range(16)),
            "feishu": lambda: "ou_" + f"{rng.getrandbits(128):032x}"}[platform]()


def _not_in(b: Builder, g: Group, d: date, **kw) -> str | None:
    pool = [e for e, p in sorted(b.people.items()) if e not in b.members[g.ref] and e not in b.busy
            and (g.ref, d, e) not in b.reserved and p.status == "regular" and p.level == "staff"
            and all(p.department != x.department for x in b.groups("department") if x.ref == g.ref)]
    return b.rng.choice(pool) if pool else None


def membership_cases(b: Builder, d: date) -> None:
    rng = b.rng
    projects = [g for g in b.groups("project") if g.end_date and g.end_date > d]
    g = rng.choice(projects)
    newcomer = _not_in(b, g, d)
    if newcomer:
        add_member(b, g, newcomer, at(d, 9, rng.randint(10, 50)))                      # clean join
    g = rng.choice(projects)
    inviter, newcomer = b.pick(g, d, staff=True)[:1], _not_in(b, g, d)
    if inviter and newcomer:
        t = at(d, 14, rng.randint(0, 50))
        ev = b.add(g, t, "member_joined", b.account(g, newcomer), clean=False, nickname=b.nickname(newcomer),
                   operator_id=b.account(g, inviter[0]))
        b.join(g, newcomer)
        b.reserved.add((g.ref, d, newcomer))
        b.label("member.unauthorized_invite", ev.id, g, b.account(g, inviter[0]), t, "非管理员拉人 / not an admin")
    g = rng.choice(b.groups("department"))
    outsider, t = _outsider_id(b, g.platform), at(d, 11, rng.randint(0, 40))
    ev = b.add(g, t, "member_joined", outsider, clean=False, nickname="供应商-小陈",
               operator_id=b.account(g, g.admin_ids[0]))
    b.label("member.external", ev.id, g, outsider, t, "外部人员入群 / outsider joined")
    b.add(g, t + timedelta(minutes=15), "member_removed", outsider, clean=False, nickname="供应商-小陈",
          operator_id=b.account(g, g.admin_ids[0]))
    g = rng.choice(b.groups("department"))
    stranger = _not_in(b, g, d)
    if stranger:
        t = at(d, 15, rng.randint(0, 30))
        add_member(b, g, stranger, t)
        ev_id = b.events[-1].id
        b.label("member.unrelated_group", ev_id, g, b.account(g, stranger), t, "加入无关部门群 / unrelated")
        remove(b, g, stranger, t + timedelta(minutes=20))
    mgmt = next(x for x in b.groups("management") if x.admin_ids)
    trainees = [e for e, p in sorted(b.people.items()) if p.status in ("probation", "intern") and e not in b.busy
                and e not in b.members[mgmt.ref]]
    if trainees:
        p, t = rng.choice(trainees), at(d, 10, rng.randint(20, 50))
        add_member(b, mgmt, p, t)
        b.label("member.probation", b.events[-1].id, mgmt, b.account(mgmt, p), t, "试用期未批准入群 / probation")
        remove(b, mgmt, p, t + timedelta(minutes=30))
    company = b.groups("company")[0]
    leaver = b.pick(company, d, staff=True)
    if leaver:
        t = at(d, 17, rng.randint(0, 50))
        ev = b.add(company, t, "member_left", b.account(company, leaver[0]), clean=False,
                   nickname=b.nickname(leaver[0]))
        b.leave(company, leaver[0])
        b.label("member.self_exit", ev.id, company, b.account(company, leaver[0]), t, "自行退出全员群 / left")
    g = rng.choice(projects)
    quitter = b.pick(g, d, staff=True)
    if quitter:                                                                        # clean: project group
        b.add(g, at(d, 17, rng.randint(0, 50)), "member_left", b.account(g, quitter[0]), clean=False,
              nickname=b.nickname(quitter[0]))
        b.leave(g, quitter[0])
    kicked = b.pick(g, d, staff=True)
    if kicked:                                                                         # clean: admin removes
        remove(b, g, kicked[0], at(d, 16, rng.randint(0, 50)))
    from services.demo.scenarios import pick_sender

    g, who = pick_sender(b, rng.choice(b.groups("department")), d, "member.nickname_format")
    e = b.people[who]
    bad = rng.choice(texts.BAD_NICKNAMES).format(name=e.name, given=e.name[-1], dept=e.department)
    t = at(d, 12, rng.randint(5, 50))
    ev = b.add(g, t, "nickname_changed", b.account(g, e.employee_id), clean=False, nickname=bad)
    b.label("member.nickname_format", ev.id, g, b.account(g, e.employee_id), t, f"群昵称「{bad}」")
    b.add(g, t + timedelta(hours=2), "nickname_changed", b.account(g, e.employee_id), clean=False,
          nickname=e.nickname)
