"""Behaviour in a group (catalog section 3, the non-lexicon rules)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.rules.world import World, at

pytestmark = pytest.mark.unit


def test_ten_messages_in_a_minute_is_flooding_flagged_once_per_burst(company: World):
    start = at(3, 10)
    for i in range(14):
        company.say("all", "liuyang", f"冲冲冲{i}", start + timedelta(seconds=4 * i))
    [v] = company.violations("content.flooding")
    assert v.employee_id == "E0100" and len(v.causing_event_ids) == 10


def test_ten_messages_spread_over_ten_minutes_is_not_flooding(company: World):
    for i in range(10):
        company.say("all", "liuyang", f"第{i}条进度更新", at(3, 10, i))
    assert company.violations("content.flooding") == []


def test_six_pictures_in_ten_minutes_is_image_flooding_but_five_is_not(company: World):
    for i in range(5):
        company.say("sales", "chenchen", None, at(3, 10, i), msg_type="image")
    assert company.violations("content.image_flooding") == []
    company.say("sales", "chenchen", None, at(3, 10, 6), msg_type="image")
    assert [v.employee_id for v in company.violations("content.image_flooding")] == ["E0101"]


def test_the_same_ad_posted_twice_in_a_project_group_is_flagged(company: World):
    company.register("proj", "天高集团展会项目群", "project", owner="E0010")
    ad = "本店新到一批茅台，团购价优惠，需要的私聊我～"
    company.say("proj", "chenchen", ad, at(3, 10))
    company.say("proj", "chenchen", "本店新到一批 茅台，团购价优惠！需要的私聊我", at(4, 10))
    [v] = company.violations("content.ads_repeated")
    assert len(v.causing_event_ids) == 2


def test_a_different_text_is_not_a_repeated_ad(company: World):
    company.register("proj", "天高集团展会项目群", "project", owner="E0010")
    company.say("proj", "chenchen", "本店新到一批茅台，团购价优惠，需要的私聊我～", at(3, 10))
    company.say("proj", "chenchen", "展会物料清单已经放到共享盘，请大家核对", at(4, 10))
    assert company.violations("content.ads_repeated") == []


def test_a_long_text_without_a_link_is_too_long_but_with_a_link_is_fine(company: World):
    long_text = "今天和大家分享一下我读《高效能人士的七个习惯》的体会，" * 10
    company.say("all", "liuyang", long_text, at(3, 10))
    company.say("all", "chenchen", long_text + " https://mp.weixin.qq.com/s/abc", at(3, 11))
    assert [v.employee_id for v in company.violations("content.too_long")] == ["E0100"]


def test_chatting_at_midnight_is_quiet_hours_once_per_night(company: World):
    company.say("all", "liuyang", "还有人没睡吗", at(3, 23, 45))
    company.say("all", "liuyang", "明天要交的表做完了", at(4, 0, 10))
    company.say("all", "liuyang", "早上好", at(4, 7, 40))
    assert len(company.violations("content.quiet_hours")) == 1


def test_quiet_hours_exempt_executives(company: World):
    company.say("all", "zhangzong", "明早八点开会", at(3, 23, 50))
    assert company.violations("content.quiet_hours") == []


def test_idle_chat_in_the_company_group_after_hours_is_flagged(company: World):
    company.say("all", "liuyang", "今晚谁来开黑吃鸡", at(3, 20, 0))
    company.say("all", "chenchen", "今晚谁来开黑吃鸡", at(4, 10, 0))   # working time: not this rule
    company.say("all", "chenchen", "明天的方案我晚上再改改", at(4, 20, 0))  # work talk after hours
    assert [v.employee_id for v in company.violations("content.after_hours_non_work")] == ["E0100"]


def test_eight_alternating_messages_between_two_people_should_go_private(company: World):
    for i in range(8):
        user = "liuyang" if i % 2 == 0 else "chenchen"
        company.say("sales", user, f"那个报价第{i}版你看了吗", at(3, 10, i))
    [v] = company.violations("content.point_to_point")
    assert v.employee_id == "E0101" and v.liable_employee_ids == ["E0100"]


def test_a_third_person_breaking_the_exchange_resets_it(company: World):
    for i in range(8):
        user = "wangjl" if i == 4 else ("liuyang" if i % 2 == 0 else "chenchen")
        company.say("sales", user, f"那个报价第{i}版你看了吗", at(3, 10, i))
    assert company.violations("content.point_to_point") == []


def test_at_all_by_a_plain_member_is_misuse_but_by_the_owner_is_not(company: World):
    company.say("sales", "liuyang", "@所有人 周末一起爬山吗", at(3, 10), mention_all=True)
    company.say("sales", "wangjl", "@所有人 下午三点开周会", at(3, 11), mention_all=True)
    assert [v.employee_id for v in company.violations("content.at_all_misuse")] == ["E0100"]
