"""A deterministic sample company: 天高集团, its departments, people, platform accounts and chat groups.

Why this shape: the default policy pack (``policies/company-default.yaml``) names the company 天高集团,
expects group names to start with 天高, nicknames as 「部门-姓名」 (executives exempt), the admin-centre
head as employee ``E0002``, and company-wide plus department groups that every employee must join.
The sample company is built to fit that pack, so a clean message really is clean and every
violation in the generated activity is one the generator put there on purpose.

Everyone has an account on every platform (QQ number, DingTalk staff id, WeCom userid, Feishu
open_id): the company group lives on DingTalk, department and project groups are spread over all
four platforms, customer groups are on WeCom and QQ.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from services.demo.names import CUSTOMERS, person_name

Platform = Literal["qq", "dingtalk", "wecom", "feishu"]
PLATFORMS: tuple[Platform, ...] = ("qq", "dingtalk", "wecom", "feishu")
Level = Literal["staff", "manager", "executive"]
Status = Literal["probation", "intern", "regular", "departed"]
Category = Literal["company", "management", "department", "project", "external"]

COMPANY = "天高集团"
DOMAIN = "tiangao.com"


@dataclass(frozen=True)
class DepartmentSpec:
    name: str
    code: str
    size: int
    platform: Platform
    head_title: str
    titles: tuple[str, ...]


DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec("总经办", "GMO", 5, "dingtalk", "总经理", ("副总经理",)),
    DepartmentSpec("行政中心", "ADMIN", 14, "dingtalk", "行政中心主任", ("行政专员", "前台", "司机", "后勤主管")),
    DepartmentSpec("销售部", "SALES", 42, "wecom", "销售部经理", ("客户经理", "销售代表", "大客户经理", "销售助理")),
    DepartmentSpec("市场部", "MKT", 18, "wecom", "市场部经理", ("品牌专员", "新媒体运营", "活动策划", "设计师")),
    DepartmentSpec("研发中心", "RND", 36, "feishu", "研发中心总监",
                   ("后端工程师", "前端工程师", "测试工程师", "硬件工程师", "产品经理")),
    DepartmentSpec("财务部", "FIN", 12, "dingtalk", "财务部经理", ("会计", "出纳", "成本会计", "税务专员")),
    DepartmentSpec("人力资源部", "HR", 10, "dingtalk", "人力资源部经理", ("招聘专员", "薪酬专员", "培训专员")),
    DepartmentSpec("客服部", "CS", 28, "qq", "客服部经理", ("客服专员", "售后工程师", "质检专员")),
    DepartmentSpec("生产部", "PROD", 40, "qq", "生产部经理", ("车间主任", "质检员", "操作工", "仓管员", "计划员")),
    DepartmentSpec("采购部", "PUR", 10, "dingtalk", "采购部经理", ("采购专员", "供应商管理专员")),
)


@dataclass(frozen=True)
class Employee:
    employee_id: str
    name: str
    department: str
    level: Level
    status: Status
    title: str
    manager_id: str | None
    hire_date: date
    mobile: str
    accounts: dict[str, str]

    @property
    def nickname(self) -> str:
        """The display name the pack's template wants; executives may use the bare name."""
        return self.name if self.level == "executive" else f"{self.department}-{self.name}"

    @property
    def is_leader(self) -> bool:
        return self.level in ("manager", "executive")


@dataclass(frozen=True)
class Outsider:
    """A customer or supplier contact in an external group (not an employee)."""

    user_id: str
    nickname: str


@dataclass(frozen=True)
class Group:
    platform: Platform
    group_id: str
    name: str
    category: Category
    owner_id: str
    admin_ids: tuple[str, ...]
    members: tuple[str, ...]
    department: str | None = None
    purpose: str = ""
    member_scope: str = ""
    lifetime: Literal["permanent", "temporary"] = "permanent"
    end_date: date | None = None
    outsiders: tuple[Outsider, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.platform}:{self.group_id}"


