"""DingTalk: the robot's outgoing callback (messages) and the encrypted event callback (group changes).

Robot callback: headers ``timestamp`` (ms) and ``sign`` =
``base64(HMAC-SHA256(key=appSecret, msg=timestamp + "\\n" + appSecret))``, valid within ±1 h. Only
group conversations (``conversationType == "2"``) are tracked. ``senderStaffId`` is the account id
(``senderId`` for people outside the organisation, who have none); ``conversationId`` (the open
conversation id, ``cid…``) is the group id.

Event callback (legacy HTTP subscription): query ``signature``/``msg_signature``, ``timestamp``,
``nonce``; body ``{"encrypt": …}`` in WeCom's scheme (see :mod:`msgcrypt`), receive id = the app key
(or corpId / suiteKey). The answer must be an encrypted ``"success"`` or DingTalk retries. Group ids of
events prefer ``OpenConversationId`` so they match the robot's ``conversationId``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any


from contracts.chat import (
    AdminChanged, ChatEvent, GroupDissolved, GroupRenamed, MemberJoined, MemberLeft, MemberRemoved,
    MessagePosted, MsgType,
)
from services.ingest.adapters import msgcrypt
from services.ingest.adapters.base import (
    DEFAULT_MAX_AGE_S, FieldError, Parsed, load_object, PayloadError, SignatureError, check_age, from_epoch_ms, header,
    require, same,
)

_KIND: dict[str, MsgType] = {"text": "text", "richText": "text", "picture": "image", "file": "file",
                             "audio": "voice", "video": "video", "markdown": "text",
                             "interactiveCard": "card", "link": "link"}
GROUP_EVENTS = ("chat_add_member", "chat_remove_member", "chat_quit", "chat_update_owner",
                "chat_update_title", "chat_disband")


def robot_sign(timestamp: str, app_secret: str) -> str:
    digest = hmac.new(app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_robot(headers: Mapping[str, str], app_secret: str, now: datetime,
                 max_age_s: int = DEFAULT_MAX_AGE_S) -> None:
    """Raise SignatureError unless the robot headers prove DingTalk sent this within the window."""
    timestamp, given = header(headers, "timestamp"), header(headers, "sign")
    if not timestamp or not given:
        raise SignatureError("missing", "缺少 timestamp 或 sign 头 / missing timestamp or sign header")
    try:
        sent = from_epoch_ms(timestamp)
    except ValueError as exc:
        raise SignatureError("invalid", "timestamp 不是毫秒数 / timestamp is not milliseconds") from exc
    if not same(robot_sign(timestamp, app_secret), given.strip()):
        raise SignatureError("invalid", "sign 不匹配 / sign mismatch")
    check_age(sent, now, max_age_s)


def parse_robot(body: bytes) -> Parsed:
    """A robot callback body → one MessagePosted (group chats) or nothing (one-to-one)."""
    msg = load_object(body)
    if str(msg.get("conversationType", "2")) != "2":
        return Parsed(ignored=1)
    try:
        posted = _robot_message(msg)
    except (ValueError, TypeError) as exc:
        raise PayloadError([FieldError("body", f"字段类型错误 / wrong field type: {exc}")]) from exc
    return Parsed(events=[posted], group_id=posted.group_id)


def _robot_message(msg: Mapping[str, Any]) -> MessagePosted:
    msgtype = str(require(msg, "msgtype", ""))
    text, url = _robot_content(msgtype, msg)
    staff_ids = [str(u["staffId"]) for u in msg.get("atUsers") or [] if isinstance(u, dict) and u.get("staffId")]
    group_id = str(require(msg, "conversationId", ""))
    return MessagePosted(
        platform="dingtalk", group_id=group_id, group_name=msg.get("conversationTitle") or None,
        platform_event_id=str(require(msg, "msgId", "")), occurred_at=from_epoch_ms(require(msg, "createAt", "")),
        message_id=str(msg["msgId"]),
        user_id=str(msg.get("senderStaffId") or require(msg, "senderId", "")),
        nickname=msg.get("senderNick") or None, msg_type=_KIND.get(msgtype, "other"), text=text, url=url,
        mentions=list(dict.fromkeys(staff_ids)),
    )


def _robot_content(msgtype: str, msg: Mapping[str, Any]) -> tuple[str | None, str | None]:
    if msgtype == "text":
        content = str(require(msg, "text", "").get("content", ""))
        return content.lstrip(" "), None  # DingTalk puts a space after the stripped @robot
    content = msg.get("content") or {}
    if msgtype == "richText":
        parts = [str(item["text"]) for item in content.get("richText", []) if isinstance(item, dict) and "text" in item]
        return "".join(parts).lstrip(" "), None
    return None, content.get("downloadCode") and f"dingtalk-download:{content['downloadCode']}"


def verify_event(query: Mapping[str, str], encrypt: str, token: str, now: datetime,
                 max_age_s: int = DEFAULT_MAX_AGE_S) -> None:
    timestamp = query.get("timestamp") or query.get("timeStamp") or ""
    nonce = query.get("nonce") or ""
    msgcrypt.verify(token, timestamp, nonce, encrypt, query.get("msg_signature") or query.get("signature"))
    try:
        sent = from_epoch_ms(timestamp)
    except ValueError as exc:
        raise SignatureError("invalid", "timestamp 不是毫秒数 / timestamp is not milliseconds") from exc
    check_age(sent, now, max_age_s)


def encrypted_success(aes_key: str, token: str, receive_id: str, *, random16: bytes, nonce: str,
                      now: datetime) -> dict[str, str]:
    """DingTalk's expected answer: ``{"msg_signature", "timeStamp", "nonce", "encrypt"}`` of ``success``."""
    timestamp = str(int(now.timestamp() * 1000))
    encrypted = msgcrypt.encrypt(aes_key, "success", receive_id, random16)
    return {"msg_signature": msgcrypt.signature(token, timestamp, nonce, encrypted),
            "timeStamp": timestamp, "nonce": nonce, "encrypt": encrypted}


