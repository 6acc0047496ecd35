"""Regressions for what the SCIM conformance run found, and departments as Groups (head, parent, members)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
QG = "urn:qunguard:params:scim:schemas:extension:roster:2.0:User"
QGG = "urn:qunguard:params:scim:schemas:extension:roster:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def person(employee_id: str, user_name: str, name: str, **ent) -> dict:
    return {"schemas": [USER, ENT], "userName": user_name, "name": {"formatted": name}, "active": True,
            ENT: {"employeeNumber": employee_id, **ent}}


def events(roster, kind: str) -> list[dict]:
    return [e.data for e in roster.outbox() if e.type == f"qunguard.roster.{kind}.v1"]


def test_giving_a_department_to_a_user_who_had_none_is_a_transfer_not_a_server_error(roster):
    user = roster.scim("POST", "/Users", person("E2001", "lisi@qunguard.cn", "李四")).json()
    moved = roster.scim("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": f"{ENT}:department", "value": "财务部"}]})
    assert moved.status_code == 200, moved.text
    [transfer] = events(roster, "employee_transferred")
    assert transfer["new_department_id"] == "财务部" and "old_department_id" not in transfer


def test_refusals_before_any_route_runs_are_scim_errors_on_scim_paths_only(roster):
    unknown = roster.scim("GET", "/Nonsense")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/scim+json")
    assert unknown.json()["schemas"] == [ERROR] and unknown.json()["status"] == "404"
    no_token = roster.client.get("/scim/v2/Users")
    assert no_token.status_code == 401 and no_token.json()["status"] == "401"
    assert "www-authenticate" in {k.lower() for k in no_token.headers}
    wrong_method = roster.scim("DELETE", "/ServiceProviderConfig")
    assert wrong_method.status_code == 405 and wrong_method.json()["schemas"] == [ERROR]
    outside = roster.client.get("/v1/employees/E404", headers=roster.headers("auditor"))
    assert outside.status_code == 404 and outside.headers["content-type"].startswith("application/problem+json")


def test_roster_dates_are_published_as_datetime_and_accept_plain_dates(roster):
    schema = roster.scim("GET", f"/Schemas/{QG}").json()
    by_name = {a["name"]: a for a in schema["attributes"]}
    assert by_name["hireDate"]["type"] == "dateTime"
    assert by_name["level"]["canonicalValues"] == ["staff", "manager", "executive"]
    assert by_name["status"]["canonicalValues"] == ["probation", "intern", "regular", "departed"]

    body = person("E2002", "wangwu@qunguard.cn", "王五")
    body["schemas"].append(QG)
    body[QG] = {"hireDate": "2025-02-17", "leaveDate": "2025-06-30T16:00:00Z", "status": "departed"}
    created = roster.scim("POST", "/Users", body)
    assert created.status_code == 201, created.text
    assert created.json()[QG]["hireDate"] == "2025-02-17T00:00:00+08:00"
    [hired] = events(roster, "employee_hired")
    # 16:00 UTC on 30 June is already 1 July in China.
    assert hired["facts"]["hire_date"] == "2025-02-17" and hired["facts"]["leave_date"] == "2025-07-01"
    bad = roster.scim("PATCH", f"/Users/{created.json()['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": f"{QG}:hireDate", "value": "下周一"}]})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidValue"


def test_post_search_answers_like_the_get_query(roster):
    roster.scim("POST", "/Users", person("E2003", "zhaoliu@qunguard.cn", "赵六"))
    roster.scim("POST", "/Users", person("E2004", "sunqi@qunguard.cn", "孙七"))
    roster.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "研发部"})
    got = roster.scim("GET", '/Users?filter=userName eq "sunqi@qunguard.cn"').json()
    searched = roster.scim("POST", "/Users/.search", {"schemas": [SEARCH], "filter": 'userName eq "sunqi@qunguard.cn"',
                                                      "attributes": ["userName"]}).json()
    assert searched["totalResults"] == got["totalResults"] == 1
    assert searched["Resources"][0]["userName"] == "sunqi@qunguard.cn" and "name" not in searched["Resources"][0]
    everything = roster.scim("POST", "/.search", {"schemas": [SEARCH], "count": 10}).json()
    assert sorted(r["meta"]["resourceType"] for r in everything["Resources"]) == ["Group", "User", "User"]
    wrong = roster.scim("POST", "/Users/.search", {"filter": 'userName eq "x"'})
    assert wrong.status_code == 400 and wrong.json()["scimType"] == "invalidSyntax"


def test_patch_add_appends_a_platform_account(roster):
    body = person("E2005", "zhouba@qunguard.cn", "周八")
    body["schemas"].append(QG)
    body[QG] = {"accounts": [{"platform": "qq", "value": "2874561230"}]}
    user = roster.scim("POST", "/Users", body).json()
    added = roster.scim("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": f"{QG}:accounts", "value": [{"platform": "dingtalk", "value": "0211556"}]}]})
    assert added.status_code == 200, added.text
    assert [a["platform"] for a in added.json()[QG]["accounts"]] == ["qq", "dingtalk"]
    [linked] = events(roster, "identity_linked")
    assert linked["account"] == {"platform": "dingtalk", "user_id": "0211556"}


def test_department_group_head_parent_and_members_reach_the_events_rules_read(roster):
    boss = roster.scim("POST", "/Users", person("E0001", "zhouzong@qunguard.cn", "周总")).json()
    dev = roster.scim("POST", "/Users", person("E1001", "zhangsan@qunguard.cn", "张三", department="产品部")).json()
    schema_ids = [s["id"] for s in roster.scim("GET", "/Schemas").json()["Resources"]]
    group_type = roster.scim("GET", "/ResourceTypes/Group").json()
    assert QGG in schema_ids and group_type["schemaExtensions"] == [{"schema": QGG, "required": False}]

    company = roster.scim("POST", "/Groups", {"schemas": [GROUP, QGG], "displayName": "总经办",
                                              QGG: {"head": {"value": boss["id"]}}})
    assert company.status_code == 201, company.text
    rd = roster.scim("POST", "/Groups", {"schemas": [GROUP, QGG], "displayName": "研发部",
                                         QGG: {"head": {"value": "E0001"}, "parent": {"value": company.json()["id"]}},
                                         "members": [{"value": dev["id"]}]})
    assert rd.status_code == 201, rd.text
    rd_id = rd.json()["id"]
    departments = {d["department_id"]: d for d in events(roster, "department_changed")}
    assert departments[company.json()["id"]]["head_id"] == "E0001"  # a User id becomes the employee id
    assert departments[rd_id] == {**departments[rd_id], "head_id": "E0001", "parent_id": company.json()["id"],
                                  "name": "研发部"}
    [transfer] = events(roster, "employee_transferred")
    assert transfer["employee_id"] == "E1001" and transfer["old_department_id"] == "产品部"
    assert transfer["new_department_id"] == rd_id and transfer["facts"]["department"] == "研发部"
    assert roster.scim("GET", f"/Users/{dev['id']}").json()[ENT]["department"] == "研发部"

    # An IdP that manages departments as groups PUTs the User without the attribute: no transfer.
    roster.scim("PUT", f"/Users/{dev['id']}", {**person("E1001", "zhangsan@qunguard.cn", "张三"), "title": "架构师"})
    assert len(events(roster, "employee_transferred")) == 1
    assert events(roster, "employee_updated")[-1]["facts"]["department_id"] == rd_id

    renamed = roster.scim("PATCH", f"/Groups/{rd_id}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "研发中心"}]})
    assert renamed.status_code == 200, renamed.text
    assert events(roster, "employee_updated")[-1]["facts"]["department"] == "研发中心"
    assert len(events(roster, "employee_transferred")) == 1


def test_department_head_and_parent_must_exist_and_parents_cannot_loop(roster):
    top = roster.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "总经办"}).json()
    unknown_head = roster.scim("POST", "/Groups", {"schemas": [GROUP, QGG], "displayName": "市场部",
                                                   QGG: {"head": {"value": "E9999"}}})
    assert unknown_head.status_code == 400 and unknown_head.json()["scimType"] == "invalidValue"
    unknown_parent = roster.scim("POST", "/Groups", {"schemas": [GROUP, QGG], "displayName": "市场部",
                                                     QGG: {"parent": {"value": "不存在的部门"}}})
    assert unknown_parent.status_code == 400
    child = roster.scim("POST", "/Groups", {"schemas": [GROUP, QGG], "displayName": "市场部",
                                            QGG: {"parent": {"value": top["id"]}}}).json()
    loop = roster.scim("PATCH", f"/Groups/{top['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": f"{QGG}:parent", "value": {"value": child["id"]}}]})
    assert loop.status_code == 400 and "自身或下级" in loop.json()["detail"]
