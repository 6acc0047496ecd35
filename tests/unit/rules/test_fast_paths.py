"""The engine's shortcuts give exactly what the slow, obviously-right way gives.

- ``services.rules.ids.derive_id`` is ``contracts.ids.derive_id`` without ``uuid.UUID``;
- violations built without validation (``engine.trusted``) are valid ``ViolationDetected`` payloads;
- working-minute deadlines remembered per minute equal the calendar walk for every start second.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from contracts.ids import derive_id as reference_id
from contracts.violations import ViolationDetected
from services.rules.ids import derive_id
from services.rules.policy.loader import load_pack
from services.rules.policy.runtime import PackRuntime
from tests.unit.rules.demo_pipeline import replay_demo_day

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("parts", [
    ("violation", "company-default", "content.porn", "chat-0a1b"),
    ("timer", "company-default", "reply.leader_task", "wecom:wr1|m9|tg0061", "2025-03-04T10:35:00+08:00"),
    ("merit", "鸡公山-积分", "merit.daily_share", "2026-11-20", "chat-1", "chat-2"),
    ("dismissal", ""), (), (1, 2.5, None, date(2025, 3, 4)), ("群规\x1f分隔", "ε", "🙂"),
])
def test_the_fast_id_is_the_contract_id(parts):
    assert derive_id(*parts) == reference_id(*parts)


def test_the_fast_id_is_the_contract_id_for_random_parts():
    rnd = random.Random(5)
    alphabet = "abcXYZ019:|/-_ 群规违规回复领导通知\u3000"
    for _ in range(2000):
        parts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30))) for _ in range(rnd.randint(1, 6))]
        assert derive_id(*parts) == reference_id(*parts)


@pytest.fixture(scope="module")
def demo_violations() -> list[ViolationDetected]:
    return [e.payload for e in replay_demo_day().emitted if isinstance(e.payload, ViolationDetected)]


def test_violations_built_without_validation_validate_to_themselves(demo_violations):
    assert len(demo_violations) > 30
    for v in demo_violations:
        assert set(v.__dict__) == set(ViolationDetected.model_fields)  # every field, nothing else
        again = ViolationDetected.model_validate(v.model_dump())
        assert again == v
        assert again.model_dump_json() == v.model_dump_json()


def test_a_trusted_violation_serialises_like_a_validated_one(demo_violations):
    v = demo_violations[0]
    validated = ViolationDetected(**{name: getattr(v, name) for name in ViolationDetected.model_fields})
    assert validated.model_dump_json() == v.model_dump_json()
    assert validated.partition_key() == v.partition_key()
    with pytest.raises(ValidationError, match="frozen"):  # still frozen
        v.rule_id = "x"  # type: ignore[misc]


@pytest.fixture(scope="module")
def runtime() -> PackRuntime:
    return PackRuntime(load_pack("policies/company-default.yaml"))


@pytest.mark.parametrize("minutes", [1, 20, 30, 60, 120, 480])
def test_remembered_working_minute_deadlines_equal_the_calendar_walk(runtime, minutes):
    """Every 53 s over four days with a weekend, a lunch break and the evening, plus the edges of each
    working interval to the second and microsecond (08:59:59, 09:00:00, 11:59:59.999999 …)."""
    start = datetime(2025, 3, 7, 0, 0, tzinfo=runtime.tz)  # Friday → Monday
    probes = [start + timedelta(seconds=53 * i) for i in range(4 * 86400 // 53)]
    for day in (date(2025, 3, 7), date(2025, 3, 10)):
        for hh, mm in ((9, 0), (12, 0), (13, 0), (18, 0), (17, 50), (11, 30)):
            edge = datetime(day.year, day.month, day.day, hh, mm, tzinfo=runtime.tz)
            probes += [edge - timedelta(microseconds=1), edge, edge + timedelta(microseconds=1),
                       edge - timedelta(seconds=1), edge + timedelta(seconds=59, microseconds=999_999)]
    runtime._deadlines.clear()
    for t in probes + [p.astimezone(UTC) for p in probes[::97]]:
        assert runtime.working_minutes_deadline(t, minutes) == runtime.calendar.add_working_minutes(t, minutes), t


def test_a_deadline_that_uses_up_an_interval_ends_at_its_end_even_when_remembered(runtime):
    """Friday 17:50 + 10 working minutes is Friday 18:00 (not Monday 09:00); one second later it runs
    into Monday. Both through the remembered minute."""
    runtime._deadlines.clear()
    friday = datetime(2025, 3, 7, 17, 50, tzinfo=runtime.tz)
    assert runtime.working_minutes_deadline(friday, 10) == datetime(2025, 3, 7, 18, 0, tzinfo=runtime.tz)
    later = friday + timedelta(seconds=1)  # the same remembered minute
    assert runtime.working_minutes_deadline(later, 10) == datetime(2025, 3, 10, 9, 0, 1, tzinfo=runtime.tz)
