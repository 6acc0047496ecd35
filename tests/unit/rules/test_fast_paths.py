"""The engine's shortcuts give exactly what the slow, obviously-right way gives.

- ``services.rules.ids.derive_id`` is ``contracts.ids.derive_id`` without ``uuid.UUID``;
- violations built without validation (``engine.trusted``) are valid ``ViolationDetected`` payloads;
- working-minute deadlines remembered per minute equal the calendar walk for every start second;
- the local ``HH:MM`` of a time already in the pack's zone equals the converted one;
- a full window dropping its oldest item keeps what the general trim keeps;
- a message's group due timers looked up through the heap's top equal the full scan;
- ``Recent`` (a named tuple) goes through the SQL documents unchanged;
- flooding's one-pointer burst search flags what counting every pair afresh flags.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import orjson
import pytest
from pydantic import ValidationError

from contracts.ids import derive_id as reference_id
from contracts.violations import ViolationDetected
from services.rules.detectors.behaviour import _bursts
from services.rules.ids import derive_id
from services.rules.policy.loader import load_pack
from services.rules.policy.runtime import PackRuntime, hhmm_of
from services.rules.state import MemoryState, Recent, Timer, trim
from services.common.db import _json_dumps
from services.rules.store import decode, encode, encode_window
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


def test_local_hhmm_of_a_time_already_in_the_zone_equals_the_converted_one(runtime):
    start = datetime(2025, 3, 9, 0, 0, 30, tzinfo=runtime.tz)
    for i in range(0, 2 * 86400, 37):
        t = start + timedelta(seconds=i)
        assert t.tzinfo is runtime.tz
        for probe in (t, t.astimezone(UTC)):  # the fast path, then the remembered minute
            assert runtime.hhmm(probe) == hhmm_of(probe.astimezone(runtime.tz)), probe


def test_appending_to_a_window_keeps_what_the_general_trim_keeps():
    """Random arrival gaps around the 24 h span and windows of every fill level: the in-place append
    (with its shortcut for a full window) equals trimming the whole list."""
    rnd = random.Random(11)
    state = MemoryState()
    expected: list[Recent] = []
    t = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    for i in range(3000):
        t += timedelta(seconds=rnd.choice([1, 30, 600, 3600, 20 * 3600, 30 * 3600]))
        item = Recent(t, f"e{i}", f"u{rnd.randrange(3)}")
        since, keep = t - timedelta(hours=24), rnd.choice([5, 30, 30, 30])
        state.append_window("w", item, since, keep)
        expected = trim(expected + [item], since, keep)
        assert list(state.window("w")) == expected, i


def test_due_timers_of_one_root_equal_the_full_scan():
    rnd = random.Random(3)
    state = MemoryState()
    t0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    for i in range(400):
        root = f"wecom:g{rnd.randrange(4)}"
        state.put_timer(Timer(rule_id="r", key=f"{root}|{i}", due=t0 + timedelta(minutes=rnd.randrange(600)),
                              policy_id="p", scope=f"{root}|u{i % 7}"))
    for minute in range(0, 660, 7):
        until = t0 + timedelta(minutes=minute)
        for g in range(5):  # g4 has no timers at all
            root = f"wecom:g{g}"
            expected = sorted((tm for tm in state._timers.values() if not tm.fired and tm.due <= until
                               and tm.root == root), key=lambda tm: (tm.due, tm.rule_id, tm.key, tm.policy_id))
            due = state.due_timers(until, root)
            assert due == expected, (minute, root)
            for tm in due:
                state.put_timer(Timer(**{**tm.__dict__, "fired": True}))


def test_a_window_entry_survives_the_sql_document():
    r = Recent(datetime(2025, 3, 3, 9, 0, 1, tzinfo=UTC), "e1", "u1", "image", None, "收到")
    doc = encode(r)
    assert doc == {"time": "2025-03-03T09:00:01+00:00", "event_id": "e1", "user_id": "u1", "msg_type": "image",
                   "digest": None, "text": "收到"}
    assert decode(Recent, doc) == r
    other = Recent(r.time, "e2", "u2")
    written = _json_dumps(encode_window([r, other]))
    assert written == _json_dumps([doc, encode(other)])  # byte for byte: same keys, same order
    assert _json_dumps(encode_window([r, other])) == written  # and again, from the items' kept JSON
    assert orjson.loads(written) == [doc, encode(other)]
    # an equal instant in another offset is a different text, not the first one's kept JSON
    beijing = r._replace(time=r.time.astimezone(timezone(timedelta(hours=8))))
    assert beijing == r and orjson.loads(_json_dumps(encode_window([beijing])))[0]["time"] == "2025-03-03T17:00:01+08:00"
    assert decode(Recent, {"time": doc["time"], "event_id": "e1", "user_id": "u1"}) == Recent(r.time, "e1", "u1")


def _bursts_by_counting(items: list[Recent], max_messages: int, within: float) -> int | None:
    """The definition, item by item: count the items after the last flag within ``within`` before it."""
    flagged_at, last = -1, None
    for i, item in enumerate(items):
        since = item.time.timestamp() - within
        if sum(1 for j in range(flagged_at + 1, i + 1) if items[j].time.timestamp() >= since) >= max_messages:
            flagged_at, last = i, i
    return last


@pytest.mark.parametrize("shuffled", [False, True], ids=["in-time-order", "a-late-delivery"])
def test_the_linear_burst_search_flags_what_counting_every_pair_flags(shuffled):
    rng = random.Random(7)
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    flagged = 0
    for _ in range(2_000):
        gaps = [rng.choice([0, 1, 2, 5, 6, 7, 30, 61]) + rng.random() * rng.choice([0, 1]) for _ in range(rng.randint(1, 61))]
        times = [start + timedelta(seconds=sum(gaps[:k + 1])) for k in range(len(gaps))]
        if shuffled and len(times) > 2:
            k = rng.randrange(len(times) - 1)
            times[k], times[k + 1] = times[k + 1], times[k]
        items = [Recent(t, f"e{k}", "u1", "text") for k, t in enumerate(times)]
        max_messages, within = rng.randint(2, 12), rng.choice([10.0, 60.0, 600.0])
        expected = _bursts_by_counting(items, max_messages, within)
        assert _bursts(items, max_messages, within) == expected
        flagged += expected is not None
    assert 200 < flagged < 1_800  # both outcomes are exercised
