"""Reads and writes of the penalties projections inside the caller's transaction (never commits)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from services.common.db import get_unflushed, state_digest
from services.penalties.ledger import GENESIS, Broken, Line, entry_hash, verify_chain
from services.penalties.models import LEDGER_TABLES, Account, Employee, LedgerEntry, PolicyVersion, Sanction
from services.penalties.pack import PackView


def aware(at: datetime) -> datetime:
    """SQLite hands datetimes back without offset; they were stored in UTC."""
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def to_utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc)


_LOCKED = "penalties_locked_accounts"  # session.info: employee id → Account row locked in this transaction


def lock_account(session: Session, employee_id: str) -> Account:
    """The head of a person's chain, row-locked on PostgreSQL so appends for one person serialise.

    The lock is taken before the entries and their outbox row are written, so the order of one
    person's lines equals the order of their events on the log, which a rebuild replays.
    """
    locked = session.info.setdefault(_LOCKED, {})
    if employee_id not in locked:
        lock_accounts(session, [employee_id])
    account = locked.get(employee_id)
    if account is None:
        account = locked[employee_id] = Account(employee_id=employee_id, last_seq=0, last_hash=GENESIS)
        session.add(account)
        session.flush()
    return account


def lock_accounts(session: Session, employee_ids: list[str]) -> None:
    """``lock_account`` for many people in one query (a worker batch, before its handlers), in the
    order given; people without an account yet get one when their first line is chained."""
    locked = session.info.setdefault(_LOCKED, {})
    wanted = [e for e in employee_ids if e not in locked]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        with session.no_autoflush:
            for account in session.scalars(select(Account).where(Account.employee_id.in_(chunk))
                                           .order_by(Account.employee_id).with_for_update()):
                locked[account.employee_id] = account


def append_lines(session: Session, lines: list[Line]) -> list[LedgerEntry]:
    """Chain ``lines`` onto their people's ledgers (in the order given)."""
    out = []
    for line in lines:
        account = lock_account(session, line.employee_id)
        seq = account.last_seq + 1
        digest = entry_hash(line, seq, account.last_hash)
        entry = LedgerEntry(entry_id=line.entry_id, employee_id=line.employee_id, seq=seq,
                            department_id=line.department_id, month=line.month, posted_at=to_utc(line.posted_at),
                            kind=line.kind, amount_cny=line.amount_cny, percent=line.percent,
                            whole_month=line.whole_month, points=line.points, sanction_id=line.sanction_id,
                            violation_id=line.violation_id, source_event_id=line.source_event_id,
                            reverses=line.reverses, note=line.note, prev_hash=account.last_hash, hash=digest)
        account.last_seq, account.last_hash = seq, digest
        session.add(entry)
        session.add(account)
        out.append(entry)
    return out


def line_of(entry: LedgerEntry) -> Line:
    return Line(entry_id=entry.entry_id, employee_id=entry.employee_id, department_id=entry.department_id,
                posted_at=aware(entry.posted_at), kind=entry.kind, amount_cny=entry.amount_cny,
                percent=entry.percent, whole_month=entry.whole_month, points=entry.points,
                sanction_id=entry.sanction_id, violation_id=entry.violation_id,
                source_event_id=entry.source_event_id, reverses=entry.reverses, note=entry.note)


def entries_of_sanction(session: Session, sanction_id: str) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.sanction_id == sanction_id,
                                                          LedgerEntry.reverses.is_(None))
                                .order_by(LedgerEntry.employee_id, LedgerEntry.seq)))


def verify_all(session: Session) -> tuple[int, list[Broken]]:
    """Check every person's chain; returns (entries checked, the first break of each broken chain)."""
    rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.employee_id, LedgerEntry.seq))
    broken: list[Broken] = []
    count, person, chain = 0, None, []
    for entry in [*rows, None]:
        if entry is None or entry.employee_id != person:
            if chain and (b := verify_chain(chain)) is not None:
                broken.append(b)
            chain = []
            if entry is None:
                break
            person = entry.employee_id
        chain.append((line_of(entry), entry.seq, entry.prev_hash, entry.hash))
        count += 1
    return count, broken


def ledger_digest(session: Session) -> str:
    """SHA-256 over every ledger-state table (a fold over ``qg.sanctions.v1``), in key order."""
    return state_digest(session, LEDGER_TABLES)


def standing_offences(session: Session, employee_id: str, ladder: str, before_violation: str | None) -> list[datetime]:
    """Offence times of the person's standing (not reversed) sanctions on ``ladder``, but those of
    the violation ``before_violation``."""
    return [at for at, violation, _ in standing_sanctions(session, employee_id, ladder) if violation != before_violation]


