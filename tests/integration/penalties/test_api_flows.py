"""Sanctioning, reviews, appeals, reports and exports through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text
from sqlmodel import Session

from contracts.envelope import CloudEvent, decode
from contracts.sanctions import PointsAwarded, SanctionImposed
from services.common import outbox
from services.common.db import create_tables, make_engine, session_scope
from services.penalties.models import ALL_TABLES, LedgerEntry
from services.penalties.sanctioning import sanction_id
from services.penalties.store import verify_all
from tests.integration.penalties import scenario as sc
from tests.integration.penalties.api_support import MARCH, auth, feed

pytestmark = pytest.mark.integration
def outbox_events(engine) -> list[CloudEvent]:
    with Session(engine) as s:
        return [decode(r.value) for r in s.scalars(select(outbox.OutboxEntry).order_by(outbox.OutboxEntry.seq))]


def test_second_ad_in_a_month_costs_50_yuan_and_sends_a_chinese_notice(engine, client):
    feed(engine, sc.violation("a1", "content.ads", "E1001", MARCH),
         sc.violation("a2", "content.ads", "E1001", MARCH + timedelta(days=3)))
    first = client.get(f"/v1/sanctions/{sanction_id(sc.derive_id('violation', 'a1'), 'E1001')}", headers=auth("E1001"))
    assert first.status_code == 200 and first.json()["items"][0]["kind"] == "public_criticism"
    second = client.get("/v1/sanctions", params={"employee_id": "E1001", "month": "2024-03"}, headers=auth("hr")).json()
    assert [s["repeat_count"] for s in second["items"]] == [1, 2]
    assert second["items"][1]["items"][0]["amount_cny"] == "50.00"
    notices = [e.data for e in outbox_events(engine) if e.type == "qunguard.enforcement.requested.v1"]
    assert notices[0]["text"].startswith("【通报批评】张伟 违反群规「禁止发布广告」：发布广告")
    assert client.get("/v1/sanctions", headers=auth("E1001")).status_code == 403


def test_departed_member_left_in_group_fines_the_actor_and_each_liable_admin(engine, client):
    feed(engine, sc.violation("d1", "member.departed_not_removed", "E2001", MARCH, summary="离职员工未移出群",
                              liable=["E9001", "E2002"]))
    rows = client.get("/v1/sanctions", params={"rule_id": "member.departed_not_removed"}, headers=auth("hr")).json()
    assert {(r["employee_id"], r["liability"], r["items"][0]["amount_cny"]) for r in rows["items"]} == {
        ("E2001", "actor", "20.00"), ("E9001", "shared", "20.00"), ("E2002", "shared", "20.00")}
    dept = client.get("/v1/statements/2024-03", headers=auth("hr")).json()["departments"]
    assert dept["D02"]["fines_cny"] == "60.00"


def test_chairman_decides_a_leak_within_the_range_and_the_sanction_follows(engine, client):
    feed(engine, sc.violation("c1", "content.confidential", "E1002", MARCH, summary="转发公司内部报价单"))
    queue = client.get("/v1/reviews", headers=auth("compliance")).json()["items"]
    assert len(queue) == 1 and queue[0]["proposed"][0]["decider"] == "董事长"
    rid = queue[0]["review_id"]
    out_of_range = {"decision": "approved", "reason": "董事长批示", "items": [{"kind": "programme_points", "points": -5000}]}
    assert client.post(f"/v1/reviews/{rid}/decision", json=out_of_range, headers=auth("compliance")).status_code == 422
    ok = {**out_of_range, "items": [{"kind": "programme_points", "points": -500}]}
    assert client.post(f"/v1/reviews/{rid}/decision", json=ok, headers=auth("hr")).status_code == 403
    assert client.post(f"/v1/reviews/{rid}/decision", json=ok, headers=auth("compliance")).status_code == 200
    assert client.post(f"/v1/reviews/{rid}/decision", json=ok, headers=auth("compliance")).status_code == 409
    ledger = client.get("/v1/employees/E1002/ledger", headers=auth("E1002")).json()
    assert ledger["totals"]["programme_points"] == -500
    audit = client.get(f"/v1/sanctions/{queue[0]['sanction_id']}/audit", headers=auth("auditor")).json()
    assert [d["decision"] for d in audit["decisions"]] == ["approved"]
    assert audit["decisions"][0]["actor"] == "compliance" and audit["decisions"][0]["reason"] == "董事长批示"
    assert audit["triggering_events"][0]["status"] == "unavailable"  # ingest not running: a note, not a 500
    assert audit["rule"]["policy_version"] == 1 and audit["ladder"]["repeat_count"] == 1


def test_overturned_appeal_refunds_and_recounts_the_later_offence(engine, client):
    feed(engine, sc.violation("p1", "content.ads", "E1001", MARCH),
         sc.violation("p2", "content.ads", "E1001", MARCH + timedelta(days=1)))
    first = sanction_id(sc.derive_id("violation", "p1"), "E1001")
    assert client.post(f"/v1/sanctions/{first}/appeals", json={"grounds": "误判"}, headers=auth("E2001")).status_code == 403
    appeal = client.post(f"/v1/sanctions/{first}/appeals", json={"grounds": "那是公司活动通知，并非广告"},
                         headers=auth("E1001"))
    assert appeal.status_code == 201
    aid = appeal.json()["appeal_id"]
    decided = client.post(f"/v1/appeals/{aid}/decision", json={"decision": "overturned", "reason": "系公司活动"},
                          headers=auth("compliance"))
    assert decided.status_code == 200
    totals = client.get("/v1/employees/E1001/ledger", headers=auth("hr")).json()
    # the 2nd offence is now a 1st: its 50 yuan deduction is refunded and becomes a criticism
    assert totals["totals"]["performance_cny"] == "0.00"
    standing = client.get("/v1/sanctions", params={"employee_id": "E1001", "status": "imposed"}, headers=auth("hr")).json()
    assert [(s["repeat_count"], s["items"][0]["kind"]) for s in standing["items"]] == [(1, "public_criticism")]


def test_upheld_report_rewards_the_reporter_whose_name_the_reported_never_sees(engine, client):
    filed = client.post("/v1/reports", json={"reported_id": "E2001", "platform": "qq", "group_id": "80001",
                                             "message_id": "m-77", "reason": "在工作群发布赌博链接"}, headers=auth("E1002"))
    rid = filed.json()["report_id"]
    assert client.post(f"/v1/reports/{rid}/decision", json={"decision": "upheld", "reason": "属实"},
                       headers=auth("E1002")).status_code == 403
    assert client.post(f"/v1/reports/{rid}/decision", json={"decision": "upheld", "reason": "属实",
                                                            "rule_id": "content.gambling"},
                       headers=auth("compliance")).json()["reward_points"] == 10
    seen_by_reported = [client.get(f"/v1/reports/{rid}", headers=auth("E2001")).text,
                        client.get("/v1/reports", headers=auth("E2001")).text,
                        client.get("/v1/employees/E2001/ledger", headers=auth("E2001")).text]
    assert all("E1002" not in body and "李娜" not in body for body in seen_by_reported)
    assert "E1002" in client.get(f"/v1/reports/{rid}", headers=auth("compliance")).text
    assert client.get("/v1/employees/E1002/ledger", headers=auth("E1002")).json()["totals"]["programme_points"] == 10


def test_payroll_exports_add_up_to_the_ledger_and_hash_chains_verify(engine, client):
    feed(engine, sc.violation("f1", "member.departed_not_removed", "E2001", MARCH, liable=["E9001"]),
         sc.violation("f2", "content.redline.porn", "E1001", MARCH, summary="发布色情图片"),
         *[sc.violation(f"f3{i}", "content.ads", "E1002", MARCH + timedelta(hours=i)) for i in range(3)],
         sc.merit("m1", "daily_share", "E2002", MARCH), sc.merit("m2", "best_post", "E2002", MARCH))
    resp = client.get("/v1/payroll/2024-03.csv", headers=auth("hr"))
    assert resp.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["工号", "姓名", "部门", "月份", "罚款合计(元)", "绩效扣减(元)"]
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["E1002"][1:3] == ["李娜", "销售部"] and by_id["E1002"][5] == "100.00"
    assert by_id["E1001"][7] == "是"
    with Session(engine) as s:
        entries = s.scalars(select(LedgerEntry).where(LedgerEntry.month == "2024-03")).all()
        assert sum(Decimal(r[4]) + Decimal(r[5]) for r in rows[1:]) == sum(
            e.amount_cny for e in entries if e.kind in ("fine", "performance_deduction"))
        assert verify_all(s)[1] == []
    wb = load_workbook(io.BytesIO(client.get("/v1/payroll/2024-03.xlsx", headers=auth("hr")).content))
    assert [c.value for c in wb.active[1]][:3] == ["工号", "姓名", "部门"] and wb.active.max_row == len(rows)
    assert client.get("/v1/payroll/2024-03.csv", headers=auth("E1001")).status_code == 403
    board = client.get("/v1/leaderboard", params={"month": "2024-03"}, headers=auth("E1001")).json()
    assert board["ranking"][0] == {"rank": 1, "employee_id": "E2002", "department_id": "D02", "points": 6}


def test_hash_chain_verification_catches_an_edited_row(engine, client):
    feed(engine, *[sc.violation(f"h{i}", "content.ads", "E1001", MARCH + timedelta(hours=i)) for i in range(3)])
    with session_scope(engine) as s:
        s.execute(text("UPDATE pen_ledger SET amount_cny = 5 WHERE employee_id = 'E1001' AND seq = 2"))
    with Session(engine) as s:
        checked, broken = verify_all(s)
    assert checked == 3 and [(b.employee_id, b.seq) for b in broken] == [("E1001", 2)]


def test_sanction_before_its_policy_version_arrives_is_decided_when_it_does(pen_db_url):
    eng = make_engine(pen_db_url)
    create_tables(eng, outbox.RUNTIME_TABLES + ALL_TABLES)
    feed(eng, *sc.roster_events(), sc.violation("w1", "content.ads", "E1001", MARCH))
    assert not [e for e in outbox_events(eng) if e.type == SanctionImposed.event_type]
    feed(eng, sc.policy_event())
    assert [e for e in outbox_events(eng) if e.type == SanctionImposed.event_type]
    eng.dispose()


def test_merit_before_its_policy_version_arrives_is_awarded_when_it_does(pen_db_url):
    """Merits travel on qg.violations.v1, policies on qg.policy.v1: either may come first."""
    eng = make_engine(pen_db_url)
    create_tables(eng, outbox.RUNTIME_TABLES + ALL_TABLES)
    feed(eng, *sc.roster_events(), sc.merit("m1", "daily_share", "E1001", MARCH))
    assert not [e for e in outbox_events(eng) if e.type == PointsAwarded.event_type]
    feed(eng, sc.policy_event())
    awarded = [e for e in outbox_events(eng) if e.type == PointsAwarded.event_type]
    assert len(awarded) == 1 and awarded[0].payload().employee_id == "E1001"
    eng.dispose()
