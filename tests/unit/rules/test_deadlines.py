"""Deadline timers: recorded after they passed, kept per pack, armed only inside the pack's scope,
and new hires from an initial HR import."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest

from contracts import roster
from tests.unit.rules.conftest import staff
from tests.unit.rules.world import MONDAY, World, at

pytestmark = pytest.mark.unit


def depart(world: World, eid: str, name: str, leave: date, when, account: str) -> list:
    facts = roster.EmployeeFacts(name=name, department_id="D-SALES", department="销售部", status="departed",
                                 leave_date=leave, accounts=[roster.Account(platform=world.platform, user_id=account)])
    return world.send(roster.EmployeeDeparted(employee_id=eid, occurred_at=when, leave_date=leave, facts=facts))


def second_pack(world: World, pack_id: str, *, platforms: list[str], within_days: int = 1) -> None:
    """A second pack (like xy-qq-fines) that defines the same rule id with its own deadline."""
    doc = copy.deepcopy(world.doc)
    doc["id"], doc["scope"] = pack_id, {"platforms": platforms}
    doc["rules"] = [dict(r, params={"within_days": within_days}) for r in doc["rules"]
                    if r["id"] == "member.departed_not_removed"]
    world.publish(doc)


def test_a_departure_recorded_after_its_deadline_is_flagged_by_the_event_that_records_it():
    world = staff(World())
    out = depart(world, "E0100", "刘洋", date(2025, 3, 3), at(12, 9), "liuyang")  # deadline: end of 3-6
    found = [e.payload for e in out if getattr(e.payload, "rule_id", "") == "member.departed_not_removed"]
    assert {v.group_id for v in found} == {"sales", "all"}
    assert {v.occurred_at for v in found} == {at(7, 0, 0)}


def test_a_removal_before_the_deadline_processed_after_the_late_departure_retracts_the_violation():
    from contracts import chat
    from contracts.violations import ViolationDismissed

    world = staff(World())
    depart(world, "E0100", "刘洋", date(2025, 3, 3), at(12, 9), "liuyang")
    out = world.send(chat.MemberRemoved(platform=world.platform, group_id="sales", platform_event_id="rm1",
                                        occurred_at=at(4, 10), user_id="liuyang", operator_id="wangjl"))
    assert [type(e.payload) for e in out] == [ViolationDismissed]


def test_two_packs_with_the_same_rule_id_keep_their_own_deadlines():
    world = staff(World())
    second_pack(world, "branch-fines", platforms=["wecom"], within_days=1)
    depart(world, "E0100", "刘洋", date(2025, 3, 3), at(3, 18), "liuyang")
    world.tick(at(5, 0, 1))
    assert {(v.policy_id, v.group_id) for v in world.violations("member.departed_not_removed")} == {
        ("branch-fines", "sales"), ("branch-fines", "all")}
    world.tick(at(7, 0, 1))
    assert {v.policy_id for v in world.violations("member.departed_not_removed")} == {"branch-fines",
                                                                                      "company-default"}
    assert len(world.violations("member.departed_not_removed")) == 4


def test_a_pack_scoped_to_qq_arms_no_deadline_for_a_wecom_group():
    world = staff(World())
    second_pack(world, "xy-like", platforms=["qq"])
    depart(world, "E0100", "刘洋", date(2025, 3, 3), at(3, 18), "liuyang")
    world.tick(at(10, 0, 1))
    assert {v.policy_id for v in world.violations("member.departed_not_removed")} == {"company-default"}


def hire(world: World, eid: str, account: str, hire_date: date, when) -> None:
    facts = roster.EmployeeFacts(name="新人" + eid[-2:], department_id="D-SALES", department="销售部",
                                 status="probation", hire_date=hire_date,
                                 accounts=[roster.Account(platform=world.platform, user_id=account)])
    world.send(roster.EmployeeHired(employee_id=eid, occurred_at=when, facts=facts))


def test_a_new_hire_recorded_a_few_days_after_the_add_by_deadline_is_flagged_at_once():
    world = staff(World())
    hire(world, "E0300", "xinren", date(2025, 3, 3), at(12, 9))  # due end of 3-8, recorded 3-12
    [v] = world.violations("member.new_hire_not_added")
    assert v.employee_id == "E0300" and v.occurred_at == at(9, 0, 0)


def test_long_serving_staff_loaded_by_an_initial_hr_import_are_not_flagged_as_new_hires():
    world = staff(World())
    hire(world, "E0301", "laoyuangong", date(2019, 6, 1), at(12, 9))     # before effective_from
    hire(world, "E0302", "qunian", date(2025, 1, 10), at(12, 9, month=4))  # after it, but 2+ months past
    world.tick(at(20, 0, 1, month=4))
    assert world.violations("member.new_hire_not_added") == []


def test_a_hire_whose_deadline_passed_within_the_historic_window_is_still_judged():
    world = staff(World(params={"member.new_hire_not_added": {"historic_after_days": 10}}))
    hire(world, "E0303", "wanle", date(2025, 3, 3), MONDAY + timedelta(days=14))  # 9 days past: judged
    hire(world, "E0304", "taiwanle", date(2025, 3, 1), MONDAY + timedelta(days=20))  # 15 days past: historic
    assert [v.employee_id for v in world.violations("member.new_hire_not_added")] == ["E0303"]
