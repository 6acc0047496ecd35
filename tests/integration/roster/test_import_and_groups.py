"""CSV import through the API, and the registry and membership views after a day of chat events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from contracts.chat import (MemberJoined, MemberLeft, MembersSnapshot, MessagePosted, NicknameChanged,
                            SnapshotMember)
from contracts.envelope import new_event
from contracts.ids import platform_event_id
from contracts.policy import PolicyPublished
from services.common.worker import apply_locally
from services.roster.handlers import ROUTES

pytestmark = pytest.mark.integration
CST = timezone(timedelta(hours=8))

ROSTER_CSV = """工号,姓名,部门,职级,状态,入职日期,离职日期,上级工号,手机,QQ,钉钉,备注
E0001,周总,总经办,高管,正式,2015-06-01,,,13900000001,10001,,董事长
E1001,张三,研发部,员工,试用,2025-02-17,,E0001,13800138000,2874561230,0211556,
E1002,李四,研发部,经理,正式,2019-07-01,,E0001,,3391827465,,
E1003,王芳,市场部,员工,离职,2020-03-09,2025-01-24,E0001,,1597534862,,已交接
"""


def import_csv(roster, text: str):
    return roster.client.post("/v1/roster/import", content=text.encode("utf-8-sig"),
                              headers={**roster.headers(), "Content-Type": "text/csv"})


def test_csv_import_with_chinese_headers_is_idempotent_and_detects_transfers(roster):
    first = import_csv(roster, ROSTER_CSV)
    assert first.status_code == 200, first.text
    assert first.json()["events"] == {"employee_departed": 1, "employee_hired": 4}
    assert first.json()["ignored_columns"] == ["备注"]
    n = len(roster.outbox())
    again = import_csv(roster, ROSTER_CSV)
    assert again.json()["unchanged"] == 4 and again.json()["events"] == {} and len(roster.outbox()) == n
    moved = ROSTER_CSV.replace("E1001,张三,研发部,员工,试用", "E1001,张三,市场部,员工,正式")
    third = import_csv(roster, moved.replace("2874561230,0211556", "2874561230,"))
    assert third.json()["events"] == {"employee_transferred": 1, "identity_unlinked": 1}
    emp = roster.client.get("/v1/employees/E1001", headers=roster.headers("auditor")).json()
    assert emp["department"] == "市场部" and emp["identities"] == [{"platform": "qq", "user_id": "2874561230"}]
    listed = roster.client.get("/v1/employees?status=departed", headers=roster.headers("auditor")).json()
    assert [e["employee_id"] for e in listed["items"]] == ["E1003"]


def test_csv_import_with_bad_rows_reports_each_and_imports_nothing(roster):
    bad = ROSTER_CSV + "E1004,赵六,研发部,实习僧,正式,2025-13-01,,E9999,1380013800,2874561230,,\n"
    answer = import_csv(roster, bad)
    assert answer.status_code == 422
    errors = answer.json()["report"]["errors"]
    assert {(e["row"], e["column"]) for e in errors} == {(6, "职级"), (6, "入职日期"), (6, "手机"), (6, "QQ")}
    by_column = {e["column"]: e["message"] for e in errors}
    assert by_column["入职日期"].startswith("日期「2025-13-01」格式错误")
    assert by_column["QQ"].startswith("账号 2874561230 与第 3 行（工号 E1001）重复")
    assert roster.outbox() == []
    unknown_manager = import_csv(roster, ROSTER_CSV + "E1004,赵六,研发部,员工,正式,2025-01-02,,E9999,,,,\n")
    assert unknown_manager.status_code == 422
    assert unknown_manager.json()["report"]["errors"] == [
        {"row": 6, "column": "上级工号", "message": "上级工号 E9999 不存在 / unknown manager"}]


def chat(roster, payload, at):
    """Deliver one event to the roster's handlers as its worker would (inbox + projection, one transaction)."""
    event_id = (platform_event_id(payload.platform, payload.platform_event_id) if hasattr(payload, "platform_event_id")
                else f"policy-{payload.policy_id}-{payload.version}")
    event = new_event(payload, id=event_id, source="qunguard/test", time=at)
    with Session(roster.engine) as session:
        apply_locally(session, event, ROUTES, consumer="roster", source="qunguard/roster")
        session.commit()
    return event


