"""Generic JSON, for any source without its own adapter: one event object or ``{"events": [...]}``.

The shape is a published interface (issue 3 and the README): every field is validated, unknown
fields are refused (a typo must not silently drop data), ``time`` must be an RFC 3339 string with an
offset. A batch with any bad event is rejected whole, each bad index named (``events[3].time``):
no partial, silent drops. Up to :data:`MAX_EVENTS` events per request.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from contracts.chat import (
    AdminChanged, ChatEvent, GroupCreated, GroupDissolved, GroupRenamed, MemberJoined, MemberLeft,
    MemberRemoved, MembersSnapshot, MemberRole, MessagePosted, MessageRecalled, MsgType, NicknameChanged,
    Platform, SnapshotMember,
)
from services.ingest.adapters.base import Canonical, FieldError, Parsed, PayloadError, load_object
from services.ingest.envelopes import json_time

MAX_EVENTS = 10_000

EventType = Literal["message", "message_recalled", "member_joined", "member_left", "member_removed",
                    "nickname_changed", "group_created", "group_renamed", "group_dissolved",
                    "admin_changed", "members_snapshot"]
NonEmpty = Field(min_length=1)


class GenericMember(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = NonEmpty
    nickname: str | None = None
    role: MemberRole = "member"


class GenericEvent(BaseModel):
    """One event in the generic shape (documented field by field in services/ingest/README.md)."""

    model_config = ConfigDict(extra="forbid")
    platform: Platform
    type: EventType
    id: str = NonEmpty
    group_id: str = NonEmpty
    group_name: str | None = None
    user_id: str | None = None
    nickname: str | None = None
    operator_id: str | None = None
    time: AwareDatetime
    msg_type: MsgType | None = None
    text: str | None = None
    url: str | None = None
    mentions: list[str] = []
    mention_all: bool = False
    reply_to: str | None = None
    message_id: str | None = Field(None, min_length=1, description="message_recalled: the recalled message's id.")
    members: list[GenericMember] | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("应为 RFC 3339 字符串（带时区）/ expected an RFC 3339 string with offset")
        return value


_NEEDS_USER = {"message", "message_recalled", "member_joined", "member_left", "member_removed",
               "nickname_changed", "group_created", "admin_changed"}


_BATCH = TypeAdapter(list[GenericEvent])


def parse(body: bytes) -> Parsed:
    """Validate the whole request, then map to payload models; raises PayloadError listing every bad field.

    Field paths are ``events[i].field`` for a batch and plain ``field`` for a single object.
    """
    events = [_canonical(item) for item in validate(body)]
    groups = {e.group_id for e in events}
    return Parsed(events=events, group_id=next(iter(groups)) if len(groups) == 1 else None)


def parse_canonical(body: bytes) -> Parsed:
    """:func:`parse`, but the events come already in published form (``Parsed.canonical``).

    What the API uses: building 10,000 payload models only to dump them again costs ≈ 0.1 s.
    ``tests/unit/ingest/test_generic.py`` proves each record equals ``Canonical.of`` of :func:`parse`'s model.
    """
    records = [_canonical_record(item) for item in validate(body)]
    groups = {r.data["group_id"] for r in records}
    return Parsed(canonical=records, group_id=next(iter(groups)) if len(groups) == 1 else None)


def validate(body: bytes) -> list[GenericEvent]:
    """Every event of the request, validated; or PayloadError naming each bad field, in index order.

    A batch is validated in one pydantic pass over the list (per-event calls cost twice as much);
    only when it fails are the events validated one by one, to name every bad index.
    """
    raw, batch = _events_of(body)
    try:
        items = _BATCH.validate_python(raw) if batch else [GenericEvent.model_validate(raw[0])]
        errors = [err for i, item in enumerate(items) for err in _semantic_errors(_prefix(i, batch), item)]
    except ValidationError:
        items, errors = [], []
        for i, obj in enumerate(raw):
            try:
                item = GenericEvent.model_validate(obj)
            except ValidationError as exc:
                errors.extend(_field_errors(_prefix(i, batch), exc))
                continue
            errors.extend(_semantic_errors(_prefix(i, batch), item))
    if errors:
        raise PayloadError(errors, f"{len({e.field.split('.')[0] for e in errors})} 个事件有误，整批未接收 / "
                                   "invalid events, batch rejected" if batch else None)
    return items


def _prefix(i: int, batch: bool) -> str:
    return f"events[{i}]" if batch else ""


def _events_of(body: bytes) -> tuple[list[Any], bool]:
    doc = load_object(body)
    if "events" not in doc:
        return [doc], False
    events = doc["events"]
    if not isinstance(events, list):
        raise PayloadError([FieldError("events", "应为数组 / expected an array")])
    if not events:
        raise PayloadError([FieldError("events", "不能为空 / must not be empty")])
    if len(events) > MAX_EVENTS:
        raise PayloadError([FieldError("events", f"每次最多 {MAX_EVENTS} 条 / at most {MAX_EVENTS} per request")],
                           f"批量过大：{len(events)} 条 / batch too large: {len(events)} events")
    extra = sorted(set(doc) - {"events"})
    if extra:
        raise PayloadError([FieldError(k, "不允许的字段 / unknown field") for k in extra])
    return events, True


def _join(prefix: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    return f"{prefix}.{name}" if prefix else name


def _field_errors(prefix: str, exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        path = prefix
        for part in err["loc"]:
            path = _join(path, part)
        out.append(FieldError(path or "body", err["msg"]))
    return out


def _semantic_errors(prefix: str, e: GenericEvent) -> list[FieldError]:
    """Per-type requirements the flat shape cannot express in types."""
    errs: list[FieldError] = []

    def at(name: str) -> str:
        return _join(prefix, name)

    if e.type in _NEEDS_USER and not e.user_id:
        errs.append(FieldError(at("user_id"), f"{e.type} 需要 user_id / required for {e.type}"))
    if e.type == "message" and e.msg_type is None:
        errs.append(FieldError(at("msg_type"), "message 需要 msg_type / required for message"))
    if e.type == "members_snapshot" and e.members is None:
        errs.append(FieldError(at("members"), "members_snapshot 需要 members / required"))
    if e.type == "nickname_changed" and e.nickname is None:
        errs.append(FieldError(at("nickname"), "nickname_changed 需要 nickname / required"))
    if e.type == "message_recalled" and not (e.message_id or e.reply_to):
        errs.append(FieldError(at("message_id"),
                               "message_recalled 需要被撤回消息的 id / the recalled message's id is required"))
    return errs


def _canonical(e: GenericEvent) -> ChatEvent:
    common: dict[str, Any] = dict(platform=e.platform, group_id=e.group_id, platform_event_id=e.id,
                                  occurred_at=e.time, group_name=e.group_name)
    t = e.type
    if t == "message":
        return MessagePosted(**common, message_id=e.id, user_id=e.user_id, nickname=e.nickname,
                             msg_type=e.msg_type, text=e.text, url=e.url, mentions=e.mentions,
                             mention_all=e.mention_all, reply_to=e.reply_to)
    if t == "message_recalled":
        return MessageRecalled(**common, message_id=e.message_id or e.reply_to, user_id=e.user_id, operator_id=e.operator_id)
    if t == "member_joined":
        return MemberJoined(**common, user_id=e.user_id, nickname=e.nickname, operator_id=e.operator_id)
    if t == "member_left":
        return MemberLeft(**common, user_id=e.user_id, nickname=e.nickname)
    if t == "member_removed":
        return MemberRemoved(**common, user_id=e.user_id, nickname=e.nickname, operator_id=e.operator_id)
    if t == "nickname_changed":
        return NicknameChanged(**common, user_id=e.user_id, nickname=e.nickname)
    if t == "group_created":
        return GroupCreated(**common, user_id=e.user_id)
    if t == "group_renamed":
        return GroupRenamed(**common, user_id=e.user_id)
    if t == "group_dissolved":
        return GroupDissolved(**common, user_id=e.user_id)
    if t == "admin_changed":
        return AdminChanged(**common, user_id=e.user_id, operator_id=e.operator_id)
    members = [SnapshotMember(user_id=m.user_id, nickname=m.nickname, role=m.role) for m in e.members or []]
    return MembersSnapshot(**common, members=members)



_EVENT_TYPES = {"message": MessagePosted, "message_recalled": MessageRecalled, "member_joined": MemberJoined,
                "member_left": MemberLeft, "member_removed": MemberRemoved, "nickname_changed": NicknameChanged,
                "group_created": GroupCreated, "group_renamed": GroupRenamed, "group_dissolved": GroupDissolved,
                "admin_changed": AdminChanged, "members_snapshot": MembersSnapshot}


def _canonical_record(e: GenericEvent) -> Canonical:
    """What ``Canonical.of(_canonical(e))`` gives, without the model: same keys, same order, no nulls.

    Every value was validated by ``GenericEvent`` (with the same constraints as the payload models)
    and by ``_semantic_errors`` (the per-type required fields).
    """
    d: dict[str, Any] = {"platform": e.platform, "group_id": e.group_id, "platform_event_id": e.id,
                         "occurred_at": json_time(e.time)}
    if e.group_name is not None:
        d["group_name"] = e.group_name
    t = e.type
    if t == "message":
        d["message_id"] = e.id
        d["user_id"] = e.user_id
        _put(d, "nickname", e.nickname)
        d["msg_type"] = e.msg_type
        _put(d, "text", e.text)
        _put(d, "url", e.url)
        d["mentions"] = list(e.mentions)
        d["mention_all"] = e.mention_all
        _put(d, "reply_to", e.reply_to)
    elif t == "message_recalled":
        d["message_id"] = e.message_id or e.reply_to
        d["user_id"] = e.user_id
        _put(d, "operator_id", e.operator_id)
    elif t in ("member_joined", "member_left", "member_removed"):
        d["user_id"] = e.user_id
        _put(d, "nickname", e.nickname)
        if t != "member_left":
            _put(d, "operator_id", e.operator_id)
    elif t == "nickname_changed":
        d["user_id"] = e.user_id
        d["nickname"] = e.nickname
    elif t in ("group_created", "group_renamed", "group_dissolved"):
        _put(d, "user_id", e.user_id)
    elif t == "admin_changed":
        d["user_id"] = e.user_id
        d["change"] = "set"
        _put(d, "operator_id", e.operator_id)
    else:
        d["members"] = [_member(m) for m in e.members or []]
    return Canonical(_EVENT_TYPES[t].event_type, d, e.time)


def _member(m: GenericMember) -> dict[str, Any]:
    out: dict[str, Any] = {"user_id": m.user_id}
    _put(out, "nickname", m.nickname)
    out["role"] = m.role
    return out


def _put(d: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        d[key] = value
