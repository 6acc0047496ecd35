"""Pure roster decisions: employee change events, CSV rows, reconciliation, member kinds, nicknames."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from contracts.roster import Account, EmployeeFacts
from services.roster import changes, membership
from services.roster.csv_rows import decode, parse

pytestmark = pytest.mark.unit
AT = datetime(2025, 3, 3, 9, 0, tzinfo=timezone(timedelta(hours=8)))
ZHANG = EmployeeFacts(name="张三", department_id="研发部", department="研发部", status="probation",
                      accounts=[Account(platform="qq", user_id="2874561230")])


def kinds(planned):
    return [p.payload.event_type.split(".")[2] for p in planned]


def test_a_new_person_is_hired_with_all_accounts_and_no_separate_identity_events():
    planned = changes.decide("E1001", changes.Current(None), ZHANG, AT, "csv")
    assert kinds(planned) == ["employee_hired"] and planned[0].payload.facts.accounts == ZHANG.accounts


def test_unchanged_facts_emit_nothing_so_a_repeated_import_is_silent():
    assert changes.decide("E1001", changes.Current(ZHANG, 1), ZHANG, AT, "csv") == []


def test_department_change_is_a_transfer_and_account_changes_are_link_events():
    new = ZHANG.model_copy(update={"department_id": "市场部", "department": "市场部",
                                   "handover_date": date(2025, 3, 14),
                                   "accounts": [Account(platform="dingtalk", user_id="0211556")]})
    planned = changes.decide("E1001", changes.Current(ZHANG, 1), new, AT, "csv")
    assert kinds(planned) == ["employee_transferred", "identity_unlinked", "identity_linked"]
    assert planned[0].payload.old_department_id == "研发部" and planned[0].payload.handover_date == date(2025, 3, 14)


def test_departure_without_leave_date_uses_the_event_date():
    planned = changes.decide("E1001", changes.Current(ZHANG, 2), ZHANG.model_copy(update={"status": "departed"}), AT, "x")
    assert kinds(planned) == ["employee_departed"] and planned[0].payload.leave_date == date(2025, 3, 3)


def test_event_ids_repeat_for_a_retry_but_not_for_a_later_change_back():
    there = ZHANG.model_copy(update={"title": "架构师"})
    first = changes.decide("E1001", changes.Current(ZHANG, 1), there, AT, "csv")
    assert first == changes.decide("E1001", changes.Current(ZHANG, 1), there, AT, "csv")
    back = changes.decide("E1001", changes.Current(there, 2), ZHANG, AT, "csv")
    assert first[0].id != back[0].id


def test_csv_with_chinese_headers_parses_dates_levels_and_accounts():
    text = "工号,姓名,部门,职级,状态,入职日期,QQ,企业微信\nE1001,张三,研发部,经理,试用期,2025年2月17日,2874561230,zhangsan\n"
    parsed = parse(decode(text.encode("gb18030")))
    assert parsed.errors == []
    row = parsed.rows[0]
    assert row.values["level"] == "manager" and row.values["status"] == "probation"
    assert row.values["hire_date"] == date(2025, 2, 17) and row.accounts == {"qq": "2874561230", "wecom": "zhangsan"}


def test_csv_errors_name_row_and_column_chinese_first():
    parsed = parse("工号,姓名,状态,离职日期\nE1,张三,正式,2025-01-02\n,李四,,\nE1,王五,离职,2025-02-30\n")
    got = {(e.row, e.column): e.message for e in parsed.errors}
    assert got[(2, "状态")].startswith("填写了离职日期但状态不是离职")
    assert got[(3, "工号")].startswith("工号不能为空")
    assert got[(4, "离职日期")].startswith("日期「2025-02-30」格式错误")
    assert parse("姓名\n张三\n").errors[0].message.startswith("缺少必需列「工号」")


def test_reconciliation_finds_joins_and_leaves_the_events_missed():
    diff = membership.reconcile(["a", "b"], ["b", "c"])
    assert (diff.joined, diff.left) == (["c"], ["a"])


def test_member_kinds_follow_roster_and_approvals_with_expiry():
    person = membership.Person("E1", "张三", "regular", "研发部")
    assert membership.classify(person, None) == "employee"
    assert membership.classify(membership.Person("E2", "王芳", "departed"), None) == "departed"
    external = membership.Approval("external", date(2025, 3, 1))
    assert membership.classify(None, external, date(2025, 3, 1)) == "external-approved"
    assert membership.classify(None, external, date(2025, 3, 2)) == "unknown"


def test_nickname_template_is_read_defensively_and_full_width_dashes_fit():
    assert membership.template_from_pack({"organisation": {"nickname_template": "{city}-{name"}}) == "{department}-{name}"
    assert membership.template_from_pack({"organization": {"nickname": {"template": "{name}"}}}) == "{name}"
    assert membership.template_from_pack(None) == "{department}-{name}"
    zhang = membership.Person("E1", "张三", "regular", "研发部")
    assert membership.nickname_fits("{department}-{name}", "研发部－张三", zhang) is True
    assert membership.nickname_fits("{department}-{name}", "三哥", zhang) is False
    assert membership.nickname_fits("{department}-{name}", "x", None) is None
    assert membership.nickname_fits("{company}-{name}", "x", zhang) is None
