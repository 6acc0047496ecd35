"""The demo day as the live system sees it (HR changes arriving days after their dates, before the
earlier-dated chat; all three default packs published with their real scopes).

Regression for a live ``qg demo --fast --date 2026-11-20`` run in which company-default raised no
``member.departed_not_removed`` (×2), ``member.transferred_not_removed`` and
``member.new_hire_not_added``: the XY pack, which defines the same rule ids, overwrote
company-default's deadline timers (timers were keyed by rule id only) and armed them for groups
outside its QQ-only scope; the 鸡公山 points pack flagged the nickname of every WeCom member.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.unit.rules.demo_pipeline import Replay, replay_demo_day

pytestmark = pytest.mark.unit

INSULT = "你是不是脑残，这点事都做不好"
EXE_LINK = "新版打卡插件下载 http://103.45.67.89:8080/update.exe"


@pytest.fixture(scope="module")
def replay() -> Replay:
    a_group = "wrFKjsP-TWMTwQmbq8K9ryasC--ZZP"  # 天高 wecom department group of the seed-7 company
    extra = [{"platform": "wecom", "type": "message", "id": f"extra-{i}", "group_id": a_group,
              "user_id": "tg0061", "time": f"2026-11-20T16:4{i}:00+08:00", "nickname": "x", "msg_type": "text",
              "text": text, "mentions": [], "mention_all": False} for i, text in enumerate((INSULT, EXE_LINK))]
    return replay_demo_day(extra_chat=extra)


def test_company_default_raises_every_labelled_case_of_the_demo_day(replay: Replay):
    expected = Counter(label.rule_id for label in replay.activity.labels)
    raised = Counter(v.rule_id for v in replay.violations("company-default")
                     if not v.causing_event_ids or not v.causing_event_ids[0].startswith("chat-extra-"))
    missing = {rule: (n, raised[rule]) for rule, n in expected.items() if raised[rule] < n}
    assert missing == {}


def test_deadlines_recorded_after_they_passed_fire_under_company_default(replay: Replay):
    found = Counter(v.rule_id for v in replay.violations("company-default"))
    assert found["member.departed_not_removed"] == 2
    assert found["member.transferred_not_removed"] == 1
    assert found["member.new_hire_not_added"] == 1


def test_the_points_programme_flags_nothing_in_a_company_without_wechat_groups(replay: Replay):
    assert replay.violations("jigongshan-points") == []


def test_the_xy_pack_flags_only_in_qq_groups(replay: Replay):
    platforms = {v.platform for v in replay.violations("xy-qq-fines")}
    assert platforms <= {"qq"}


def test_an_insult_and_an_ip_address_exe_link_are_flagged_in_the_demo_company(replay: Replay):
    extra = [v for v in replay.violations("company-default") if v.causing_event_ids[0].startswith("chat-extra-")]
    by_rule = {v.rule_id: v for v in extra}
    assert by_rule["content.insult"].evidence.matched == "脑残"
    assert by_rule["content.malicious_link"].evidence.matched == "http://103.45.67.89:8080/update.exe"
