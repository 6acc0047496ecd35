"""The ``qg demo`` day replayed through the rules engine alone, in the order the live system sees it.

``qg demo`` publishes the packs, provisions people over SCIM, registers groups, posts the member
snapshots, pushes the HR changes, then plays the day's chat. The roster stamps SCIM writes with the
time they *arrive* (the demo runs after the demo day), so in the rules engine the departures,
transfers and hires come with an event time days after their leave, handover and hire dates —
before the (earlier-dated) chat. This module rebuilds exactly those inputs with the pure functions
of the demo generator, the generic ingest adapter, the roster's SCIM mapping and its change
planner, and feeds them to ``evaluate`` with the three default packs as published (real scopes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts.base import Payload
from contracts.clock import ClockTicked
from contracts.envelope import new_event
from contracts.policy import PolicyPublished
from contracts.roster import EmployeeFacts
from contracts.violations import ViolationDetected
from services.demo.activity import Activity, Event, day
from services.demo.payloads import group_registrations, scim_user
from services.demo.player import plan
from services.ingest.adapters.generic import parse
from services.roster.changes import Current, decide
from services.roster.registry import GroupRegistration, register
from services.roster.scim.facts import employee_id_of, facts_of
from services.roster.scim.resources import POLICY, ScimUser
from services.rules.engine import Emitted, PolicyBook, evaluate
from services.rules.policy.loader import load_pack, pack_document
from services.rules.state import MemoryState

POLICIES = Path(__file__).resolve().parents[3] / "policies"


@dataclass
class Replay:
    activity: Activity
    emitted: list[Emitted]

    def violations(self, policy_id: str | None = None) -> list[ViolationDetected]:
        return [e.payload for e in self.emitted if isinstance(e.payload, ViolationDetected)
                and (policy_id is None or e.payload.policy_id == policy_id)]


class Pipeline:
    """Feeds the engine like the rules worker of a system the demo was just played into."""

    def __init__(self) -> None:
        self.state, self.book = MemoryState(), PolicyBook()
        self.emitted: list[Emitted] = []
        self.facts: dict[str, tuple[EmployeeFacts, int]] = {}
        self.seq = 0

    def send(self, payload: Payload, time: datetime, id: str | None = None) -> None:
        self.seq += 1
        ev = new_event(payload, id=id or f"demo-replay-{self.seq}", source="test", time=time)
        self.emitted += evaluate(self.state, ev, self.book, payload)

    def publish_packs(self, at: datetime) -> None:
        for path in sorted(POLICIES.glob("*.yaml")):
            pack = load_pack(path)
            self.send(PolicyPublished(policy_id=pack.id, version=pack.version, effective_from=pack.effective_from,
                                      sha256="demo", published_by="demo", pack=pack_document(pack)), at)

    def scim(self, document: dict[str, Any], at: datetime) -> None:
        """A SCIM User POST/PUT as the roster turns it into employee events."""
        user = ScimUser.model_validate(document, scim_policy=POLICY)
        eid = employee_id_of(user)
        facts = facts_of(user, lambda name: name, at)  # departments by name, as the demo sends them
        old, version = self.facts.get(eid, (None, 0))
        for planned in decide(eid, Current(old, version), facts, at, f"scim:{eid}"):
            self.send(planned.payload, at, planned.id)
            version += 1
        self.facts[eid] = (facts, version)

    def chat(self, events: list[Event]) -> None:
        for e in parse(json.dumps({"events": [e.body for e in events]}).encode()).events:
            self.send(e, e.occurred_at, f"chat-{e.platform_event_id}")


def replay_demo_day(the_day: date = date(2026, 11, 20), arrives_after: timedelta = timedelta(days=2),
                    extra_chat: list[dict[str, Any]] | None = None) -> Replay:
    """Replay ``qg demo --date the_day`` run ``arrives_after`` after the day began (05:00 local)."""
    a = day(the_day)
    arrival = a.start + arrives_after + timedelta(hours=5)
    p = Pipeline()
    p.publish_packs(arrival)
    for e in a.company.employees:
        p.scim(scim_user(a.company, e), arrival)
    for body in group_registrations(a.company):
        _, event = register(GroupRegistration(**body), None, 0, "demo", arrival)
        p.send(event, arrival)
    phases = plan(a)
    p.chat(phases.setup)
    for change in a.hr_changes:
        p.scim(change.document, arrival + timedelta(seconds=5))
    p.chat(phases.chat + [Event(body) for body in extra_chat or []])
    p.send(ClockTicked(now=arrival + timedelta(minutes=1)), arrival + timedelta(minutes=1))
    return Replay(a, p.emitted)
