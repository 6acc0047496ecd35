"""What every platform adapter returns and raises.

An adapter is a set of pure functions: given the request as received (raw body, headers, query,
the configured secrets and ``now``), verify the platform's own signature and turn the body into
canonical chat payloads. No IO, no wall clock (``now`` is passed in), so each adapter is tested on
recorded payloads alone. The API (``services/ingest/api.py``) does the IO around them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import orjson

from contracts.base import REGISTRY
from contracts.chat import ChatEvent, Platform
from contracts.ids import platform_event_id

SignatureResult = Literal["verified", "missing", "invalid", "not_configured"]

#: Platforms retry for minutes, not hours; a signed request older than this is a replay.
DEFAULT_MAX_AGE_S = 3600


class SignatureError(Exception):
    """The request is not provably from the platform: answer 401 and publish nothing."""

    def __init__(self, result: SignatureResult | Literal["stale"], detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


@dataclass(frozen=True)
class FieldError:
    """One field at fault, spelled as a path the caller can find (``events[3].time``)."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class PayloadError(Exception):
    """The body is signed correctly but not what the platform documents: answer 422, naming fields."""

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        self.errors = list(errors)
        self.detail = detail or "; ".join(f"{e.field}: {e.message}" for e in self.errors[:5])
        super().__init__(self.detail)


@dataclass(frozen=True, slots=True)
class Canonical:
    """A canonical chat event in its published form: type, JSON-mode data (no nulls) and event time.

    What the log carries is ``data``; a payload model is one way to get it (:meth:`of`), and the
    generic batch adapter builds it directly (10,000 models cost ≈ 0.1 s). :meth:`model` turns it
    back into the validated payload.
    """

    event_type: str
    data: dict[str, Any]
    occurred_at: datetime

    @classmethod
    def of(cls, payload: ChatEvent) -> Canonical:
        return cls(payload.event_type, payload.model_dump(mode="json", exclude_none=True), payload.occurred_at)

    def model(self) -> ChatEvent:
        return REGISTRY[self.event_type].model_validate(self.data)  # type: ignore[return-value]


@dataclass(frozen=True)
class Parsed:
    """An adapter's reading of one request.

    ``events`` are canonical payloads; ``ignored`` counts what the platform sent that Qunguard does
    not track (heartbeats, one-to-one chats, WeCom ``switch`` records) so an answer can say so
    instead of dropping it silently; ``reply`` is what the platform expects back, when it expects
    something other than our 202 (Feishu's challenge, DingTalk's encrypted "success").
    ``canonical``, when set, replaces ``events`` with the same events already in published form
    (see :class:`Canonical`); :meth:`records` gives them either way.
    """

    events: list[ChatEvent] = field(default_factory=list)
    ignored: int = 0
    reply: Any = None
    group_id: str | None = None
    audit_body: bytes | None = None  # what to keep for audit when not the whole body (see wecom archive)
    canonical: list[Canonical] | None = None

    def records(self) -> list[Canonical]:
        return self.canonical if self.canonical is not None else [Canonical.of(e) for e in self.events]

    @property
    def event_ids(self) -> list[str]:
        return [platform_event_id(c.data["platform"], c.data["platform_event_id"]) for c in self.records()]


def event_id_of(payload: ChatEvent) -> str:
    """The canonical event id: uuid5 of (platform, the platform's own id of the event)."""
    return platform_event_id(payload.platform, payload.platform_event_id)


def from_epoch_s(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), tz=timezone.utc)


def from_epoch_ms(value: Any) -> datetime:
    """Platform milliseconds (a number or a numeric string) as an aware UTC datetime."""
    ms = int(value)
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).replace(microsecond=(ms % 1000) * 1000)


def check_age(ts: datetime, now: datetime, max_age_s: int) -> None:
    """Refuse a signed request whose timestamp is too far from now (a replay or a skewed clock)."""
    if abs((now - ts).total_seconds()) > max_age_s:
        raise SignatureError("stale", f"时间戳超出允许范围 / timestamp outside ±{max_age_s}s: {ts.isoformat()}")


def same(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison, so signature checks do not leak by timing."""
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over a plain mapping (tests pass dicts, the API passes Starlette's)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for k, v in headers.items():
        if k.lower() == lowered:
            return v
    return None


def require(obj: Mapping[str, Any], key: str, path: str) -> Any:
    """``obj[key]`` or a PayloadError naming ``path.key``."""
    if not isinstance(obj, Mapping) or key not in obj or obj[key] is None:
        raise PayloadError([FieldError(f"{path}.{key}" if path else key, "缺少字段 / field required")])
    return obj[key]


def platform_of(adapter: str) -> Platform:
    return {"onebot": "qq", "dingtalk": "dingtalk", "wecom": "wecom", "feishu": "feishu"}.get(adapter, "other")  # type: ignore[return-value]


def load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a PayloadError naming ``body``."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError([FieldError("body", f"不是合法 JSON / malformed JSON: {exc}")]) from exc
    if not isinstance(value, dict):
        raise PayloadError([FieldError("body", "应为 JSON 对象 / expected a JSON object")])
    return value
