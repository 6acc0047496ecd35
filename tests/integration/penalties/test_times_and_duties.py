"""What compliance and payroll rely on, through the API on SQLite and PostgreSQL: every time carries its
offset, disciplinary marks are counted apart, and nobody both brings and decides a case."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from services.penalties.sanctioning import sanction_id
from tests.integration.penalties import scenario as sc
from tests.integration.penalties.api_support import MARCH, auth, feed

pytestmark = pytest.mark.integration
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
MARKS = ("reminders", "warnings", "public_criticisms", "demerits", "major_demerits")


def timestamps(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every ISO date-time string inside a JSON document, with where it is."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from timestamps(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from timestamps(v, f"{path}[{i}]")
    elif isinstance(value, str) and ISO.match(value):
        yield path, value


def test_every_time_the_api_returns_is_utc_with_its_offset(engine, client):
    feed(engine, sc.violation("t1", "content.ads", "E1001", MARCH),
         sc.violation("t2", "content.confidential", "E1002", MARCH, summary="转发内部报价单"))
    sid = sanction_id(sc.derive_id("violation", "t1"), "E1001")
    review = client.get("/v1/reviews", headers=auth("compliance")).json()["items"][0]
    decided = client.post(f"/v1/reviews/{review['review_id']}/decision", headers=auth("compliance"),
                          json={"decision": "approved", "reason": "董事长批示",
                                "items": [{"kind": "programme_points", "points": -300}]}).json()
    appeal = client.post(f"/v1/sanctions/{sid}/appeals", json={"grounds": "系公司活动通知"}, headers=auth("E1001")).json()
    upheld = client.post(f"/v1/appeals/{appeal['appeal_id']}/decision", headers=auth("compliance"),
                         json={"decision": "upheld", "reason": "确属广告"}).json()
    report = client.post("/v1/reports", json={"reported_id": "E2001", "platform": "qq", "group_id": "80001",
                                              "reason": "发布赌博链接"}, headers=auth("E1002")).json()
    answers = {
        "sanction": client.get(f"/v1/sanctions/{sid}", headers=auth("E1001")).json(),
        "sanctions": client.get("/v1/sanctions", headers=auth("hr")).json(),
        "ledger": client.get("/v1/employees/E1001/ledger", headers=auth("E1001")).json(),
        "reviews": client.get("/v1/reviews", params={"status": "approved"}, headers=auth("auditor")).json(),
        "review decision": decided, "appeal": appeal, "appeal decision": upheld,
        "appeals": client.get("/v1/appeals", headers=auth("hr")).json(),
        "reports": client.get("/v1/reports", headers=auth("compliance")).json(),
        "report": client.get(f"/v1/reports/{report['report_id']}", headers=auth("E1002")).json(),
        "audit": client.get(f"/v1/sanctions/{sid}/audit", headers=auth("auditor")).json(),
    }
    found = [(name + path, v) for name, doc in answers.items() for path, v in timestamps(doc)
             if not path.startswith(".violation")]  # the violation is quoted as rules published it
    assert len(found) > 20
    assert [(p, v) for p, v in found if not v.endswith("Z")] == []
    # 2024-03-04 10:00 北京时间 is 02:00 UTC; the month stays the Beijing month
    assert answers["sanction"]["occurred_at"] == "2024-03-04T02:00:00Z" and answers["sanction"]["month"] == "2024-03"
    assert answers["appeal decision"]["decided_at"] == "2024-03-20T07:00:00Z"  # the clock said 15:00 +08:00
    assert all(v.endswith(("Z", "+08:00")) for _, v in timestamps(answers["audit"]["violation"]))


def test_reminders_warnings_criticisms_and_demerits_are_counted_apart(engine, client):
    feed(engine, *[sc.violation(f"q{i}", "member.qq_conduct", "E2001", MARCH + timedelta(hours=i), summary="辱骂同事")
                   for i in range(4)],
         sc.violation("o1", "content.offtopic", "E2002", MARCH, summary="工作群闲聊"),
         sc.violation("c1", "content.ads", "E1001", MARCH),
         sc.violation("w1", "member.conduct", "E1002", MARCH, summary="发言不文明"))
    totals = {p: client.get(f"/v1/employees/{p}/ledger", headers=auth("hr")).json()["totals"]
              for p in ("E2001", "E2002", "E1001", "E1002")}
    assert {p: [t[m] for m in MARKS] for p, t in totals.items()} == {
        "E2001": [0, 2, 0, 1, 1],  # 口头警告, 书面警告, 记过, 记大过
        "E2002": [1, 0, 0, 0, 0],  # a 善意提醒 is not a warning
        "E1001": [0, 0, 1, 0, 0],  # 通报批评
        "E1002": [0, 1, 0, 0, 0],  # warning + apology in one step: one warning on file
    }
    month = client.get("/v1/statements/2024-03", headers=auth("hr")).json()
    assert {p["employee_id"]: p["warnings"] for p in month["people"]}["E2001"] == 2
    assert [month["departments"]["D02"][m] for m in MARKS] == [1, 2, 0, 1, 1]


def test_compliance_cannot_appeal_for_someone_nor_decide_its_own_case(engine, client):
    feed(engine, sc.violation("s1", "content.ads", "E1001", MARCH))
    sid = sanction_id(sc.derive_id("violation", "s1"), "E1001")
    refused = client.post(f"/v1/sanctions/{sid}/appeals", json={"grounds": "代为申诉"}, headers=auth("compliance"))
    assert refused.status_code == 403 and "申诉" in refused.json()["detail"]
    filed = client.post(f"/v1/sanctions/{sid}/appeals", json={"grounds": "员工本人不在群内"}, headers=auth("hr"))
    assert filed.status_code == 201 and filed.json()["filed_by"] == "hr"
    aid = filed.json()["appeal_id"]
    assert client.post(f"/v1/appeals/{aid}/decision", json={"decision": "upheld", "reason": "驳回"},
                       headers=auth("hr")).status_code == 403
    assert client.post(f"/v1/appeals/{aid}/decision", json={"decision": "upheld", "reason": "属实"},
                       headers=auth("compliance")).status_code == 200


def test_reports_are_filed_by_people_under_their_own_name_never_by_compliance_or_auditors(engine, client):
    body = {"reported_id": "E2001", "platform": "qq", "group_id": "80001", "reason": "在工作群发布赌博链接"}
    assert client.post("/v1/reports", json=body, headers=auth("compliance")).status_code == 403
    assert client.post("/v1/reports", json=body, headers=auth("auditor")).status_code == 403
    filed = client.post("/v1/reports", json=body, headers=auth("E1001"))
    assert filed.status_code == 201
    assert client.get(f"/v1/reports/{filed.json()['report_id']}", headers=auth("compliance")).json()[
        "reporter_id"] == "E1001"


def test_a_person_reads_only_their_own_ledger_and_sanctions(engine, client):
    feed(engine, sc.violation("r1", "content.ads", "E1002", MARCH))
    sid = sanction_id(sc.derive_id("violation", "r1"), "E1002")
    assert client.get("/v1/employees/E1002/ledger", headers=auth("E1002")).status_code == 200
    assert client.get("/v1/employees/E1002/ledger", headers=auth("E1001")).status_code == 403
    assert client.get(f"/v1/sanctions/{sid}", headers=auth("E1001")).status_code == 403
    assert all(client.get("/v1/employees/E1002/ledger", headers=auth(who)).status_code == 200
               for who in ("hr", "compliance", "auditor"))
