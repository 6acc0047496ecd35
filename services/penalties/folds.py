"""The ledger fold: how each ``qg.sanctions.v1`` event changes the ledger state.

These handlers never decide and never emit; they only apply a decision already on the log. They
are all a rebuild runs for the ledger, so the ledger is a function of that topic alone (each
person's events in their partition's order) and rebuilds byte-identically.
"""

from __future__ import annotations

from sqlmodel import Session

from contracts.sanctions import (
    AppealDecided, AppealFiled, PointsAwarded, ReportDecided, ReportFiled, ReviewDecided, ReviewRequested,
    SanctionImposed, SanctionReversed,
)
from services.common.db import add_new, get_unflushed
from services.common.worker import Context
from services.penalties import store
from services.penalties.ledger import Line, lines_for_items, month_of, reversal_of
from services.penalties.models import Appeal, Decision, Report, Review, Sanction


def _decision(session: Session, event_id: str, subject: str, kind: str, decision: str, actor: str,
              reason: str, at) -> None:
    if session.get(Decision, event_id) is None:
        session.add(Decision(event_id=event_id, subject_id=subject, kind=kind, decision=decision, actor=actor,
                             reason=reason, at=store.to_utc(at)))


def on_sanction_imposed(ctx: Context, p: SanctionImposed) -> None:
    if get_unflushed(ctx.session, Sanction, p.sanction_id) is not None:
        return
    posted = ctx.event.time
    row = Sanction(
        sanction_id=p.sanction_id, event_id=ctx.event.id, employee_id=p.employee_id, department_id=p.department_id,
        violation_id=p.violation_id, rule_id=p.rule_id, ladder=p.ladder, step=p.step, repeat_count=p.repeat_count,
        liability=p.liability, items=[i.model_dump(mode="json") for i in p.items], policy_id=p.policy_id,
        policy_version=p.policy_version, occurred_at=store.to_utc(p.occurred_at), posted_at=store.to_utc(posted),
        month=month_of(posted), decided_by=p.decided_by, review_id=p.review_id)
    add_new(ctx.session, row, p.sanction_id)
    store.note_imposed(ctx.session, row)
    store.append_lines(ctx.session, lines_for_items(
        source_event_id=ctx.event.id, sanction_id=p.sanction_id, employee_id=p.employee_id,
        department_id=p.department_id, violation_id=p.violation_id, items=p.items, posted_at=posted))


def on_sanction_reversed(ctx: Context, p: SanctionReversed) -> None:
    sanction = get_unflushed(ctx.session, Sanction, p.sanction_id)
    if sanction is None or sanction.status == "reversed":
        return
    sanction.status, sanction.reversed_by = "reversed", p.reversed_by
    store.note_reversed(ctx.session, sanction)
    sanction.reversal_reason, sanction.reversal_cause_id = p.reason, p.cause_id
    ctx.session.add(sanction)
    note = f"撤销 / reversed: {p.reason}"
    lines = [reversal_of(store.line_of(e), source_event_id=ctx.event.id, posted_at=p.reversed_at, note=note)
             for e in store.entries_of_sanction(ctx.session, p.sanction_id)]
    store.append_lines(ctx.session, lines)
    _decision(ctx.session, ctx.event.id, p.sanction_id, "reversal", "reversed", p.reversed_by, p.reason,
              p.reversed_at)


def on_points_awarded(ctx: Context, p: PointsAwarded) -> None:
    from services.penalties.models import LedgerEntry
    from contracts.ids import derive_id

    entry_id = derive_id("ledger", p.sanction_id, 0)
    if ctx.session.get(LedgerEntry, entry_id) is not None:
        return
    store.append_lines(ctx.session, [Line(
        entry_id=entry_id, employee_id=p.employee_id, department_id=p.department_id, posted_at=p.occurred_at,
        kind="programme_points", points=p.points, sanction_id=p.sanction_id, source_event_id=ctx.event.id,
        note=p.reason)])


def on_review_requested(ctx: Context, p: ReviewRequested) -> None:
    if ctx.session.get(Review, p.review_id) is not None:
        return
    ctx.session.add(Review(
        review_id=p.review_id, event_id=ctx.event.id, sanction_id=p.sanction_id, employee_id=p.employee_id,
        violation_id=p.violation_id, rule_id=p.rule_id, ladder=p.ladder, step=p.step, repeat_count=p.repeat_count,
        proposed=[i.model_dump(mode="json") for i in p.proposed], reason=p.reason, policy_id=p.policy_id,
        policy_version=p.policy_version, occurred_at=store.to_utc(p.occurred_at)))


def on_review_decided(ctx: Context, p: ReviewDecided) -> None:
    review = ctx.session.get(Review, p.review_id)
    if review is not None and review.status == "pending":
        review.status, review.decided_by = p.decision, p.decided_by
        review.decision_reason, review.decided_at = p.reason, store.to_utc(p.decided_at)
        ctx.session.add(review)
    _decision(ctx.session, ctx.event.id, p.sanction_id, "review", p.decision, p.decided_by, p.reason, p.decided_at)


def on_appeal_filed(ctx: Context, p: AppealFiled) -> None:
    if ctx.session.get(Appeal, p.appeal_id) is None:
        ctx.session.add(Appeal(appeal_id=p.appeal_id, sanction_id=p.sanction_id, employee_id=p.employee_id,
                               filed_by=p.filed_by, grounds=p.grounds, filed_at=store.to_utc(p.filed_at)))
    _decision(ctx.session, ctx.event.id, p.sanction_id, "appeal", "filed", p.filed_by, p.grounds, p.filed_at)


def on_appeal_decided(ctx: Context, p: AppealDecided) -> None:
    appeal = ctx.session.get(Appeal, p.appeal_id)
    if appeal is not None and appeal.status == "open":
        appeal.status, appeal.decided_by = p.decision, p.decided_by
        appeal.decision_reason, appeal.decided_at = p.reason, store.to_utc(p.decided_at)
        ctx.session.add(appeal)
    _decision(ctx.session, ctx.event.id, p.sanction_id, "appeal", p.decision, p.decided_by, p.reason, p.decided_at)


def on_report_filed(ctx: Context, p: ReportFiled) -> None:
    if ctx.session.get(Report, p.report_id) is None:
        ctx.session.add(Report(report_id=p.report_id, reporter_id=p.reporter_id, reported_id=p.reported_id,
                               platform=p.platform, group_id=p.group_id, message_id=p.message_id,
                               message_event_id=p.message_event_id, reason=p.reason, filed_at=store.to_utc(p.filed_at)))


def on_report_decided(ctx: Context, p: ReportDecided) -> None:
    report = ctx.session.get(Report, p.report_id)
    if report is not None and report.status == "open":
        report.status, report.decided_by, report.decision_reason = p.decision, p.decided_by, p.reason
        report.decided_at, report.reward_points, report.rule_id = store.to_utc(p.decided_at), p.reward_points, p.rule_id
        ctx.session.add(report)
    _decision(ctx.session, ctx.event.id, p.report_id, "report", p.decision, p.decided_by, p.reason, p.decided_at)


FOLD_ROUTES = {
    SanctionImposed: on_sanction_imposed, SanctionReversed: on_sanction_reversed, PointsAwarded: on_points_awarded,
    ReviewRequested: on_review_requested, ReviewDecided: on_review_decided, AppealFiled: on_appeal_filed,
    AppealDecided: on_appeal_decided, ReportFiled: on_report_filed, ReportDecided: on_report_decided,
}
