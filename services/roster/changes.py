"""Which roster events a change of an employee's facts means (pure: no IO, no clock).

Every writer (SCIM, CSV import) computes the person's new facts and asks :func:`decide` what
happened; the answer is the list of events to apply. Unchanged facts mean no events, which is what
makes a re-run of the same import (or a repeated SCIM PUT) emit nothing.

Event ids are derived from the employee id and the employee's event counter (``version``), so a
retried request that computes the same change gets the same id (and is dropped by the inbox), while
a later change back to an earlier state still gets a new id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from contracts.ids import derive_id
from contracts.roster import (
    Account,
    EmployeeDeparted,
    EmployeeEvent,
    EmployeeFacts,
    EmployeeHired,
    EmployeeTransferred,
    EmployeeUpdated,
    IdentityLinked,
    IdentityUnlinked,
)


@dataclass(frozen=True)
class Current:
    """What the roster holds now for one employee (None facts: never seen)."""

    facts: EmployeeFacts | None
    version: int = 0


@dataclass(frozen=True)
class Planned:
    """One event to apply, with its deterministic id."""

    id: str
    payload: EmployeeEvent


def _without_accounts(facts: EmployeeFacts) -> EmployeeFacts:
    return facts.model_copy(update={"accounts": []})


def account_key(account: Account) -> tuple[str, str]:
    return account.platform, account.user_id


def decide(employee_id: str, current: Current, new: EmployeeFacts, at: datetime,
           cause: str) -> list[Planned]:
    """The events that turn ``current`` into ``new``, in the order they must be applied.

    - never seen → ``EmployeeHired`` (carrying every account), then ``EmployeeDeparted`` when the
      person is already departed (historic rows of an import);
    - becomes departed → ``EmployeeDeparted`` (leave date: the given one, else the event date);
    - department changes → ``EmployeeTransferred`` (old and new department, handover date);
    - anything else changes → ``EmployeeUpdated``;
    - accounts added or removed on a known employee → ``IdentityLinked`` / ``IdentityUnlinked``.
    ``cause`` names the writer (``scim:<resource id>``, ``csv``) and goes into the ids.
    """
    events: list[EmployeeEvent] = []
    old = current.facts
    if old is None:
        events.append(EmployeeHired(employee_id=employee_id, occurred_at=at, facts=new))
        if new.status == "departed":
            events.append(EmployeeDeparted(employee_id=employee_id, occurred_at=at,
                                           leave_date=new.leave_date or at.date(), facts=new))
    else:
        events.extend(_fact_events(employee_id, old, new, at))
        events.extend(_identity_events(employee_id, old, new, at))
    planned, version = [], current.version
    for event in events:
        version += 1
        planned.append(Planned(derive_id("roster", cause, employee_id, version, event.event_type), event))
    return planned


def _fact_events(employee_id: str, old: EmployeeFacts, new: EmployeeFacts, at: datetime) -> list[EmployeeEvent]:
    if _without_accounts(old) == _without_accounts(new):
        return []
    if new.status == "departed" and old.status != "departed":
        leave = new.leave_date or at.date()
        new = new.model_copy(update={"leave_date": leave})
        return [EmployeeDeparted(employee_id=employee_id, occurred_at=at, leave_date=leave, facts=new)]
    if (new.department_id or None) != (old.department_id or None):
        return [EmployeeTransferred(employee_id=employee_id, occurred_at=at,
                                    old_department_id=old.department_id,
                                    new_department_id=new.department_id,
                                    handover_date=new.handover_date, facts=new)]
    return [EmployeeUpdated(employee_id=employee_id, occurred_at=at, facts=new)]


def _identity_events(employee_id: str, old: EmployeeFacts, new: EmployeeFacts,
                     at: datetime) -> list[EmployeeEvent]:
    before = {account_key(a): a for a in old.accounts}
    after = {account_key(a): a for a in new.accounts}
    out: list[EmployeeEvent] = [IdentityUnlinked(employee_id=employee_id, occurred_at=at, account=a)
                                for k, a in sorted(before.items()) if k not in after]
    out += [IdentityLinked(employee_id=employee_id, occurred_at=at, account=a)
            for k, a in sorted(after.items()) if k not in before]
    return out


def leave_date_of(facts: EmployeeFacts, at: datetime) -> date:
    return facts.leave_date or at.date()
