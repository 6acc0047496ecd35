"""Reply SLAs (catalog section 4), counted in working minutes on the statutory calendar."""

from __future__ import annotations

import pytest

from tests.unit.rules.conftest import staff
from tests.unit.rules.world import World, at

pytestmark = pytest.mark.unit


def test_leader_task_unanswered_for_30_working_minutes_flags_the_mentioned_person(company: World):
    company.say("sales", "zhangzong", "@刘洋 客户合同今天下班前整理好发我", at(3, 10, 0), mentions=["liuyang"])
    company.say("sales", "chenchen", "我先看看", at(3, 10, 5))
    company.tick(at(3, 10, 31))
    [v] = company.violations("reply.leader_task")
    assert v.employee_id == "E0100"
    assert v.occurred_at == at(3, 10, 30)
    assert v.evidence.details["question_message_id"]


def test_leader_task_answered_by_the_mentioned_person_in_time_is_not_flagged(company: World):
    company.say("sales", "zhangzong", "@刘洋 客户合同今天下班前整理好发我", at(3, 10, 0), mentions=["liuyang"])
    company.say("sales", "liuyang", "收到，张总，我下午三点前发您", at(3, 10, 29))
    company.tick(at(3, 12, 0))
    assert company.violations("reply.leader_task") == []


def test_leader_question_without_mention_goes_to_the_department_head(company: World):
    company.say("sales", "zhangzong", "这个月华东区的回款进度怎么样？", at(3, 14, 0))
    company.tick(at(3, 15, 0))
    [v] = company.violations("reply.leader_task")
    assert v.employee_id == "E0010"


def test_chitchat_from_a_leader_opens_no_sla(company: World):
    company.say("sales", "zhangzong", "大家辛苦了", at(3, 14, 0))
    company.tick(at(3, 18, 0))
    assert company.violations("reply.leader_task") == []


def test_leader_task_on_friday_afternoon_is_due_monday_morning_across_the_weekend(company: World):
    # Friday 2025-03-07 17:50: 10 working minutes left on Friday, 20 more on Monday from 09:00.
    company.say("sales", "zhangzong", "@刘洋 周报请尽快提交", at(7, 17, 50), mentions=["liuyang"])
    company.tick(at(8, 12, 0))   # Saturday
    company.tick(at(10, 9, 15))  # Monday 09:15
    assert company.violations("reply.leader_task") == []
    company.say("sales", "liuyang", "好的，马上提交", at(10, 9, 19))
    company.tick(at(10, 10, 0))
    assert company.violations("reply.leader_task") == []


def test_leader_task_before_a_statutory_holiday_is_due_after_the_holiday():
    world = staff(World())
    # 2025-04-04 (Friday) is 清明节, a statutory holiday; 2025-04-03 17:45 leaves 15 minutes that day.
    world.say("sales", "zhangzong", "@刘洋 清明后第一天把报价单发客户", at(3, 17, 45, month=4), mentions=["liuyang"])
    world.tick(at(4, 11, 0, month=4))  # the holiday: not working time
    world.tick(at(7, 9, 10, month=4))  # Monday 09:10: 25 working minutes so far
    assert world.violations("reply.leader_task") == []
    world.tick(at(7, 9, 16, month=4))
    [v] = world.violations("reply.leader_task")
    assert v.occurred_at == at(7, 9, 15, month=4)


def test_a_reply_posted_before_the_deadline_but_processed_late_retracts_the_violation(company: World):
    from contracts.violations import ViolationDismissed

    company.say("sales", "zhangzong", "@刘洋 下午的会议纪要请整理", at(3, 10, 0), mentions=["liuyang"])
    company.tick(at(3, 11, 0))  # the tick overtook the chat partition
    [v] = company.violations("reply.leader_task")
    company.say("sales", "liuyang", "收到，正在整理", at(3, 10, 20))  # posted in time, processed late
    dismissed = [e.payload for e in company.emitted if isinstance(e.payload, ViolationDismissed)]
    assert [d.violation_id for d in dismissed] == [v.violation_id]


def test_employee_question_unanswered_by_their_department_head_is_flagged(company: World):
    company.say("sales", "liuyang", "请问这个客户的折扣能不能再让两个点？", at(3, 10, 0))
    company.tick(at(3, 10, 21))
    [v] = company.violations("reply.employee_question")
    assert v.employee_id == "E0010"