# The standing sanctions of (person, ladder), held for the transaction: session.info key → {(person,
# ladder): {sanction id: (offence time, violation id)}}. Every new violation asks for its people's;
# a query each time also flushed everything the previous violation wrote, one violation at a time
# (a third of the worker). A key is held only while exact: it is loaded before this transaction
# changes it (``prefetch``, or the first read), or loaded after a flush when a fold changed it
# first (``_STANDING_STALE``), and every change after that is made here too (``note_imposed``,
# ``note_reversed``, called by the folds, the only writers of a sanction's status).
_STANDING = "penalties_standing"
_STANDING_STALE = "penalties_standing_stale"


def standing_sanctions(session: Session, employee_id: str, ladder: str) -> list[tuple[datetime, str, str]]:
    """(offence time, violation id, sanction id) of the person's standing sanctions on ``ladder``."""
    key = (employee_id, ladder)
    found = session.info.get(_STANDING, {}).get(key)
    if found is None:
        stale = session.info.get(_STANDING_STALE)
        if stale and key in stale:  # a fold changed it unheld: once flushed, the database has every change
            session.flush()
            stale.clear()
        load_standing(session, [employee_id], {key})
        found = session.info[_STANDING][key]
    return [(at, violation, sanction) for sanction, (at, violation) in found.items()]


def load_standing(session: Session, people: list[str], keys: set[tuple[str, str]]) -> None:
    """Load the standing sanctions of ``people`` (all their ladders) in one query, without flushing,
    and hold them, ``keys`` among them even where there are none; but not the keys a fold changed
    in this transaction before they were held (stale): the database does not have those changes."""
    held = session.info.setdefault(_STANDING, {})
    stale = session.info.get(_STANDING_STALE, set())
    loaded: dict[tuple[str, str], dict[str, tuple[datetime, str]]] = {key: {} for key in keys}
    for start in range(0, len(people), 500):
        chunk = people[start:start + 500]
        with session.no_autoflush:
            rows = session.execute(select(Sanction.employee_id, Sanction.ladder, Sanction.sanction_id,
                                          Sanction.occurred_at, Sanction.violation_id)
                                   .where(Sanction.employee_id.in_(chunk), Sanction.status == "imposed"))
            for person, ladder, sanction, at, violation in rows:
                loaded.setdefault((person, ladder), {})[sanction] = (aware(at), violation)
    for key, found in loaded.items():
        if key not in stale:
            held[key] = found


def note_imposed(session: Session, row: Sanction) -> None:
    _note(session, row, present=True)


def note_reversed(session: Session, row: Sanction) -> None:
    _note(session, row, present=False)


def _note(session: Session, row: Sanction, *, present: bool) -> None:
    key = (row.employee_id, row.ladder)
    found = session.info.get(_STANDING, {}).get(key)
    if found is None:  # not held: whoever reads it next loads it after a flush
        session.info.setdefault(_STANDING_STALE, set()).add(key)
    elif present:
        found[row.sanction_id] = (aware(row.occurred_at), row.violation_id)
    else:
        found.pop(row.sanction_id, None)


@sa_event.listens_for(OrmSession, "after_rollback")
def _forget_standing(session: OrmSession) -> None:
    for key in (_STANDING, _STANDING_STALE, _LOCKED):
        session.info.pop(key, None)


def pack_of(session: Session, policy_id: str, version: int) -> PackView | None:
    """The view of a published version, parsed once per transaction (a worker batch judges a hundred
    violations under the same version; its ladders were parsed three times per violation)."""
    views = session.info.setdefault("penalties_pack_views", {})
    view = views.get((policy_id, version))
    if view is None:
        row = session.get(PolicyVersion, (policy_id, version))
        if row is None:
            return None
        view = views[(policy_id, version)] = PackView(row.pack)
    return view


def employee(session: Session, employee_id: str) -> Employee | None:
    return get_unflushed(session, Employee, employee_id)


def department_of(session: Session, employee_id: str) -> str | None:
    row = employee(session, employee_id)
    return row.department_id if row else None


def account_on(session: Session, employee_id: str, platform: str) -> str | None:
    """The person's user id on ``platform`` (for mutes and removals of people other than the actor)."""
    row = employee(session, employee_id)
    for account in (row.accounts if row else []):
        if account.get("platform") == platform:
            return account.get("user_id")
    return None
