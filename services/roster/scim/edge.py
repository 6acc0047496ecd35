"""Every refusal under ``/scim/v2`` is a SCIM Error document, whoever produced it.

The SCIM routes answer SCIM errors themselves, but some refusals happen before a route runs: a
missing or wrong token (401/403 from ``auth.require``), an unknown path (404), a method the path
does not allow (405), a body over the size limit (413), a database outage (503), a crash (500).
The shared app factory answers those as RFC 9457 problem+json, which SCIM clients cannot parse
(RFC 7644 §3.12 asks for ``urn:ietf:params:scim:api:messages:2.0:Error`` with ``status`` as a
string). This middleware rewrites exactly those answers on SCIM paths and leaves every other path,
and every non-problem answer, byte for byte alone.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.roster.scim.errors import ERROR_URN, SCIM_MEDIA_TYPE

SCIM_PREFIX = "/scim/v2"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def scim_error_from_problem(status: int, problem: Any) -> dict[str, Any]:
    """The SCIM Error document saying what a problem+json body said (pure)."""
    detail = None
    if isinstance(problem, dict):
        detail = problem.get("detail") or problem.get("title")
    body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(status),
                            "detail": str(detail) if detail else f"HTTP {status}"}
    if status == 400:
        body["scimType"] = "invalidValue"
    return body


def _is_scim_path(path: str) -> bool:
    return path == SCIM_PREFIX or path.startswith(SCIM_PREFIX + "/")


class ScimErrorEdge:
    """Pure ASGI, so it sits outside the request-context middleware and sees its 413/500 too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_scim_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if headers.get(b"content-type", b"").split(b";")[0].strip() == PROBLEM_MEDIA_TYPE.encode():
                    start = message  # hold it until the body is complete
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            try:
                problem = orjson.loads(b"".join(chunks))
            except orjson.JSONDecodeError:
                problem = None
            body = orjson.dumps(scim_error_from_problem(start["status"], problem))
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() not in (b"content-type", b"content-length")]
            headers += [(b"content-type", SCIM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": start["status"], "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, rewrite)
