"""Groups: creation, registration, naming, ownership, lifetime (catalog section 1)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts import chat, roster
from tests.unit.rules.world import MONDAY, World, at

pytestmark = pytest.mark.unit


def created(world: World, gid: str, name: str, creator: str, when) -> None:
    world.send(chat.GroupCreated(platform=world.platform, group_id=gid, platform_event_id=f"c-{gid}",
                                 occurred_at=when, group_name=name, user_id=creator))


def test_group_not_registered_within_five_working_days_fines_the_creator(company: World):
    created(company, "g1", "销售部华东项目群", "wangjl", at(3, 10))  # Monday
    company.tick(at(10, 12))  # the next Monday: only 5 working days have started
    assert company.violations("group.unregistered") == []
    company.tick(at(11, 0, 1))  # after the end of the 5th working day (Monday 10th)
    [v] = company.violations("group.unregistered")
    assert v.employee_id == "E0010" and v.ladder == "reminder_then_fine"


def test_group_registered_in_time_is_not_flagged(company: World):
    created(company, "g1", "销售部华东项目群", "wangjl", at(3, 10))
    company.register("g1", "销售部华东项目群", "project", owner="E0010", when=at(6, 15))
    company.tick(at(20, 10))
    assert company.violations("group.unregistered") == []


def test_registration_deadline_skips_the_labour_day_holiday():
    from tests.unit.rules.conftest import staff

    world = staff(World())
    # Created Wed 2025-04-30; 1–5 May are statutory holidays (Sun 27 Apr was the 调休 workday).
    created(world, "g1", "销售部五一活动群", "wangjl", at(30, 10, month=4))
    world.tick(at(12, 23, month=5))  # working days after 30 Apr: 6, 7, 8, 9, 12 May → due end of the 12th
    assert world.violations("group.unregistered") == []
    world.tick(at(13, 0, 1, month=5))
    [v] = world.violations("group.unregistered")
    assert v.occurred_at == at(13, 0, month=5)


def test_staff_creating_a_group_is_unauthorised_but_a_department_head_may(company: World):
    created(company, "g1", "吃饭群", "liuyang", at(3, 10))
    created(company, "g2", "销售部周报群", "wangjl", at(3, 11))
    assert [v.group_id for v in company.violations("group.unauthorized_creator")] == ["g1"]


def test_group_name_without_the_company_abbreviation_is_flagged(company: World):
    created(company, "g1", "吃饭群", "wangjl", at(3, 10))
    created(company, "g2", "天高集团官方微信平台", "wangjl", at(3, 11))
    assert [v.group_id for v in company.violations("group.name_format")] == ["g1"]


def test_registered_owner_who_is_not_an_employee_is_flagged_after_the_grace(company: World):
    company.register("g1", "天高集团客服群", "project", owner="X-OUTSIDER")
    company.register("g2", "天高集团客服二群", "project", owner="E0010")
    assert company.violations("group.owner_not_employee") == []      # HR may not have told us yet
    company.tick(MONDAY + timedelta(minutes=11))
    [v] = company.violations("group.owner_not_employee")
    assert v.group_id == "g1" and "X-OUTSIDER" in v.evidence.summary


def test_an_owner_hired_just_after_the_registration_is_not_flagged(company: World):
    """The registration and the hire travel on different roster partitions: either may come first."""
    company.register("g1", "天高集团客服群", "project", owner="E0900")
    company.hire("E0900", "赵新", dept="D-SALES")
    company.tick(MONDAY + timedelta(minutes=11))
    assert company.violations("group.owner_not_employee") == []


def test_an_owner_who_has_left_is_flagged_at_once(company: World):
    facts = roster.EmployeeFacts(name="王强", department_id="D-SALES", level="manager", status="departed",
                                 leave_date=MONDAY.date())
    company.send(roster.EmployeeDeparted(employee_id="E0010", occurred_at=MONDAY, leave_date=MONDAY.date(),
                                         facts=facts))
    company.register("g1", "天高集团客服群", "project", owner="E0010", when=MONDAY + timedelta(hours=1))
    [v] = company.violations("group.owner_not_employee")
    assert "已离职" in v.evidence.summary


def test_three_admins_are_more_than_allowed_but_two_are_fine(company: World):
    company.register("g1", "天高集团项目群", "project", owner="E0010", admins=["E0100", "E0101", "E0002"])
    company.register("g2", "天高集团项目二群", "project", owner="E0010", admins=["E0100", "E0101"])
    assert [v.group_id for v in company.violations("group.too_many_admins")] == ["g1"]


def test_owner_leaving_asks_for_a_new_owner(company: World):
    facts = roster.EmployeeFacts(name="王强", department_id="D-SALES", level="manager", status="departed",
                                 leave_date=date(2025, 3, 3))
    company.send(roster.EmployeeDeparted(employee_id="E0010", occurred_at=at(3, 9), leave_date=date(2025, 3, 3),
                                         facts=facts))
    [v] = company.violations("group.owner_left")
    assert v.group_id == "sales" and v.employee_id == "E0101"


def test_a_plain_member_leaving_does_not_touch_group_ownership(company: World):
    facts = roster.EmployeeFacts(name="刘洋", department_id="D-SALES", status="departed", leave_date=date(2025, 3, 3))
    company.send(roster.EmployeeDeparted(employee_id="E0100", occurred_at=at(3, 9), leave_date=date(2025, 3, 3),
                                         facts=facts))
    assert company.violations("group.owner_left") == []


def test_temporary_group_not_dissolved_three_working_days_after_its_end(company: World):
    company.register("p1", "天高集团展会临时群", "project", owner="E0010", lifetime="temporary",
                     end_date=date(2025, 3, 7))
    company.tick(at(12, 23))   # Mon 10, Tue 11, Wed 12 → due at the end of Wednesday
    assert company.violations("group.temp_not_dissolved") == []
    company.tick(at(13, 9))
    assert [v.employee_id for v in company.violations("group.temp_not_dissolved")] == ["E0010"]


def test_temporary_group_dissolved_in_time_is_fine(company: World):
    company.register("p1", "天高集团展会临时群", "project", owner="E0010", lifetime="temporary",
                     end_date=date(2025, 3, 7))
    company.send(chat.GroupDissolved(platform=company.platform, group_id="p1", platform_event_id="d1",
                                     occurred_at=at(11, 10)))
    company.tick(at(20, 9))
    assert company.violations("group.temp_not_dissolved") == []


def test_discussion_group_used_on_five_days_must_be_registered(company: World):
    created(company, "talk", "讨论组", "liuyang", at(3, 9))
    for day in (3, 4, 5, 6):
        company.say("talk", "liuyang", "报价单再核对一下", at(day, 10))
    assert company.violations("group.discussion_not_upgraded") == []
    company.say("talk", "liuyang", "报价单再核对一下", at(7, 10))
    company.say("talk", "liuyang", "好的", at(10, 10))
    [v] = company.violations("group.discussion_not_upgraded")
    assert v.employee_id == "E0100"


def test_group_silent_for_sixty_days_is_idle_but_a_used_one_is_not(company: World):
    company.say("sales", "liuyang", "本周客户拜访计划已上传", at(3, 10))
    company.say("all", "liuyang", "收到", at(3, 10))
    company.say("all", "liuyang", "各位早", at(1, 10, month=5))
    company.tick(at(3, 11, month=5))
    assert [v.group_id for v in company.violations("group.idle")] == ["sales"]
