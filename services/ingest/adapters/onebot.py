"""QQ through OneBot v11 (NapCat, LLOneBot, go-cqhttp): HTTP POST event reports.

Signature: ``X-Signature: sha1=<hex HMAC-SHA1(key=secret, raw body)>`` (NapCat uses its ``token`` as
the key). OneBot sends no signed timestamp, so the replay window applies to the event's own
``time`` (seconds): a correctly signed body from hours ago is a replay, not a retry.

Group messages come as a CQ-code string or a segment array; both become the same canonical
``MessagePosted``: ``text`` is the text segments as sent (``@`` segments go to ``mentions``, not into
the text, so a QQ number is never mistaken for a phone number), ``at qq=all`` sets ``mention_all``.
Event ids include the group, the event time and the message id because OneBot ``message_id`` is an
int32 that implementations reuse over time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any


from contracts.chat import (
    AdminChanged, ChatEvent, MemberJoined, MemberLeft, MemberRemoved, MessagePosted, MessageRecalled,
    MsgType, NicknameChanged,
)
from services.ingest.adapters.base import (
    DEFAULT_MAX_AGE_S, FieldError, Parsed, load_object, PayloadError, SignatureError, check_age, from_epoch_s, header,
    require, same,
)

Segment = dict[str, Any]

_CQ = re.compile(r"\[CQ:([A-Za-z0-9_.\-]+)((?:,[^\]]*)?)\]")
_SEGMENT_KIND: dict[str, MsgType] = {
    "image": "image", "record": "voice", "video": "video", "file": "file", "share": "link",
    "json": "card", "xml": "card", "contact": "card", "location": "card", "music": "card",
}


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """Raise SignatureError unless ``X-Signature`` is the HMAC-SHA1 of the raw body under ``secret``."""
    given = header(headers, "X-Signature")
    if not given:
        raise SignatureError("missing", "缺少 X-Signature / missing X-Signature")
    expected = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    if not same(expected, given.strip().lower()):
        raise SignatureError("invalid", "X-Signature 不匹配 / X-Signature mismatch")


def sign(body: bytes, secret: str) -> str:
    """The header value OneBot sends (for tests and the benchmark)."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def unescape(text: str, *, in_param: bool = False) -> str:
    """Undo CQ escaping; ``&amp;`` last so ``&amp;#91;`` stays the literal text ``&#91;``."""
    text = text.replace("&#91;", "[").replace("&#93;", "]")
    if in_param:
        text = text.replace("&#44;", ",")
    return text.replace("&amp;", "&")


def parse_cq(message: str) -> list[Segment]:
    """A CQ-code string as a segment array, the shape NapCat sends by default."""
    segments: list[Segment] = []
    pos = 0
    for m in _CQ.finditer(message):
        if m.start() > pos:
            segments.append({"type": "text", "data": {"text": unescape(message[pos:m.start()])}})
        data: dict[str, str] = {}
        for part in filter(None, m.group(2).split(",")):
            key, _, value = part.partition("=")
            data[key] = unescape(value, in_param=True)
        segments.append({"type": m.group(1), "data": data})
        pos = m.end()
    if pos < len(message):
        segments.append({"type": "text", "data": {"text": unescape(message[pos:])}})
    return segments


def parse(body: bytes, *, now: datetime, max_age_s: int = DEFAULT_MAX_AGE_S) -> Parsed:
    """One OneBot event report → canonical events; unknown posts (heartbeats, requests) are ignored."""
    event = load_object(body)
    try:
        return _parse(event, now, max_age_s)
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        raise PayloadError([FieldError("body", f"字段类型错误 / wrong field type: {exc}")]) from exc


def _parse(event: dict[str, Any], now: datetime, max_age_s: int) -> Parsed:
    post_type = event.get("post_type")
    if post_type not in ("message", "notice"):
        return Parsed(ignored=1)
    when = from_epoch_s(require(event, "time", ""))
    check_age(when, now, max_age_s)
    if post_type == "message":
        if event.get("message_type") != "group":
            return Parsed(ignored=1)
        return _one(_message(event, when))
    notice = _notice(event, when)
    return _one(notice) if notice is not None else Parsed(ignored=1)


