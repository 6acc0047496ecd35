"""WeCom (企业微信): decrypted chat-archive records (会话内容存档) and the customer-group callback.

Archive records arrive as JSON Lines, one decrypted record per line (running Tencent's native SDK
to pull and decrypt them is the customer's side). Group records (``roomid`` set) become canonical
events; one-to-one chats (``roomid == ""``) and ``switch`` records (a user switching devices) are
counted as skipped. A recall is a record with ``msgtype: revoke`` whose ``revoke.pre_msgid`` names
the recalled message.

The callback (``change_external_chat``) is verified with ``msg_signature`` over the ``<Encrypt>``
element and decrypted for our CorpID (:mod:`msgcrypt`); the URL check (GET) answers the decrypted
``echostr``. Tencent warns these callbacks may be lost or reordered: roster reconciles them against
member snapshots.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from contracts.chat import (
    ChatEvent, GroupCreated, GroupDissolved, GroupRenamed, MemberJoined, MemberLeft, MemberRemoved,
    MessagePosted, MessageRecalled, MsgType,
)
from services.ingest.adapters import msgcrypt
from services.ingest.adapters.base import (
    DEFAULT_MAX_AGE_S, FieldError, Parsed, PayloadError, SignatureError, check_age, from_epoch_ms,
    from_epoch_s,
)

_KIND: dict[str, MsgType] = {
    "text": "text", "markdown": "text", "mixed": "text", "image": "image", "emotion": "image",
    "file": "file", "voice": "voice", "meeting_voice_call": "voice", "video": "video", "link": "link",
    "card": "card", "weapp": "card", "chatrecord": "card", "news": "card", "location": "card",
}
MENTION_ALL = "@所有人"


# ---------------------------------------------------------------- chat archive (JSON Lines)

def parse_archive_lines(lines: Sequence[bytes], *, first_line: int = 1) -> Parsed:
    """Records → canonical events; any bad line rejects the whole batch, each line named (``lines[7].msgtime``)."""
    events: list[ChatEvent] = []
    errors: list[FieldError] = []
    kept: list[bytes] = []
    skipped = 0
    for offset, line in enumerate(lines):
        where = f"lines[{first_line + offset}]"
        if not line.strip():
            continue
        try:
            event = _archive_record(orjson.loads(line), where)
        except orjson.JSONDecodeError as exc:
            errors.append(FieldError(where, f"不是合法 JSON / malformed JSON: {exc}"))
            continue
        except PayloadError as exc:
            errors.extend(exc.errors)
            continue
        if event is None:
            skipped += 1
        else:
            events.append(event)
            kept.append(line.strip())
    if errors:
        raise PayloadError(errors, f"{len(errors)} 行有误，整批未导入 / {len(errors)} bad lines, batch rejected")
    # One-to-one chats are not the company's group business: they are neither published nor kept.
    return Parsed(events=events, ignored=skipped, audit_body=b"\n".join(kept))


def _archive_record(rec: Any, where: str) -> ChatEvent | None:
    if not isinstance(rec, dict):
        raise PayloadError([FieldError(where, "应为 JSON 对象 / expected a JSON object")])
    action = rec.get("action")
    if action == "switch":
        return None
    missing = [k for k in ("msgid", "from", "roomid", "msgtime", "msgtype") if k not in rec]
    if action not in ("send", "recall"):
        missing.append("action")
    if missing:
        raise PayloadError([FieldError(f"{where}.{k}", "缺少字段或取值无效 / missing or invalid") for k in missing])
    if rec["roomid"] == "":
        return None  # one-to-one chat: not a group
    try:
        return _archive_event(rec)
    except (ValueError, TypeError, KeyError) as exc:
        raise PayloadError([FieldError(where, f"字段类型错误 / wrong field type: {exc}")]) from exc


def _archive_event(rec: Mapping[str, Any]) -> ChatEvent:
    msgtype = str(rec["msgtype"])
    common = dict(platform="wecom", group_id=str(rec["roomid"]), platform_event_id=str(rec["msgid"]),
                  occurred_at=from_epoch_ms(rec["msgtime"]))
    if msgtype == "revoke" or rec["action"] == "recall":
        pre = (rec.get("revoke") or {}).get("pre_msgid")
        if not pre:
            raise KeyError("revoke.pre_msgid")
        return MessageRecalled(**common, message_id=str(pre), user_id=str(rec["from"]),
                               operator_id=str(rec["from"]))
    text, url = _archive_content(msgtype, rec.get(msgtype) or {})
    return MessagePosted(**common, message_id=str(rec["msgid"]), user_id=str(rec["from"]),
                         msg_type=_KIND.get(msgtype, "other"), text=text, url=url,
                         mention_all=bool(text and MENTION_ALL in text))


def _archive_content(msgtype: str, body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    if msgtype in ("text", "markdown"):
        return str(body.get("content", "")), None
    if msgtype == "link":
        title = " ".join(str(body[k]) for k in ("title", "description") if body.get(k))
        return title or None, body.get("link_url")
    if msgtype == "file":
        return body.get("filename"), None
    if msgtype == "mixed":
        items = body.get("item") or []
        texts = [str(_item_text(i)) for i in items if isinstance(i, dict) and i.get("type") == "text"]
        return "".join(texts) or None, None
    return None, None


def _item_text(item: Mapping[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        try:
            content = orjson.loads(content)
        except orjson.JSONDecodeError:
            return content
    return str(content.get("content", "")) if isinstance(content, dict) else ""


# ---------------------------------------------------------------- callback (customer-group changes)

def verify_and_decrypt(query: Mapping[str, str], encrypt: str, *, token: str, aes_key: str, corp_id: str,
                       now: datetime, max_age_s: int = DEFAULT_MAX_AGE_S) -> str:
    """Check ``msg_signature`` and the timestamp window, then decrypt for ``corp_id``."""
    timestamp = query.get("timestamp") or ""
    msgcrypt.verify(token, timestamp, query.get("nonce") or "", encrypt, query.get("msg_signature"))
    try:
        sent = from_epoch_s(timestamp)
    except ValueError as exc:
        raise SignatureError("invalid", "timestamp 不是秒数 / timestamp is not seconds") from exc
    check_age(sent, now, max_age_s)
    return msgcrypt.decrypt(aes_key, encrypt, corp_id)


def encrypt_of(body: bytes) -> str:
    """The ``<Encrypt>`` element of a callback body."""
    root = _xml(body)
    value = root.findtext("Encrypt")
    if not value:
        raise PayloadError([FieldError("Encrypt", "缺少字段 / field required")])
    return value


def parse_callback(plaintext: str) -> Parsed:
    """A decrypted callback: customer-group changes become canonical events; others are ignored."""
    root = _xml(plaintext.encode())
    if root.findtext("Event") != "change_external_chat":
        return Parsed(ignored=1)
    try:
        events = _group_change(root)
    except (ValueError, TypeError) as exc:
        raise PayloadError([FieldError("body", f"字段类型错误 / wrong field type: {exc}")]) from exc
    return Parsed(events=events, ignored=0 if events else 1, group_id=root.findtext("ChatId"))


def _group_change(root: ET.Element) -> list[ChatEvent]:
    chat_id = root.findtext("ChatId") or ""
    if not chat_id:
        raise PayloadError([FieldError("ChatId", "缺少字段 / field required")])
    change, detail = root.findtext("ChangeType") or "", root.findtext("UpdateDetail") or ""
    created = root.findtext("CreateTime") or ""
    when = from_epoch_s(created)
    version = root.findtext("CurMemVer") or ""
    members = [i.text or "" for i in root.iterfind("MemChangeList/Item") if i.text]

    def common(user: str) -> dict[str, Any]:
        return dict(platform="wecom", group_id=chat_id, occurred_at=when,
                    platform_event_id=f"change_external_chat:{chat_id}:{change}:{detail}:{created}:{version}:{user}")

    if change == "create":
        return [GroupCreated(**common(""), user_id="")]  # the callback does not name the creator
    if change == "dismiss":
        return [GroupDissolved(**common(""))]
    if detail == "change_name":
        return [GroupRenamed(**common(""))]
    if detail == "add_member":
        return [MemberJoined(**common(u), user_id=u) for u in members]
    if detail == "del_member":
        removed = (root.findtext("QuitScene") or "0") == "1"
        return [MemberRemoved(**common(u), user_id=u) if removed else MemberLeft(**common(u), user_id=u)
                for u in members]
    return []  # change_owner, change_notice: not in the callback's detail; roster reconciles


def _xml(body: bytes) -> ET.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise PayloadError([FieldError("body", "不接受 DTD/实体 / DTDs and entities are refused")])
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise PayloadError([FieldError("body", f"不是合法 XML / malformed XML: {exc}")]) from exc