def test_group_view_after_a_day_of_membership_events_and_a_snapshot(roster):
    assert import_csv(roster, ROSTER_CSV).status_code == 200
    g = {"platform": "qq", "group_id": "781234560"}
    reg = roster.client.post("/v1/groups", headers=roster.headers("group-admin"), json={
        **g, "name": "研发部工作群", "category": "department", "owner_id": "E1002", "admin_ids": ["E1002"],
        "department_id": "研发部", "purpose": "研发日常沟通", "member_scope": "研发部全体", "required": True})
    assert reg.status_code == 201 and reg.json()["registered_by"] == "group-admin-caller"
    assert roster.client.post("/v1/groups", headers=roster.headers("hr"), json={
        **g, "name": "x", "category": "department"}).status_code == 409
    approval = roster.client.post("/v1/groups/qq:781234560/approvals", headers=roster.headers("group-admin"),
                                  json={"user_id": "55667788", "kind": "external", "until": "2025-12-31"})
    assert approval.status_code == 201
    t = datetime(2025, 3, 3, 9, 0, tzinfo=CST)
    chat(roster, MemberJoined(**g, platform_event_id="j1", occurred_at=t, user_id="2874561230",
                              nickname="张三", operator_id="3391827465"), t)
    chat(roster, MemberJoined(**g, platform_event_id="j2", occurred_at=t, user_id="1597534862",
                              nickname="市场部-王芳"), t)
    chat(roster, MessagePosted(**g, platform_event_id="m1", occurred_at=t + timedelta(minutes=5),
                               message_id="m1", user_id="3391827465", nickname="研发部-李四", text="早上好"), t)
    chat(roster, NicknameChanged(**g, platform_event_id="n1", occurred_at=t + timedelta(minutes=9),
                                 user_id="2874561230", nickname="研发部－张三", old_nickname="张三"), t)
    chat(roster, MemberLeft(**g, platform_event_id="l1", occurred_at=t + timedelta(hours=1),
                            user_id="1597534862"), t)
    snap_at = t + timedelta(hours=8)
    snapshot = chat(roster, MembersSnapshot(**g, platform_event_id="s1", occurred_at=snap_at, members=[
        SnapshotMember(user_id="2874561230", nickname="研发部－张三"), SnapshotMember(user_id="3391827465",
        nickname="研发部-李四", role="owner"), SnapshotMember(user_id="55667788", nickname="外包-小陈"),
        SnapshotMember(user_id="99990000", nickname="路人甲"), SnapshotMember(user_id="10001", nickname="周总")]),
        snap_at)
    reconciled = [e for e in roster.outbox() if e.type.endswith("membership_reconciled.v1")]
    assert len(reconciled) == 1 and reconciled[0].data["snapshot_event_id"] == snapshot.id
    assert reconciled[0].data["joined"] == ["10001", "55667788", "99990000"] and reconciled[0].data["left"] == []

    view = roster.client.get("/v1/groups/qq:781234560", headers=roster.headers("auditor")).json()
    members = {m["user_id"]: m for m in view["members"]}
    assert set(members) == {"2874561230", "3391827465", "55667788", "99990000", "10001"}
    assert members["2874561230"] | {} == {**members["2874561230"], "kind": "employee", "employee_id": "E1001",
                                          "nickname_ok": True, "invited_by": "3391827465", "how": "event"}
    assert members["3391827465"]["how"] == "message" and members["3391827465"]["role"] == "owner"
    assert members["55667788"]["kind"] == "external-approved" and members["55667788"]["how"] == "reconciliation"
    assert members["55667788"]["evidence_event_id"] == snapshot.id
    assert members["99990000"]["kind"] == "unknown" and members["10001"]["nickname_ok"] is False
    assert view["counts"] == {"employee": 3, "departed": 0, "external-approved": 1, "probation-approved": 0,
                              "unknown": 1}
    past = roster.client.get("/v1/groups/qq:781234560?include_past=true", headers=roster.headers("auditor")).json()
    assert {m["user_id"]: m["kind"] for m in past["members"]}["1597534862"] == "departed"

    chat(roster, PolicyPublished(policy_id="default", version=2, effective_from=snap_at, sha256="0" * 64,
                                 published_by="compliance", pack={"organisation": {"nickname_template": "{name}"}}),
         snap_at)
    view = roster.client.get("/v1/groups/qq:781234560", headers=roster.headers("auditor")).json()
    assert view["nickname_template"] == "{name}"
    assert {m["user_id"]: m["nickname_ok"] for m in view["members"]}["10001"] is True
    emp = roster.client.get("/v1/employees/E1001", headers=roster.headers("auditor")).json()
    assert emp["groups"][0]["ref"] == "qq:781234560" and emp["groups"][0]["present"] is True
    retired = roster.client.delete("/v1/groups/qq:781234560?reason=项目结束", headers=roster.headers("hr"))
    assert retired.status_code == 200 and retired.json()["retired"] is True
    kinds = [e.type.split(".")[2] for e in roster.outbox() if "group_" in e.type or "member_approved" in e.type]
    assert kinds == ["group_registered", "member_approved", "group_retired"]


