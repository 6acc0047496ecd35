"""The app factory every service's API is built with: the same edges everywhere.

``build_app`` gives each service bearer auth (``auth.require``), RFC 9457 problem+json for every
4xx/5xx (``problems``), a request id on every answer and log line, a streamed body size limit, and
three operations endpoints that need no token:

- ``/healthz``: the process answers (liveness; never touches the database or the log).
- ``/readyz``: the database and the event log answer, plus the service's own checks. A check is a
  callable that raises when not ready (→ 503 problem+json naming it) or returns None or a detail
  (a warning such as "no statutory calendar for 2027", shown but still ready). The database and log
  checks run automatically when the service's lifespan puts ``app.state.engine`` / ``app.state.log``.
- ``/metrics``: Prometheus exposition of the process registry. Deliberately without auth: scrapers
  sit inside the deployment's network, and the series carry service, topic and event-type labels
  only, never people or message content. Restrict it at the network edge if exposed publicly.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import problem_docs, problems
from services.common.auth import TokenStore
from services.common.logs import request_id_var

ReadinessCheck = Callable[[], Any]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
OPS_TAG = {"name": "ops", "description": "运维 / Health, readiness and metrics (no token needed)."}


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once the streamed body passes the limit (FastAPI re-raises it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"请求体超过 {limit} 字节 / The request body exceeds {limit} bytes.")


def qunguard_version() -> str:
    try:
        return version("qunguard")
    except PackageNotFoundError:
        return "0.0.0+unknown"


class RequestContextMiddleware:
    """Request id in and out, the body size limit, and a last-resort 500 with the request id.

    Pure ASGI rather than ``BaseHTTPMiddleware`` so the body is counted as it streams (a client
    that lies about or omits ``Content-Length`` still hits the limit) and context vars propagate.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get(REQUEST_ID_HEADER.lower(), "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []),
                                      (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._reply(BodyTooLarge(self.max_body_bytes), scope, send_with_id)
                return
            await self.app(scope, self._limited(receive), send_with_id)
        except BodyTooLarge as exc:
            if not started:
                await self._reply(exc, scope, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await problems.internal_error_response(scope.get("path"))(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        return limited_receive

    async def _reply(self, exc: BodyTooLarge, scope: Scope, send: Send) -> None:
        response = problems.problem_response(413, detail=str(exc.detail), instance=scope.get("path"),
                                             headers={"Connection": "close"})
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _default_checks(app: FastAPI) -> dict[str, ReadinessCheck]:
    checks: dict[str, ReadinessCheck] = {}
    engine = getattr(app.state, "engine", None)
    if engine is not None:
        def database() -> None:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        checks["database"] = database
    event_log = getattr(app.state, "log", None)
    if event_log is not None:
        checks["eventlog"] = event_log.ping
    return checks


async def run_checks(checks: Mapping[str, ReadinessCheck]) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Run every check (in a thread: they do blocking IO); never lets one failure hide another."""
    results: dict[str, dict[str, Any]] = {}
    ready = True
    for name, check in checks.items():
        try:
            detail = await run_in_threadpool(check)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by name
            ready = False
            results[name] = {"status": "fail", "detail": f"{type(exc).__name__}: {exc}"}
            continue
        results[name] = {"status": "ok"} if detail is None else {"status": "warn", "detail": detail}
    return ready, results


def ops_router(readiness_checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", summary="存活 / Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="就绪 / Readiness: database, event log and service checks",
                responses={503: {"description": "Not ready", "content": {problems.MEDIA_TYPE: {}}}})
    async def readyz(request: Request) -> Response:
        checks = {**_default_checks(request.app), **readiness_checks}
        ready, results = await run_checks(checks)
        if not ready:
            failed = ", ".join(n for n, r in results.items() if r["status"] == "fail")
            return problems.problem_response(503, detail=f"未就绪 / Not ready: {failed}",
                                             instance="/readyz", extra={"checks": results})
        return JSONResponse({"status": "ready", "checks": results})

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


def build_app(service: str, settings: Any, routers: Sequence[APIRouter], *,
              lifespan: Lifespan | None = None,
              readiness_checks: Mapping[str, ReadinessCheck] | None = None,
              description: str = "", tags: Sequence[Mapping[str, str]] = ()) -> FastAPI:
    """The FastAPI app of ``service`` with the shared edges; no IO here (put it in ``lifespan``).

    ``app.state.settings`` and ``app.state.tokens`` are set for the auth dependency. The lifespan is
    where a service opens its engine and log (and sets ``app.state.engine``/``app.state.log`` so
    ``/readyz`` checks them).
    """
    app = FastAPI(title=f"Qunguard {service}", version=qunguard_version(),
                  description=description or f"Qunguard {service} service API.",
                  openapi_tags=[*tags, OPS_TAG], lifespan=lifespan)
    app.state.service = service
    app.state.settings = settings
    app.state.tokens = TokenStore.from_settings(settings)
    problems.install(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.include_router(ops_router(dict(readiness_checks or {})))
    for router in routers:
        app.include_router(router)
    problem_docs.install(app)
    return app
