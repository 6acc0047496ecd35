"""The ledger's pure parts: which lines an event posts, and the hash chain over a person's lines.

Each person's lines form a chain: ``hash = sha256(canonical(fields) + prev_hash)``, the first line
chaining from ``GENESIS``. Editing any stored field, deleting or reordering lines breaks the chain
at that line, which ``verify_chain`` reports. Corrections are new lines (a reversal negates the
original line and names it in ``reverses``), never edits.

A line's month is the month of its posting time in the organisation's time zone, so payroll sees a
reversal in the month it was decided (a refund in the next run), never a rewritten closed month.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson

from contracts.ids import derive_id
from contracts.sanctions import SanctionItem
from services.penalties.ladder import DEFAULT_TZ

GENESIS = "0" * 64
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    """A ledger line before it is chained (no seq, no hashes yet)."""

    entry_id: str
    employee_id: str
    department_id: str | None
    posted_at: datetime
    kind: str
    amount_cny: Decimal = Decimal("0")
    percent: Decimal | None = None
    whole_month: bool = False
    points: int = 0
    sanction_id: str | None = None
    violation_id: str | None = None
    source_event_id: str = ""
    reverses: str | None = None
    note: str | None = None

    @property
    def month(self) -> str:
        return month_of(self.posted_at)


def month_of(at: datetime, tz: str = DEFAULT_TZ) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


def utc_naive(at: datetime) -> datetime:
    """The one spelling of a time in hashes: UTC without offset (SQLite drops offsets anyway)."""
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at


def lines_for_items(*, source_event_id: str, sanction_id: str, employee_id: str, department_id: str | None,
                    violation_id: str | None, items: list[SanctionItem], posted_at: datetime) -> list[Line]:
    """One line per sanction item: fines and deductions as positive CNY owed, points signed."""
    return [Line(entry_id=derive_id("ledger", sanction_id, i), employee_id=employee_id,
                 department_id=department_id, posted_at=posted_at, kind=item.kind,
                 amount_cny=(item.amount_cny or Decimal("0")).quantize(CENT), percent=item.percent,
                 whole_month=item.whole_month, points=item.points or 0, sanction_id=sanction_id,
                 violation_id=violation_id, source_event_id=source_event_id, note=item.note)
            for i, item in enumerate(items)]


def reversal_of(line: Line, *, source_event_id: str, posted_at: datetime, note: str) -> Line:
    """The line that cancels ``line``: money and points back, in the month of the reversal."""
    return replace(line, entry_id=derive_id("ledger-reversal", line.entry_id), posted_at=posted_at,
                   amount_cny=-line.amount_cny, percent=-line.percent if line.percent is not None else None,
                   points=-line.points, source_event_id=source_event_id, reverses=line.entry_id, note=note)


def _fields(line: Line, seq: int) -> list[object]:
    return [line.entry_id, line.employee_id, seq, line.department_id, line.month,
            utc_naive(line.posted_at).isoformat(), line.kind, str(Decimal(line.amount_cny).quantize(CENT)),
            None if line.percent is None else str(Decimal(line.percent).quantize(CENT)),
            bool(line.whole_month), int(line.points), line.sanction_id, line.violation_id,
            line.source_event_id, line.reverses, line.note]


def entry_hash(line: Line, seq: int, prev_hash: str) -> str:
    body = orjson.dumps(_fields(line, seq)) + prev_hash.encode()
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Broken:
    employee_id: str
    seq: int
    entry_id: str
    reason: str


def verify_chain(rows: Iterable[tuple[Line, int, str, str]]) -> Broken | None:
    """Check one person's lines ``(line, seq, prev_hash, hash)`` in seq order; the first break or None."""
    prev, expected_seq = GENESIS, 1
    for line, seq, prev_hash, stored in rows:
        if seq != expected_seq:
            return Broken(line.employee_id, seq, line.entry_id, f"序号不连续 / expected seq {expected_seq}")
        if prev_hash != prev:
            return Broken(line.employee_id, seq, line.entry_id, "前序哈希不符 / previous hash does not match")
        if entry_hash(line, seq, prev_hash) != stored:
            return Broken(line.employee_id, seq, line.entry_id, "内容被修改 / entry content does not match its hash")
        prev, expected_seq = stored, seq + 1
    return None