def test_chat_events_folded_in_one_transaction_give_the_memberships_of_one_transaction_each(roster):
    """The worker folds a batch of events in one transaction, where a member created by one event is
    not yet flushed when the next event asks for it; the rows must be those of one event at a time."""
    t = datetime(2025, 3, 3, 9, 0, tzinfo=CST)

    def day(group_id: str) -> list:
        g = {"platform": "qq", "group_id": group_id}
        at = [t + timedelta(minutes=m) for m in range(8)]
        return [
            MemberJoined(**g, platform_event_id=f"{group_id}j1", occurred_at=at[0], user_id="2874561230",
                         nickname="张三"),
            MessagePosted(**g, platform_event_id=f"{group_id}m1", occurred_at=at[1], message_id="m1",
                          user_id="2874561230", nickname="研发部-张三", text="收到"),
            MessagePosted(**g, platform_event_id=f"{group_id}m2", occurred_at=at[2], message_id="m2",
                          user_id="3391827465", text="下午三点开会", sender_role="admin"),
            NicknameChanged(**g, platform_event_id=f"{group_id}n1", occurred_at=at[3], user_id="3391827465",
                            nickname="研发部-李四", old_nickname=None),
            MessagePosted(**g, platform_event_id=f"{group_id}m0", occurred_at=at[0], message_id="m0",
                          user_id="3391827465", nickname="李四（旧）", text="迟到的消息"),  # late: changes nothing
            MemberLeft(**g, platform_event_id=f"{group_id}l1", occurred_at=at[4], user_id="2874561230"),
            MembersSnapshot(**g, platform_event_id=f"{group_id}s1", occurred_at=at[5], members=[
                SnapshotMember(user_id="3391827465", nickname="研发部-李四", role="admin"),
                SnapshotMember(user_id="55667788", nickname="外包-小陈")]),
            MessagePosted(**g, platform_event_id=f"{group_id}m3", occurred_at=at[6], message_id="m3",
                          user_id="55667788", nickname="外包-小陈", text="好的"),
        ]

    for payload in day("100000001"):
        chat(roster, payload, t)
    with Session(roster.engine) as session:
        for payload in day("100000002"):
            event = new_event(payload, id=platform_event_id("qq", payload.platform_event_id),
                              source="qunguard/test", time=t)
            apply_locally(session, event, ROUTES, consumer="roster", source="qunguard/roster")
        session.commit()

    def members(group_id: str) -> dict:
        view = roster.client.get(f"/v1/groups/qq:{group_id}?include_past=true", headers=roster.headers("auditor"))
        assert view.status_code == 200, view.text
        return {m["user_id"]: {k: v for k, v in m.items() if k != "evidence_event_id"} for m in view.json()["members"]}

    alone, together = members("100000001"), members("100000002")
    assert together == alone
    assert set(alone) == {"2874561230", "3391827465", "55667788"}
    assert alone["2874561230"]["present"] is False and alone["55667788"]["how"] == "reconciliation"
    assert alone["3391827465"]["nickname"] == "研发部-李四" and alone["3391827465"]["role"] == "admin"
