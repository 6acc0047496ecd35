"""Membership (catalog section 2): who may be in which group, and removal deadlines."""

from __future__ import annotations

from datetime import date

import pytest

from contracts import chat, roster
from tests.unit.rules.world import World, at

pytestmark = pytest.mark.unit


def depart(world: World, eid: str, name: str, leave: date, when, account: str = "liuyang") -> None:
    facts = roster.EmployeeFacts(name=name, department_id="D-SALES", department="销售部", status="departed",
                                 leave_date=leave, accounts=[roster.Account(platform=world.platform,
                                                                             user_id=account)])
    world.send(roster.EmployeeDeparted(employee_id=eid, occurred_at=when, leave_date=leave, facts=facts))


def test_outsider_joining_an_internal_group_is_flagged_and_the_inviter_is_liable(company: World):
    company.join("sales", "wxid_kehu888", at(3, 10), nickname="张老板", operator="chenchen")
    [v] = company.violations("member.external")
    assert v.user_id == "wxid_kehu888" and v.liable_employee_ids == ["E0101"]


def test_approved_outsider_is_not_flagged(company: World):
    company.send(roster.MemberApproved(platform=company.platform, group_id="sales", occurred_at=at(3, 9),
                                       user_id="wxid_kehu888", kind="external", approved_by="E0010"))
    company.join("sales", "wxid_kehu888", at(3, 10), operator="wangjl")
    assert company.violations("member.external") == []


def test_probation_staff_joining_a_management_group_needs_approval(company: World):
    company.register("mgmt", "天高集团经营管理群", "management", owner="E0001", dept=None)
    company.hire("E0200", "赵敏", account="zhaomin", status="probation")
    company.hire("E0201", "孙丽", account="sunli", status="probation")
    company.send(roster.MemberApproved(platform=company.platform, group_id="mgmt", occurred_at=at(3, 9),
                                       user_id="sunli", kind="probation", approved_by="E0010"))
    company.join("mgmt", "zhaomin", at(3, 10), operator="zhangzong")
    company.join("mgmt", "sunli", at(3, 10), operator="zhangzong")
    assert [v.employee_id for v in company.violations("member.probation")] == ["E0200"]


def test_departed_member_left_in_group_fines_owner_and_admins_after_three_days(company: World):
    depart(company, "E0100", "刘洋", date(2025, 3, 3), at(3, 18))
    company.tick(at(6, 23, 59))
    assert company.violations("member.departed_not_removed") == []
    company.tick(at(7, 0, 1))
    found = {v.group_id: v for v in company.violations("member.departed_not_removed")}
    assert set(found) == {"sales", "all"}
    assert found["sales"].employee_id == "E0010" and found["sales"].liable_employee_ids == ["E0101"]
    assert found["sales"].evidence.details["departed_employee_id"] == "E0100"


def test_departed_member_removed_within_three_days_is_fine(company: World):
    depart(company, "E0100", "刘洋", date(2025, 3, 3), at(3, 18))
    for gid in ("sales", "all"):
        company.send(chat.MemberRemoved(platform=company.platform, group_id=gid, platform_event_id=f"r-{gid}",
                                        occurred_at=at(5, 10), user_id="liuyang", operator_id="wangjl"))
    company.tick(at(10, 9))
    assert company.violations("member.departed_not_removed") == []


def test_transferred_member_still_in_the_old_department_group_after_handover(company: World):
    facts = roster.EmployeeFacts(name="刘洋", department_id="D-MKT", department="市场部",
                                 accounts=[roster.Account(platform=company.platform, user_id="liuyang")])
    company.send(roster.EmployeeTransferred(employee_id="E0100", occurred_at=at(3, 9), old_department_id="D-SALES",
                                            new_department_id="D-MKT", handover_date=date(2025, 3, 5), facts=facts))
    company.tick(at(9, 9))
    [v] = company.violations("member.transferred_not_removed")
    assert v.group_id == "sales" and v.employee_id == "E0100"


