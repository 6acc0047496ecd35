"""Feishu / Lark event subscription, schema 2.0.

Order of checks, as Feishu's own SDK (larksuite/oapi-sdk-python) does them:
1. ``{"encrypt": …}`` bodies are decrypted: AES-256-CBC, key = SHA-256(encrypt_key), IV = the first
   16 bytes of the base64-decoded ciphertext, PKCS#7.
2. ``url_verification`` is answered with ``{"challenge": …}`` after the verification token matches.
3. Every other request, when an encrypt key is configured, must carry
   ``X-Lark-Signature == sha256_hex(timestamp + nonce + encrypt_key + raw body)`` with a timestamp
   inside the replay window; the envelope's ``header.token`` must equal the verification token.

Messages: ``content`` is a JSON string; ``@_user_N`` placeholders are replaced by ``@name`` in the
text (kept otherwise exactly as sent) and the mentioned open_ids go to ``mentions``; ``@_all`` sets
``mention_all``. Account ids are ``open_id`` throughout.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from contracts.chat import (
    ChatEvent, MemberJoined, MemberLeft, MemberRemoved, MessagePosted, MessageRecalled, MsgType,
)
from services.ingest.adapters.base import (
    DEFAULT_MAX_AGE_S, FieldError, Parsed, PayloadError, SignatureError, check_age, from_epoch_ms,
    from_epoch_s, header, load_object, require, same,
)

_KIND: dict[str, MsgType] = {"text": "text", "post": "text", "image": "image", "sticker": "image",
                             "file": "file", "audio": "voice", "media": "video", "share_chat": "card",
                             "share_user": "card", "interactive": "card", "merge_forward": "card"}


def decrypt(encrypt_key: str, encrypt: str) -> str:
    try:
        data = base64.b64decode(encrypt, validate=True)
    except binascii.Error as exc:
        raise SignatureError("invalid", "密文不是 base64 / ciphertext is not base64") from exc
    if len(data) < 32 or len(data) % 16:
        raise SignatureError("invalid", "密文长度错误 / bad ciphertext length")
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
    padded = decryptor.update(data[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError("invalid", "解密失败 / decryption failed") from exc


def encrypt(encrypt_key: str, plaintext: str, iv: bytes) -> str:
    """What Feishu sends in encrypted mode (test fixtures)."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256(timestamp.encode() + nonce.encode() + encrypt_key.encode() + body).hexdigest()


def verify_signature(body: bytes, headers: Mapping[str, str], encrypt_key: str, now: datetime,
                     max_age_s: int = DEFAULT_MAX_AGE_S) -> None:
    given = header(headers, "X-Lark-Signature")
    timestamp = header(headers, "X-Lark-Request-Timestamp")
    nonce = header(headers, "X-Lark-Request-Nonce") or ""
    if not given or not timestamp:
        raise SignatureError("missing", "缺少 X-Lark-Signature / missing X-Lark-Signature")
    if not same(signature(timestamp, nonce, encrypt_key, body), given.strip().lower()):
        raise SignatureError("invalid", "X-Lark-Signature 不匹配 / X-Lark-Signature mismatch")
    try:
        sent = from_epoch_s(timestamp)
    except ValueError as exc:
        raise SignatureError("invalid", "时间戳不是秒数 / timestamp is not seconds") from exc
    check_age(sent, now, max_age_s)


def open_envelope(body: bytes, encrypt_key: str | None) -> tuple[dict[str, Any], bool]:
    """The event object (decrypted when the body is ``{"encrypt": …}``) and whether it was encrypted."""
    outer = load_object(body)
    if "encrypt" not in outer:
        return outer, False
    if not encrypt_key:
        raise SignatureError("not_configured", "收到加密事件但未配置 Encrypt Key / encrypted event but no encrypt key")
    return load_object(decrypt(encrypt_key, str(outer["encrypt"])).encode()), True


def is_challenge(event: Mapping[str, Any]) -> bool:
    return event.get("type") == "url_verification"


def token_of(event: Mapping[str, Any]) -> str | None:
    hdr = event.get("header")
    return (hdr.get("token") if isinstance(hdr, dict) else None) or event.get("token")


def check_token(event: Mapping[str, Any], verification_token: str) -> None:
    token = token_of(event)
    if not token:
        raise SignatureError("missing", "缺少 verification token / missing verification token")
    if not same(token, verification_token):
        raise SignatureError("invalid", "verification token 不匹配 / verification token mismatch")


