"""Detector preconditions (``@detector(..., when=...)``) only ever skip detectors with nothing to say.

The engine tests each distinct precondition once per message and calls only the detectors whose
precondition holds. Two checks on realistic streams (the ``qg demo`` day with all three default packs,
and the throughput benchmark's busy company with its @-mentions, questions, notices and overdue
answers): every detector a message skipped returns nothing when called anyway, and the engine emits
exactly the same events with screening switched off.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from bench import rules_engine as workload
from services.rules.engine import PolicyBook, evaluate
from services.rules.policy.runtime import RulePlan
from services.rules.state import MemoryState
from tests.unit.rules.demo_pipeline import replay_demo_day

pytestmark = pytest.mark.unit

_screen = RulePlan.screen


def _busy_company(n: int = 1500) -> list:
    """The benchmark's workload (40 department groups, 400 people, 3 % violations, SLAs opening and
    timing out), as (id, type, payload) triples of everything the engine emitted."""
    rnd = random.Random(11)
    state, book = MemoryState(), PolicyBook()
    groups, t0 = workload.setup(state, book, 400, 40, rnd)
    out = []
    for envelope, payload in workload.messages(groups, t0, n, rnd):
        out += [(e.id, type(e.payload).__name__, e.payload.model_dump_json())
                for e in evaluate(state, envelope, book, payload)]
    return out


def _demo_day() -> list:
    return [(e.id, type(e.payload).__name__, e.payload.model_dump_json()) for e in replay_demo_day().emitted]


@pytest.fixture
def skipped_detectors_are_called_anyway(monkeypatch):
    """Screen as usual, then call every skipped detector and record what it would have returned."""
    skipped: Counter[str] = Counter()
    wrong: list[tuple[str, str, list]] = []

    def checking(self: RulePlan, inp, state):
        kept = _screen(self, inp, state)
        kept_ids = {id(e) for e in kept}
        for entry in self.entries:
            if id(entry) not in kept_ids:
                rule, d, _ = entry
                skipped[rule.id] += 1
                found = d.fn(rule, inp, state)
                if found:
                    wrong.append((rule.id, inp.text, found))
        return kept

    monkeypatch.setattr(RulePlan, "screen", checking)
    return skipped, wrong


@pytest.mark.parametrize("stream", [_busy_company, _demo_day], ids=["busy-company", "demo-day"])
def test_no_detector_skipped_by_its_precondition_had_anything_to_say(stream, skipped_detectors_are_called_anyway):
    skipped, wrong = skipped_detectors_are_called_anyway
    stream()
    assert wrong == []
    # and the preconditions do skip: lexicon rules, privacy, links and reply SLAs on most messages
    assert {"content.porn", "content.privacy", "content.malicious_link", "reply.leader_task"} <= set(skipped)


@pytest.mark.parametrize("stream", [_busy_company, _demo_day], ids=["busy-company", "demo-day"])
def test_the_engine_emits_the_same_events_with_and_without_screening(stream, monkeypatch):
    screened = stream()
    monkeypatch.setattr(RulePlan, "screen", lambda self, inp, state: self.entries)
    unscreened = stream()
    assert len(screened) > 40
    assert Counter(screened) == Counter(unscreened)


def test_each_precondition_is_asked_once_per_message_and_rules_without_one_always_run():
    from dataclasses import replace

    from contracts.chat import MessagePosted
    from services.rules.policy.loader import load_pack
    from services.rules.policy.runtime import PackRuntime

    rt = PackRuntime(load_pack("policies/company-default.yaml"))
    entries = rt.rules_for(MessagePosted, "department", "wecom", "wecom:g1").entries
    preconditions = list(dict.fromkeys(d.when for _, d, _ in entries if d.when is not None))
    ungated = [a.id for a, d, _ in entries if d.when is None]
    assert {"content.flooding", "member.inactive", "group.idle"} <= set(ungated)
    assert len(preconditions) < len([d for _, d, _ in entries if d.when is not None])  # some are shared

    for answer, expected in ((False, ungated), (True, [a.id for a, _, _ in entries])):
        asked: Counter[str] = Counter()

        def stand_in(real, answer=answer, asked=asked):
            def gate(inp, state):
                asked[real.__name__] += 1
                return answer
            return gate

        swap = {real: stand_in(real) for real in preconditions}
        plan = RulePlan([(a, replace(d, when=swap[d.when]) if d.when else d, x) for a, d, x in entries], screen=True)
        assert [a.id for a, _, _ in plan.screen(None, None)] == expected  # pack order kept
        assert asked == Counter({real.__name__: 1 for real in preconditions})
