"""Bearer tokens with roles, configured only by hash: who may call what."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from services.common.app import build_app
from services.common.auth import (Principal, TokenConfigError, TokenStore, create_token, has_role,
                                  hash_token, parse_entry, require)
from services.common.settings import Settings

pytestmark = pytest.mark.unit

HR_TOKEN = "hr-zhangsan-token"
AUDITOR_TOKEN = "auditor-token"
ADMIN_TOKEN = "admin-token"


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/employees")
    def hire(who: Principal = Depends(require("hr"))) -> dict[str, str]:
        return {"by": who.name}

    @router.get("/ledger")
    def ledger(who: Principal = Depends(require("compliance", "auditor"))) -> dict[str, list[str]]:
        return {"roles": sorted(who.roles)}

    return router


def _client(tmp_path: Path) -> TestClient:
    tokens = ",".join([f"{hash_token(HR_TOKEN)}:hr:人事系统", f"{hash_token(AUDITOR_TOKEN)}:auditor:审计"])
    file = tmp_path / "tokens"
    file.write_text(f"# first admin\n{hash_token(ADMIN_TOKEN)}:admin:ops\n", encoding="utf-8")
    app = build_app("roster", Settings(tokens=tokens, tokens_file=file), [_router()])
    return TestClient(app)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_token_is_401_with_bearer_challenge(tmp_path: Path) -> None:
    response = _client(tmp_path).post("/employees")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")


def test_unknown_token_is_401_invalid_token(tmp_path: Path) -> None:
    response = _client(tmp_path).post("/employees", headers=_auth("guessed"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_token_with_the_role_passes_and_names_the_caller(tmp_path: Path) -> None:
    assert _client(tmp_path).post("/employees", headers=_auth(HR_TOKEN)).json() == {"by": "人事系统"}


def test_token_without_the_role_is_403(tmp_path: Path) -> None:
    response = _client(tmp_path).post("/employees", headers=_auth(AUDITOR_TOKEN))
    assert response.status_code == 403
    assert "hr" in response.json()["detail"]


def test_any_of_several_roles_is_enough(tmp_path: Path) -> None:
    assert _client(tmp_path).get("/ledger", headers=_auth(AUDITOR_TOKEN)).status_code == 200
    assert _client(tmp_path).get("/ledger", headers=_auth(HR_TOKEN)).status_code == 403


def test_admin_passes_every_check(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert client.post("/employees", headers=_auth(ADMIN_TOKEN)).status_code == 200
    assert client.get("/ledger", headers=_auth(ADMIN_TOKEN)).status_code == 200


def test_token_created_while_running_works_without_restart(tmp_path: Path) -> None:
    client = _client(tmp_path)
    token = create_token("薪酬导出", ["compliance"], tmp_path / "tokens")
    assert client.get("/ledger", headers=_auth(token)).status_code == 200


def test_created_token_is_stored_only_as_hash_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens"
    token = create_token("hr-sync", ["hr", "compliance"], path)
    text = path.read_text(encoding="utf-8")
    assert token not in text
    assert text == f"{hash_token(token)}:compliance+hr:hr-sync\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert has_role(path, "hr") and not has_role(path, "admin")
    assert TokenStore(path=path).authenticate(token) == Principal("hr-sync", frozenset({"hr", "compliance"}))


def test_tokens_are_random_and_long() -> None:
    tokens = {create_token.__globals__["new_token"]() for _ in range(50)}
    assert len(tokens) == 50 and all(len(t) >= 40 for t in tokens)


@pytest.mark.parametrize("entry", [
    "abc:hr:short-hash",
    f"{'0' * 64}:boss:unknown-role",
    f"{'0' * 64}::no-roles",
    f"{'0' * 64}:hr:",
    f"{'z' * 64}:hr:not-hex",
    "only-one-field",
])
def test_malformed_entries_are_refused_at_start_up(entry: str) -> None:
    with pytest.raises(TokenConfigError):
        parse_entry(entry)


def test_unknown_role_in_require_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        require("superuser")


def test_token_never_reaches_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = _client(tmp_path)
    client.post("/employees", headers=_auth(HR_TOKEN))
    client.post("/employees", headers=_auth("wrong-secret-token"))
    token = create_token("bot", ["ingest"], tmp_path / "tokens")
    assert all(secret not in caplog.text for secret in (HR_TOKEN, "wrong-secret-token", token))
