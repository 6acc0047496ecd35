"""Thin handlers of the rules worker and the one routing table (``ROUTES``).

Every input event goes through the pure engine over the state held in memory and written through to
SQL in the batch's transaction (``cache``); what the engine emits is queued in the outbox with its
deterministic id and projected for the API.
"""

from __future__ import annotations

import hashlib

import orjson
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from contracts import chat, roster
from contracts.clock import ClockTicked
from contracts.policy import PolicyPublished
from contracts.violations import ViolationDetected, ViolationDismissed
from services.common.worker import Context, Routes
from services.rules import models as m
from services.rules.engine import PolicyBook, evaluate
from services.rules.cache import cached_state, forget_packs
from services.rules.store import SqlState

CONSUMER = "rules"
SOURCE = "qunguard/rules"
BOOK = PolicyBook()  # compiled packs: a cache of immutable data shared by all transactions


def pack_sha256(doc: dict) -> str:
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def evaluate_event(ctx: Context, payload: object) -> None:
    """Any chat, roster or clock event: evaluate, emit, project."""
    for e in evaluate(cached_state(ctx.session), ctx.event, BOOK, payload):  # type: ignore[arg-type]
        ctx.emit(e.payload, id=e.id, time=e.time, causation=list(e.causation))
        if isinstance(e.payload, ViolationDetected):
            project_violation(ctx, e.payload)
        elif isinstance(e.payload, ViolationDismissed):
            project_dismissal(ctx, e.payload)


def policy_published(ctx: Context, p: PolicyPublished) -> None:
    if ctx.session.get(m.PolicyVersion, (p.policy_id, p.version)) is not None:
        return
    ctx.session.add(m.PolicyVersion(policy_id=p.policy_id, version=p.version, effective_from=p.effective_from,
                                    sha256=p.sha256, published_by=p.published_by, published_at=ctx.event.time,
                                    event_id=ctx.event.id, doc=p.pack))
    ctx.session.flush()
    forget_packs(ctx.session)


_PENDING_VIOLATIONS = "rules_pending_violations"  # session.info: violation rows not yet written


def project_violation(ctx: Context, v: ViolationDetected) -> None:
    """Insert (or, on a reprocessed event, replace) the violation's row: every column written, as a
    ``merge`` would. Rows wait in the transaction and are written in one statement before it commits
    or before a dismissal reads them: one ORM object and one statement per violation were a quarter of
    a rebuild (each violation is projected when emitted and again when it comes back from the log)."""
    ctx.session.info.setdefault(_PENDING_VIOLATIONS, {})[v.violation_id] = {
        "violation_id": v.violation_id, "rule_id": v.rule_id, "category": v.category, "severity": v.severity,
        "policy_id": v.policy_id, "policy_version": v.policy_version, "platform": v.platform,
        "group_id": v.group_id, "user_id": v.user_id, "employee_id": v.employee_id, "occurred_at": v.occurred_at,
        "needs_review": v.needs_review, "dismissed": False, "dismissed_by": None, "dismissed_reason": None,
        "doc": v.model_dump(mode="json")}


@event.listens_for(OrmSession, "before_commit")
def _write_violations(session: OrmSession) -> None:
    pending = session.info.get(_PENDING_VIOLATIONS)
    if pending:
        SqlState(session).upsert(m.Violation, list(pending.values()))
        pending.clear()


@event.listens_for(OrmSession, "after_rollback")
def _forget_violations(session: OrmSession) -> None:
    session.info.pop(_PENDING_VIOLATIONS, None)


def project_dismissal(ctx: Context, d: ViolationDismissed) -> None:
    _write_violations(ctx.session)
    row = ctx.session.get(m.Violation, d.violation_id)
    if row is not None and not row.dismissed:
        row.dismissed, row.dismissed_by, row.dismissed_reason = True, d.dismissed_by, d.reason
        ctx.session.add(row)


def violation_dismissed(ctx: Context, d: ViolationDismissed) -> None:
    project_dismissal(ctx, d)


INPUTS = (chat.MessagePosted, chat.MessageRecalled, chat.MemberJoined, chat.MemberLeft, chat.MemberRemoved,
          chat.NicknameChanged, chat.GroupCreated, chat.GroupRenamed, chat.GroupDissolved, chat.AdminChanged,
          chat.MembersSnapshot, roster.EmployeeHired, roster.EmployeeUpdated, roster.EmployeeTransferred,
          roster.EmployeeDeparted, roster.IdentityLinked, roster.IdentityUnlinked, roster.DepartmentChanged,
          roster.GroupRegistered, roster.GroupUpdated, roster.GroupRetired, roster.MemberApproved,
          roster.MembershipReconciled, ClockTicked)

ROUTES: Routes = {
    **{t: evaluate_event for t in INPUTS},
    PolicyPublished: policy_published,
    ViolationDismissed: violation_dismissed,
}
