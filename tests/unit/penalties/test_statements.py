"""Statements count each kind of disciplinary mark apart, and payroll dates are 北京时间, labelled."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from services.penalties.models import LedgerEntry
from services.penalties.statements import department_totals, payroll_csv, payroll_rows, statements

pytestmark = pytest.mark.unit
AT = datetime(2024, 3, 4, 2, 0, tzinfo=timezone.utc)  # 2024-03-04 10:00 北京时间


def line(n: int, who: str, kind: str, sanction: str, *, dept: str = "D01", reverses: str | None = None,
         amount: str = "0", at: datetime = AT) -> LedgerEntry:
    return LedgerEntry(entry_id=f"l{n}", employee_id=who, seq=n, department_id=dept, month="2024-03", posted_at=at,
                       kind=kind, amount_cny=Decimal(amount), sanction_id=sanction, source_event_id=f"ev{n}",
                       reverses=reverses, prev_hash="0" * 64, hash="0" * 64)


def test_a_reminder_is_not_a_warning_and_each_mark_has_its_own_count() -> None:
    rows = [line(1, "E1001", "reminder", "s1"), line(2, "E1001", "warning", "s2"),
            line(3, "E1001", "public_criticism", "s3"), line(4, "E1001", "demerit", "s4"),
            line(5, "E1001", "major_demerit", "s5"), line(6, "E1001", "reminder", "s6")]
    totals = statements(rows)["E1001"].as_dict()
    assert {k: totals[k] for k in ("reminders", "warnings", "public_criticisms", "demerits", "major_demerits")} == {
        "reminders": 2, "warnings": 1, "public_criticisms": 1, "demerits": 1, "major_demerits": 1}


def test_a_warning_with_a_public_apology_in_the_same_step_is_one_warning_on_file() -> None:
    rows = [line(1, "E2001", "warning", "s1"), line(2, "E2001", "warning_apology", "s1"),
            line(3, "E2001", "warning_apology", "s2")]
    assert statements(rows)["E2001"].warnings == 2


def test_a_reversed_warning_comes_off_the_count_and_a_later_month_shows_minus_one() -> None:
    imposed, reversed_ = line(1, "E2001", "warning", "s1"), line(2, "E2001", "warning", "s1", reverses="l1")
    assert statements([imposed, reversed_])["E2001"].warnings == 0
    assert statements([reversed_])["E2001"].warnings == -1


def test_department_totals_keep_the_marks_apart() -> None:
    rows = [line(1, "E1001", "reminder", "s1"), line(2, "E1002", "demerit", "s2"),
            line(3, "E2001", "warning", "s3", dept="D02")]
    totals = department_totals(statements(rows).values())
    assert (totals["D01"]["reminders"], totals["D01"]["demerits"], totals["D01"]["warnings"]) == (1, 1, 0)
    assert (totals["D02"]["warnings"], totals["D02"]["people"]) == (1, 1)


def test_payroll_dates_are_beijing_dates_and_the_header_says_so() -> None:
    late_utc = datetime(2024, 3, 4, 17, 30, tzinfo=timezone.utc)  # already 3月5日 01:30 in Beijing
    rows = payroll_rows(statements([line(1, "E1001", "fine", "s1", amount="20", at=late_utc),
                                    line(2, "E1001", "fine", "s2", amount="30")]).values(),
                        "2024-03", {"E1001": ("张伟", "销售部")})
    table = list(csv.reader(io.StringIO(payroll_csv(rows).decode("utf-8-sig"))))
    assert table[0][-1] == "入账日期(北京时间 UTC+08:00)"
    assert table[1][4] == "50.00" and table[1][-1] == "2024-03-04 2024-03-05"
