"""The penalties worker's handlers and its one routing table, ``ROUTES``.

Determinism (why the ledger rebuilds byte-identically):
- Decisions (violation → sanction or review, merit → points, dismissal → reversal) are made once,
  live, by the handlers below, and written to ``qg.sanctions.v1`` as events. They are applied to our
  projections at once through the same fold handlers (``actions.publish`` → ``apply_locally``), and
  that event is recorded in our inbox, so when it comes back from the log it is skipped.
- A rebuild (``worker.rebuild``) replays every topic with ``ctx.rebuilding`` set: the decision
  handlers below then only refresh reference state and decide nothing, and the ledger is folded
  from ``qg.sanctions.v1`` alone (``folds.FOLD_ROUTES``). Each person's events share one partition,
  so their order, and hence each person's hash chain, is the log's order.
- Appending a person's lines locks that person's account row first (``store.lock_account``), so
  the live order of their lines is the order their events enter the outbox, i.e. the log.
We do not re-decide from violations on rebuild: a re-decision could differ (a policy version or an
appeal seen in a different interleaving across topics) and would rewrite history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from contracts.ids import derive_id
from contracts.policy import PolicyPublished
from contracts.roster import (
    DepartmentChanged, EmployeeDeparted, EmployeeHired, EmployeeTransferred, EmployeeUpdated, IdentityLinked,
    IdentityUnlinked,
)
from contracts.sanctions import ReviewDecided, SanctionImposed, SanctionReversed
from contracts.violations import MeritDetected, ViolationDetected, ViolationDismissed
from services.common.db import add_new, get_unflushed, load
from services.common.worker import Context
from services.penalties import actions, store
from services.penalties.folds import FOLD_ROUTES
from services.penalties.ladder import Prior, Window, listed_from
from services.penalties.models import (
    Department,
    Employee,
    PendingMerit,
    PolicyVersion,
    Review,
    Sanction,
    Violation,
)
from services.penalties.decisions import restep_after
from services.penalties.sanctioning import decide_merit, decide_violation, liable_people, sanction_id


def on_policy_published(ctx: Context, p: PolicyPublished) -> None:
    if ctx.session.get(PolicyVersion, (p.policy_id, p.version)) is None:
        ctx.session.add(PolicyVersion(policy_id=p.policy_id, version=p.version,
                                      effective_from=store.to_utc(p.effective_from), pack=p.pack))
        ctx.session.flush()
    waiting = ctx.session.scalars(select(Violation).where(
        Violation.state == "awaiting_policy", Violation.policy_id == p.policy_id,
        Violation.policy_version == p.version).order_by(Violation.occurred_at, Violation.violation_id))
    for row in list(waiting):
        _decide(ctx, ViolationDetected.model_validate(row.payload), row)
    merits = ctx.session.scalars(select(PendingMerit).where(
        PendingMerit.policy_id == p.policy_id, PendingMerit.policy_version == p.version)
        .order_by(PendingMerit.occurred_at, PendingMerit.merit_id))
    for pending in list(merits):
        if not ctx.rebuilding:
            _award(ctx, MeritDetected.model_validate(pending.payload), pending.event_id)
        ctx.session.delete(pending)


def on_employee(ctx: Context, p: EmployeeHired | EmployeeUpdated | EmployeeTransferred | EmployeeDeparted) -> None:
    row = store.employee(ctx.session, p.employee_id)
    if row is None:
        row = Employee(employee_id=p.employee_id, name=p.facts.name)
        add_new(ctx.session, row, p.employee_id)
    row.name, row.department_id, row.department = p.facts.name, p.facts.department_id, p.facts.department
    row.status = p.facts.status
    row.accounts = [a.model_dump(mode="json") for a in p.facts.accounts]
    ctx.session.add(row)


def on_identity(ctx: Context, p: IdentityLinked | IdentityUnlinked) -> None:
    row = store.employee(ctx.session, p.employee_id)
    if row is None:
        return
    account = p.account.model_dump(mode="json")
    accounts = [a for a in row.accounts if a != account]
    row.accounts = accounts + [account] if isinstance(p, IdentityLinked) else accounts
    ctx.session.add(row)


def on_department(ctx: Context, p: DepartmentChanged) -> None:
    row = ctx.session.get(Department, p.department_id) or Department(department_id=p.department_id, name=p.name)
    row.name = p.name
    ctx.session.add(row)


def prefetch(session: Session, payloads: list[object]) -> None:
    """Load what a batch's new violations will read, a query per table instead of a few per violation.

    For each violation: its row (new, usually), its liable people's employee rows, ledger accounts
    (locked here, in a stable order, before any line is chained: see ``store.lock_account``) and
    standing sanctions per ladder, and the sanctions it would impose. Asked one by one, each look-up
    also flushed what the previous violation wrote: two thirds of the worker's time went to those
    flushes and queries. The worker calls this before the batch's handlers; a rebuild, which
    decides nothing, still uses the violation rows and accounts.
    """
    violations = [p for p in payloads if isinstance(p, ViolationDetected)]
    if not violations:
        return
    people: set[str] = set()
    covers: dict[tuple[str, str], tuple[datetime, Window]] = {}  # the earliest offence decided, and the window
    varied: set[tuple[str, str]] = set()  # one ladder name with two windows (two policy versions): read in full
    sanctions: list[str] = []
    for v in violations:
        pack = store.pack_of(session, v.policy_id, v.policy_version)
        ladder = pack.ladder_for(v.rule_id, v.ladder) if pack else None
        for person, _ in liable_people(v):
            people.add(person)
            if ladder is not None:
                key = (person, ladder.name)
                seen = covers.get(key)
                if seen is not None and seen[1] != ladder.window:
                    varied.add(key)
                if seen is None or v.occurred_at < seen[0]:
                    covers[key] = (v.occurred_at, ladder.window)
                sanctions.append(sanction_id(v.violation_id, person))
    keys: dict[tuple[str, str], store.Cover | None] = {
        key: None if key in varied else (since, listed_from(window, since)) for key, (since, window) in covers.items()}
    ordered = sorted(people)
    load(session, Violation, sorted(v.violation_id for v in violations), Violation.violation_id)
    load(session, Employee, ordered, Employee.employee_id)
    load(session, Sanction, sorted(sanctions), Sanction.sanction_id)
    store.lock_accounts(session, ordered)
    store.load_standing(session, sorted({person for person, _ in keys}), keys)


def on_violation_detected(ctx: Context, v: ViolationDetected) -> None:
    row = get_unflushed(ctx.session, Violation, v.violation_id)
    if row is None:
        row = Violation(violation_id=v.violation_id, event_id=ctx.event.id, rule_id=v.rule_id, policy_id=v.policy_id,
                        policy_version=v.policy_version, platform=v.platform, group_id=v.group_id,
                        employee_id=v.employee_id, occurred_at=store.to_utc(v.occurred_at),
                        payload=v.model_dump(mode="json"))
        add_new(ctx.session, row, v.violation_id)
    if row.state in ("decided", "dismissed"):
        return
    _decide(ctx, v, row)


def _decide(ctx: Context, v: ViolationDetected, row: Violation) -> None:
    """Decide the violation's sanctions, or wait for its policy version.

    While rebuilding, only the state moves (received → awaiting_policy → decided) exactly as it did
    live: the decisions themselves are already on qg.sanctions.v1 and are folded from there.
    """
    pack = store.pack_of(ctx.session, v.policy_id, v.policy_version)
    if pack is None:  # the policy version has not reached us yet: decided when it does
        row.state = "awaiting_policy"
        ctx.session.add(row)
        return
    if ctx.rebuilding:
        row.state = "decided"
        ctx.session.add(row)
        return
    standing: dict[tuple[str, str], list[datetime]] = {}

    def standing_of(person: str, ladder: str) -> Prior:
        prior = store.standing_offences(ctx.session, person, ladder, v.violation_id, since=v.occurred_at)
        standing[(person, ladder)] = prior.times  # listed: every offence at or after this one's time
        return prior

    decisions = decide_violation(v, pack, standing=standing_of,
                                 department=lambda person: store.department_of(ctx.session, person))
    causation = [row.event_id]
    for d in decisions:
        if isinstance(d, SanctionImposed):
            actions.impose(ctx.session, d, time=v.occurred_at, causation=causation,
                           correlation=ctx.event.correlation)
        else:
            actions.publish(ctx.session, d, id=derive_id("event", "review_requested", d.review_id),
                            time=v.occurred_at, causation=causation, correlation=ctx.event.correlation)
    row.state = "decided"
    ctx.session.add(row)
    for d in decisions:
        # The ladder counts offences in the order they happened. This one may have happened before
        # offences already sanctioned (it arrived late: the same person's violations in two groups
        # are judged on different chat partitions); their steps are corrected, on the record.
        # The standing offences just read say whether any is later; asking the database again
        # flushed this violation's rows one by one (a quarter of the worker's time) to learn "none".
        if not any(t > v.occurred_at for t in standing.get((d.employee_id, d.ladder), ())):
            continue
        restep_after(ctx.session, d.employee_id, d.ladder, d.policy_id, d.policy_version, v.occurred_at,
                     actor="penalties", reason="较早的违规后到，重新计次 / an earlier offence arrived late: "
                                               "repeat count corrected",
                     cause_id=v.violation_id, cause_event=row.event_id, now=v.occurred_at)


def on_violation_dismissed(ctx: Context, p: ViolationDismissed) -> None:
    """A dismissed violation reverses its sanctions and closes its pending reviews."""
    row = ctx.session.get(Violation, p.violation_id)
    if row is not None:
        row.state, row.dismissed_by, row.dismissal_reason = "dismissed", p.dismissed_by, p.reason
        ctx.session.add(row)
    if ctx.rebuilding:
        return
    for s in ctx.session.scalars(select(Sanction).where(Sanction.violation_id == p.violation_id,
                                                        Sanction.status == "imposed")).all():
        actions.publish(ctx.session, SanctionReversed(
            sanction_id=s.sanction_id, employee_id=s.employee_id, reversed_by=p.dismissed_by,
            reason=f"违规已撤销 / violation dismissed: {p.reason}", cause_id=ctx.event.id, reversed_at=p.dismissed_at),
            id=derive_id("event", "reversal", ctx.event.id, s.sanction_id), time=p.dismissed_at, causation=[ctx.event.id])
    for r in ctx.session.scalars(select(Review).where(Review.violation_id == p.violation_id,
                                                      Review.status == "pending")).all():
        actions.publish(ctx.session, ReviewDecided(
            sanction_id=r.sanction_id, employee_id=r.employee_id, review_id=r.review_id, decision="dismissed",
            decided_by=p.dismissed_by, reason=f"违规已撤销 / violation dismissed: {p.reason}",
            decided_at=p.dismissed_at),
            id=derive_id("event", "review_closed", ctx.event.id, r.review_id), time=p.dismissed_at,
            causation=[ctx.event.id])


def on_merit_detected(ctx: Context, m: MeritDetected) -> None:
    if store.pack_of(ctx.session, m.policy_id, m.policy_version) is None:  # decided when it arrives
        if ctx.session.get(PendingMerit, m.merit_id) is None:
            ctx.session.add(PendingMerit(merit_id=m.merit_id, event_id=ctx.event.id, policy_id=m.policy_id,
                                         policy_version=m.policy_version, occurred_at=m.occurred_at,
                                         payload=m.model_dump(mode="json")))
        return
    if not ctx.rebuilding:  # the award is on qg.sanctions.v1 already
        _award(ctx, m, ctx.event.id)


def _award(ctx: Context, m: MeritDetected, event_id: str) -> None:
    pack = store.pack_of(ctx.session, m.policy_id, m.policy_version)
    award = decide_merit(m, pack, department=lambda person: store.department_of(ctx.session, person))
    if award is not None:
        actions.publish(ctx.session, award, id=derive_id("event", "points_awarded", award.sanction_id),
                        time=m.occurred_at, causation=[event_id])


ROUTES = {
    **FOLD_ROUTES,
    PolicyPublished: on_policy_published,
    EmployeeHired: on_employee, EmployeeUpdated: on_employee, EmployeeTransferred: on_employee,
    EmployeeDeparted: on_employee, IdentityLinked: on_identity, IdentityUnlinked: on_identity,
    DepartmentChanged: on_department,
    ViolationDetected: on_violation_detected, ViolationDismissed: on_violation_dismissed,
    MeritDetected: on_merit_detected,
}