def test_employee_question_answered_by_the_head_within_20_minutes_is_fine(company: World):
    company.say("sales", "liuyang", "请问这个客户的折扣能不能再让两个点？", at(3, 10, 0))
    company.say("sales", "wangjl", "可以，按九五折走", at(3, 10, 12))
    company.tick(at(3, 11, 0))
    assert company.violations("reply.employee_question") == []


def test_public_question_goes_to_the_admin_centre_head(company: World):
    company.say("all", "liuyang", "请问这个月的报销单什么时候交？", at(3, 10, 0))
    company.tick(at(3, 10, 25))
    assert [v.employee_id for v in company.violations("reply.public_question")] == ["E0002"]
    assert company.violations("reply.employee_question") == []


def test_public_question_answered_by_the_admin_centre_is_fine(company: World):
    company.say("all", "liuyang", "请问这个月的报销单什么时候交？", at(3, 10, 0))
    company.say("all", "lizr", "25号之前交到行政中心", at(3, 10, 5))
    company.tick(at(3, 11, 0))
    assert company.violations("reply.public_question") == []


def test_notice_not_acknowledged_flags_each_silent_mentioned_member(company: World):
    company.say("sales", "wangjl", "【通知】明天上午9点开月度总结会，请回复收到", at(3, 10, 0),
                mentions=["liuyang", "chenchen"])
    company.say("sales", "chenchen", "收到", at(3, 10, 2))
    company.tick(at(3, 11, 1))
    assert [v.employee_id for v in company.violations("reply.notice_ack")] == ["E0100"]


def test_notice_acknowledged_by_everyone_is_fine(company: World):
    company.say("sales", "wangjl", "【通知】明天上午9点开月度总结会，请回复收到", at(3, 10, 0),
                mentions=["liuyang", "chenchen"])
    company.say("sales", "chenchen", "收到", at(3, 10, 2))
    company.say("sales", "liuyang", "收到，马上执行", at(3, 10, 30))
    company.tick(at(3, 12, 0))
    assert company.violations("reply.notice_ack") == []


def test_deflecting_an_issue_is_flagged_for_review(company: World):
    company.say("sales", "chenchen", "这个不归我管，你找别人吧", at(3, 10, 0))
    [v] = company.violations("reply.buck_passing")
    assert v.needs_review and v.evidence.matched == "不归我管"


def test_an_issue_left_unanswered_falls_on_the_group_owner(company: World):
    company.say("sales", "liuyang", "客户投诉发货慢，怎么办", at(3, 10, 0))
    company.tick(at(3, 12, 1))
    assert [v.employee_id for v in company.violations("reply.buck_passing")] == ["E0010"]


def test_an_issue_taken_up_by_a_colleague_is_fine(company: World):
    company.say("sales", "liuyang", "客户投诉发货慢，怎么办", at(3, 10, 0))
    company.say("sales", "chenchen", "我来跟物流确认", at(3, 10, 30))
    company.tick(at(3, 16, 0))
    assert company.violations("reply.buck_passing") == []


def test_company_account_not_answering_within_three_working_days_is_flagged(company: World):
    company.hire("E0500", "客服号", account="10001", dept="D-ADMIN", dept_name="行政中心")
    company.say("all", "liuyang", "@客服 请问发票怎么开", at(7, 10, 0), mentions=["10001"])  # Friday
    company.tick(at(12, 23, 0))  # Wed: 3 working days = Mon, Tue, Wed → not yet due
    assert company.violations("reply.platform_inbox") == []
    company.tick(at(13, 0, 1))
    assert [v.employee_id for v in company.violations("reply.platform_inbox")] == ["E0500"]


def test_company_account_answering_in_time_is_fine(company: World):
    company.hire("E0500", "客服号", account="10001", dept="D-ADMIN", dept_name="行政中心")
    company.say("all", "liuyang", "@客服 请问发票怎么开", at(7, 10, 0), mentions=["10001"])
    company.say("all", "10001", "您好，请在OA提交开票申请", at(10, 9, 0))
    company.tick(at(20, 10, 0))
    assert company.violations("reply.platform_inbox") == []