def _one(payload: ChatEvent) -> Parsed:
    return Parsed(events=[payload], group_id=payload.group_id)




def _segments(message: Any) -> list[Segment]:
    if isinstance(message, str):
        return parse_cq(message)
    if isinstance(message, list) and all(isinstance(s, dict) and "type" in s for s in message):
        return message
    raise PayloadError([FieldError("message", "应为 CQ 码字符串或消息段数组 / expected a CQ string or segments")])


def _message(event: Mapping[str, Any], when: datetime) -> MessagePosted:
    group_id = str(require(event, "group_id", ""))
    message_id = str(require(event, "message_id", ""))
    user_id = str(require(event, "user_id", ""))
    segments = _segments(require(event, "message", ""))
    texts: list[str] = []
    mentions: list[str] = []
    mention_all = False
    reply_to = url = None
    kinds: list[MsgType] = []
    for seg in segments:
        kind, data = seg.get("type"), seg.get("data") or {}
        if kind == "text":
            texts.append(str(data.get("text", "")))
        elif kind == "at":
            qq = str(data.get("qq", ""))
            if qq == "all":
                mention_all = True
            elif qq and qq not in mentions:
                mentions.append(qq)
        elif kind == "reply":
            reply_to = str(data.get("id")) if data.get("id") is not None else None
        elif kind in _SEGMENT_KIND:
            kinds.append(_SEGMENT_KIND[kind])
            url = url or data.get("url") or data.get("file")
    text = "".join(texts)
    msg_type: MsgType
    if text.strip() or mentions or mention_all:
        msg_type = "text"
    elif kinds:
        msg_type = kinds[0]
    else:
        msg_type = "text" if text else "other"  # "other": only faces or unknown segments
    sender = event.get("sender") or {}
    role = sender.get("role")
    return MessagePosted(
        platform="qq", group_id=group_id, occurred_at=when,
        platform_event_id=f"group:{group_id}:msg:{message_id}:{int(event['time'])}",
        message_id=message_id, user_id=user_id,
        nickname=(sender.get("card") or sender.get("nickname") or None),
        msg_type=msg_type, text=text if (text or msg_type == "text") else None,
        url=str(url) if url else None, mentions=mentions, mention_all=mention_all, reply_to=reply_to,
        sender_role=role if role in ("owner", "admin", "member") else None,
    )


def _notice(event: Mapping[str, Any], when: datetime) -> ChatEvent | None:
    kind = event.get("notice_type")
    if kind not in ("group_increase", "group_decrease", "group_card", "group_recall", "group_admin"):
        return None
    group_id = str(require(event, "group_id", ""))
    user_id = str(require(event, "user_id", ""))
    sub = event.get("sub_type") or ""
    operator = event.get("operator_id")
    operator_id = str(operator) if operator not in (None, 0, "0", "") else None
    common = dict(platform="qq", group_id=group_id, occurred_at=when,
                  platform_event_id=f"group:{group_id}:{kind}:{sub}:{user_id}:{int(event['time'])}")
    if kind == "group_increase":
        return MemberJoined(**common, user_id=user_id, operator_id=operator_id)
    if kind == "group_decrease":
        if sub == "leave":
            return MemberLeft(**common, user_id=user_id)
        if sub == "kick_me":
            return MemberRemoved(**common, user_id=str(event.get("self_id", user_id)), operator_id=operator_id)
        return MemberRemoved(**common, user_id=user_id, operator_id=operator_id)
    if kind == "group_card":
        return NicknameChanged(**common, user_id=user_id, nickname=str(event.get("card_new") or ""),
                               old_nickname=event.get("card_old"))
    if kind == "group_recall":
        message_id = str(require(event, "message_id", ""))
        common["platform_event_id"] = f"group:{group_id}:recall:{message_id}:{int(event['time'])}"
        return MessageRecalled(**common, message_id=message_id, user_id=user_id, operator_id=operator_id)
    return AdminChanged(**common, user_id=user_id, change="unset" if sub == "unset" else "set")
