"""A roster CSV with CR line endings or broken quoting is read or refused row by row, never a crash."""

from __future__ import annotations

import pytest

from services.roster.csv_rows import parse

pytestmark = pytest.mark.unit


def test_csv_saved_with_classic_mac_cr_line_endings_reads_every_row() -> None:
    parsed = parse("工号,姓名,部门\rE1001,张伟,华东销售一部\rE1002,李娜,财务部\r")
    assert parsed.errors == []
    assert [(r.number, r.employee_id, r.values["name"]) for r in parsed.rows] == [(2, "E1001", "张伟"), (3, "E1002", "李娜")]


def test_a_cell_beyond_the_csv_field_limit_is_a_row_error_not_an_exception() -> None:
    parsed = parse("工号,姓名\nE1001,\"" + "长" * 200_000 + "\"\n")
    assert parsed.rows == []
    assert len(parsed.errors) == 1 and "malformed CSV" in parsed.errors[0].message


def test_fuzzer_found_bytes_give_row_errors() -> None:
    parsed = parse("\x8f\r\x138Þ\U00062864\x84g\x8eU\x9cÛ1=¸\x0c")
    assert parsed.rows == [] and parsed.errors
