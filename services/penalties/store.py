"""Reads and writes of the penalties projections inside the caller's transaction (never commits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import event as sa_event
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from services.common.db import get_unflushed, state_digest
from services.penalties.ladder import Prior
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


def standing_offences(session: Session, employee_id: str, ladder: str, before_violation: str | None,
                      since: datetime | None = None) -> Prior:
    """The person's standing (not reversed) offences on ``ladder`` as a decision about an offence at
    or after ``since`` needs them (``None``: any time), but those of the violation ``before_violation``."""
    earlier, held = standing_sanctions(session, employee_id, ladder, since)
    return Prior(earlier, [at for at, violation, _ in held if violation != before_violation])


# The standing sanctions of (person, ladder), held for the transaction: session.info key → {(person,
# ladder): _Held}. Every new violation asks for its people's; a query each time also flushed
# everything the previous violation wrote, one violation at a time (a third of the worker). A key
# is held only while exact: it is loaded before this transaction changes it (``prefetch``, or the
# first read), or loaded after a flush when a fold changed it first (``_STANDING_STALE``), and every
# change after that is made here too (``note_imposed``, ``note_reversed``, called by the folds, the
# only writers of a sanction's status).
_STANDING = "penalties_standing"
_STANDING_STALE = "penalties_standing_stale"


@dataclass(slots=True)
class _Held:
    """What is held of one (person, ladder): ``rows`` (sanction id → offence time, violation id) lists
    the standing sanctions from ``listed_from`` on, and ``earlier`` counts those before it that
    count towards every offence at or after ``since``. ``since`` None: every one is listed.

    A sanction's offence time is its violation's (the folds impose it so; a re-step keeps it), so
    a violation at or after ``since`` finds its own sanctions listed, never counted."""

    rows: dict[str, tuple[datetime, str]]
    earlier: int = 0
    since: datetime | None = None
    listed_from: datetime | None = None


# A key is held in part (from a time on) when a batch decides offences of that time or later; a
# cover is (since, listed from), where listed from is None for a ``forever`` ladder (ladder.listed_from).
Cover = tuple[datetime, datetime | None]


def standing_sanctions(session: Session, employee_id: str, ladder: str,
                       since: datetime | None = None) -> tuple[int, list[tuple[datetime, str, str]]]:
    """(count of earlier standing offences not listed, [(offence time, violation id, sanction id)]) of the
    person's standing sanctions on ``ladder``, for offences at or after ``since`` (``None``: listed in full)."""
    key = (employee_id, ladder)
    held = session.info.get(_STANDING, {}).get(key)
    if held is not None and held.since is not None and (since is None or since < held.since):
        _drop(session, key)  # held for later offences only: read again in full
        held = None
    if held is None:
        stale = session.info.get(_STANDING_STALE)
        if stale and key in stale:  # a fold changed it unheld: once flushed, the database has every change
            session.flush()
            stale.clear()
        load_standing(session, [employee_id], {key: None})
        held = session.info[_STANDING][key]
    return held.earlier, [(at, violation, sanction) for sanction, (at, violation) in held.rows.items()]


def load_standing(session: Session, people: list[str], keys: dict[tuple[str, str], Cover | None]) -> None:
    """Load the standing sanctions of ``keys`` (of ``people``), a query or two per 500 people, without
    flushing, and hold them, even where there are none; but not the keys a fold changed in this
    transaction before they were held (stale): the database does not have those changes.

    A key's cover says how much to hold: ``None`` every standing sanction; (since, listed from) the
    ones from "listed from" on, and on a ``forever`` ladder (listed from None) the ones from since
    on and the number before it. So a habitual offender's every offence is not read again for each
    new one.
    """
    held = session.info.setdefault(_STANDING, {})
    stale = session.info.get(_STANDING_STALE, set())
    floors: dict[str, datetime | None] = {}  # per ladder, from when its rows are read (None: all of them)
    counted: set[str] = set()                 # ladders with a forever key: the rows before the floor are counted
    for (_, ladder), cover in keys.items():
        floor = None if cover is None else cover[1] if cover[1] is not None else cover[0]
        if cover is not None and cover[1] is None:
            counted.add(ladder)
        if ladder not in floors:
            floors[ladder] = floor
        elif floors[ladder] is not None:
            floors[ladder] = None if floor is None else min(floors[ladder], floor)
    by_floor = or_(*(Sanction.ladder == ladder if floor is None
                     else and_(Sanction.ladder == ladder, Sanction.occurred_at >= floor)
                     for ladder, floor in floors.items()))
    before_floor = [and_(Sanction.ladder == ladder, Sanction.occurred_at < floor)
                    for ladder, floor in floors.items() if floor is not None and ladder in counted]
    rows: dict[tuple[str, str], list[tuple[str, datetime, str]]] = {}
    below: dict[tuple[str, str], int] = {}
    for start in range(0, len(people), 500):
        chunk = people[start:start + 500]
        with session.no_autoflush:
            for person, ladder, sanction, at, violation in session.execute(
                    select(Sanction.employee_id, Sanction.ladder, Sanction.sanction_id, Sanction.occurred_at,
                           Sanction.violation_id)
                    .where(Sanction.employee_id.in_(chunk), Sanction.status == "imposed", by_floor)):
                rows.setdefault((person, ladder), []).append((sanction, aware(at), violation))
            if before_floor:
                for person, ladder, n in session.execute(
                        select(Sanction.employee_id, Sanction.ladder, func.count())
                        .where(Sanction.employee_id.in_(chunk), Sanction.status == "imposed", or_(*before_floor))
                        .group_by(Sanction.employee_id, Sanction.ladder)):
                    below[(person, ladder)] = n
    for key, cover in keys.items():
        if key in stale:
            continue
        found = rows.get(key, ())
        if cover is None:
            held[key] = _Held({sanction: (at, violation) for sanction, at, violation in found})
            continue
        since, listed = cover
        if listed is None:  # forever: every offence before since counts; the rest are listed
            earlier = below.get(key, 0) + sum(1 for _, at, _ in found if at < since)
            held[key] = _Held({sanction: (at, violation) for sanction, at, violation in found if at >= since},
                              earlier, since, since)
        else:  # before "listed from" nothing counts any more
            held[key] = _Held({sanction: (at, violation) for sanction, at, violation in found if at >= listed},
                              0, since, listed)


def note_imposed(session: Session, row: Sanction) -> None:
    _note(session, row, present=True)


def note_reversed(session: Session, row: Sanction) -> None:
    _note(session, row, present=False)


def _note(session: Session, row: Sanction, *, present: bool) -> None:
    key = (row.employee_id, row.ladder)
    held = session.info.get(_STANDING, {}).get(key)
    at = aware(row.occurred_at)
    if held is None:  # not held: whoever reads it next loads it after a flush
        session.info.setdefault(_STANDING_STALE, set()).add(key)
    elif held.listed_from is not None and at < held.listed_from:
        _drop(session, key)  # counted or not held at all: read again in full when next asked
    elif present:
        held.rows[row.sanction_id] = (at, row.violation_id)
    else:
        held.rows.pop(row.sanction_id, None)


def _drop(session: Session, key: tuple[str, str]) -> None:
    """Forget a held key; the transaction may have changed it, so it is read again after a flush."""
    session.info.get(_STANDING, {}).pop(key, None)
    session.info.setdefault(_STANDING_STALE, set()).add(key)


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
