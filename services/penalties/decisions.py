"""Human decisions (review, appeal, report) as application services the API calls.

Each takes the caller's session (one transaction), checks the case is open, and publishes the
decision as an event with a fresh id (a human decision has no deterministic cause) plus what
follows from it (a sanction, a reversal, reward points), all applied locally. Refusals raise
``ProblemError`` (404 unknown case, 409 already decided, 422 amount outside the allowed range,
403 a party deciding their own case: nobody decides an appeal they filed or that is about them, nor
a report they made or that is about them).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from contracts.ids import derive_id, fresh_id
from contracts.sanctions import (
    AppealDecided, AppealFiled, PointsAwarded, ReportDecided, ReportFiled, ReviewDecided, SanctionImposed,
    SanctionItem, SanctionReversed,
)
from services.common.db import get_unflushed, load
from services.common.problems import ProblemError
from services.penalties import actions, store
from services.penalties.ladder import repeat_count
from services.penalties.models import Appeal, PolicyVersion, Report, Review, Sanction
from services.penalties.pack import PackView


def _get(session: Session, model, key: str, what: str):
    row = session.get(model, key)
    if row is None:
        raise ProblemError(404, detail=f"未找到{what} / unknown {what}: {key}")
    return row


def _not_a_party(actor: str, *parties: str) -> None:
    """Separation of duties: the decider is neither the person concerned nor who brought the case."""
    if actor in parties:
        raise ProblemError(403, detail="不得处理与本人有关的案件 / you cannot decide a case you are a party to")


def _check_range(proposed: list[SanctionItem], items: list[SanctionItem]) -> None:
    """Approving a range means choosing an amount inside it, for every ranged item."""
    for want in proposed:
        if want.range_low is None:
            continue
        chosen = next((i for i in items if i.kind == want.kind), None)
        value = None if chosen is None else (chosen.points if chosen.points is not None else chosen.amount_cny)
        if value is None or not (want.range_low <= Decimal(value) <= want.range_high):
            raise ProblemError(422, detail=f"{want.kind} 须在 {want.range_low}～{want.range_high} 之间"
                                           f"（{want.decider}决定）/ choose an amount within the range")


def decide_review(session: Session, review_id: str, *, decision: str, items: list[SanctionItem] | None,
                  actor: str, reason: str, now: datetime) -> ReviewDecided:
    review = _get(session, Review, review_id, "复核 / review")
    if review.status != "pending":
        raise ProblemError(409, detail=f"复核已处理 / review already {review.status}")
    proposed = [SanctionItem.model_validate(i) for i in review.proposed]
    if decision == "approved":
        items = items or proposed
        _check_range(proposed, items)
    elif decision == "changed" and not items:
        raise ProblemError(422, detail="变更须给出处理项 / a change needs the new items")
    decided = ReviewDecided(sanction_id=review.sanction_id, employee_id=review.employee_id, review_id=review_id,
                            decision=decision, items=items if decision != "dismissed" else [], decided_by=actor,
                            reason=reason, decided_at=now)
    event = actions.publish(session, decided, id=fresh_id(), time=now, causation=[review.event_id])
    if decision != "dismissed":
        actions.impose(session, SanctionImposed(
            sanction_id=review.sanction_id, employee_id=review.employee_id, violation_id=review.violation_id,
            rule_id=review.rule_id, ladder=review.ladder, step=review.step, repeat_count=review.repeat_count,
            department_id=store.department_of(session, review.employee_id), review_id=review_id,
            items=[i.model_copy(update={"range_low": None, "range_high": None}) for i in items],
            policy_id=review.policy_id, policy_version=review.policy_version, occurred_at=store.aware(review.occurred_at),
            decided_by=actor), time=now, causation=[event.id])
    return decided


def file_appeal(session: Session, sanction_id: str, *, filed_by: str, grounds: str, now: datetime) -> AppealFiled:
    sanction = _get(session, Sanction, sanction_id, "处罚 / sanction")
    if sanction.status != "imposed":
        raise ProblemError(409, detail="处罚已撤销 / sanction already reversed")
    if session.scalars(select(Appeal).where(Appeal.sanction_id == sanction_id, Appeal.status == "open")).first():
        raise ProblemError(409, detail="已有未决申诉 / an appeal is already open")
    filed = AppealFiled(sanction_id=sanction_id, employee_id=sanction.employee_id, appeal_id=fresh_id(),
                        filed_by=filed_by, grounds=grounds, filed_at=now)
    actions.publish(session, filed, id=fresh_id(), time=now, causation=[sanction.event_id])
    return filed


def decide_appeal(session: Session, appeal_id: str, *, decision: str, actor: str, reason: str,
                  now: datetime) -> AppealDecided:
    appeal = _get(session, Appeal, appeal_id, "申诉 / appeal")
    if appeal.status != "open":
        raise ProblemError(409, detail=f"申诉已处理 / appeal already {appeal.status}")
    _not_a_party(actor, appeal.employee_id, appeal.filed_by)
    decided = AppealDecided(sanction_id=appeal.sanction_id, employee_id=appeal.employee_id, appeal_id=appeal_id,
                            decision=decision, decided_by=actor, reason=reason, decided_at=now)
    event = actions.publish(session, decided, id=fresh_id(), time=now, causation=[appeal.sanction_id])
    if decision == "overturned":
        reverse(session, appeal.sanction_id, actor=actor, reason=f"申诉成立 / appeal upheld: {reason}",
                cause_id=appeal_id, cause_event=event.id, now=now)
        restep_later(session, appeal.sanction_id, actor=actor, cause_id=appeal_id, cause_event=event.id, now=now)
    return decided


def reverse(session: Session, sanction_id: str, *, actor: str, reason: str, cause_id: str, cause_event: str,
            now: datetime) -> None:
    sanction = _get(session, Sanction, sanction_id, "处罚 / sanction")
    actions.publish(session, SanctionReversed(sanction_id=sanction_id, employee_id=sanction.employee_id,
                                              reversed_by=actor, reason=reason, cause_id=cause_id, reversed_at=now),
                    id=derive_id("event", "reversal", cause_event, sanction_id), time=now, causation=[cause_event])


def restep_later(session: Session, overturned_id: str, *, actor: str, cause_id: str, cause_event: str,
                 now: datetime) -> None:
    """Correct later sanctions on the same ladder whose step counted the overturned one.

    Each such sanction is reversed and imposed again at the step its corrected repeat count gives
    (a fine of the 2nd offence becomes the criticism of a 1st), entries only, nothing edited.
    """
    gone = _get(session, Sanction, overturned_id, "处罚 / sanction")
    restep_after(session, gone.employee_id, gone.ladder, gone.policy_id, gone.policy_version,
                 store.aware(gone.occurred_at), actor=actor, reason="前次处罚撤销，重新计次 / repeat count corrected",
                 cause_id=cause_id, cause_event=cause_event, now=now)


def restep_after(session: Session, employee_id: str, ladder_name: str, policy_id: str, policy_version: int,
                 after: datetime, *, actor: str, reason: str, cause_id: str, cause_event: str, now: datetime) -> None:
    """Re-count the person's standing sanctions on ``ladder_name`` for offences after ``after``: each whose
    step is now wrong is reversed and imposed again at the right step (entries only, nothing edited).

    Two causes: an earlier sanction was overturned (:func:`restep_later`), or an earlier offence arrived
    after later ones were sanctioned (``handlers``: the same person's violations in two groups travel on
    different chat partitions).
    """
    pack = store.pack_of(session, policy_id, policy_version)
    ladder = pack.ladders.get(ladder_name) if pack else None
    if ladder is None:
        return
    # Read once: each sanction this loop reverses is imposed again for the same offence, so the
    # standing offences it counts do not change (read again for each later sanction, they were half
    # of the penalties worker on a day where violations of two groups arrive out of order).
    earlier, standing = store.standing_sanctions(session, employee_id, ladder_name, since=after)
    later = [sanction for at, sanction in sorted((at, sanction) for at, _, sanction in standing) if at > after]
    load(session, Sanction, later, Sanction.sanction_id)  # one query, not one per later sanction
    for s in [get_unflushed(session, Sanction, sanction) for sanction in later]:
        at = store.aware(s.occurred_at)
        prior = [t for t, violation, _ in standing if t < at and violation != s.violation_id]
        count = repeat_count(ladder, prior, at, pack.timezone, earlier=earlier)
        step = ladder.step_for(count)
        if step.number == s.step or step.needs_review:
            continue
        reverse(session, s.sanction_id, actor=actor, reason=reason, cause_id=cause_id, cause_event=cause_event,
                now=now)
        actions.impose(session, SanctionImposed(
            sanction_id=derive_id("sanction-restep", s.sanction_id, cause_id), employee_id=s.employee_id,
            violation_id=s.violation_id, rule_id=s.rule_id, ladder=s.ladder, step=step.number, repeat_count=count,
            liability=s.liability, department_id=s.department_id, items=step.items_out(), policy_id=s.policy_id,
            policy_version=s.policy_version, occurred_at=at, decided_by=f"ladder:{actor}"),
            time=now, causation=[cause_event])


def file_report(session: Session, *, reporter_id: str, reported_id: str, platform: str, group_id: str,
                message_id: str | None, message_event_id: str | None, reason: str, now: datetime) -> ReportFiled:
    if reporter_id == reported_id:
        raise ProblemError(422, detail="不能举报自己 / you cannot report yourself")
    filed = ReportFiled(report_id=fresh_id(), reporter_id=reporter_id, reported_id=reported_id, platform=platform,
                        group_id=group_id, message_id=message_id, message_event_id=message_event_id, reason=reason,
                        filed_at=now)
    actions.publish(session, filed, id=fresh_id(), time=now, causation=[message_event_id] if message_event_id else [])
    return filed


def decide_report(session: Session, report_id: str, *, decision: str, rule_id: str | None, actor: str, reason: str,
                  now: datetime) -> ReportDecided:
    report = _get(session, Report, report_id, "举报 / report")
    if report.status != "open":
        raise ProblemError(409, detail=f"举报已处理 / report already {report.status}")
    _not_a_party(actor, report.reporter_id, report.reported_id)
    reward = _report_reward(session) if decision == "upheld" else 0
    decided = ReportDecided(report_id=report_id, reporter_id=report.reporter_id, reported_id=report.reported_id,
                            decision=decision, reward_points=reward, rule_id=rule_id, decided_by=actor,
                            reason=reason, decided_at=now)
    event = actions.publish(session, decided, id=fresh_id(), time=now, causation=[])
    if reward:
        award = PointsAwarded(sanction_id=derive_id("points", "report", report_id), employee_id=report.reporter_id,
                              points=reward, reason="举报属实奖励 / reward for an upheld report",
                              department_id=store.department_of(session, report.reporter_id), report_id=report_id,
                              rule_id=rule_id, occurred_at=now)
        actions.publish(session, award, id=derive_id("event", "points_awarded", award.sanction_id), time=now,
                        causation=[event.id])
    return decided


def _report_reward(session: Session) -> int:
    """The reward of the latest published policy version (the policy in force when decided)."""
    latest = session.scalars(select(PolicyVersion).order_by(PolicyVersion.effective_from.desc(),
                                                            PolicyVersion.version.desc())).first()
    return PackView(latest.pack).programme.report_reward if latest else PackView({}).programme.report_reward