@dataclass
class Company:
    name: str
    domain: str
    as_of: date
    employees: list[Employee]
    groups: list[Group]
    heads: dict[str, str] = field(default_factory=dict)

    def employee(self, employee_id: str) -> Employee:
        return self._by_id()[employee_id]

    def _by_id(self) -> dict[str, Employee]:
        cache = getattr(self, "_cache", None)
        if cache is None or len(cache) != len(self.employees):
            cache = {e.employee_id: e for e in self.employees}
            object.__setattr__(self, "_cache", cache)
        return cache

    def in_department(self, department: str) -> list[Employee]:
        return [e for e in self.employees if e.department == department]

    @property
    def departments(self) -> list[str]:
        return [d.name for d in DEPARTMENTS]

    @property
    def platforms(self) -> set[str]:
        return {g.platform for g in self.groups}

    def group(self, ref: str) -> Group:
        return next(g for g in self.groups if g.ref == ref)


class _Ids:
    """Platform account and group ids in each platform's own format, unique within the company."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.seen:
                self.seen.add(value)
                return value

    def qq(self) -> str:
        return self._unique(lambda: str(self.rng.randint(10_000_000, 2_999_999_999)))

    def dingtalk(self) -> str:
        return self._unique(lambda: "0" + "".join(self.rng.choice("0123456789") for _ in range(16)))

    def feishu_open_id(self) -> str:
        return self._unique(lambda: "ou_" + f"{self.rng.getrandbits(128):032x}")

    def mobile(self) -> str:
        return self._unique(lambda: self.rng.choice("3578") + "".join(self.rng.choice("0123456789")
                                                                       for _ in range(9)))

    def group(self, platform: Platform) -> str:
        if platform == "qq":
            return self._unique(lambda: str(self.rng.randint(100_000_000, 999_999_999)))
        if platform == "dingtalk":
            return self._unique(lambda: "cid" + "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijk"
                                                                        "mnpqrstuvwxyz23456789")
                                                        for _ in range(22)) + "==")
        if platform == "wecom":
            return self._unique(lambda: "wr" + "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                                                       "klmnopqrstuvwxyz0123456789-_")
                                                       for _ in range(28)))
        return self._unique(lambda: "oc_" + f"{self.rng.getrandbits(128):032x}")


def _employees(rng: random.Random, ids: _Ids, as_of: date) -> tuple[list[Employee], dict[str, str]]:
    """Employee ids: E0001 总经理, E0002 行政中心主任 (the pack's admin_centre_head), E0003–E0005
    副总经理, then the other heads, then everyone else department by department."""
    taken: set[str] = set()
    people: list[Employee] = []
    heads: dict[str, str] = {}
    counter = iter(range(1, 10_000))

    def add(dept: str, level: Level, title: str, manager: str | None, status: Status = "regular") -> Employee:
        eid = f"E{next(counter):04d}"
        if status in ("probation", "intern"):
            hired = as_of - timedelta(days=rng.randint(20, 80))
        else:
            hired = as_of - timedelta(days=rng.randint(200, 4000))
        phone = "1" + ids.mobile()
        accounts = {"qq": ids.qq(), "dingtalk": ids.dingtalk(), "wecom": f"tg{eid[1:]}",
                    "feishu": ids.feishu_open_id()}
        e = Employee(eid, person_name(rng, taken), dept, level, status, title, manager, hired, phone, accounts)
        people.append(e)
        return e

    gm = add("总经办", "executive", "总经理", None)
    heads["总经办"] = gm.employee_id
    heads["行政中心"] = add("行政中心", "manager", "行政中心主任", gm.employee_id).employee_id
    vps = [add("总经办", "executive", "副总经理", gm.employee_id).employee_id for _ in range(3)]
    add("总经办", "staff", "总经理助理", gm.employee_id)
    for i, spec in enumerate(DEPARTMENTS[2:]):
        heads[spec.name] = add(spec.name, "manager", spec.head_title, vps[i % 3]).employee_id
    for spec in DEPARTMENTS[1:]:
        head = heads[spec.name]
        have = 1
        if spec.size >= 28:
            add(spec.name, "manager", spec.head_title.replace("经理", "副经理").replace("总监", "副总监"), head)
            have += 1
        for _ in range(spec.size - have):
            roll = rng.random()
            status: Status = "probation" if roll < 0.05 else "intern" if roll < 0.08 else "regular"
            title = "实习生" if status == "intern" else rng.choice(spec.titles)
            add(spec.name, "staff", title, head, status)
    return people, heads


def _pick(rng: random.Random, pool: list[Employee], n: int) -> list[Employee]:
    return rng.sample(pool, min(n, len(pool)))


def _groups(rng: random.Random, ids: _Ids, people: list[Employee], heads: dict[str, str],
            as_of: date) -> list[Group]:
    by_dept = {d.name: [e for e in people if e.department == d.name] for d in DEPARTMENTS}
    staff = lambda dept: [e for e in by_dept[dept] if e.level == "staff" and e.status == "regular"]
    leaders = [e for e in people if e.is_leader]
    everyone = tuple(e.employee_id for e in people)
    admin_clerk = staff("行政中心")[0].employee_id
    groups = [
        Group("dingtalk", ids.group("dingtalk"), "天高集团全员群", "company", heads["行政中心"], (admin_clerk,),
              everyone, None, "公司通知、制度发布、全员活动", "全体在职员工"),
        Group("dingtalk", ids.group("dingtalk"), "天高集团管理层工作群", "management", "E0001", ("E0002",),
              tuple(e.employee_id for e in leaders), None, "经营管理、任务布置与跟踪", "经理级及以上"),
        Group("wecom", ids.group("wecom"), "天高集团月度经营例会群", "management", "E0003", (),
              tuple(e.employee_id for e in leaders if e.title.endswith(("经理", "总监", "主任", "总经理"))),
              None, "月度经营分析会", "高管及部门负责人"),
    ]
    for spec in DEPARTMENTS[1:]:
        members = by_dept[spec.name]
        admin = staff(spec.name)[0].employee_id
        groups.append(Group(spec.platform, ids.group(spec.platform), f"天高{spec.name}工作群", "department",
                            heads[spec.name], (admin,), tuple(e.employee_id for e in members), spec.name,
                            f"{spec.name}日常工作沟通", f"{spec.name}全体员工"))
    projects = [("wecom", "天高华东区域招投标项目群", ["销售部", "财务部", "研发中心"], 75),
                ("feishu", "天高新品上市推广项目群", ["市场部", "研发中心", "销售部"], 90),
                ("feishu", "天高ERP升级项目群", ["研发中心", "财务部", "采购部", "生产部"], 120),
                ("qq", "天高年会筹备临时群", ["行政中心", "人力资源部", "市场部"], 60),
                ("dingtalk", "天高双十一大促保障项目群", ["客服部", "销售部", "生产部"], 100),
                ("qq", "天高春季展会临时群", ["市场部", "销售部"], -20)]   # ended before as_of: expired
    for platform, name, depts, days in projects:
        owner = rng.choice([e for e in by_dept[depts[0]] if e.is_leader])
        members = {owner.employee_id}
        for d in depts:
            members |= {e.employee_id for e in _pick(rng, staff(d), 6)}
        admin = min(members - {owner.employee_id})
        groups.append(Group(platform, ids.group(platform), name, "project", owner.employee_id, (admin,),
                            tuple(sorted(members)), owner.department,
                            name.removeprefix("天高").removesuffix("群"), "项目组成员", "temporary",
                            as_of + timedelta(days=days)))
    for platform, customer, dept in (("wecom", CUSTOMERS[0], "销售部"), ("wecom", CUSTOMERS[1], "销售部"),
                                     ("qq", "售后服务", "客服部")):
        team = _pick(rng, staff(dept), 4)
        label = customer if platform == "wecom" else "客户"
        outsiders = tuple(Outsider(f"wm{rng.getrandbits(60):015x}" if platform == "wecom" else ids.qq(),
                                   f"{label}-{person_name(rng, set())}") for _ in range(5))
        owner = heads[dept]
        groups.append(Group(platform, ids.group(platform), f"天高{customer}客户服务群", "external", owner,
                            (team[0].employee_id,), tuple([owner] + [e.employee_id for e in team]), dept,
                            f"{customer}订单与售后对接", "客户对接人与我方服务团队", outsiders=outsiders))
    return groups


def generate_company(seed: int = 2025, as_of: date = date(2025, 3, 3)) -> Company:
    """The sample company as it stands on ``as_of`` (project end dates are relative to it)."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    people, heads = _employees(rng, ids, as_of)
    return Company(COMPANY, DOMAIN, as_of, people, _groups(rng, ids, people, heads, as_of), heads)
