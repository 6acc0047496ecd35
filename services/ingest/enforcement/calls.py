"""The vocabulary of enforcement: planned calls, refusals, classified replies, and the retry policy.

Everything here is pure data; the platform modules produce these values and the executor consumes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from contracts.enforcement import EnforcementRequested

Method = Literal["GET", "POST", "DELETE"]


@dataclass(frozen=True)
class PlatformCall:
    """One HTTP request to a platform, before base URL, credentials and signatures are added.

    ``path`` is relative to the platform's API base; ``target`` names a per-group endpoint where the
    platform has one (DingTalk's custom robot: one webhook per group).
    """

    method: Method
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    target: str | None = None


@dataclass(frozen=True)
class Unsupported:
    """The platform has no API for this action (or not for this kind of group). Never retried."""

    reason_zh: str
    reason_en: str

    @property
    def reason(self) -> str:
        return f"{self.reason_zh} / {self.reason_en}"


@dataclass(frozen=True)
class Invalid(Unsupported):
    """The command lacks what the action needs (no user, no message id, no text). Never retried."""


@dataclass(frozen=True)
class NotConfigured(Unsupported):
    """This deployment has no credentials or address for the platform (or the group). Never retried."""


Plan = PlatformCall | Unsupported


@dataclass(frozen=True)
class Reply:
    """One attempt's classified answer.

    ``kind`` is ``ok``; ``retry`` (transport error, 5xx, rate limit: worth another attempt);
    ``refresh`` (the access token was rejected: fetch a new one and resend at once); or ``fail``
    (the platform said no for good: bad request, no permission, unknown group).
    """

    kind: Literal["ok", "retry", "refresh", "fail"]
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    retry_after_s: float | None = None

    @classmethod
    def ok(cls, data: dict[str, Any] | None = None) -> "Reply":
        return cls("ok", data=data or {})


def http_status_reply(status: int, body: Any, retry_after_s: float | None = None) -> Reply | None:
    """The classification every platform shares for HTTP status codes, or ``None`` to look at the body."""
    if status == 429:
        return Reply("retry", f"HTTP 429 rate limited: {_short(body)}", retry_after_s=retry_after_s)
    if status >= 500:
        return Reply("retry", f"HTTP {status}: {_short(body)}", retry_after_s=retry_after_s)
    return None


def _short(body: Any, limit: int = 300) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text[:limit]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff: delay(n) = min(base · 2^(n-1), max), n = 1, 2, …

    A platform's ``Retry-After`` wins when it is longer, still capped at ``max_delay_s`` so one
    command never holds the worker for long (the outcome then says the attempts ran out).
    """

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        backoff = min(self.base_delay_s * 2 ** (attempt - 1), self.max_delay_s)
        if retry_after_s is not None:
            backoff = max(backoff, min(retry_after_s, self.max_delay_s))
        return backoff


class PlatformClient(Protocol):
    """What the executor needs from a platform: a pure plan and one IO attempt."""

    platform: str

    def plan(self, command: EnforcementRequested) -> Plan: ...

    def send(self, call: PlatformCall) -> Reply:
        """One attempt. Never raises for transport or platform errors: they are classified."""
        ...


def not_configured(platform: str, what: str) -> NotConfigured:
    return NotConfigured(f"{platform} 未配置 {what}，无法执行", f"{platform}: {what} is not configured")


def missing(field_name: str, action: str) -> Invalid:
    return Invalid(f"缺少 {field_name}，无法执行 {action}", f"{action} needs {field_name}")
