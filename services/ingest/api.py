"""Composition root of the ingest API: platform webhooks and imports in, the audit lookup out.

The lifespan opens the ingest database and the event log producer once per process; routes share
them through ``app.state`` (``engine``, ``log``, ``intake``). Adapter errors map to problem+json:
a signature that does not verify (or a replayed timestamp) is 401, a body that is not what the
platform documents is 422 naming the fields, the log being unreachable is 503 (the platform retries).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware

from services.common import problems
from services.common.app import build_app
from services.common.db import create_tables, make_engine
from services.common.eventlog import open_log
from services.common.eventlog.base import LogUnavailable
from services.common.settings import Settings, get_settings
from services.ingest.adapters.base import PayloadError, SignatureError
from services.ingest.fastpath import WebhookFastPath, endpoints_by_path
from services.ingest.intake import Intake
from services.ingest.models import TABLES
from services.ingest.routes import WEBHOOKS, audit_router, router

TAGS = [
    {"name": "ingest", "description": "平台消息与成员变更接入 / Platform webhooks, imports and generic JSON in."},
    {"name": "audit", "description": "审计 / Canonical events with the raw payload they came from."},
]


def utc_now() -> datetime:
    """Receipt time; also "now" for signature replay windows (never an event time)."""
    return datetime.now(timezone.utc)


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url("ingest"))
        create_tables(engine, TABLES)
        log = open_log(settings)
        producer = log.producer()
        app.state.engine, app.state.log = engine, log
        app.state.intake = intake = Intake(producer, engine)
        try:
            yield
        finally:
            intake.close()
            producer.close()
            log.close()
            engine.dispose()

    app = build_app("ingest", settings, [router, audit_router], lifespan=lifespan, tags=TAGS,
                    description="把各平台的消息与成员变更转为标准事件并留存原始报文 / Turns every platform's "
                                "messages and membership changes into canonical events and keeps the raw payloads.")
    app.state.clock = clock
    app.add_exception_handler(SignatureError, _signature_error)
    app.add_exception_handler(PayloadError, _payload_error)
    app.add_exception_handler(LogUnavailable, _log_unavailable)
    # Innermost of the middleware, inside the request id and body limit (see fastpath.py).
    app.user_middleware.append(Middleware(WebhookFastPath, endpoints=endpoints_by_path(router.routes, WEBHOOKS),
                                          handlers=app.exception_handlers))
    return app


async def _signature_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SignatureError)
    return problems.problem_response(401, detail=exc.detail, instance=request.url.path,
                                     extra={"signature": exc.result})


async def _payload_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayloadError)
    return problems.problem_response(422, detail=exc.detail, instance=request.url.path,
                                     errors=[e.as_dict() for e in exc.errors])


async def _log_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return problems.problem_response(503, detail=f"事件日志暂不可用，请重试 / Event log unavailable, retry: {exc}",
                                     instance=request.url.path, headers={"Retry-After": "5"})
