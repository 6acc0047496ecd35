"""RFC 9457 problem details: the one shape of every 4xx and 5xx answer of every service.

A caller (HR system, chat platform, a compliance officer's script) gets ``application/problem+json``
with ``type``, ``title``, ``status``, ``detail``, ``instance`` and, for invalid input, ``errors``:
a list of ``{field, message}`` where ``field`` is a path such as ``events[3].time`` — so the caller
can fix the one field at fault without reading our code.

Validation failures answer **422** (FastAPI's convention, kept so generated OpenAPI documents and
clients agree); malformed JSON is a 422 too, naming ``body`` as the field. Titles are Chinese first,
English second. Services raise :class:`ProblemError` for domain refusals (409 conflict, 404 unknown
sanction, …); everything else is mapped by :func:`install`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.logs import request_id_var

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://qunguard.dev/problems/"

log = logging.getLogger(__name__)

TITLES: dict[int, str] = {
    400: "请求无效 / Bad Request",
    401: "未认证 / Unauthorized",
    403: "无权限 / Forbidden",
    404: "未找到 / Not Found",
    405: "方法不允许 / Method Not Allowed",
    409: "冲突 / Conflict",
    413: "请求体过大 / Content Too Large",
    415: "不支持的媒体类型 / Unsupported Media Type",
    422: "输入校验失败 / Validation Failed",
    429: "请求过多 / Too Many Requests",
    500: "服务器内部错误 / Internal Server Error",
    503: "服务不可用 / Service Unavailable",
}
SLUGS: dict[int, str] = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 409: "conflict", 413: "content-too-large",
    415: "unsupported-media-type", 422: "validation", 429: "too-many-requests",
    500: "internal", 503: "unavailable",
}


def title_for(status: int) -> str:
    return TITLES.get(status) or _phrase(status) or "Error"


def _phrase(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


def type_for(status: int) -> str:
    return TYPE_BASE + SLUGS.get(status, str(status))


class ProblemError(Exception):
    """Raise from a route or service to answer with a problem document.

    ``errors`` lists ``{"field": ..., "message": ...}``; ``extra`` adds extension members (e.g. the
    id of the conflicting resource); ``headers`` adds response headers (e.g. ``Retry-After``).
    """

    def __init__(self, status: int, title: str | None = None, detail: str | None = None,
                 errors: Sequence[Mapping[str, str]] | None = None, type_: str | None = None,
                 *, extra: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.title = title or title_for(status)
        self.detail = detail
        self.errors = [dict(e) for e in errors] if errors else None
        self.type = type_ or type_for(status)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    @classmethod
    def from_validation(cls, exc: ValidationError, *, prefix: Sequence[str | int] = ()) -> ProblemError:
        """A 422 from a pydantic error raised while building a model from caller input."""
        return cls(422, detail="请求内容未通过校验 / The request content is invalid.",
                   errors=field_errors(exc.errors(), prefix=prefix))


def field_path(loc: Iterable[str | int]) -> str:
    """``("events", 3, "time")`` → ``events[3].time``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def field_errors(errors: Iterable[Mapping[str, Any]], *, prefix: Sequence[str | int] = ()
                 ) -> list[dict[str, str]]:
    """Pydantic/FastAPI error dicts → ``[{field, message}]``; the request location is dropped
    for the body (``body.events[3].time`` reads as ``events[3].time``) and kept for the others."""
    result = []
    for err in errors:
        loc = list(prefix) + list(err.get("loc", ()))
        if loc and loc[0] == "body":
            loc = loc[1:]
        elif loc and loc[0] in _LOCATIONS and len(loc) > 1:
            loc = loc[1:]
        result.append({"field": field_path(loc) or "body", "message": str(err.get("msg", "invalid"))})
    return result


def problem_body(status: int, *, title: str | None = None, detail: str | None = None,
                 instance: str | None = None, errors: list[dict[str, str]] | None = None,
                 type_: str | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_ or type_for(status), "title": title or title_for(status),
                            "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    body.update(extra or {})
    return body


def problem_response(status: int, *, headers: Mapping[str, str] | None = None, **fields: Any
                     ) -> JSONResponse:
    return JSONResponse(problem_body(status, **fields), status_code=status,
                        media_type=MEDIA_TYPE, headers=dict(headers or {}))


async def _problem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, title=exc.title, detail=exc.detail, errors=exc.errors,
                            type_=exc.type, instance=request.url.path, extra=exc.extra,
                            headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if detail == _phrase(exc.status_code):
        detail = None  # Starlette's default detail only repeats the title.
    errors = exc.detail if isinstance(exc.detail, list) else None
    return problem_response(exc.status_code, detail=detail, errors=errors,
                            instance=request.url.path, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(422, detail="请求内容未通过校验 / The request content is invalid.",
                            errors=field_errors(exc.errors()), instance=request.url.path)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is not reachable now (connection refused or dropped): a 503 the client may retry,
    not a 500, so load balancers and callers back off instead of reporting a bug."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(503, detail="数据库暂时不可用，请稍后重试 / The database is unavailable; retry shortly.",
                            instance=request.url.path, headers={"Retry-After": "5"})


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return internal_error_response(request.url.path)


def internal_error_response(instance: str | None) -> JSONResponse:
    """A 500 that names the request id (to quote to support) and nothing of the stack."""
    rid = request_id_var.get()
    detail = "服务器内部错误，请联系管理员并提供请求编号 / Unexpected error; quote the request id to support"
    return problem_response(500, detail=f"{detail}: {rid}" if rid else detail, instance=instance)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    from sqlalchemy.exc import InterfaceError, OperationalError

    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(Exception, _unhandled)
