"""A pack version made ready to evaluate: parsed params, rules indexed by event type, a calendar.

Built once per (policy id, version) and shared by every event evaluated under that version, so the
per-message cost is a dict lookup, not a re-validation. ``cached`` lets detectors keep compiled
resources (Aho-Corasick automata, regexes) beside the pack they came from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.chat import MessagePosted
from services.common.calendar import WorkingCalendar
from services.rules.detectors.base import (
    REGISTRY,
    ActiveRule,
    DetectorDef,
    Input,
    Precondition,
    StateView,
    load_all,
)
from services.rules.policy.model import PolicyPack

RuleEntry = tuple[ActiveRule, DetectorDef, bool]


class RulePlan:
    """The rules that see one event type in one group, and which of them a message can skip.

    ``gates`` are the distinct detector preconditions among ``entries`` (messages only); a message's
    answers to them form a bit mask, and the entries that survive a mask are computed once per mask
    (a handful of masks occur in practice), so screening a message costs one call per distinct
    precondition plus a dict lookup, not one detector call per rule.
    """

    __slots__ = ("_screened", "entries", "gates")

    def __init__(self, entries: list[RuleEntry], screen: bool) -> None:
        self.entries = entries
        gates: list[Precondition] = []
        if screen:
            for _, d, _ in entries:
                if d.when is not None and d.when not in gates:
                    gates.append(d.when)
        self.gates = tuple(gates)
        self._screened: dict[int, list[RuleEntry]] = {}

    def screen(self, inp: Input, state: StateView) -> list[RuleEntry]:
        """The entries whose precondition holds for ``inp`` (in pack order)."""
        if not self.gates:
            return self.entries
        mask, bit = 0, 1
        for gate in self.gates:
            if gate(inp, state):
                mask |= bit
            bit <<= 1
        found = self._screened.get(mask)
        if found is None:
            gates = self.gates
            found = self._screened[mask] = [
                e for e in self.entries if e[1].when is None or mask >> gates.index(e[1].when) & 1]
        return found


class PackRuntime:
    """One pack version, compiled. Immutable after construction except for the ``cached`` store."""

    def __init__(self, pack: PolicyPack) -> None:
        load_all()
        self._pack = pack
        self._cache: dict[str, Any] = {}
        self.tz = ZoneInfo(pack.organisation.timezone)
        org = pack.organisation
        self.calendar = WorkingCalendar(
            tz=org.timezone, work_hours=[(r.start, r.end) for r in org.working_hours],
            extra_days_off=org.extra_days_off, extra_workdays=org.extra_workdays,
            holidays_by_year=org.holidays_by_year)
        self.rules: list[tuple[ActiveRule, DetectorDef]] = []
        # per event type: (rule, detector, has exemptions to check), in pack order
        self.by_type: dict[type, list[RuleEntry]] = {}
        for spec in pack.rules:
            if not spec.enabled:
                continue
            d = REGISTRY[spec.detector]
            active = ActiveRule(spec=spec, params=d.params.model_validate(spec.params),
                                policy_id=pack.id, policy_version=pack.version, pack_scope=pack.scope)
            self.rules.append((active, d))
            ex = spec.exemptions
            entry = (active, d, bool(ex.roles or ex.groups or ex.users))
            for t in d.on:
                self.by_type.setdefault(t, []).append(entry)
        self.rule_by_id = {a.id: (a, d) for a, d in self.rules}
        self._in_group: dict[tuple[type, str | None, str | None, str], RulePlan] = {}
        self._derived: dict[Callable[[PackRuntime], Any], Any] = {}
        self._deadlines: dict[tuple[datetime, float], tuple[datetime, datetime | None]] = {}
        self._hhmm: dict[int, str] = {}

    def rules_for(self, event_type: type, category: str | None, platform: str | None, ref: str) -> RulePlan:
        """The rules that see ``event_type`` in one group: the pack's scope and each rule's scope
        decided once per (event type, group category, group) instead of once per event. Messages are
        screened by the detectors' preconditions (:meth:`RulePlan.screen`)."""
        key = (event_type, category, platform, ref)
        found = self._in_group.get(key)
        if found is None:
            if not self._pack.scope.covers(category, platform, ref):
                entries = []
            else:
                entries = [e for e in self.by_type.get(event_type, ()) if e[0].spec.scope.covers(category, platform, ref)]
            if len(self._in_group) > 100_000:  # bounded: groups come and go over a long-running worker
                self._in_group.clear()
            found = self._in_group[key] = RulePlan(entries, screen=event_type is MessagePosted)
        return found

    @property
    def pack(self) -> PolicyPack:
        return self._pack

    def rules_with(self, precondition: Precondition) -> list[ActiveRule]:
        """The pack's rules whose detector has this precondition: a precondition shared by several
        rules reads their params here (the union of their words, the earliest quiet hour…)."""
        return self.cached(f"rules_with/{id(precondition)}",
                           lambda: [a for a, d in self.rules if d.when is precondition])

    def derived(self, fn: Callable[[PackRuntime], Any]) -> Any:
        """``fn(self)``, computed once per pack version: what a precondition or detector derives from
        the pack (the union of its rules' words, the smallest limit…). Keyed by the function itself,
        so the per-message cost is one dict lookup, without a key string or a closure per call."""
        try:
            return self._derived[fn]
        except KeyError:
            value = self._derived[fn] = fn(self)
            return value

    def cached(self, key: str, factory: Callable[[], Any]) -> Any:
        try:
            return self._cache[key]  # one lookup when present (the lexicon matcher: every message)
        except KeyError:
            value = self._cache[key] = factory()
            return value

    # -- time helpers detectors share -------------------------------------------------------------
    def local(self, t: datetime) -> datetime:
        return t.astimezone(self.tz)

    def hhmm(self, t: datetime) -> str:
        """Local ``HH:MM`` of ``t``, remembered per minute (quiet hours ask for every message; zone
        offsets are whole minutes, so one UTC minute is one local minute)."""
        if t.tzinfo is self.tz:
            return _HHMM[t.hour * 60 + t.minute]  # already local: no zone conversion
        minute = int(t.timestamp() // 60)
        found = self._hhmm.get(minute)
        if found is None:
            if len(self._hhmm) > 10_000:
                self._hhmm.clear()
            found = self._hhmm[minute] = hhmm_of(self.local(t))
        return found

    def end_of_day(self, d: date) -> datetime:
        """The first instant after local date ``d`` (a "by the end of that day" deadline)."""
        return datetime.combine(d + timedelta(days=1), time(0), self.tz)

    def working_days_deadline(self, start: date, days: int) -> datetime:
        """End of the ``days``-th working day after ``start`` (``start`` itself never counts)."""
        return self.end_of_day(self.calendar.add_working_days(start, days))

    def working_minutes_deadline(self, start: datetime, minutes: float) -> datetime:
        """``start`` plus ``minutes`` working minutes, remembered per whole minute of ``start``.

        Working hours change at whole local minutes, so within one minute ``[m, m + 60 s)`` the time
        is either all working (the deadline moves with ``start``, second for second) or all off (the
        deadline is the same for the whole minute); only the minute's first instant may differ (a
        deadline that uses up an interval exactly ends at its end, one instant later it runs into the
        next one). So two calendar walks per minute and SLA instead of one per question; every
        message that opens an SLA asks."""
        if minutes != int(minutes) or start.tzinfo is None:
            return self.calendar.add_working_minutes(start, minutes)
        offset = timedelta(seconds=start.second, microseconds=start.microsecond)
        minute = start - offset
        key = (minute, minutes)
        found = self._deadlines.get(key)
        if found is None:
            at_minute = self.calendar.add_working_minutes(minute, minutes)
            working = self.calendar.next_working_instant(minute) == minute
            moving = self.calendar.add_working_minutes(minute + _SECOND, minutes) - _SECOND if working else None
            if len(self._deadlines) > 50_000:
                self._deadlines.clear()
            found = self._deadlines[key] = (at_minute, moving)
        at_minute, moving = found
        if not offset or moving is None:
            return at_minute
        return moving + offset

    def is_working_time(self, t: datetime) -> bool:
        local = self.local(t)
        if not self.calendar.is_working_day(local.date()):
            return False
        hhmm = hhmm_of(local)
        return any(r.start <= hhmm < r.end for r in self._pack.organisation.working_hours)


_SECOND = timedelta(seconds=1)
_HHMM = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]


def hhmm_of(local: datetime) -> str:
    """``HH:MM`` of a local time (``strftime`` is several times slower, and this runs per message)."""
    return f"{local.hour:02d}:{local.minute:02d}"
