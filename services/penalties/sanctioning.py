"""Violation → sanction, and merit → points: the pure decisions.

For each liable person (the actor, then everyone in ``liable_employee_ids``, e.g. the owner and each
admin of a group that kept a departed member, seed 004), the ladder of the violation's rule, from
the policy version the violation names, gives the step for the person's repeat count: their
standing (un-reversed, un-dismissed) offences of that ladder within its window, plus this one.
A step with a range or marked for review becomes a ``ReviewRequested``; otherwise a
``SanctionImposed``. Ids are derived from the violation and the person, so redelivery decides the
same thing under the same id.
"""

from __future__ import annotations

from collections.abc import Callable

from contracts.ids import derive_id
from contracts.sanctions import PointsAwarded, ReviewRequested, SanctionImposed
from contracts.violations import MeritDetected, ViolationDetected
from services.penalties.ladder import Prior, repeat_count
from services.penalties.pack import PackView

Decision = SanctionImposed | ReviewRequested


def sanction_id(violation_id: str, employee_id: str) -> str:
    return derive_id("sanction", violation_id, employee_id)


def review_id(violation_id: str, employee_id: str) -> str:
    return derive_id("review", violation_id, employee_id)


def liable_people(v: ViolationDetected) -> list[tuple[str, str]]:
    """``(person, liability)``: the actor first (employee id or platform ref), then the others."""
    actor = v.employee_id or (f"{v.platform}:{v.user_id}" if v.user_id else None)
    people = [(actor, "actor")] if actor else []
    for other in v.liable_employee_ids:
        if other not in {p for p, _ in people}:
            people.append((other, "shared"))
    return people


def decide_violation(v: ViolationDetected, pack: PackView,
                     standing: Callable[[str, str], Prior],
                     department: Callable[[str], str | None]) -> list[Decision]:
    """What the ladder says for each liable person; empty when the rule has no ladder.

    ``standing(person, ladder)`` gives the person's standing offences on that ladder (this violation
    excluded); ``department(person)`` their department now.
    """
    ladder = pack.ladder_for(v.rule_id, v.ladder)
    if ladder is None:
        return []
    rule = pack.rule(v.rule_id)
    out: list[Decision] = []
    for person, liability in liable_people(v):
        prior = standing(person, ladder.name)
        count = repeat_count(ladder, prior.times, v.occurred_at, pack.timezone, earlier=prior.earlier)
        step = ladder.step_for(count)
        common = dict(sanction_id=sanction_id(v.violation_id, person), employee_id=person,
                      violation_id=v.violation_id, rule_id=v.rule_id, ladder=ladder.name, step=step.number,
                      repeat_count=count, policy_id=v.policy_id, policy_version=v.policy_version,
                      occurred_at=v.occurred_at, department_id=department(person))
        if step.needs_review or v.needs_review or rule.get("needs_review"):
            deciders = sorted({i.decider for i in step.items if i.decider})
            reason = (f"需人工决定（{'、'.join(deciders)}）/ a range decided by {', '.join(deciders)}" if deciders
                      else "需人工复核 / marked for human review")
            out.append(ReviewRequested(review_id=review_id(v.violation_id, person), proposed=step.items_out(),
                                       reason=reason, **common))
        else:
            out.append(SanctionImposed(liability=liability, items=step.items_out(), **common))
    return out


def decide_merit(m: MeritDetected, pack: PackView, department: Callable[[str], str | None]) -> PointsAwarded | None:
    """Points for a merit per the pack's programme; None for an unknown kind or zero points."""
    person = m.employee_id or (f"{m.platform}:{m.user_id}" if m.user_id else None)
    points = pack.programme.merits.get(m.kind, 0)
    if person is None or points == 0:
        return None
    return PointsAwarded(sanction_id=derive_id("points", m.merit_id, person), employee_id=person, points=points,
                         reason=m.evidence.summary, department_id=department(person), merit_id=m.merit_id,
                         rule_id=m.rule_id, occurred_at=m.occurred_at)
