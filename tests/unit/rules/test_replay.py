"""What-if replay: deterministic, sandboxed, with a diff against what was actually flagged."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from contracts.envelope import new_event
from services.rules.policy.loader import load_pack
from services.rules.replay import Recorded, canonical_json, run
from tests.unit.rules.conftest import staff
from tests.unit.rules.world import POLICIES, World, at

pytestmark = pytest.mark.unit


class Recorder(World):
    """A world that also records every input event as the log would hold it."""

    def __init__(self, *a, **kw) -> None:
        self.recorded: list[Recorded] = []
        super().__init__(*a, **kw)

    def send(self, payload, time=None, id=None):
        out = super().send(payload, time, id)
        ev = new_event(payload, id=id or f"rec-{len(self.recorded)}", source="test",
                       time=time or getattr(payload, "occurred_at", None) or payload.now)
        self.recorded.append(Recorded(ev, payload.topic.name, 0, len(self.recorded)))
        return out


def a_day(world: World) -> World:
    staff(world)
    for i in range(12):
        world.say("all", "liuyang", f"冲冲冲{i}", at(3, 10) + timedelta(seconds=3 * i))
    world.say("sales", "zhangzong", "@刘洋 合同今天下班前发我", at(3, 14), mentions=["liuyang"])
    world.say("all", "chenchen", "还有人没睡吗", at(3, 23, 50))
    world.tick(at(4, 9))
    return world


def actual_events(world: World):
    return [new_event(e.payload, id=e.id, source="rules", time=e.time) for e in world.emitted]


def test_the_same_inputs_and_pack_give_a_byte_identical_report_in_any_arrival_order():
    world = a_day(Recorder())
    pack = load_pack(POLICIES / "company-default.yaml")
    first = canonical_json(run(world.recorded, pack, at(3, 0), at(5, 0)))
    shuffled = list(world.recorded)
    random.Random(7).shuffle(shuffled)
    second = canonical_json(run(shuffled, pack, at(3, 0), at(5, 0)))
    assert first == second
    assert b'"content.flooding": 1' in first and b'"reply.leader_task": 1' in first


def test_a_stricter_flooding_threshold_shows_the_shorter_bursts_as_new_and_the_long_one_as_gone():
    world = a_day(Recorder())
    pack = load_pack(POLICIES / "company-default.yaml")
    stricter = pack.model_copy(update={"version": 2, "rules": [
        r.model_copy(update={"params": {"max_messages": 5, "within": 60}}) if r.id == "content.flooding" else r
        for r in pack.rules]})
    report = run(world.recorded, stricter, at(3, 0), at(5, 0), actual_events(world))
    # 12 messages: one burst of 10 under the pack in force; bursts of 5 and 5 under the candidate.
    assert [v["rule_id"] for v in report["diff"]["gone"]] == ["content.flooding"]
    assert [v["rule_id"] for v in report["diff"]["new"]] == ["content.flooding", "content.flooding"]
    assert report["by_rule"]["content.flooding"] == 2
    assert report["by_department"]["销售部"] >= 1


def test_the_replay_of_the_pack_in_force_reproduces_what_was_flagged():
    world = a_day(Recorder())
    pack = load_pack(POLICIES / "company-default.yaml")
    report = run(world.recorded, pack, at(3, 0), at(5, 0), actual_events(world))
    assert report["diff"] == {"new": [], "gone": [], "changed": []}
    assert report["totals"]["violations"] == report["totals"]["actual"] > 0


def test_events_outside_the_range_only_build_facts():
    world = a_day(Recorder())
    pack = load_pack(POLICIES / "company-default.yaml")
    report = run(world.recorded, pack, at(3, 12), at(5, 0))
    assert "content.flooding" not in report["by_rule"]
    assert report["by_rule"]["reply.leader_task"] == 1


def test_a_deadline_fired_early_and_retracted_live_is_retracted_in_the_replay_too():
    """Live, a clock tick may be applied before this group's answer (its partition lags), fire the
    deadline, and the answer then retracts it. The replay follows the applied order, so it must
    retract it as well rather than report it as new."""
    world = Recorder()
    staff(world)
    world.say("sales", "zhangzong", "@刘洋 合同今天下班前发我", at(3, 14), mentions=["liuyang"])
    world.tick(at(3, 15))                                               # past the 30-minute deadline
    world.say("sales", "liuyang", "好的，马上发", at(3, 14, 10))       # answered in time, applied late
    fired = [e.payload.violation_id for e in world.emitted
             if type(e.payload).__name__ == "ViolationDetected" and e.payload.rule_id == "reply.leader_task"]
    retracted = [e.payload.violation_id for e in world.emitted if type(e.payload).__name__ == "ViolationDismissed"]
    assert len(fired) == 1 and retracted == fired
    pack = load_pack(POLICIES / "company-default.yaml")
    applied = {r.event.id: float(i) for i, r in enumerate(world.recorded)}
    report = run(world.recorded, pack, at(3, 0), at(5, 0), actual_events(world), applied)
    assert report["diff"] == {"new": [], "gone": [], "changed": []}
    assert "reply.leader_task" not in report["by_rule"]


def test_a_deadline_before_the_range_judged_inside_it_is_not_new():
    """A temporary group that ended before the range, registered inside it: live flags it at its
    deadline (before the range), so a replay of the range must not report it as new."""
    from datetime import date

    world = Recorder()
    staff(world)
    world.register("p1", "天高集团展会临时群", "project", owner="E0010", lifetime="temporary",
                   end_date=date(2025, 3, 7), when=at(20, 9))
    world.tick(at(20, 10))
    assert [v.occurred_at < at(15, 0) for v in world.violations("group.temp_not_dissolved")] == [True]
    pack = load_pack(POLICIES / "company-default.yaml")
    report = run(world.recorded, pack, at(15, 0), at(25, 0), actual=actual_events(world))
    assert report["diff"] == {"new": [], "gone": [], "changed": []}
    assert "group.temp_not_dissolved" not in report["by_rule"]
