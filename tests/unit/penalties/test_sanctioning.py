"""Pure decisions: shared liability, review routing, merits, and the enforcement a sanction needs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from contracts.sanctions import ReviewRequested, SanctionImposed, SanctionItem
from contracts.violations import Evidence, MeritDetected, ViolationDetected
from services.penalties.ladder import Prior
from services.penalties.notices import describe, enforcement_for
from services.penalties.pack import PackView
from services.penalties.sanctioning import decide_merit, decide_violation

pytestmark = pytest.mark.unit
CST = timezone(timedelta(hours=8))
AT = datetime(2024, 4, 8, 11, 0, tzinfo=CST)
PACK = PackView({
    "rules": [{"id": "member.departed_not_removed", "title": "离职人员须3天内移出", "ladder": "fine20"},
              {"id": "content.confidential", "title": "严禁泄露机密", "ladder": "leak"}],
    "ladders": {"fine20": {"window": "calendar_month", "steps": [{"items": [{"kind": "fine", "amount_cny": "20"}]}]},
                "leak": {"steps": [{"items": [{"kind": "programme_points", "points": [-2000, -200],
                                               "decider": "董事长"}]}]}},
    "points": {"merits": {"daily_share": 1, "monthly_streak": 20}}})


def violation(rule: str, liable: list[str] = ()) -> ViolationDetected:
    return ViolationDetected(violation_id="v-1", rule_id=rule, category="member", severity="medium",
                             policy_id="default", policy_version=1, platform="wecom", group_id="wrOg1",
                             user_id="zhangwei", employee_id="E1001", liable_employee_ids=list(liable),
                             occurred_at=AT, causing_event_ids=["ev-1"], evidence=Evidence(summary="离职员工王芳仍在群内"))


def test_departed_member_left_in_group_fines_owner_and_each_admin_too():
    out = decide_violation(violation("member.departed_not_removed", ["E9001", "E9002", "E1001"]), PACK,
                           standing=lambda p, l: Prior(0, [AT - timedelta(days=2)] if p == "E9002" else []),
                           department=lambda p: "D01")
    assert [(d.employee_id, d.liability, d.repeat_count) for d in out] == [
        ("E1001", "actor", 1), ("E9001", "shared", 1), ("E9002", "shared", 2)]
    assert all(isinstance(d, SanctionImposed) and d.items[0].amount_cny == Decimal("20.00") for d in out)
    assert len({d.sanction_id for d in out}) == 3


def test_a_range_step_becomes_a_review_naming_the_decider():
    [d] = decide_violation(violation("content.confidential"), PACK, standing=lambda p, l: Prior(0, []), department=lambda p: None)
    assert isinstance(d, ReviewRequested) and "董事长" in d.reason


def test_a_rule_without_ladder_sanctions_nobody():
    assert decide_violation(violation("content.unknown"), PACK, lambda p, l: Prior(0, []), lambda p: None) == []


def test_merits_earn_the_programme_points_and_unknown_kinds_nothing():
    def merit(kind: str) -> MeritDetected:
        return MeritDetected(merit_id=f"m-{kind}", rule_id="points.share", kind=kind, policy_id="default",
                             policy_version=1, platform="wecom", employee_id="E1001", occurred_at=AT,
                             causing_event_ids=["e"], evidence=Evidence(summary="本月分享27天"))
    assert decide_merit(merit("monthly_streak"), PACK, lambda p: "D01").points == 20
    assert decide_merit(merit("admin_duty"), PACK, lambda p: "D01") is None


def test_removal_posts_a_notice_first_then_removes_and_a_fine_alone_stays_private():
    items = [SanctionItem(kind="warning"), SanctionItem(kind="removal")]
    cmds = enforcement_for(sanction_id="s1", items=items, platform="qq", group_id="80001", user_id="u1",
                           text="【清退说明】…", at=AT)
    assert [c.action for c in cmds] == ["notice", "remove"]
    assert enforcement_for(sanction_id="s2", items=[SanctionItem(kind="fine", amount_cny=Decimal("20"))],
                           platform="qq", group_id="80001", user_id="u1", text="x", at=AT) == []
    assert describe([SanctionItem(kind="mute", duration_s=604800)]) == "禁言 1周"
