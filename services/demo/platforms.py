"""A generated message as the platform itself would post it to ingest, signed the platform's way.

- QQ: a OneBot v11 group message event, message as a segment array (``at`` segments for mentions),
  ``X-Signature: sha1=HMAC-SHA1(secret, body)`` when a secret is set;
- DingTalk: the robot's outgoing callback, headers ``timestamp`` (ms) and
  ``sign = base64(HMAC-SHA256(appSecret, timestamp + "\\n" + appSecret))``;
- Feishu: event v2 ``im.message.receive_v1`` with ``content`` as a JSON string and ``@_user_N``
  mention keys; with an encrypt key the body is encrypted and ``X-Lark-Signature`` is set.

The platforms timestamp their deliveries, and ingest refuses signed deliveries older than its replay
window, so :func:`render` takes ``now`` (the delivery time) apart from the event time.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from services.demo.activity import Event

BOT_QQ = 2_854_196_310


@dataclass(frozen=True)
class Secrets:
    onebot: str | None = None
    dingtalk: str | None = None
    feishu_token: str | None = None
    feishu_encrypt_key: str | None = None


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _int_id(event_id: str) -> int:
    """OneBot message ids are int32: a stable one from the event id."""
    return int.from_bytes(hashlib.sha256(event_id.encode()).digest()[:4], "big") & 0x7FFF_FFFF


def onebot(ev: Event, names: dict[str, str]) -> dict[str, Any]:
    b = ev.body
    segments: list[dict[str, Any]] = [{"type": "at", "data": {"qq": m}} for m in b.get("mentions") or []]
    if b.get("mention_all"):
        segments.insert(0, {"type": "at", "data": {"qq": "all"}})
    text = b.get("text") or ""
    if b.get("msg_type") == "image":
        segments.append({"type": "image", "data": {"file": f"{_int_id(ev.id):x}.jpg",
                                                   "url": f"https://gchat.qpic.cn/gchatpic_new/{_int_id(ev.id)}/0"}})
    elif text:
        segments.append({"type": "text", "data": {"text": text.removeprefix("@所有人 ")}})
    raw = "".join(f"[CQ:at,qq={s['data']['qq']}]" if s["type"] == "at" else s["data"].get("text", "[图片]")
                  for s in segments)
    return {"time": int(ev.time.timestamp()), "self_id": BOT_QQ, "post_type": "message", "message_type": "group",
            "sub_type": "normal", "message_id": _int_id(ev.id), "group_id": int(b["group_id"]),
            "user_id": int(b["user_id"]), "anonymous": None, "message": segments, "raw_message": raw, "font": 0,
            "sender": {"user_id": int(b["user_id"]), "nickname": names.get(b["user_id"], b.get("nickname") or ""),
                       "card": b.get("nickname") or "", "role": "member", "title": ""}}


def dingtalk(ev: Event, names: dict[str, str]) -> dict[str, Any]:
    b = ev.body
    return {"msgtype": "text", "text": {"content": " " + (b.get("text") or "")}, "msgId": ev.id,
            "createAt": _ms(ev.time), "conversationType": "2", "conversationId": b["group_id"],
            "conversationTitle": b.get("group_name"), "senderId": f"$:LWCP_v1:${b['user_id']}",
            "senderNick": b.get("nickname"), "senderStaffId": b["user_id"], "senderCorpId": "ding8d2e0c4a1f6b",
            "isAdmin": False, "chatbotUserId": "$:LWCP_v1:$qunguardbot", "robotCode": "dingqunguard",
            "atUsers": [{"dingtalkId": f"$:LWCP_v1:${m}", "staffId": m} for m in b.get("mentions") or []],
            "isInAtList": True, "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=demo",
            "sessionWebhookExpiredTime": _ms(ev.time) + 5_400_000}


def feishu(ev: Event, names: dict[str, str], token: str | None) -> dict[str, Any]:
    b = ev.body
    mentions = [{"key": f"@_user_{i + 1}", "id": {"open_id": m}, "name": names.get(m, m), "tenant_key": "736588c9260f175d"}
                for i, m in enumerate(b.get("mentions") or [])]
    text = b.get("text") or ""
    for m in mentions:  # the text names people as "@名字 "; Feishu sends keys in their place
        text = text.replace(f"@{m['name']}", m["key"], 1)
    text = text.replace("@所有人", "@_all")
    msg_type, content = ("image", {"image_key": f"img_v3_{_int_id(ev.id):x}"}) if b.get("msg_type") == "image" \
        else ("text", {"text": text})
    return {"schema": "2.0",
            "header": {"event_id": ev.id, "event_type": "im.message.receive_v1", "create_time": str(_ms(ev.time)),
                       "token": token or "", "app_id": "cli_a5qunguard0001", "tenant_key": "736588c9260f175d"},
            "event": {"sender": {"sender_id": {"open_id": b["user_id"]}, "sender_type": "user",
                                 "tenant_key": "736588c9260f175d"},
                      "message": {"message_id": f"om_{ev.id}", "root_id": "", "parent_id": "",
                                  "create_time": str(_ms(ev.time)), "chat_id": b["group_id"], "chat_type": "group",
                                  "message_type": msg_type, "content": orjson.dumps(content).decode(),
                                  "mentions": mentions}}}


def render(ev: Event, names: dict[str, str], secrets: Secrets, now: datetime | None = None) -> Delivery:
    """The HTTP request the platform would send for ``ev`` (``ev.native`` names the platform)."""
    now = now or datetime.now(UTC)
    if ev.native == "onebot":
        from services.ingest.adapters.onebot import sign

        body = orjson.dumps(onebot(ev, names))
        headers = {"X-Self-ID": str(BOT_QQ)}
        if secrets.onebot:
            headers["X-Signature"] = sign(body, secrets.onebot)
        return Delivery("/v1/ingest/onebot", headers, body)
    if ev.native == "dingtalk":
        from services.ingest.adapters.dingtalk import robot_sign

        ts = str(_ms(now))
        headers = {"timestamp": ts, "sign": robot_sign(ts, secrets.dingtalk)} if secrets.dingtalk else {}
        return Delivery("/v1/ingest/dingtalk", headers, orjson.dumps(dingtalk(ev, names)))
    if ev.native == "feishu":
        from services.ingest.adapters import feishu as lark

        body = orjson.dumps(feishu(ev, names, secrets.feishu_token))
        headers: dict[str, str] = {}
        if secrets.feishu_encrypt_key:
            iv = hashlib.sha256(ev.id.encode()).digest()[:16]
            body = orjson.dumps({"encrypt": lark.encrypt(secrets.feishu_encrypt_key, body.decode(), iv)})
            ts, nonce = str(int(now.timestamp())), os.urandom(8).hex()
            headers = {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
                       "X-Lark-Signature": lark.signature(ts, nonce, secrets.feishu_encrypt_key, body)}
        return Delivery("/v1/ingest/feishu", headers, body)
    raise ValueError(f"no native rendering for {ev.native!r}")
