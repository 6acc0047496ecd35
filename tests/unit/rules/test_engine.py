"""Engine guarantees: idempotent ids, the policy version at the event's time, scope and exemptions."""

from __future__ import annotations

import pytest

from contracts.chat import MessagePosted
from contracts.envelope import new_event
from services.rules.engine import evaluate
from tests.unit.rules.conftest import staff
from tests.unit.rules.world import World, at

pytestmark = pytest.mark.unit


def test_reprocessing_the_same_events_yields_the_same_violation_once(company: World):
    msg = MessagePosted(platform="wecom", group_id="all", platform_event_id="x1", occurred_at=at(3, 23, 50),
                        message_id="x1", user_id="liuyang", text="还有人没睡吗")
    ev = new_event(msg, id="fixed-id", source="test", time=msg.occurred_at)
    first = evaluate(company.state, ev, company.book)
    again = evaluate(company.state, ev, company.book)
    assert [e.payload.rule_id for e in first] == ["content.quiet_hours"] and again == []


def test_violation_ids_are_derived_from_rule_and_causes_so_a_fresh_state_agrees():
    ids = []
    for _ in range(2):
        world = staff(World())
        world.say("all", "liuyang", "还有人没睡吗", at(3, 23, 50), message_id="m-fixed")
        ids.append([v.violation_id for v in world.violations()])
    assert ids[0] == ids[1] and ids[0]


def test_a_violation_records_the_policy_version_in_force_at_the_event_time(company: World):
    doc = dict(company.doc, version=2, effective_from=at(10, 0).isoformat())
    company.publish(doc, at_=at(1, 0))  # published early, effective from the 10th
    company.say("all", "liuyang", "还有人没睡吗", at(5, 23, 50))
    company.say("all", "liuyang", "还有人没睡吗", at(11, 23, 50))
    assert [v.policy_version for v in company.violations("content.quiet_hours")] == [1, 2]


def test_a_rule_scoped_to_project_groups_ignores_department_groups(company: World):
    ad = "本店新到一批茅台，团购价优惠，需要的私聊我～"
    company.say("sales", "chenchen", ad, at(3, 10))
    company.say("sales", "chenchen", ad, at(3, 11))
    assert company.violations("content.ads_repeated") == []


def test_exempt_users_are_not_flagged():
    world = World(only=["content.quiet_hours"])
    world.doc["rules"][0]["exemptions"] = {"users": ["E0100"]}
    world.publish(dict(world.doc, version=2))
    staff(world)
    world.say("all", "liuyang", "还有人没睡吗", at(3, 23, 50))
    world.say("all", "chenchen", "还有人没睡吗", at(3, 23, 50))
    assert [v.employee_id for v in world.violations()] == ["E0101"]


def test_timers_fire_on_later_events_of_their_own_group_not_only_on_ticks(company: World):
    company.say("sales", "zhangzong", "@刘洋 合同今天下班前发我", at(3, 14), mentions=["liuyang"])
    company.say("sales", "chenchen", "各位下午好", at(3, 15))
    assert len(company.violations("reply.leader_task")) == 1


def test_another_groups_later_message_does_not_fire_a_deadline_but_a_tick_does(company: World):
    """Another group is another partition: its clock may run ahead of this group's, whose answer may
    still be on its way. Firing on it would flag, then retract when the answer is read."""
    company.say("sales", "zhangzong", "@刘洋 合同今天下班前发我", at(3, 14), mentions=["liuyang"])
    company.say("all", "chenchen", "各位下午好", at(3, 15))
    assert company.violations("reply.leader_task") == []
    company.say("sales", "liuyang", "好的，马上发", at(3, 14, 10))   # read late, still in time
    company.tick(at(3, 16))
    assert company.violations("reply.leader_task") == []
    assert not [e for e in company.emitted if type(e.payload).__name__ == "ViolationDismissed"]
    company.say("sales", "zhangzong", "@刘洋 报价单也发我", at(3, 16, 30), mentions=["liuyang"])
    company.tick(at(3, 17, 30))
    assert len(company.violations("reply.leader_task")) == 1


def test_memory_state_due_timers_by_root():
    from services.rules.state import MemoryState, Timer

    def state() -> MemoryState:
        st = MemoryState()
        for key, scope in [("a", "wecom:sales"), ("b", "wecom:sales|liuyang"), ("c", "wecom:sales2|liuyang"),
                           ("d", "E0101")]:
            st.put_timer(Timer(rule_id="r", key=key, due=at(3, 10), policy_id="p", policy_version=1, scope=scope))
        return st

    assert [t.key for t in state().due_timers(at(3, 10), "wecom:sales")] == ["a", "b"]
    assert [t.key for t in state().due_timers(at(3, 10), "E0101")] == ["d"]
    assert [t.key for t in state().due_timers(at(3, 9, 59), "wecom:sales")] == []
    assert [t.key for t in state().due_timers(at(3, 10))] == ["a", "b", "c", "d"]
