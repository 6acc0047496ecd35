"""Merits of the 鸡公山 points programme (seed 001), emitted as MeritDetected."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.rules.world import World, at

pytestmark = pytest.mark.unit

SHARE = "share-group-90"


@pytest.fixture
def jgs() -> World:
    w = World("jigongshan-points", platform="wechat")
    w.hire("E1", "杨帆", account="yangfan")
    w.hire("E2", "马丽", account="mali")
    w.register(SHARE, "鸡公山酒业90落地交流群", "company", owner="E1", admins=["E2"], dept=None)
    return w


def test_first_original_share_of_the_day_earns_a_merit_and_the_second_does_not(jgs: World):
    jgs.say(SHARE, "yangfan", "今天拜访了三家经销商，体会是先听后说，客户的需求比我们的话术重要。", at(3, 21))
    jgs.say(SHARE, "yangfan", "补充一点：拜访前要先看上月的进货数据。", at(3, 22))
    [m] = jgs.merits("daily_share")
    assert m.employee_id == "E1"


def test_a_share_after_midnight_but_before_two_counts_for_the_previous_day(jgs: World):
    jgs.say(SHARE, "yangfan", "今天拜访了三家经销商，体会是先听后说。", at(3, 21))
    jgs.say(SHARE, "yangfan", "深夜补一条：明天要跟进的客户清单已整理。", at(4, 1, 30))
    assert len(jgs.merits("daily_share")) == 1


def test_a_copy_of_a_colleagues_share_is_not_original(jgs: World):
    text = "读书分享：《定位》告诉我们，要在顾客心智中占据一个位置。"
    jgs.say(SHARE, "yangfan", text, at(3, 20))
    jgs.say(SHARE, "mali", text, at(3, 20, 30))
    assert [m.employee_id for m in jgs.merits("daily_share")] == ["E1"]


def test_sharing_on_27_days_of_a_month_earns_the_streak_bonus_once(jgs: World):
    start = at(1, 20)
    for day in range(28):
        jgs.say(SHARE, "yangfan", f"第{day + 1}天的工作心得：今天完成了经销商回访与库存盘点。", start + timedelta(days=day))
    assert len(jgs.merits("daily_share")) == 28
    [streak] = jgs.merits("monthly_streak")
    assert streak.evidence.details["month"] == "2025-03"


def test_26_days_of_sharing_earn_no_streak_bonus(jgs: World):
    for day in range(26):
        jgs.say(SHARE, "yangfan", f"第{day + 1}天的工作心得：今天完成了经销商回访。", at(1, 20) + timedelta(days=day))
    assert jgs.merits("monthly_streak") == []


def test_resharing_a_company_post_earns_a_merit_once_per_link(jgs: World):
    jgs.say(SHARE, "mali", "转发公司新品发布 https://mp.weixin.qq.com/s/jgs-2025-new", at(3, 10))
    jgs.say(SHARE, "mali", "再转一次 https://mp.weixin.qq.com/s/jgs-2025-new", at(3, 11))
    jgs.say(SHARE, "mali", "看看这个 https://example.com/other", at(3, 12))
    assert len(jgs.merits("reshare")) == 1


def test_group_admins_earn_a_weekly_duty_merit(jgs: World):
    jgs.say(SHARE, "yangfan", "本周分享主题：客户服务。", at(3, 9))
    jgs.tick(at(9, 23))
    assert jgs.merits("admin_duty") == []
    jgs.tick(at(10, 0, 5))
    assert sorted(m.employee_id for m in jgs.merits("admin_duty")) == ["E1", "E2"]


def test_a_non_compliant_profile_costs_points_every_day_it_is_seen(jgs: World):
    jgs.say("company", "yangfan", "早上好", at(3, 9), nickname="帆帆")
    jgs.say("company", "yangfan", "收到", at(3, 10), nickname="帆帆")
    jgs.say("company", "yangfan", "好的", at(4, 9), nickname="帆帆")
    jgs.say("company", "mali", "收到", at(4, 9), nickname="鸡公山酒业-马丽-13800001111")
    assert [v.employee_id for v in jgs.violations("member.nickname_format")] == ["E1", "E1"]
