"""The rules engine: ``evaluate(state, envelope) -> events``. Pure: no IO, no wall clock.

For one event, in this order:

1. a ``PolicyPublished`` is stored and nothing else happens;
2. time advances to the event's time (a tick's ``now``): timers due at or before it fire first,
   each under the pack version in force at its due time. A tick fires every due timer; any other
   event only those of its own group or employee (its *root*, ``root_of_event``): another
   partition's clock must not decide that this group's answer is late;
3. roster facts are folded into the state;
4. every pack in force *at the event's time* (one version per policy id, by ``effective_from``)
   whose scope covers the group runs the rules whose detectors listen to this event type, unless the
   actor is exempt; the rule lists per group are computed once per group (``PackRuntime.rules_for``);
5. timers this event armed with a deadline already past (a departure recorded late) fire at once,
   and so do its root's;
6. chat facts are folded into the state.

Timers belong to a rule *of a pack* (``{policy id}/{rule id}``): two packs in force that both define
``member.departed_not_removed`` keep separate deadlines, each fired under its own pack.

Findings become ``ViolationDetected`` / ``MeritDetected`` with ids derived from the policy id, the
rule id, the finding's dedupe parts and the sorted causing event ids, so reprocessing yields the
same violation once (the state remembers what was flagged). A timer that already fired and whose
cancelling event turns out to have happened before its deadline (a reply processed late) is
retracted with ``ViolationDismissed`` by ``rules-engine``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contracts import chat, roster
from contracts.base import Payload
from contracts.clock import ClockTicked
from contracts.envelope import CloudEvent
from contracts.policy import PolicyPublished
from contracts.violations import MeritDetected, ViolationDetected, ViolationDismissed
from services.rules.detectors.base import (
    ActiveRule,
    Finding,
    Input,
    Output,
    Remember,
    TimerCancel,
    TimerFired,
    TimerSet,
)
from services.rules.fold import fold_chat, fold_message, fold_roster
from services.rules.ids import derive_id
from services.rules.policy.model import PolicyPack
from services.rules.policy.runtime import PackRuntime
from services.rules.state import RulesState, Timer, evolve

ENGINE_ACTOR = "rules-engine"
MAX_ROUNDS = 16  # re-armed timers firing again within one advance of time
FIRED_KEPT = timedelta(days=2)  # how long a fired timer waits for a late answer that would retract it


@dataclass(frozen=True)
class Emitted:
    """A derived event to publish: payload, deterministic id, event time and causes."""

    payload: Payload
    id: str
    time: datetime
    causation: tuple[str, ...]


@dataclass
class PolicyBook:
    """Compiled runtimes per pack version, kept across events (a cache, not state)."""

    runtimes: dict[tuple[str, int], PackRuntime] = field(default_factory=dict)
    # the last answer of ``in_force``: for these packs, valid for times in [start, end)
    _last: tuple[list[PolicyPack], datetime | None, datetime | None, list[PackRuntime]] | None = None

    def runtime(self, pack: PolicyPack) -> PackRuntime:
        key = (pack.id, pack.version)
        rt = self.runtimes.get(key)
        if rt is None or rt.pack is not pack and rt.pack != pack:
            rt = self.runtimes[key] = PackRuntime(pack)
        return rt

    def in_force(self, state: RulesState, at: datetime) -> list[PackRuntime]:
        """One runtime per policy id: the version whose ``effective_from`` is latest but not after ``at``.

        The answer only changes when a pack is published or ``at`` crosses some ``effective_from``,
        so it is remembered with the interval it holds for (asked for every event)."""
        packs = state.packs()
        last = self._last
        if last is not None and (last[0] is packs or _same(last[0], packs)) and (
                last[1] is None or last[1] <= at) and (last[2] is None or at < last[2]):
            return last[3]
        best: dict[str, PolicyPack] = {}
        start: datetime | None = None
        end: datetime | None = None
        for pack in packs:
            if pack.effective_from <= at:
                start = pack.effective_from if start is None else max(start, pack.effective_from)
                cur = best.get(pack.id)
                if cur is None or (pack.effective_from, pack.version) > (cur.effective_from, cur.version):
                    best[pack.id] = pack
            else:
                end = pack.effective_from if end is None else min(end, pack.effective_from)
        found = [self.runtime(best[k]) for k in sorted(best)]
        self._last = (packs, start, end, found)
        return found


def _same(a: list[PolicyPack], b: list[PolicyPack]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def evaluate(state: RulesState, envelope: CloudEvent, book: PolicyBook, payload: Payload | None = None,
             *, detect: bool = True, accept_policies: bool = True) -> list[Emitted]:
    """Evaluate one event against the state; mutate the state through its interface; return events.

    ``detect=False`` only folds facts (the replay sandbox warming up on history before its range);
    ``accept_policies=False`` ignores published packs (the sandbox evaluates its candidate only).
    """
    payload = payload or envelope.payload()
    if isinstance(payload, PolicyPublished):
        if accept_policies:
            state.put_pack(PolicyPack.model_validate(payload.pack))
        return []
    if type(payload) is chat.MessagePosted:
        return _evaluate_message(state, envelope, book, payload, detect)
    at = payload.now if isinstance(payload, ClockTicked) else envelope.time
    tick = isinstance(payload, ClockTicked)
    if tick:
        state.prune_fired(at - FIRED_KEPT)
    is_roster = payload.topic.name == roster.EmployeeHired.topic.name
    if not detect:
        if is_roster:
            fold_roster(payload, state, envelope.id)
        else:
            fold_chat(payload, state, envelope.id)
        return []
    root = None if tick else root_of_event(payload)
    out = fire_due(state, book, at) if tick else fire_due(state, book, at, root) if root else []
    if is_roster:
        fold_roster(payload, state, envelope.id)
    if not tick:
        armed: set[str] = set()
        for rt in book.in_force(state, at):
            out += _run_rules(state, rt, payload, envelope.id, at, armed)
        if not isinstance(payload, chat.MessagePosted):
            # A deadline may already have passed when the event that arms it arrives (HR records a
            # departure a week late, an import loads history): fire it now rather than waiting for
            # the next tick. Messages never arm past deadlines (SLAs run forward).
            for r in sorted(armed | ({root} if root else set())):
                out += fire_due(state, book, at, r)
    if not is_roster:
        fold_chat(payload, state, envelope.id)
    return out


def _evaluate_message(state: RulesState, envelope: CloudEvent, book: PolicyBook, msg: chat.MessagePosted,
                      detect: bool) -> list[Emitted]:
    """``evaluate`` for a message, the event nearly every call is about: the same steps in the same
    order (its group's due timers, the rules, the fold), without asking what kind of event it is at
    each step. A message never arms a deadline that is already past, so nothing fires after it."""
    if not detect:
        fold_message(msg, state, envelope.id)
        return []
    at = envelope.time
    out = fire_due(state, book, at, f"{msg.platform}:{msg.group_id}")
    for rt in book.in_force(state, at):
        out += _run_rules(state, rt, msg, envelope.id, at, None)
    fold_message(msg, state, envelope.id)
    return out


def root_of_event(payload: Payload) -> str | None:
    """Whose timers an event's time may fire: its group's (``platform:group_id``) or its employee's.

    Only a clock tick fires every due timer. An event's time says how far *its own* stream has got:
    chat is partitioned by group, so a later message of another group (another partition, consumed
    earlier) says nothing about whether this group's answer is still on its way. Letting it fire this
    group's deadline would flag the manager and then retract the flag when the answer is read: a
    sanction and its reversal posted in the group for nothing.
    """
    platform, group_id = getattr(payload, "platform", None), getattr(payload, "group_id", None)
    if platform and group_id:
        return f"{platform}:{group_id}"
    return getattr(payload, "employee_id", None)


def fire_due(state: RulesState, book: PolicyBook, until: datetime, root: str | None = None) -> list[Emitted]:
    """Fire every timer due at or before ``until`` (event time), oldest first, of ``root`` only when
    given; a timer re-armed by its detector for a time still before ``until`` fires again in the
    next round."""
    out: list[Emitted] = []
    for _ in range(MAX_ROUNDS):
        due = state.due_timers(until, root)
        if not due:
            break
        out += _fire(state, book, due)
    return out


def _fire(state: RulesState, book: PolicyBook, due: list[Timer]) -> list[Emitted]:
    out: list[Emitted] = []
    for timer in due:
        rt = next((r for r in book.in_force(state, timer.due) if r.pack.id == timer.policy_id), None)
        found = rt.rule_by_id.get(timer.rule_id) if rt else None
        if found is None:
            state.drop_timer(timer.ns, timer.key)
            continue
        rule, d = found
        fired = TimerFired(timer.rule_id, timer.key, timer.due, timer.data, timer.causing_event_ids)
        event_id = derive_id("timer", timer.policy_id, timer.rule_id, timer.key, timer.due.isoformat())
        inp = Input(event=fired, event_id=event_id, time=timer.due, runtime=rt)
        state.put_timer(evolve(timer, fired=True))  # before the detector runs: a re-arm replaces it
        emitted = _apply(state, rt, rule, d.fn(rule, inp, state), inp)
        ids = tuple(f"{e.id} {e.payload.partition_key()}" for e in emitted if isinstance(e.payload, ViolationDetected))
        if ids:  # remembered so a late answer can retract exactly these violations
            current = state.timer(timer.ns, timer.key)
            if current is not None and current.fired:
                state.put_timer(evolve(current, violation_ids=ids))
        out += emitted
    return out


def _run_rules(state: RulesState, rt: PackRuntime, payload: Payload, event_id: str, at: datetime,
               armed: set[str] | None) -> list[Emitted]:
    kind = type(payload)
    if kind not in rt.by_type:
        return []
    inp = _input(state, rt, payload, event_id, at)
    if inp.group_id is None:
        rules = rt.by_type[kind]  # roster facts: detectors that pick groups check ``rule.covers`` themselves
    else:
        g = inp.group
        category = g.category if g is not None and g.registered else None
        # messages: only the rules whose precondition holds (each distinct precondition tested once)
        rules = rt.rules_for(kind, category, inp.platform, inp.ref).screen(inp, state)
    out: list[Emitted] = []
    for rule, d, exempting in rules:
        if exempting and _exempt(state, rule, inp):
            continue
        outputs = d.fn(rule, inp, state)
        if outputs:
            out += _apply(state, rt, rule, outputs, inp, armed)
    return out


def _input(state: RulesState, rt: PackRuntime, payload: Payload, event_id: str, at: datetime) -> Input:
    if type(payload) is chat.MessagePosted:  # the common case, without probing attributes
        platform, group_id, user_id = payload.platform, payload.group_id, payload.user_id
        actor = state.person_by_account(platform, user_id) if platform and user_id else None
        group = state.group(platform, group_id) if platform and group_id else None
        return Input(payload, event_id, at, rt, platform, group_id, user_id, actor, group)
    platform = getattr(payload, "platform", None)
    group_id = getattr(payload, "group_id", None)
    user_id = getattr(payload, "user_id", None) if isinstance(payload, chat.ChatEvent) else None
    actor = None
    if isinstance(payload, roster.EmployeeEvent):
        actor = state.person(payload.employee_id)
    elif platform and user_id:
        actor = state.person_by_account(platform, user_id)
    group = state.group(platform, group_id) if platform and group_id else None
    return Input(payload, event_id, at, rt, platform, group_id, user_id, actor, group)


def _exempt(state: RulesState, rule: ActiveRule, inp: Input) -> bool:
    """Whether the rule's exemptions cover this actor or group. Cheapest checks first: company
    levels (``manager``, ``executive``) come with the actor; group roles need the group's records."""
    ex = rule.spec.exemptions
    ref = f"{inp.platform}:{inp.group_id}" if inp.group_id else None
    if ref and ref in ex.groups:
        return True
    if ex.users and ((inp.user_id and f"{inp.platform}:{inp.user_id}" in ex.users)
                     or (inp.actor and inp.actor.employee_id in ex.users)):
        return True
    if not ex.roles:
        return False
    if inp.actor is not None and inp.actor.level in ex.roles:
        return True
    if not ({"owner", "admin"} & set(ex.roles)) or inp.group is None or not inp.user_id:
        return False
    g, actor = inp.group, inp.actor
    if "owner" in ex.roles and (inp.user_id == g.owner_user_id
                                or (actor is not None and actor.employee_id == g.owner_employee_id)):
        return True
    if "admin" in ex.roles and (inp.user_id in g.admin_user_ids
                                or (actor is not None and actor.employee_id in g.admin_employee_ids)):
        return True
    m = state.member(inp.platform or "", inp.group_id or "", inp.user_id)
    return m is not None and m.role in ex.roles


def _apply(state: RulesState, rt: PackRuntime, rule: ActiveRule, outputs: Iterable[Output], inp: Input,
           armed: set[str] | None = None) -> list[Emitted]:
    """Carry out a detector's outputs; the roots of timers it arms go into ``armed``."""
    out: list[Emitted] = []
    for o in outputs:
        if isinstance(o, Finding):
            e = _emit_finding(state, rule, o)
            if e is not None:
                out.append(e)
        elif isinstance(o, TimerSet):
            timer = Timer(rule_id=rule.id, key=o.key, due=o.due, data=dict(o.data),
                          causing_event_ids=tuple(o.causing_event_ids) or (inp.event_id,),
                          policy_id=rule.policy_id, policy_version=rule.policy_version, scope=o.scope)
            state.put_timer(timer)
            if armed is not None:
                armed.add(timer.root)
        elif isinstance(o, TimerCancel):
            out += _cancel(state, rule, o)
        elif isinstance(o, Remember):
            state.put_counter(rule.memory_key(o.key), dict(o.value))
    return out


def _cancel(state: RulesState, rule: ActiveRule, c: TimerCancel) -> list[Emitted]:
    timer = state.timer(rule.timer_ns, c.key)
    if timer is None:
        return []
    if not timer.fired:
        state.drop_timer(rule.timer_ns, c.key)
        return []
    if c.at >= timer.due:
        return []
    state.drop_timer(rule.timer_ns, c.key)
    reason = ("期限前已回应（处理延迟），自动撤销 / answered before the deadline (processed late), "
              "retracted automatically")
    out = []
    for entry in timer.violation_ids:
        vid, _, key = entry.partition(" ")
        who = {"user_ref": key} if ":" in key else {"employee_id": key}
        out.append(Emitted(ViolationDismissed(violation_id=vid, dismissed_by=ENGINE_ACTOR, reason=reason,
                                              dismissed_at=c.at, **who), derive_id("dismissal", vid), c.at, (vid,)))
    return out


def violation_id(policy_id: str, f: Finding) -> str:
    return derive_id("violation" if f.kind == "violation" else "merit", policy_id, f.rule_id, *f.dedupe,
                     *sorted(f.causing_event_ids))


def _emit_finding(state: RulesState, rule: ActiveRule, f: Finding) -> Emitted | None:
    vid = violation_id(rule.policy_id, f)
    if state.flagged(vid):
        return None
    state.mark_flagged(vid)
    causes = tuple(sorted(f.causing_event_ids))
    if f.kind == "merit":
        payload: Payload = MeritDetected(
            merit_id=vid, rule_id=f.rule_id, kind=f.merit_kind or "daily_share", policy_id=rule.policy_id,
            policy_version=rule.policy_version, platform=f.platform, group_id=f.group_id, user_id=f.user_id,
            employee_id=f.employee_id, occurred_at=f.occurred_at, causing_event_ids=list(causes),
            evidence=f.evidence)
    else:
        # Every field comes from the pack (validated when published), the validated Evidence, the
        # event's own validated fields or the engine itself: built without a second validation pass
        # (a third of the cost). tests/unit/rules/test_fast_paths.py validates what this builds.
        payload = trusted(ViolationDetected, {
            "violation_id": vid, "rule_id": f.rule_id, "category": f.category, "severity": f.severity,
            "ladder": rule.spec.ladder, "policy_id": rule.policy_id, "policy_version": rule.policy_version,
            "platform": f.platform, "group_id": f.group_id, "user_id": f.user_id, "employee_id": f.employee_id,
            "liable_employee_ids": sorted(set(f.liable_employee_ids) - {f.employee_id}),
            "occurred_at": f.occurred_at, "causing_event_ids": list(causes), "evidence": f.evidence,
            "needs_review": f.needs_review})
    return Emitted(payload, vid, f.occurred_at, causes)


_setattr = object.__setattr__


def trusted(cls: type[Payload], values: dict[str, object]) -> Payload:
    """``cls`` holding exactly ``values`` (one per field), without validation: what pydantic's
    ``model_construct`` does, minus its per-field default and alias handling (which makes it slower
    than validating in pydantic 2). Only for values the engine knows to be valid."""
    m = object.__new__(cls)
    _setattr(m, "__dict__", values)
    _setattr(m, "__pydantic_fields_set__", set(values))
    _setattr(m, "__pydantic_extra__", None)
    _setattr(m, "__pydantic_private__", None)
    return m