def parse(event: Mapping[str, Any]) -> Parsed:
    """A (decrypted, verified) v2 envelope → canonical events; unknown event types are ignored."""
    hdr = require(event, "header", "")
    kind = hdr.get("event_type")
    body = require(event, "event", "")
    try:
        if kind == "im.message.receive_v1":
            events: list[ChatEvent] = _message(body)
        elif kind in ("im.chat.member.user.added_v1", "im.chat.member.user.deleted_v1",
                      "im.chat.member.user.withdrawn_v1"):
            events = _members(kind, hdr, body)
        elif kind == "im.message.recalled_v1":
            events = [_recall(hdr, body)]
        else:
            return Parsed(ignored=1)
    except (ValueError, TypeError, AttributeError) as exc:
        raise PayloadError([FieldError("event", f"字段类型错误 / wrong field type: {exc}")]) from exc
    return Parsed(events=events, ignored=0 if events else 1, group_id=events[0].group_id if events else None)


def _open_id(ids: Any) -> str:
    if isinstance(ids, dict):
        return str(ids.get("open_id") or ids.get("user_id") or ids.get("union_id") or "")
    return str(ids or "")


def _message(body: Mapping[str, Any]) -> list[ChatEvent]:
    msg = require(body, "message", "event")
    if msg.get("chat_type") != "group":
        return []
    sender = _open_id(require(require(body, "sender", "event"), "sender_id", "event.sender"))
    msg_type = str(require(msg, "message_type", "event.message"))
    content = orjson.loads(str(require(msg, "content", "event.message")))
    text, url = _content(msg_type, content)
    mentions, mention_all = [], False
    for m in msg.get("mentions") or []:
        key, name, uid = m.get("key", ""), m.get("name", ""), _open_id(m.get("id"))
        if text and key:
            text = text.replace(key, f"@{name}")
        if uid and uid not in mentions:
            mentions.append(uid)
    if text and "@_all" in text:
        mention_all, text = True, text.replace("@_all", "@所有人")
    message_id = str(require(msg, "message_id", "event.message"))
    return [MessagePosted(
        platform="feishu", group_id=str(require(msg, "chat_id", "event.message")),
        platform_event_id=message_id, occurred_at=from_epoch_ms(require(msg, "create_time", "event.message")),
        message_id=message_id, user_id=sender, msg_type=_KIND.get(msg_type, "other"), text=text, url=url,
        mentions=mentions, mention_all=mention_all, reply_to=msg.get("parent_id") or None,
    )]


def _content(msg_type: str, content: Any) -> tuple[str | None, str | None]:
    if not isinstance(content, dict):
        return None, None
    if msg_type == "text":
        return str(content.get("text", "")), None
    if msg_type == "post":
        return _post_text(content), None
    for key in ("image_key", "file_key"):
        if content.get(key):
            return content.get("file_name"), f"feishu-{key.split('_')[0]}:{content[key]}"
    return None, None


def _post_text(content: Mapping[str, Any]) -> str:
    """Rich text: title and every text/link/@ element, paragraphs joined by newlines."""
    body = content.get("content")
    if body is None and content:  # locale-wrapped form {"zh_cn": {...}}
        body = next((v.get("content") for v in content.values() if isinstance(v, dict)), None)
    lines = [str(content["title"])] if content.get("title") else []
    for paragraph in body or []:
        parts = []
        for el in paragraph:
            tag = el.get("tag")
            if tag in ("text", "a", "md"):
                parts.append(str(el.get("text", "")))
            elif tag == "at":
                parts.append(str(el.get("user_id", "")))  # "@_user_1" placeholder, replaced by the caller
        lines.append("".join(parts))
    return "\n".join(lines)


def _members(kind: str, hdr: Mapping[str, Any], body: Mapping[str, Any]) -> list[ChatEvent]:
    chat_id = str(require(body, "chat_id", "event"))
    operator = _open_id(body.get("operator_id")) or None
    when = from_epoch_ms(require(hdr, "create_time", "header"))
    event_id = str(require(hdr, "event_id", "header"))
    events: list[ChatEvent] = []
    for user in body.get("users") or []:
        uid = _open_id(user.get("user_id"))
        common = dict(platform="feishu", group_id=chat_id, occurred_at=when,
                      platform_event_id=f"{event_id}:{uid}", user_id=uid, nickname=user.get("name") or None)
        if kind.endswith("added_v1"):
            events.append(MemberJoined(**common, operator_id=operator))
        elif kind.endswith("deleted_v1") and (operator is None or operator == uid):
            events.append(MemberLeft(**common))
        else:  # removed by someone else, or an invitation withdrawn
            events.append(MemberRemoved(**common, operator_id=operator))
    return events


def _recall(hdr: Mapping[str, Any], body: Mapping[str, Any]) -> MessageRecalled:
    recall_time = body.get("recall_time") or require(hdr, "create_time", "header")
    return MessageRecalled(
        platform="feishu", group_id=str(require(body, "chat_id", "event")),
        platform_event_id=str(require(hdr, "event_id", "header")), occurred_at=from_epoch_ms(recall_time),
        message_id=str(require(body, "message_id", "event")),
        user_id="",  # Feishu's recall event does not name the sender; rules look it up by message_id
    )
