"""Effects shared by the worker's decision handlers and the API: publish an event the service made
(apply it to our own projections, record it in the inbox, queue it in the outbox, in the caller's
transaction) and request platform enforcement for a sanction.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from contracts.base import Payload
from contracts.envelope import CloudEvent, new_event
from contracts.ids import derive_id
from contracts.sanctions import SanctionImposed
from services.common.db import get_unflushed
from services.common.worker import apply_locally
from services.penalties import store
from services.penalties.models import Violation
from services.penalties.notices import DEFAULT_TEMPLATES, describe, enforcement_for, render, template_name

CONSUMER = "penalties"
SOURCE = "qunguard/penalties"


def publish(session: Session, payload: Payload, *, id: str, time: datetime, causation: list[str],
            correlation: str | None = None) -> CloudEvent:
    """Apply ``payload`` through our own fold handler and queue it; a repeat of ``id`` is a no-op."""
    from services.penalties.folds import FOLD_ROUTES

    event = new_event(payload, id=id, source=SOURCE, time=time, causation=causation,
                      correlation=correlation or (causation[0] if causation else id))
    apply_locally(session, event, FOLD_ROUTES, consumer=CONSUMER, source=SOURCE)
    return event


def impose(session: Session, s: SanctionImposed, *, time: datetime, causation: list[str],
           correlation: str | None = None) -> None:
    """Publish a sanction and the enforcement it needs (notice, mute, removal)."""
    event = publish(session, s, id=derive_id("event", "sanction_imposed", s.sanction_id), time=time,
                    causation=causation, correlation=correlation)
    violation = get_unflushed(session, Violation, s.violation_id) if s.violation_id else None
    if violation is None:
        return
    pack = store.pack_of(session, s.policy_id, s.policy_version)
    if pack is None:
        return
    user_id = (violation.payload.get("user_id") if s.liability == "actor"
               else store.account_on(session, s.employee_id, violation.platform))
    for command in enforcement_for(sanction_id=s.sanction_id, items=s.items, platform=violation.platform,
                                   group_id=violation.group_id, user_id=user_id,
                                   text=notice_text(session, s, violation, pack), at=time):
        publish(session, command, id=derive_id("event", "enforce", command.command_id), time=time,
                causation=[event.id], correlation=event.correlation)


def notice_text(session: Session, s: SanctionImposed, violation: Violation, pack) -> str:
    """The Chinese notice: the pack's template for the step (or rule), else a default by severity."""
    ladder = pack.ladders.get(s.ladder)
    step = ladder.step_for(s.repeat_count) if ladder else None
    preferred = (step.notice if step else None) or (ladder.notice if ladder else None) or pack.rule(s.rule_id).get("notice")
    name = template_name(s.items, preferred)
    template = pack.notice_template(name) or DEFAULT_TEMPLATES.get(name) or DEFAULT_TEMPLATES[template_name(s.items, None)]
    person = store.employee(session, s.employee_id)
    evidence = violation.payload.get("evidence") or {}
    return render(template, name=person.name if person else s.employee_id, rule=pack.rule_title(s.rule_id),
                  rule_id=s.rule_id, reason=evidence.get("summary") or s.rule_id, sanction=describe(s.items),
                  repeat=s.repeat_count)
