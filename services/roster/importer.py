"""The CSV import: all rows or none, a per-row error report, nothing emitted for unchanged rows.

Reading and row checks are pure (:mod:`csv_rows`); this module adds the checks that need the
roster (an account already linked to someone else, a manager nobody knows) and then applies each
row's change as events through :func:`writes.change_employee`, in the caller's one transaction.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from contracts.roster import Account, EmployeeFacts
from services.roster import changes, writes
from services.roster.csv_rows import PLATFORMS, Row, RowError, parse
from services.roster.handlers import PRELOADED
from services.roster.models import Department, Employee, Identity


@dataclass
class ImportReport:
    ok: bool
    rows: int = 0
    unchanged: int = 0
    events: Counter = field(default_factory=Counter)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "rows": self.rows, "unchanged": self.unchanged,
                "events": dict(sorted(self.events.items())), "ignored_columns": self.ignored_columns,
                "errors": [e.as_dict() for e in self.errors]}


@dataclass
class _Roster:
    """The part of the roster an import needs, read once (10,000 rows must not mean 10,000 queries)."""

    current: dict[str, changes.Current]
    owner: dict[tuple[str, str], str]
    departments: dict[str, str]
    rows: dict[type, dict[object, object]]


def _load(session: Session) -> _Roster:
    accounts: dict[str, list[Identity]] = {}
    owner = {}
    identities = list(session.exec(select(Identity)))
    for ident in identities:
        accounts.setdefault(ident.employee_id, []).append(ident)
        owner[(ident.platform, ident.user_id)] = ident.employee_id
    employees = list(session.exec(select(Employee)))
    current = {e.employee_id: changes.Current(writes.facts_of(e, accounts.get(e.employee_id, [])), e.version)
               for e in employees}
    departments = {d.name: d.department_id for d in session.exec(select(Department).where(Department.deleted == False))}  # noqa: E712
    rows = {Employee: {e.employee_id: e for e in employees},
            Identity: {(i.platform, i.user_id): i for i in identities}}
    return _Roster(current, owner, departments, rows)


def _facts(row: Row, old: EmployeeFacts | None, departments: dict[str, str]) -> EmployeeFacts:
    base = old.model_dump() if old else {"name": row.values.get("name") or row.employee_id}
    values = {k: v for k, v in row.values.items() if k != "level" or v}
    values = {k: v for k, v in values.items() if k != "status" or v}
    base.update(values)
    if "department" in row.values:
        name = row.values["department"]
        base["department_id"] = departments.get(name, name) if name else None
    accounts = {(a["platform"], a["user_id"]) for a in base.get("accounts", [])}
    for platform, value in row.accounts.items():
        accounts = {a for a in accounts if a[0] != platform}
        if value:
            accounts.add((platform, value))
    base["accounts"] = [Account(platform=p, user_id=u) for p, u in sorted(accounts)]
    if base.get("status") != "departed":
        base["leave_date"] = None if "leave_date" not in row.values else base.get("leave_date")
    return EmployeeFacts(**base)


def _roster_errors(plan: list[tuple[Row, EmployeeFacts]], roster: _Roster, columns: dict[str, str]) -> list[RowError]:
    errors = []
    in_file = {row.employee_id for row, _ in plan}
    released = {(a.platform, a.user_id) for row, facts in plan for a in
                (roster.current.get(row.employee_id, changes.Current(None)).facts or EmployeeFacts(name="")).accounts
                if a not in facts.accounts}
    for row, facts in plan:
        for account in facts.accounts:
            key = (account.platform, account.user_id)
            holder = roster.owner.get(key)
            if holder and holder != row.employee_id and key not in released:
                errors.append(RowError(row.number, columns.get(account.platform, account.platform),
                                       f"账号 {account.user_id} 已属于员工 {holder} / account linked to employee {holder}"))
        if facts.manager_id and facts.manager_id not in in_file and facts.manager_id not in roster.current:
            errors.append(RowError(row.number, columns.get("manager_id", "manager_id"),
                                   f"上级工号 {facts.manager_id} 不存在 / unknown manager"))
        if facts.manager_id == row.employee_id:
            errors.append(RowError(row.number, columns.get("manager_id", "manager_id"),
                                   "上级不能是本人 / an employee cannot be their own manager"))
    return errors


def run_import(session: Session, text: str, at: datetime) -> ImportReport:
    """Validate everything first; apply only when no row has an error (all or nothing)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # ~100,000 short-lived ORM objects: cyclic GC passes alone would double the time
    try:
        return _run(session, text, at)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run(session: Session, text: str, at: datetime) -> ImportReport:
    parsed = parse(text)
    report = ImportReport(ok=False, rows=len(parsed.rows), ignored_columns=parsed.ignored_columns)
    if parsed.errors:
        report.errors = parsed.errors
        return report
    roster = _load(session)
    plan = [(row, _facts(row, roster.current.get(row.employee_id, changes.Current(None)).facts, roster.departments))
            for row in parsed.rows]
    errors = _roster_errors(plan, roster, parsed.columns)
    if errors:
        report.errors = sorted(errors, key=lambda e: (e.row, e.column or ""))
        return report
    session.info[PRELOADED] = roster.rows
    try:
        events = []
        for row, facts in plan:
            current = roster.current.get(row.employee_id, changes.Current(None))
            row_events = writes.employee_events(session, row.employee_id, facts, at, "csv", current)
            report.unchanged += not row_events
            events.extend(row_events)
        with session.no_autoflush:
            writes.apply_many(session, events)
        report.events.update(event.type.split(".")[2] for event in events)
    finally:
        session.info.pop(PRELOADED, None)
    report.ok = True
    return report


__all__ = ["ImportReport", "PLATFORMS", "run_import"]
