"""Monthly statements, the leaderboard and the payroll export, computed from ledger lines (pure).

Everything here sums ledger lines, so statements, payroll and the ledger cannot disagree: a
reversal line is negative and lands in the month it was decided.

Disciplinary marks are counted apart, because on an HR file they are different things: a 善意提醒
(reminder) is not a 警告 (warning), and neither is a 通报批评 (public criticism), a 记过 (demerit)
or a 记大过 (major demerit). A warning with a public apology counts as a warning, and a mark counts
once per sanction (a step of "warning + warning with apology" is one warning on file); a reversal
takes it off in the month it is decided, as it does money.

The payroll exports show dates in the zone the ledger's months are cut in (``ledger.month_of``:
Asia/Shanghai, 北京时间) and the header names the zone, since payroll staff read them as local dates.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.penalties.ladder import DEFAULT_TZ
from services.penalties.models import LedgerEntry

ZERO = Decimal("0.00")
#: ledger kind → the count it adds to (a reversal line subtracts)
MARKS = {"reminder": "reminders", "warning": "warnings", "warning_apology": "warnings",
         "public_criticism": "public_criticisms", "demerit": "demerits", "major_demerit": "major_demerits"}
MARK_COUNTS = ("reminders", "warnings", "public_criticisms", "demerits", "major_demerits")
ZONE_LABELS = {"Asia/Shanghai": "北京时间 UTC+08:00"}


def payroll_header(tz: str = DEFAULT_TZ) -> list[str]:
    zone = ZONE_LABELS.get(tz, tz)
    return ["工号", "姓名", "部门", "月份", "罚款合计(元)", "绩效扣减(元)", "绩效扣减比例(%)",
            "扣除当月全部绩效", "明细条数", "处罚编号", f"入账日期({zone})"]


PAYROLL_HEADER = payroll_header()


@dataclass
class Statement:
    employee_id: str
    department_id: str | None = None
    fines_cny: Decimal = ZERO
    performance_cny: Decimal = ZERO
    performance_percent: Decimal = ZERO
    whole_month: int = 0
    performance_points: int = 0
    programme_points: int = 0
    reminders: int = 0
    warnings: int = 0
    public_criticisms: int = 0
    demerits: int = 0
    major_demerits: int = 0
    entries: int = 0
    sanction_ids: list[str] = field(default_factory=list)
    posted: list = field(default_factory=list)  # aware posting times of the lines

    def as_dict(self) -> dict:
        return {"employee_id": self.employee_id, "department_id": self.department_id,
                "fines_cny": str(self.fines_cny), "performance_cny": str(self.performance_cny),
                "performance_percent": str(self.performance_percent), "whole_month": self.whole_month > 0,
                "performance_points": self.performance_points, "programme_points": self.programme_points,
                **{name: getattr(self, name) for name in MARK_COUNTS}, "entries": self.entries}

    def dates(self, tz: str = DEFAULT_TZ) -> list[str]:
        """The distinct local dates (YYYY-MM-DD in ``tz``) of the lines, in order."""
        zone = ZoneInfo(tz)
        local = {(p if p.tzinfo else p.replace(tzinfo=timezone.utc)).astimezone(zone).date().isoformat()
                 for p in self.posted}
        return sorted(local)


def statements(entries: Iterable[LedgerEntry]) -> dict[str, Statement]:
    """Per person totals of the given lines (one month's, usually)."""
    out: dict[str, Statement] = {}
    marks: dict[str, dict[tuple[str, str], int]] = {}  # person → (count name, sanction) → net lines
    for e in entries:
        st = out.setdefault(e.employee_id, Statement(e.employee_id, e.department_id))
        sign = -1 if e.reverses else 1
        st.entries += 1
        if e.kind == "fine":
            st.fines_cny += Decimal(e.amount_cny)
        elif e.kind == "performance_deduction":
            st.performance_cny += Decimal(e.amount_cny)
            st.performance_percent += Decimal(e.percent or 0)
            st.whole_month += sign if e.whole_month else 0
        elif e.kind == "performance_points":
            st.performance_points += e.points
        elif e.kind == "programme_points":
            st.programme_points += e.points
        elif e.kind in MARKS:
            key = (MARKS[e.kind], e.sanction_id or e.reverses or e.entry_id)
            marks.setdefault(e.employee_id, defaultdict(int))[key] += sign
        st.posted.append(e.posted_at)
        if e.sanction_id and e.sanction_id not in st.sanction_ids:
            st.sanction_ids.append(e.sanction_id)
    for person, nets in marks.items():
        for (name, _), net in nets.items():
            setattr(out[person], name, getattr(out[person], name) + (net > 0) - (net < 0))
    return out


def department_totals(stmts: Iterable[Statement]) -> dict[str, dict]:
    totals: dict[str, dict] = defaultdict(lambda: {"fines_cny": ZERO, "performance_cny": ZERO,
                                                   "programme_points": 0, **dict.fromkeys(MARK_COUNTS, 0),
                                                   "people": 0})
    for st in stmts:
        t = totals[st.department_id or "-"]
        t["fines_cny"] += st.fines_cny
        t["performance_cny"] += st.performance_cny
        t["programme_points"] += st.programme_points
        for name in MARK_COUNTS:
            t[name] += getattr(st, name)
        t["people"] += 1
    return {k: {**v, "fines_cny": str(v["fines_cny"]), "performance_cny": str(v["performance_cny"])}
            for k, v in sorted(totals.items())}


def leaderboard(stmts: Iterable[Statement]) -> list[dict]:
    """Programme points ranking, highest first; ties share a rank (1, 1, 3)."""
    ranked = sorted(stmts, key=lambda s: (-s.programme_points, s.employee_id))
    out, rank = [], 0
    for i, st in enumerate(ranked):
        if i == 0 or st.programme_points != ranked[i - 1].programme_points:
            rank = i + 1
        out.append({"rank": rank, "employee_id": st.employee_id, "department_id": st.department_id,
                    "points": st.programme_points})
    return out


def payroll_rows(stmts: Iterable[Statement], month: str, names: Mapping[str, tuple[str, str]],
                 tz: str = DEFAULT_TZ) -> list[list]:
    """Rows of people with any money effect this month; ``names``: id → (姓名, 部门); dates in ``tz``."""
    rows = []
    for st in sorted(stmts, key=lambda s: s.employee_id):
        if st.fines_cny == 0 and st.performance_cny == 0 and st.performance_percent == 0 and st.whole_month <= 0:
            continue
        name, dept = names.get(st.employee_id, ("", st.department_id or ""))
        rows.append([st.employee_id, name, dept, month, st.fines_cny.quantize(ZERO), st.performance_cny.quantize(ZERO),
                     st.performance_percent.quantize(ZERO), "是" if st.whole_month > 0 else "否", st.entries,
                     " ".join(st.sanction_ids), " ".join(st.dates(tz))])
    return rows


def payroll_csv(rows: list[list], tz: str = DEFAULT_TZ) -> bytes:
    """UTF-8 with BOM, so Excel opens the Chinese header correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(payroll_header(tz))
    writer.writerows([[str(c) for c in r] for r in rows])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


def payroll_xlsx(rows: list[list], month: str, tz: str = DEFAULT_TZ) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = f"扣款 {month}"
    ws.append(payroll_header(tz))
    for r in rows:
        ws.append([float(c) if isinstance(c, Decimal) else c for c in r])
    for col in ("E", "F", "G"):
        for cell in ws[col][1:]:
            cell.number_format = "0.00"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
