"""/readyz checks the real database the service's lifespan opened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from services.common.app import build_app
from services.common.settings import Settings

pytestmark = pytest.mark.integration


def _app_with_engine(url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(url, connect_args={"connect_timeout": 2} if "postgres" in url else {})
        yield
        app.state.engine.dispose()

    return build_app("roster", Settings(), [], lifespan=lifespan)


def test_ready_when_the_database_answers(tmp_path: Path) -> None:
    with TestClient(_app_with_engine(f"sqlite:///{tmp_path / 'roster.db'}")) as client:
        body = client.get("/readyz").json()
    assert body == {"status": "ready", "checks": {"database": {"status": "ok"}}}


def test_not_ready_when_the_database_is_unreachable() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/qg_roster"
    with TestClient(_app_with_engine(url)) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "fail"
