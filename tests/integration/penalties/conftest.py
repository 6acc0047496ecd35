"""Fixtures of the penalties integration tests: a SQLite and a PostgreSQL database, the company of
``scenario`` loaded into them, and an API client whose clock is fixed."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.common import outbox
from services.common.auth import hash_token
from services.common.db import create_tables, make_engine
from services.common.settings import Settings
from services.penalties.api import create_app
from services.penalties.models import ALL_TABLES
from tests.integration.penalties import scenario as sc
from tests.integration.penalties.api_support import CLOCK, ROLES, TOKENS, feed

PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def pen_db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'penalties.db'}"
        return
    name = f"pen_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def engine(pen_db_url):
    eng = make_engine(pen_db_url)
    create_tables(eng, outbox.RUNTIME_TABLES + ALL_TABLES)
    feed(eng, sc.policy_event(), *sc.roster_events())
    yield eng
    eng.dispose()


@pytest.fixture
def client(engine):
    settings = Settings(tokens=",".join(f"{hash_token(t)}:{ROLES[n]}:{n}" for n, t in TOKENS.items()),
                        ingest_url="http://127.0.0.1:9")
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: CLOCK
    with TestClient(app) as c:
        yield c