def encrypt_of(body: bytes) -> str:
    return str(require(load_object(body), "encrypt", ""))


def parse_event(plaintext: str) -> Parsed:
    """A decrypted event: group changes become canonical events; anything else is acknowledged and ignored."""
    event = load_object(plaintext.encode())
    kind = event.get("EventType")
    if kind not in GROUP_EVENTS:
        return Parsed(ignored=1)
    try:
        events = _group_events(kind, event)
    except (ValueError, TypeError) as exc:
        raise PayloadError([FieldError("body", f"字段类型错误 / wrong field type: {exc}")]) from exc
    return Parsed(events=events, group_id=events[0].group_id if events else None)


def _group_events(kind: str, e: Mapping[str, Any]) -> list[ChatEvent]:
    group_id = str(e.get("OpenConversationId") or require(e, "ChatId", ""))
    ts = require(e, "TimeStamp", "")
    when = from_epoch_ms(ts)
    operator = str(e["Operator"]) if e.get("Operator") else None
    users = [str(u) for u in _as_list(e.get("UserId"))]

    def common(user: str) -> dict[str, Any]:
        return dict(platform="dingtalk", group_id=group_id, occurred_at=when,
                    platform_event_id=f"{kind}:{group_id}:{ts}:{user}")

    if kind == "chat_add_member":
        return [MemberJoined(**common(u), user_id=u, operator_id=operator) for u in users]
    if kind == "chat_remove_member":
        return [MemberRemoved(**common(u), user_id=u, operator_id=operator) for u in users]
    if kind == "chat_quit":
        return [MemberLeft(**common(u), user_id=u) for u in (users or _as_list(operator))]
    if kind == "chat_update_owner":
        owner = str(e.get("Owner") or (users[0] if users else require(e, "Owner", "")))
        return [AdminChanged(**common(owner), user_id=owner, change="owner", operator_id=operator)]
    if kind == "chat_update_title":
        return [GroupRenamed(**common(""), group_name=e.get("Title") or None, user_id=operator)]
    return [GroupDissolved(**common(""), user_id=operator)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]



