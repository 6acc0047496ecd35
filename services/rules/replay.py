"""What-if replay: re-evaluate recorded events under a candidate pack in a sandbox, report the effect.

The sandbox is an in-memory :class:`MemoryState` and a private :class:`PolicyBook`: nothing is
published and no real state is touched. Events are merged from the chat, roster, policy and clock
topics in the order the live rules service applied them (its inbox), then, for events it never saw, by
event time with a stable tie-break (roster before chat before clock at the same instant, then topic,
partition, offset), so the same inputs give the same order on any backend. History before
``since`` only builds the facts (who is who, who is in which group); events in [since, until) are
evaluated under the candidate pack alone; clock ticks in the range fire its timers.

The report (``canonical_json``) is byte-identical for the same inputs and pack: sorted keys, sorted
lists, no wall clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from contracts import topics
from contracts.clock import ClockTicked
from contracts.envelope import CloudEvent, EnvelopeError
from contracts.violations import MeritDetected, ViolationDetected, ViolationDismissed
from services.rules.engine import PolicyBook, evaluate
from services.rules.policy.model import PolicyPack
from services.rules.state import MemoryState

INPUT_TOPICS = (topics.POLICY.name, topics.ROSTER.name, topics.CHAT.name, topics.CLOCK.name)
_RANK = {name: i for i, name in enumerate(INPUT_TOPICS)}


@dataclass(frozen=True)
class Recorded:
    """One event as read from the log, with its position for the tie-break."""

    event: CloudEvent
    topic: str
    partition: int = 0
    offset: int = 0

    def order(self) -> tuple[Any, ...]:
        return (self.event.time, _RANK.get(self.topic, 9), self.topic, self.partition, self.offset, self.event.id)


def merge(records: Iterable[Recorded], applied: Mapping[str, float] | None = None) -> list[Recorded]:
    """Events in the order the live service applied them (``applied``: its inbox), then by time.

    Event time alone is not how the live service saw history: HR changes are stamped when they
    arrive, a late archive import carries old times. Replaying in the applied order makes a replay of
    the published pack reproduce what was flagged, so the diff shows only what the candidate changes.
    """
    if not applied:
        return sorted(records, key=Recorded.order)
    never = float("inf")
    return sorted(records, key=lambda r: (applied.get(r.event.id, never), *r.order()))


def _event_time(r: Recorded) -> datetime:
    p = r.event.payload()
    return p.now if isinstance(p, ClockTicked) else r.event.time


def run(inputs: Iterable[Recorded], pack: PolicyPack, since: datetime, until: datetime,
        actual: Iterable[CloudEvent] = (), applied: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The replay report of ``pack`` over the input events, compared with the ``actual`` violations."""
    candidate = pack.model_copy(update={"effective_from": min(pack.effective_from, since)})
    state, book = MemoryState(), PolicyBook()
    state.put_pack(candidate)
    found: dict[str, ViolationDetected] = {}
    merits: list[MeritDetected] = []
    read = evaluated = skipped = 0
    for r in merge(inputs, applied):
        read += 1
        if r.topic == topics.POLICY.name:
            continue
        try:
            when = _event_time(r)
        except EnvelopeError:
            skipped += 1
            continue
        if when >= until:
            continue
        in_range = when >= since
        evaluated += in_range
        for e in evaluate(state, r.event, book, detect=in_range, accept_policies=False):
            if isinstance(e.payload, ViolationDetected):
                found[e.payload.violation_id] = e.payload
            elif isinstance(e.payload, ViolationDismissed):
                # the engine retracted one of its own (an answer read after its deadline fired): live
                # drops it from the actual set too, so the sandbox must as well
                found.pop(e.payload.violation_id, None)
            elif isinstance(e.payload, MeritDetected):
                merits.append(e.payload)
    # A deadline that passed before the range may be judged by an event inside it (a late
    # registration): it occurred before the range, and the live side is counted by occurrence too.
    in_range = [v for v in found.values() if since <= v.occurred_at < until]
    return _report(candidate, since, until, state, in_range, merits, list(actual),
                   {"read": read, "evaluated": evaluated, "skipped": skipped})


def _person(state: MemoryState, v: ViolationDetected) -> tuple[str, str]:
    p = state.person(v.employee_id) if v.employee_id else None
    who = v.employee_id or f"{v.platform}:{v.user_id}"
    return who, (p.department if p and p.department else "（未知部门 / unknown）")


def _brief(v: ViolationDetected) -> dict[str, Any]:
    return {"violation_id": v.violation_id, "rule_id": v.rule_id, "employee_id": v.employee_id,
            "user": f"{v.platform}:{v.user_id}" if v.user_id else None, "group_id": v.group_id,
            "severity": v.severity, "ladder": v.ladder, "occurred_at": v.occurred_at.isoformat(),
            "summary": v.evidence.summary}


