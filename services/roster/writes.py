"""The write side shared by SCIM, CSV import and the registry API: build events, apply them locally.

Every state change is an event applied with ``apply_locally`` in the caller's transaction, so the
API reads its own writes, the worker skips the event when it comes back from the log, and a rebuild
from the log reproduces the same state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, select

from contracts.base import Payload
from contracts.envelope import CloudEvent, new_event
from contracts.roster import Account, EmployeeFacts
from services.common import outbox
from services.common.worker import Context, apply_locally
from services.roster import changes
from services.roster.handlers import ROUTES
from services.roster.models import Department, Employee, Identity

CONSUMER = "roster"
SOURCE = "qunguard/roster"


def apply(session: Session, payload: Payload, *, id: str, at: datetime,
          causation: list[str] | None = None) -> CloudEvent:
    """Wrap ``payload`` (event time ``at``) and apply it in this transaction (projection + inbox + outbox)."""
    event = new_event(payload, id=id, source=SOURCE, time=at, causation=causation)
    apply_locally(session, event, ROUTES, consumer=CONSUMER, source=SOURCE)
    return event


def apply_many(session: Session, events: list[CloudEvent]) -> int:
    """``apply_locally`` for a batch (the CSV import): one inbox query for all ids instead of one each.

    Same semantics per event as ``services.common.worker.apply_locally`` (skip if already in the
    inbox; else inbox row, handler, outbox row), in the caller's transaction and in list order.
    Returns how many were applied.
    """
    if not events:
        return 0
    seen: set[str] = set()
    ids = [e.id for e in events]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        seen.update(session.exec(select(outbox.InboxEntry.event_id).where(
            outbox.InboxEntry.consumer == CONSUMER, outbox.InboxEntry.event_id.in_(chunk))))
    inbox_rows: list[dict[str, object]] = []
    for event in events:
        if event.id in seen:
            continue
        seen.add(event.id)
        payload = event.payload()
        handler = ROUTES.get(type(payload))
        if handler is not None:
            handler(Context(session=session, event=event, source=SOURCE), payload)
        inbox_rows.append({"consumer": CONSUMER, "event_id": event.id, "handled_at": event.time})
        outbox.enqueue(session, event)
    # The inbox rows as one executemany statement; the outbox rows are written at commit, in order
    # with whatever the handlers emitted.
    if inbox_rows:
        session.execute(insert(outbox.InboxEntry.__table__), inbox_rows)
    return len(inbox_rows)


def current_facts(session: Session, employee_id: str) -> changes.Current:
    """The roster's present facts of one employee (accounts from the identity table)."""
    emp = session.get(Employee, employee_id)
    if emp is None:
        return changes.Current(None, 0)
    accounts = session.exec(select(Identity).where(Identity.employee_id == employee_id)).all()
    return changes.Current(facts_of(emp, accounts), emp.version)


def facts_of(emp: Employee, identities: list[Identity]) -> EmployeeFacts:
    return EmployeeFacts(
        name=emp.name, department_id=emp.department_id, department=emp.department, level=emp.level,
        status=emp.status, manager_id=emp.manager_id, title=emp.title, hire_date=emp.hire_date,
        leave_date=emp.leave_date, handover_date=emp.handover_date, mobile=emp.mobile,
        accounts=sorted((Account(platform=i.platform, user_id=i.user_id) for i in identities),
                        key=changes.account_key))


def employee_events(session: Session, employee_id: str, new: EmployeeFacts, at: datetime, cause: str,
                    current: changes.Current | None = None) -> list[CloudEvent]:
    """The events (not yet applied) that changing one employee's facts to ``new`` means."""
    current = current if current is not None else current_facts(session, employee_id)
    new = new.model_copy(update={"accounts": sorted(new.accounts, key=changes.account_key)})
    return [new_event(planned.payload, id=planned.id, source=SOURCE, time=at)
            for planned in changes.decide(employee_id, current, new, at, cause)]


def change_employee(session: Session, employee_id: str, new: EmployeeFacts, at: datetime, cause: str,
                    current: changes.Current | None = None) -> list[CloudEvent]:
    """Decide and apply what changing one employee's facts to ``new`` means; [] when nothing changed."""
    events = employee_events(session, employee_id, new, at, cause, current)
    for event in events:
        apply_locally(session, event, ROUTES, consumer=CONSUMER, source=SOURCE)
    return events


def department_id_for(session: Session, name: str | None) -> str | None:
    """A department name as HR spells it → the id of the department of that name, else the name.

    Departments provisioned as SCIM Groups have server ids; CSV rows and user attributes carry
    names. Using the name itself as the id when no such department exists keeps transfers
    detectable without forcing HR to create departments first.
    """
    if not name:
        return None
    found = session.exec(select(Department.department_id).where(Department.name == name,
                                                                Department.deleted == False)).first()  # noqa: E712
    return found or name


def linked_elsewhere(session: Session, employee_id: str, accounts: list[Account]) -> list[tuple[Account, str]]:
    """Accounts in ``accounts`` already linked to another employee (an identity is one person's)."""
    out = []
    for account in accounts:
        row = session.get(Identity, (account.platform, account.user_id))
        if row is not None and row.employee_id != employee_id:
            out.append((account, row.employee_id))
    return out
