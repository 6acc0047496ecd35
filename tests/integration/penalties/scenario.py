"""A realistic small company for the penalties tests: a policy pack with the catalog ladders,
a roster (销售部, 技术部), and builders for violations and merits as the rules service emits them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from contracts.envelope import CloudEvent, new_event
from contracts.ids import derive_id, platform_event_id
from contracts.policy import PolicyPublished
from contracts.roster import Account, EmployeeFacts, EmployeeHired
from contracts.violations import Evidence, MeritDetected, ViolationDetected

CST = timezone(timedelta(hours=8))
LADDERS = yaml.safe_load((Path(__file__).parents[2] / "unit" / "penalties" / "catalog_ladders.yaml")
                         .read_text("utf-8"))["ladders"]
PACK = {
    "id": "default", "version": 1, "title": "默认群规", "effective_from": "2024-01-01T00:00:00+08:00",
    "organisation": {"timezone": "Asia/Shanghai"},
    "rules": [
        {"id": "content.ads", "detector": "lexicon", "title": "禁止发布广告", "ladder": "content_002"},
        {"id": "content.redline.porn", "detector": "lexicon", "title": "高压红线：色情低俗", "ladder": "redline_002"},
        {"id": "content.flooding", "detector": "rate", "title": "禁止恶意刷屏", "ladder": "flooding_mute"},
        {"id": "content.confidential", "detector": "lexicon", "title": "严禁泄露公司机密", "ladder": "points_leak_001"},
        {"id": "member.departed_not_removed", "detector": "roster", "title": "离职人员须3天内移出",
         "ladder": "fine_20_per_person"},
        {"id": "member.conduct", "detector": "lexicon", "title": "文明发言", "ladder": "conduct_004_template"},
        {"id": "member.qq_conduct", "detector": "lexicon", "title": "公司QQ群文明发言", "ladder": "qq_004"},
        {"id": "content.offtopic", "detector": "lexicon", "title": "工作群勿聊无关话题", "ladder": "reminder_then_fine"},
    ],
    "ladders": LADDERS,
    "notices": {"warning": "【群规提醒】@{name}：您违反了「{rule}」（{reason}），第{repeat}次，处理：{sanction}。"},
    "points": {"merits": {"daily_share": 1, "monthly_streak": 20, "best_post": 5}, "report_reward": 10},
}
PEOPLE = {
    "E1001": ("张伟", "D01", "销售部", "u1001"), "E1002": ("李娜", "D01", "销售部", "u1002"),
    "E2001": ("王强", "D02", "技术部", "u2001"), "E2002": ("刘洋", "D02", "技术部", "u2002"),
    "E9001": ("陈总", "D02", "技术部", "u9001"),
}


def ev(payload, id: str, time: datetime) -> CloudEvent:
    return new_event(payload, id=id, source="qunguard/test", time=time)


def policy_event() -> CloudEvent:
    p = PolicyPublished(policy_id="default", version=1, effective_from=datetime(2024, 1, 1, tzinfo=CST),
                        sha256="0" * 64, published_by="compliance@example.com", pack=PACK)
    return ev(p, derive_id("policy", "default", 1), p.effective_from)


def roster_events() -> list[CloudEvent]:
    out = []
    for eid, (name, dept_id, dept, uid) in PEOPLE.items():
        p = EmployeeHired(employee_id=eid, occurred_at=datetime(2023, 6, 1, tzinfo=CST),
                          facts=EmployeeFacts(name=name, department_id=dept_id, department=dept,
                                              accounts=[Account(platform="qq", user_id=uid)]))
        out.append(ev(p, derive_id("hire", eid), p.occurred_at))
    return out


def violation(n: str, rule_id: str, employee_id: str, at: datetime, *, summary: str = "发布广告",
              liable: list[str] | None = None, text: str = "加微信领取优惠券，代理招募中") -> CloudEvent:
    uid = PEOPLE[employee_id][3]
    msg_id = platform_event_id("qq", f"msg-{n}")
    p = ViolationDetected(violation_id=derive_id("violation", n), rule_id=rule_id, category=rule_id.split(".")[0],
                          severity="medium", policy_id="default", policy_version=1, platform="qq", group_id="80001",
                          user_id=uid, employee_id=employee_id, liable_employee_ids=liable or [], occurred_at=at,
                          causing_event_ids=[msg_id], evidence=Evidence(summary=summary, text=text))
    return ev(p, derive_id("violation-event", n), at)


def merit(n: str, kind: str, employee_id: str, at: datetime) -> CloudEvent:
    p = MeritDetected(merit_id=derive_id("merit", n), rule_id="points.share", kind=kind, policy_id="default",
                      policy_version=1, platform="qq", group_id="80002", user_id=PEOPLE[employee_id][3],
                      employee_id=employee_id, occurred_at=at, causing_event_ids=[platform_event_id("qq", f"share-{n}")],
                      evidence=Evidence(summary="原创分享"))
    return ev(p, derive_id("merit-event", n), at)