def _report(pack: PolicyPack, since: datetime, until: datetime, state: MemoryState,
            found: list[ViolationDetected], merits: list[MeritDetected], actual_events: list[CloudEvent],
            counts: dict[str, int]) -> dict[str, Any]:
    by_rule, by_dept, by_person = Counter(), Counter(), Counter()
    for v in found:
        who, dept = _person(state, v)
        by_rule[v.rule_id] += 1
        by_dept[dept] += 1
        by_person[who] += 1
    actual = _actual(actual_events, pack.id, since, until)
    mine = {v.violation_id: _brief(v) for v in found}
    theirs = {vid: _brief(v) for vid, v in actual.items()}
    compared = ("rule_id", "employee_id", "severity", "ladder")
    changed = [{"before": theirs[k], "after": mine[k]} for k in sorted(mine.keys() & theirs.keys())
               if any(mine[k][f] != theirs[k][f] for f in compared)]
    return {
        "policy": {"id": pack.id, "version": pack.version, "title": pack.title},
        "range": {"since": since.isoformat(), "until": until.isoformat()},
        "events": counts,
        "totals": {"violations": len(found), "merits": len(merits), "actual": len(actual)},
        "by_rule": dict(sorted(by_rule.items())),
        "by_department": dict(sorted(by_dept.items())),
        "by_person": dict(sorted(by_person.items())),
        "merits_by_kind": dict(sorted(Counter(m.kind for m in merits).items())),
        "diff": {"new": [mine[k] for k in sorted(mine.keys() - theirs.keys())],
                 "gone": [theirs[k] for k in sorted(theirs.keys() - mine.keys())],
                 "changed": changed},
        "violations": [mine[k] for k in sorted(mine, key=lambda k: (mine[k]["occurred_at"], k))],
    }


def _actual(events: list[CloudEvent], policy_id: str, since: datetime, until: datetime
            ) -> dict[str, ViolationDetected]:
    """What was actually flagged (and not dismissed) under this policy id in the range."""
    flagged: dict[str, ViolationDetected] = {}
    dismissed: set[str] = set()
    for ev in events:
        try:
            p = ev.payload()
        except EnvelopeError:
            continue
        if isinstance(p, ViolationDetected) and p.policy_id == policy_id and since <= p.occurred_at < until:
            flagged[p.violation_id] = p
        elif isinstance(p, ViolationDismissed):
            dismissed.add(p.violation_id)
    return {k: v for k, v in flagged.items() if k not in dismissed}


def canonical_json(report: dict[str, Any]) -> bytes:
    """The report's canonical bytes: sorted keys, UTF-8, two-space indent, trailing newline."""
    return orjson.dumps(report, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


# -- reading the log (IO) --------------------------------------------------------------------------

def read_log(log: Any, group: str, topic_names: Iterable[str], idle_polls: int = 5) -> list[Recorded]:
    """Every record of ``topic_names`` up to the end offsets seen at the start, via a fresh group.

    History before the range is needed too (it builds who-is-who), so this reads from the beginning.
    Undecodable records are skipped here (the workers already dead-lettered them).
    """
    from contracts.envelope import decode
    from services.common.eventlog.base import TopicPartition

    consumer = log.consumer(group, list(topic_names))
    try:
        consumer.seek_to_beginning()
        ends = {tp: end for tp, end in consumer.end_offsets().items() if end > 0}
        positions: dict[TopicPartition, int] = {}
        out: list[Recorded] = []
        idle = 0
        while any(positions.get(tp, 0) < end for tp, end in ends.items()) and idle < idle_polls:
            batch = consumer.poll(1.0, 2000)
            idle = 0 if batch else idle + 1
            for rec in batch:
                positions[TopicPartition(rec.topic, rec.partition)] = rec.offset + 1
                if rec.offset >= ends.get(TopicPartition(rec.topic, rec.partition), 0):
                    continue
                try:
                    out.append(Recorded(decode(rec.value), rec.topic, rec.partition, rec.offset))
                except EnvelopeError:
                    continue
        return out
    finally:
        consumer.close()


def replay_from_log(log: Any, pack: PolicyPack, since: datetime, until: datetime,
                    applied: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Read inputs and actual violations from ``log`` and run the sandbox; the group name is derived
    from the request so a retried request re-reads from the beginning under a fresh group."""
    from contracts.ids import derive_id, fresh_id

    tag = derive_id("replay", pack.id, pack.version, since.isoformat(), until.isoformat(), fresh_id())
    inputs = read_log(log, f"rules-replay-{tag}", INPUT_TOPICS)
    actual = [r.event for r in read_log(log, f"rules-replay-actual-{tag}", (topics.VIOLATIONS.name,))]
    return run(inputs, pack, since, until, actual, applied)
