"""`qg up` gives the services a read-only token of their own, stable across restarts."""

from __future__ import annotations

import stat

import pytest

from services.cli.up import ensure_service_token, tokens_path
from services.common.settings import Settings

pytestmark = pytest.mark.unit


def test_service_token_is_created_once_with_the_auditor_role_and_reused(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first = ensure_service_token(settings)
    assert ensure_service_token(settings) == first
    secret = tmp_path / "service-token"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    text = tokens_path(settings).read_text("utf-8")
    assert first not in text, "only the hash may be stored in the tokens file"
    assert ":auditor:qunguard-services" in text


def test_a_configured_service_token_wins(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, service_token="given")
    assert ensure_service_token(settings) == "given"
    assert not (tmp_path / "service-token").exists()
