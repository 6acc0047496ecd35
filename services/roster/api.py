"""Composition root of the roster API: SCIM 2.0, CSV import, the group registry, employee views."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from fastapi import FastAPI

from services.common import outbox
from services.common.app import build_app
from services.common.db import create_tables, make_engine
from services.common.settings import Settings
from services.roster.models import PROJECTION_TABLES
from services.roster.routes import router as roster_router
from services.roster.scim.edge import ScimErrorEdge
from services.roster.scim.routes import router as scim_router

TAGS = [
    {"name": "scim", "description": "SCIM 2.0 服务端（RFC 7643/7644）/ SCIM 2.0 service provider for HR and IdPs."},
    {"name": "roster", "description": "花名册 / Employees, CSV import."},
    {"name": "groups", "description": "群登记与成员 / Group registry and membership."},
]


def utc_now() -> datetime:
    """The API's clock: the time an HR change reaches us is that change's event time."""
    return datetime.now(timezone.utc)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url("roster"))
        create_tables(engine, outbox.RUNTIME_TABLES + PROJECTION_TABLES)
        app.state.engine = engine
        try:
            yield
        finally:
            engine.dispose()

    app = build_app("roster", settings, [scim_router, roster_router], lifespan=lifespan, tags=TAGS,
                    description="员工、身份、部门、群登记与群成员 / People, identities, departments, the group "
                                "registry and group membership.")
    app.add_middleware(ScimErrorEdge)  # outermost: SCIM clients get SCIM errors even for 401/404/500
    app.state.clock = clock
    return app
