"""Request sequences as Microsoft Entra ID and Okta send them, replayed against our provider unchanged."""

from __future__ import annotations

from urllib.parse import quote

import pytest

pytestmark = pytest.mark.integration

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_entra_id_provisioning_cycle_with_capitalised_ops_and_string_booleans(roster):
    # Entra first looks the user up by the matching attribute, then creates it.
    probe = roster.scim("GET", "/Users?filter=" + quote('userName eq "wangwu@contoso.partner.onmschina.cn"'))
    assert probe.status_code == 200 and probe.json()["totalResults"] == 0
    created = roster.scim("POST", "/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "externalId": "wangwu", "userName": "wangwu@contoso.partner.onmschina.cn", "active": True,
        "addresses": [{"primary": True, "type": "work", "locality": "上海", "country": "CN"}],
        "displayName": "王五", "emails": [{"primary": True, "type": "work", "value": "wangwu@contoso.cn"}],
        "meta": {"resourceType": "User"}, "name": {"formatted": "王五", "familyName": "王", "givenName": "五"},
        "phoneNumbers": [{"primary": True, "type": "mobile", "value": "13912345678"}], "roles": [],
        "title": "销售经理", ENT: {"employeeNumber": "E3003", "department": "销售一部"}})
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    patched = roster.scim("PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "wang.wu@contoso.cn"},
        {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "02161234567"},
        {"op": "Replace", "path": f"{ENT}:department", "value": "销售二部"},
        {"op": "Add", "path": f"{ENT}:manager", "value": "E0002"},
        {"op": "Replace", "path": "displayName", "value": "王五"}]})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["emails"][0]["value"] == "wang.wu@contoso.cn" and body[ENT]["manager"]["value"] == "E0002"
    assert {"type": "work", "value": "02161234567"} in [{k: p[k] for k in ("type", "value")} for p in body["phoneNumbers"]]
    disabled = roster.scim("PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"}]})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert roster.event_types()[-3:] == ["employee_transferred", "scim_resource_changed", "employee_departed"]
    emp = roster.client.get("/v1/employees/E3003", headers=roster.headers()).json()
    assert emp["department"] == "销售二部" and emp["manager_id"] == "E0002" and emp["status"] == "departed"


def test_okta_provisioning_cycle_with_put_and_active_false(roster):
    probe = roster.scim("GET", "/Users?filter=" + quote('userName eq "zhaoliu@example.com"') + "&startIndex=1&count=100")
    assert probe.json() == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0,
                            "startIndex": 1, "itemsPerPage": 0, "Resources": []}
    okta_user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "zhaoliu@example.com",
                 "name": {"givenName": "六", "familyName": "赵"},
                 "emails": [{"primary": True, "value": "zhaoliu@example.com", "type": "work"}],
                 "displayName": "赵六", "locale": "zh-CN", "externalId": "00u1abcdEFGH", "groups": [],
                 "password": "1mH8W!ab", "active": True}
    created = roster.scim("POST", "/Users", okta_user)
    assert created.status_code == 201, created.text
    user = created.json()
    assert "password" not in user and user["name"]["familyName"] == "赵"
    hired = [e for e in roster.outbox() if e.type.endswith("employee_hired.v1")][0].data
    assert hired["employee_id"] == "00u1abcdEFGH" and hired["facts"]["name"] == "赵六"
    put = dict(okta_user, id=user["id"], title="财务专员")
    put.pop("password")
    replaced = roster.scim("PUT", f"/Users/{user['id']}", put)
    assert replaced.status_code == 200 and replaced.json()["title"] == "财务专员"
    deactivated = roster.scim("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"active": False}}]})
    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    kinds = [e.type.split(".")[2] for e in roster.outbox() if "employee" in e.type]
    assert kinds == ["employee_hired", "employee_updated", "employee_departed"]