def test_transferred_member_who_left_the_old_group_is_fine(company: World):
    facts = roster.EmployeeFacts(name="刘洋", department_id="D-MKT", department="市场部",
                                 accounts=[roster.Account(platform=company.platform, user_id="liuyang")])
    company.send(roster.EmployeeTransferred(employee_id="E0100", occurred_at=at(3, 9), old_department_id="D-SALES",
                                            new_department_id="D-MKT", handover_date=date(2025, 3, 5), facts=facts))
    company.send(chat.MemberLeft(platform=company.platform, group_id="sales", platform_event_id="l1",
                                 occurred_at=at(6, 9), user_id="liuyang"))
    company.tick(at(12, 9))
    assert company.violations("member.transferred_not_removed") == []


def test_new_hire_not_added_by_day_five_is_flagged_with_the_department_head_liable(company: World):
    company.hire("E0300", "周杰", account="zhoujie", hire_date=date(2025, 3, 3), when=at(3, 9))
    company.join("all", "zhoujie", at(6, 10), operator="zhangzong")
    company.tick(at(9, 0, 1))
    [v] = company.violations("member.new_hire_not_added")
    assert v.employee_id == "E0300" and v.liable_employee_ids == ["E0010"]
    assert v.evidence.details["groups"] == [f"{company.platform}:sales"]


def test_new_hire_added_to_both_groups_on_day_four_is_fine(company: World):
    company.hire("E0300", "周杰", account="zhoujie", hire_date=date(2025, 3, 3), when=at(3, 9))
    company.join("all", "zhoujie", at(6, 10), operator="zhangzong")
    company.join("sales", "zhoujie", at(7, 10), operator="wangjl")
    company.tick(at(12, 9))
    assert company.violations("member.new_hire_not_added") == []


def test_only_owner_or_admins_may_invite(company: World):
    company.hire("E0300", "周杰", account="zhoujie")
    company.hire("E0301", "吴磊", account="wulei")
    company.join("sales", "zhoujie", at(3, 10), operator="liuyang")   # a plain member
    company.join("sales", "wulei", at(3, 11), operator="chenchen")    # an admin
    [v] = company.violations("member.unauthorized_invite")
    assert v.employee_id == "E0100"


def test_leaving_a_required_group_is_flagged_but_leaving_a_project_group_is_not(company: World):
    company.register("proj", "天高集团展会项目群", "project", owner="E0010")
    company.join("proj", "liuyang", at(3, 9))
    for gid in ("all", "proj"):
        company.send(chat.MemberLeft(platform=company.platform, group_id=gid, platform_event_id=f"l-{gid}",
                                     occurred_at=at(3, 10), user_id="liuyang"))
    assert [v.group_id for v in company.violations("member.self_exit")] == ["all"]


def test_nickname_not_following_department_dash_name_is_flagged(company: World):
    company.send(chat.NicknameChanged(platform=company.platform, group_id="sales", platform_event_id="n1",
                                      occurred_at=at(3, 10), user_id="liuyang", nickname="快乐小羊"))
    company.send(chat.NicknameChanged(platform=company.platform, group_id="sales", platform_event_id="n2",
                                      occurred_at=at(3, 11), user_id="chenchen", nickname="销售部-陈晨"))
    company.send(chat.NicknameChanged(platform=company.platform, group_id="sales", platform_event_id="n3",
                                      occurred_at=at(3, 11), user_id="zhangzong", nickname="张伟"))  # executive
    [v] = company.violations("member.nickname_format")
    assert v.employee_id == "E0100" and v.evidence.details["expected"] == "销售部-刘洋"


def test_member_silent_for_ninety_days_is_flagged_but_one_who_speaks_is_not(company: World):
    company.say("sales", "liuyang", "本周拜访计划已提交", at(3, 10))
    company.say("sales", "chenchen", "收到", at(3, 10))
    company.say("sales", "chenchen", "客户回款已确认", at(1, 10, month=5))
    company.tick(at(2, 10, month=6))
    assert [v.employee_id for v in company.violations("member.inactive") if v.group_id == "sales"
            and v.user_id in ("liuyang", "chenchen")] == ["E0100"]


def test_joining_another_departments_group_is_unrelated(company: World):
    company.register("hr", "天高集团人力资源部群", "department", owner="E0002", dept="D-HR")
    company.join("hr", "liuyang", at(3, 10), operator="lizr")
    company.join("hr", "zhangzong", at(3, 10), operator="lizr")  # executives oversee every department
    assert [v.employee_id for v in company.violations("member.unrelated_group") if v.group_id == "hr"] == ["E0100"]
