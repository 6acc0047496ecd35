"""Who may call what: every route of every service, with no token, a bad token, each role, and admin.

``ACCESS`` below is the one table of who should get through, decided from what each role is for in a
company (not copied from the code's guards):

- ``hr`` runs the roster (SCIM from the IdP, CSV imports) and payroll; reads cases about people.
- ``compliance`` owns the rules: publishes packs, dismisses false positives, decides reviews,
  appeals and 举报, and traces a sanction down to the raw message.
- ``auditor`` reads everything a decision rests on and decides nothing.
- ``group-admin`` keeps the group registry (registers groups, approves outside members) and reads
  the roster to do so; it sees no one's sanctions.
- ``ingest`` is a machine: it feeds events in and nothing else.
- ``admin`` passes every check (``auth.Principal.has_any``).

A role in the set must not meet 401/403 (404/422 for the dummy ids and empty bodies used here is
fine); a role outside must get 403 problem+json; no token or an unknown token must get 401
problem+json with a Bearer challenge. ``PUBLIC`` routes need no token; ``SIGNED`` routes (platform
webhooks) authenticate by the platform's own signature, so with no secret configured every caller,
bearer or not, gets 401. No call may answer 5xx. A route missing from the table fails the test, so a
new route cannot ship without someone deciding who may call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from services.common.auth import ROLES
from tests.e2e import hostile_support as hs

pytestmark = pytest.mark.integration

PUBLIC = "public: no token (probes, scrapers inside the network, the API document)"
SIGNED = "signed: the platform's own signature; a bearer token is no substitute"
ANYONE = frozenset(ROLES)  # any valid token; the route itself limits what each caller sees

HR = frozenset({"hr"})
COMPLIANCE = frozenset({"compliance"})
CASE_READERS = frozenset({"compliance", "hr", "auditor"})
RULE_READERS = frozenset({"compliance", "hr", "auditor"})
ROSTER_READERS = frozenset({"group-admin", "hr", "compliance", "auditor"})
GROUP_KEEPERS = frozenset({"group-admin", "hr"})
TRACERS = frozenset({"compliance", "auditor"})
PEOPLE = ANYONE - {"ingest"}  # every role a person holds; a machine token is nobody's self
REPORTERS = frozenset({"hr", "group-admin"})  # not compliance (decides 举报), auditor, ingest

SCIM = {f"{m} /scim/v2/{p}": HR for m, p in [
    ("GET", "Users"), ("POST", "Users"), ("GET", "Users/{resource_id}"), ("PUT", "Users/{resource_id}"),
    ("PATCH", "Users/{resource_id}"), ("DELETE", "Users/{resource_id}"),
    ("GET", "Groups"), ("POST", "Groups"), ("GET", "Groups/{resource_id}"), ("PUT", "Groups/{resource_id}"),
    ("PATCH", "Groups/{resource_id}"), ("DELETE", "Groups/{resource_id}"),
    ("GET", "ServiceProviderConfig"), ("GET", "ResourceTypes"), ("GET", "ResourceTypes/{name}"),
    ("GET", "Schemas"), ("GET", "Schemas/{schema_id}"),
    ("POST", ".search"), ("POST", "Users/.search"), ("POST", "Groups/.search")]}

# (service or "*" for every service, "METHOD /path") → who gets through. The one table.
ACCESS: dict[tuple[str, str], str | frozenset[str]] = {
    ("*", "GET /healthz"): PUBLIC,
    ("*", "GET /readyz"): PUBLIC,
    ("*", "GET /metrics"): PUBLIC,  # labels carry no people or content (services/common/app.py)
    ("*", "GET /openapi.json"): PUBLIC,
    # ingest
    ("ingest", "POST /v1/ingest/generic"): frozenset({"ingest"}),
    ("ingest", "POST /v1/ingest/wecom/archive"): frozenset({"ingest"}),
    ("ingest", "POST /v1/ingest/onebot"): SIGNED,
    ("ingest", "POST /v1/ingest/dingtalk"): SIGNED,
    ("ingest", "POST /v1/ingest/dingtalk/events"): SIGNED,
    ("ingest", "GET /v1/ingest/wecom/callback"): SIGNED,
    ("ingest", "POST /v1/ingest/wecom/callback"): SIGNED,
    ("ingest", "POST /v1/ingest/feishu"): SIGNED,
    ("ingest", "GET /v1/events/{event_id}"): TRACERS,  # raw chat payloads: personal data
    # roster
    **{("roster", op): roles for op, roles in SCIM.items()},
    ("roster", "POST /v1/roster/import"): HR,
    ("roster", "GET /v1/employees"): ROSTER_READERS,
    ("roster", "GET /v1/employees/{employee_id}"): ROSTER_READERS,
    ("roster", "GET /v1/groups"): ROSTER_READERS,
    ("roster", "GET /v1/groups/{ref}"): ROSTER_READERS,
    ("roster", "POST /v1/groups"): GROUP_KEEPERS,
    ("roster", "PUT /v1/groups/{ref}"): GROUP_KEEPERS,
    ("roster", "DELETE /v1/groups/{ref}"): GROUP_KEEPERS,
    ("roster", "POST /v1/groups/{ref}/approvals"): GROUP_KEEPERS,
    # rules
    ("rules", "POST /v1/policies"): COMPLIANCE,
    ("rules", "GET /v1/policies/active"): RULE_READERS,
    ("rules", "GET /v1/policies/{policy_id}/versions"): RULE_READERS,
    ("rules", "GET /v1/violations"): RULE_READERS,
    ("rules", "GET /v1/violations/{violation_id}"): RULE_READERS,
    ("rules", "POST /v1/violations/{violation_id}/dismiss"): COMPLIANCE,
    ("rules", "POST /v1/replays"): COMPLIANCE,
    # penalties
    ("penalties", "GET /v1/sanctions"): CASE_READERS,
    ("penalties", "GET /v1/sanctions/{sanction_id}"): PEOPLE,  # the person or a case reader (object check)
    ("penalties", "GET /v1/sanctions/{sanction_id}/audit"): TRACERS,
    ("penalties", "GET /v1/employees/{employee_id}/ledger"): CASE_READERS,  # others: only their own
    ("penalties", "GET /v1/leaderboard"): PEOPLE,  # 积分排行 is published to staff, not to machines
    ("penalties", "GET /v1/statements/{month}"): CASE_READERS,
    ("penalties", "GET /v1/payroll/{month}.csv"): frozenset({"hr", "compliance"}),
    ("penalties", "GET /v1/payroll/{month}.xlsx"): frozenset({"hr", "compliance"}),
    ("penalties", "GET /v1/reviews"): TRACERS,
    ("penalties", "POST /v1/reviews/{review_id}/decision"): COMPLIANCE,
    ("penalties", "POST /v1/sanctions/{sanction_id}/appeals"): PEOPLE,  # the person or HR, not compliance (object check)
    ("penalties", "GET /v1/appeals"): CASE_READERS,
    ("penalties", "POST /v1/appeals/{appeal_id}/decision"): COMPLIANCE,
    ("penalties", "POST /v1/reports"): REPORTERS,  # a person under their own name (举报)
    ("penalties", "GET /v1/reports"): PEOPLE,  # filtered to one's own unless compliance/auditor
    ("penalties", "GET /v1/reports/{report_id}"): PEOPLE,  # 404 unless a party or compliance/auditor
    ("penalties", "POST /v1/reports/{report_id}/decision"): COMPLIANCE,
}

# Path parameters that must look right to get past routing (otherwise a dummy value).
PATH_VALUES = {"month": "2026-03"}
DUMMY = "hostile-probe-不存在"
CALLERS: list[str | None] = [None, "unknown-token", *sorted(ROLES)]


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    caller: str | None
    status: int
    content_type: str
    challenge: str

    def who(self) -> str:
        return {None: "no token", "unknown-token": "unknown token"}.get(self.caller, self.caller or "")


def expected_for(service: str, operation: str) -> str | frozenset[str] | None:
    return ACCESS.get((service, operation), ACCESS.get(("*", operation)))


def operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"{method.upper()} {path}", op) for path, item in doc["paths"].items()
             for method, op in item.items() if method in {"get", "post", "put", "patch", "delete"}]
    return [*found, ("GET /openapi.json", {})]


def url_of(operation: str) -> str:
    path = operation.split(" ", 1)[1]
    for part in path.split("/"):
        if part.startswith("{") and "}" in part:
            name = part[1:part.index("}")]
            path = path.replace("{" + name + "}", quote(PATH_VALUES.get(name, DUMMY), safe=""))
    return path


def call(client: TestClient, service: str, operation: str, spec: dict[str, Any], caller: str | None) -> Call:
    method = operation.split(" ", 1)[0]
    headers = {} if caller is None else {"Authorization": "Bearer " + (
        caller if caller == "unknown-token" else hs.token_for(caller))}
    kwargs: dict[str, Any] = {}
    if "requestBody" in spec:
        kwargs["content"], headers["Content-Type"] = b"{}", "application/json"
    response = client.request(method, url_of(operation), headers=headers, **kwargs)
    return Call(service, operation, caller, response.status_code, response.headers.get("content-type", ""),
                response.headers.get("www-authenticate", ""))


def error_type(c: Call) -> str:
    """The error media type a route answers with: SCIM Errors under /scim/v2 (RFC 7644 §3.12)."""
    return hs.SCIM_JSON if c.operation.split(" ", 1)[1].startswith("/scim/v2") else hs.PROBLEM_JSON


def verdict(expected: str | frozenset[str], c: Call) -> str | None:
    """None when the answer is what the table says, else what is wrong."""
    media = c.content_type.split(";")[0].strip().lower()
    if c.status >= 500:
        return f"answered {c.status}"
    if expected == PUBLIC:
        return f"public route refused with {c.status}" if c.status in (401, 403) else None
    if expected == SIGNED:
        return None if c.status == 401 and c.content_type == hs.PROBLEM_JSON else \
            f"signed route answered {c.status} {c.content_type} to an unsigned call"
    if c.caller in (None, "unknown-token"):
        if c.status != 401 or media != error_type(c) or not c.challenge.startswith("Bearer"):
            return f"expected 401 {error_type(c)} with a Bearer challenge, got {c.status} {c.content_type}"
        return None
    assert isinstance(expected, frozenset)
    if c.caller == "admin" or c.caller in expected:
        return f"should get through, got {c.status}" if c.status in (401, 403) else None
    if c.status != 403 or media != error_type(c):
        return f"should be refused with 403 {error_type(c)}, got {c.status} {c.content_type}"
    return None


@pytest.fixture
def client_of(tmp_path: Path) -> Iterator[Any]:
    opened: list[TestClient] = []

    def open_client(service: str) -> TestClient:
        client = TestClient(hs.create_service_app(service, hs.service_settings(tmp_path / service)),
                            raise_server_exceptions=False)
        opened.append(client.__enter__())
        return client

    yield open_client
    for client in opened:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("service", hs.available_services())
def test_only_the_roles_that_should_get_through_do(service: str, client_of: Any) -> None:
    client = client_of(service)
    doc = client.get("/openapi.json").json()
    ops = operations(doc)
    undeclared = [op for op, _ in ops if expected_for(service, op) is None]
    assert not undeclared, f"routes with no row in ACCESS (decide who may call them): {undeclared}"
    stale = sorted(op for (svc, op) in ACCESS if svc == service and op not in {o for o, _ in ops})
    assert not stale, f"ACCESS rows for routes {service} no longer has: {stale}"

    wrong = []
    for operation, spec in ops:
        expected = expected_for(service, operation)
        assert expected is not None
        for caller in CALLERS:
            c = call(client, service, operation, spec, caller)
            problem = verdict(expected, c)
            if problem:
                wrong.append(f"{operation:48} {c.who():14} {problem}")
    print(f"{service}: {len(ops)} routes × {len(CALLERS)} callers = {len(ops) * len(CALLERS)} calls")
    assert not wrong, f"{service}: {len(wrong)} answers differ from ACCESS:\n" + "\n".join(wrong)


def test_the_verdict_refuses_a_wrong_role_getting_through_and_a_right_role_refused() -> None:
    def answer(caller: str | None, status: int) -> Call:
        return Call("penalties", "POST /v1/reviews/{review_id}/decision", caller, status, hs.PROBLEM_JSON,
                    'Bearer realm="qunguard"')

    assert verdict(COMPLIANCE, answer("compliance", 404)) is None
    assert verdict(COMPLIANCE, answer("admin", 422)) is None
    assert verdict(COMPLIANCE, answer("hr", 403)) is None
    assert verdict(COMPLIANCE, answer(None, 401)) is None
    assert verdict(COMPLIANCE, answer("hr", 404)) is not None  # got through where it should not
    assert verdict(COMPLIANCE, answer("compliance", 403)) is not None  # refused where it should pass
    assert verdict(COMPLIANCE, answer(None, 404)) is not None  # no token must be 401
    assert verdict(SIGNED, answer("admin", 202)) is not None  # a bearer token is no signature
    assert verdict(PUBLIC, answer(None, 500)) is not None
