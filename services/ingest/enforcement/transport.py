"""The one place that speaks HTTP: send a request, turn transport failures into a retryable ``Reply``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from services.ingest.enforcement.calls import Reply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A platform's HTTP answer: status, decoded JSON body (or text), and its Retry-After in seconds."""

    status: int
    body: Any
    retry_after_s: float | None = None


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: not worth parsing for a bounded backoff
        return None


def request(http: httpx.Client, method: str, url: str, *, json: Any = None,
            params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Answer | Reply:
    """One HTTP exchange. A connection error or timeout becomes ``Reply('retry')``; never raises."""
    try:
        response = http.request(method, url, json=json, params=params, headers=headers)
    except httpx.TransportError as exc:
        log.warning("platform unreachable: %s %s: %s", method, _redact(url), exc)
        return Reply("retry", f"transport error: {type(exc).__name__}: {exc}")
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:1000]
    return Answer(response.status_code, body, _retry_after(response.headers))


def _redact(url: str) -> str:
    """Webhook URLs carry credentials in the query (DingTalk ``access_token``): never log them."""
    return url.split("?", 1)[0]
