"""Roster API fixtures: the app on a real database (SQLite and PostgreSQL), tokens per role, a clock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from contracts.envelope import decode
from services.common.outbox import OutboxEntry
from services.common.settings import Settings
from services.roster.api import create_app

TOKENS = {"hr": "tok-hr", "group-admin": "tok-ga", "auditor": "tok-audit", "compliance": "tok-comp"}
SCIM = "application/scim+json"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2025, 3, 3, 9, 0, tzinfo=timezone(timedelta(hours=8))))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class Roster:
    client: TestClient
    clock: Clock

    def headers(self, role: str = "hr", scim: bool = False) -> dict[str, str]:
        h = {"Authorization": f"Bearer {TOKENS[role]}"}
        if scim:
            h["Content-Type"] = SCIM
        return h

    def scim(self, method: str, path: str, body: object | None = None, role: str = "hr", **headers: str):
        return self.client.request(method, "/scim/v2" + path, headers={**self.headers(role, True), **headers},
                                   content=orjson.dumps(body) if body is not None else None)

    @property
    def engine(self):
        return self.client.app.state.engine

    def outbox(self) -> list:
        """Every event queued for publication so far, in order (type, payload)."""
        with Session(self.engine) as session:
            rows = session.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)).all()
            return [decode(r.value) for r in rows]

    def event_types(self) -> list[str]:
        return [e.type.split(".")[2] for e in self.outbox()]


@pytest.fixture
def roster(db_url: str) -> Iterator[Roster]:
    tokens = ",".join(f"{hashlib.sha256(t.encode()).hexdigest()}:{role}:{role}-caller" for role, t in TOKENS.items())
    settings = Settings(roster_database_url=db_url, tokens=tokens, log_json=False)
    clock = Clock()
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Roster(client, clock)
