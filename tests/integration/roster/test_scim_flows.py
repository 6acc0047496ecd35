"""SCIM 2.0 flows end to end: each write answers per RFC 7644 and leaves roster events in the outbox."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
QG = "urn:qunguard:params:scim:schemas:extension:roster:2.0:User"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def zhang_san(**over):
    body = {"schemas": [USER, ENT, QG], "userName": "zhangsan@qunguard.cn", "externalId": "E1001",
            "name": {"familyName": "张", "givenName": "三"}, "displayName": "张三", "active": True,
            "title": "后端工程师", "emails": [{"type": "work", "value": "zhangsan@qunguard.cn", "primary": True}],
            "phoneNumbers": [{"type": "mobile", "value": "13800138000"}],
            ENT: {"employeeNumber": "E1001", "department": "研发部", "manager": {"value": "E0001"}},
            QG: {"level": "staff", "status": "probation", "hireDate": "2025-03-03",
                 "accounts": [{"platform": "qq", "value": "2874561230"}, {"platform": "dingtalk", "value": "0211556"}]}}
    body.update(over)
    return body


def test_create_then_filter_then_patch_then_deactivate_produces_hire_transfer_and_departure(roster):
    created = roster.scim("POST", "/Users", zhang_san())
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/scim+json")
    user = created.json()
    assert created.headers["Location"] == user["meta"]["location"] and created.headers["ETag"] == 'W/"1"'
    assert user["meta"]["resourceType"] == "User" and user["meta"]["version"] == 'W/"1"'
    assert "password" not in user and user[QG]["accounts"][0] == {"platform": "qq", "value": "2874561230"}

    found = roster.scim("GET", '/Users?filter=userName%20eq%20%22ZhangSan@qunguard.cn%22').json()
    assert found["totalResults"] == 1 and found["startIndex"] == 1 and found["itemsPerPage"] == 1
    assert found["Resources"][0]["id"] == user["id"]
    assert roster.scim("GET", '/Users?filter=externalId eq "E9999"').json()["totalResults"] == 0

    roster.clock.advance(days=30)
    moved = roster.scim("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": f"{ENT}:department", "value": "市场部"},
        {"op": "add", "path": f"{QG}:handoverDate", "value": "2025-04-10"}]})
    assert moved.status_code == 200, moved.text
    assert moved.json()[ENT]["department"] == "市场部" and moved.headers["ETag"] == 'W/"2"'

    roster.clock.advance(days=60)
    gone = roster.scim("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"active": False}}]})
    assert gone.status_code == 200 and gone.json()["active"] is False

    events = roster.outbox()
    kinds = [e.type.split(".")[2] for e in events if "employee" in e.type]
    assert kinds == ["employee_hired", "employee_transferred", "employee_departed"]
    hired, transferred, departed = (e.data for e in events if "employee" in e.type)
    assert hired["facts"]["name"] == "张三" and hired["facts"]["status"] == "probation"
    assert {a["user_id"] for a in hired["facts"]["accounts"]} == {"2874561230", "0211556"}
    assert transferred["old_department_id"] == "研发部" and transferred["new_department_id"] == "市场部"
    assert transferred["handover_date"] == "2025-04-10"
    assert departed["leave_date"] == "2025-06-01" and departed["employee_id"] == "E1001"
    view = roster.client.get("/v1/employees/E1001", headers=roster.headers("auditor")).json()
    assert view["status"] == "departed"
    assert [h["kind"] for h in view["history"]] == ["employee_hired", "employee_transferred", "employee_departed"]


def test_repeating_the_same_put_changes_nothing_and_emits_nothing(roster):
    user = roster.scim("POST", "/Users", zhang_san()).json()
    before = len(roster.outbox())
    body = zhang_san(id=user["id"])
    again = roster.scim("PUT", f"/Users/{user['id']}", body)
    assert again.status_code == 200 and again.headers["ETag"] == 'W/"1"'
    assert len(roster.outbox()) == before


def test_scim_errors_follow_rfc_7644(roster):
    user = roster.scim("POST", "/Users", zhang_san()).json()
    dup = roster.scim("POST", "/Users", zhang_san(externalId="E2002", **{ENT: {"employeeNumber": "E2002"}}))
    assert dup.status_code == 409
    assert dup.json() == {**dup.json(), "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                          "status": "409", "scimType": "uniqueness"}
    missing = roster.scim("GET", "/Users/does-not-exist")
    assert missing.status_code == 404 and missing.json()["status"] == "404"
    bad_filter = roster.scim("GET", '/Users?filter=userName eq')
    assert bad_filter.status_code == 400 and bad_filter.json()["scimType"] == "invalidFilter"
    stale = roster.scim("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "架构师"}]}, **{"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    no_value = roster.scim("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": [{"op": "add"}]})
    assert no_value.status_code == 400 and no_value.json()["scimType"] == "invalidValue"
    same_qq = zhang_san(userName="lisi@qunguard.cn", externalId="E1002",
                        **{ENT: {"employeeNumber": "E1002"}, QG: {"accounts": [{"platform": "qq", "value": "2874561230"}]}})
    clash = roster.scim("POST", "/Users", same_qq)
    assert clash.status_code == 409 and "E1001" in clash.json()["detail"]
    assert roster.scim("GET", "/Users", role="auditor").status_code == 403


def test_paging_attributes_and_filters_on_active(roster):
    for i in range(5):
        roster.scim("POST", "/Users", zhang_san(userName=f"u{i}@qunguard.cn", externalId=f"E10{i}",
                                                 active=i % 2 == 0, **{ENT: {"employeeNumber": f"E10{i}"}, QG: {}}))
    page = roster.scim("GET", "/Users?startIndex=2&count=2&attributes=userName").json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [r["userName"] for r in page["Resources"]] == ["u1@qunguard.cn", "u2@qunguard.cn"]
    assert set(page["Resources"][0]) == {"schemas", "id", "userName"}
    active = roster.scim("GET", "/Users?filter=active eq true and (userName sw \"u\")").json()
    assert active["totalResults"] == 3
    excluded = roster.scim("GET", f"/Users?excludedAttributes=emails,{ENT}").json()["Resources"][0]
    assert "emails" not in excluded and ENT not in excluded
    assert roster.scim("GET", "/Users?count=0").json()["Resources"] == []


def test_delete_user_means_departed_and_404_after(roster):
    user = roster.scim("POST", "/Users", zhang_san()).json()
    assert roster.scim("DELETE", f"/Users/{user['id']}").status_code == 204
    assert roster.scim("GET", f"/Users/{user['id']}").status_code == 404
    assert roster.event_types()[-1] == "employee_departed"


def test_discovery_publishes_our_roster_extension(roster):
    spc = roster.scim("GET", "/ServiceProviderConfig").json()
    assert spc["patch"]["supported"] is True and spc["etag"]["supported"] is True and spc["bulk"]["supported"] is False
    types = roster.scim("GET", "/ResourceTypes").json()["Resources"]
    user_type = next(t for t in types if t["id"] == "User")
    assert {e["schema"] for e in user_type["schemaExtensions"]} == {ENT, QG}
    schema = roster.scim("GET", f"/Schemas/{QG}").json()
    names = {a["name"] for a in schema["attributes"]}
    assert {"level", "status", "hireDate", "leaveDate", "handoverDate", "accounts"} <= names
    assert roster.scim("GET", "/Schemas/urn:nope").status_code == 404


def test_department_groups_with_member_patch_emit_department_changed(roster):
    user = roster.scim("POST", "/Users", zhang_san()).json()
    group = roster.scim("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                            "displayName": "研发部"})
    assert group.status_code == 201, group.text
    gid = group.json()["id"]
    added = roster.scim("PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"value": user["id"]}]}]})
    assert added.status_code == 200 and added.json()["members"][0]["value"] == user["id"]
    assert roster.scim("GET", f"/Users/{user['id']}").json()["groups"][0]["value"] == gid
    removed = roster.scim("PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"value": user["id"]}]}]})
    assert removed.status_code == 200 and not removed.json().get("members")
    bad = roster.scim("PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": "nobody"}]}]})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidValue"
    dept = [e.data for e in roster.outbox() if e.type.endswith("department_changed.v1")]
    assert dept == [{"department_id": gid, "name": "研发部", "deleted": False, "occurred_at": dept[0]["occurred_at"]}]


def test_a_change_loaded_late_carries_the_time_hr_gives(roster):
    """``X-Qunguard-Occurred-At`` stamps the roster events of a backfilled change with its own time
    (deadlines are judged in event time); a bad or future value is refused, nothing emitted."""
    before = len(roster.outbox())
    for bad, why in (("yesterday", "RFC 3339"), ("2025-03-03T09:00:00", "offset"), ("2999-01-01T00:00:00Z", "future")):
        r = roster.scim("POST", "/Users", zhang_san(), **{"X-Qunguard-Occurred-At": bad})
        assert r.status_code == 400 and r.json()["scimType"] == "invalidValue" and why in r.json()["detail"], r.text
    assert len(roster.outbox()) == before
    created = roster.scim("POST", "/Users", zhang_san(), **{"X-Qunguard-Occurred-At": "2025-03-03T08:30:00+08:00"})
    assert created.status_code == 201, created.text
    hired = [e for e in roster.outbox() if e.type.endswith("employee_hired.v1")][-1]
    assert hired.data["occurred_at"].startswith("2025-03-03T") and hired.time.timestamp() == 1740961800
