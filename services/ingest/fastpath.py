"""Webhook POSTs served without FastAPI's router: a third less CPU per platform callback.

A OneBot group at 500 messages/s is 500 requests/s on one event loop. Of ≈ 0.5 ms of event-loop CPU
per webhook, ≈ 0.15 ms is FastAPI routing and dependency solving that these endpoints do not use
(their only parameter is the ``Request``; they verify the platform signature themselves and return
a finished response). :class:`WebhookFastPath` sits innermost among the app's middleware, so the
request id, body size limit and last-resort 500 of ``RequestContextMiddleware`` still apply, and
calls the very same endpoint functions. Exceptions are answered by the app's own exception
handlers, looked up along the exception's MRO as Starlette's ``ExceptionMiddleware`` does (401 for
signatures, 422 for payloads, 413 for bodies over the limit, 503 for the log or the database);
anything else propagates to ``RequestContextMiddleware``'s 500, as it would on the normal stack. Every other request (other methods, other paths) goes down the normal stack,
and the routes stay declared in FastAPI for OpenAPI.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


def endpoints_by_path(routes: Iterable[Any], endpoints: Iterable[Endpoint]) -> dict[str, Endpoint]:
    """The POST path of each endpoint; refuses one that takes anything but the request (it would
    silently lose its dependencies, e.g. authentication, on the fast path)."""
    wanted = set(endpoints)
    found: dict[str, Endpoint] = {}
    for route in routes:
        if isinstance(route, APIRoute) and route.endpoint in wanted and "POST" in route.methods:
            params = list(inspect.signature(route.endpoint).parameters.values())
            if route.dependant.dependencies or len(params) != 1 or params[0].annotation not in (Request, "Request"):
                raise TypeError(f"{route.endpoint.__name__} takes more than the request; it cannot use the fast path")
            found[route.path] = route.endpoint
    missing = {e.__name__ for e in wanted} - {e.__name__ for e in found.values()}
    if missing:
        raise LookupError(f"no POST route for {sorted(missing)}")
    return found


class WebhookFastPath:
    """ASGI middleware: POST to one of ``endpoints`` → call it directly; everything else → ``app``."""

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint],
                 handlers: Mapping[Any, Handler]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)
        self.handlers = handlers  # the app's exception_handlers dict (live: handlers added later count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            root = scope.get("root_path", "")
            endpoint = self.endpoints.get(path[len(root):] if root and path.startswith(root) else path)
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler | None:
        for cls in type(exc).__mro__:
            if cls is Exception:  # Starlette gives that one to the outermost middleware: let it propagate
                return None
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler
        return None
