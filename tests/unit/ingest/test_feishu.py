"""Feishu event subscription v2 → canonical chat events; challenge, token, encryption and signature."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from contracts.chat import MemberJoined, MemberLeft, MemberRemoved, MessagePosted, MessageRecalled
from services.ingest.adapters import feishu
from services.ingest.adapters.base import SignatureError

pytestmark = pytest.mark.unit

TOKEN, KEY = "v3rIfIcAtIoNtOkEn", "飞书-encrypt-key-2026"
NOW = datetime(2026, 3, 2, 1, 15, 5, tzinfo=timezone.utc)


def envelope(event_type: str, event: dict, event_id: str = "5e3702a84e847582be8db7fb73283c02") -> dict:
    return {"schema": "2.0", "header": {"event_id": event_id, "event_type": event_type, "create_time": "1772414100123",
                                        "token": TOKEN, "app_id": "cli_a5c1d2e3f4", "tenant_key": "2ca1d211f64f6438"},
            "event": event}


def message(content: dict, mentions: list | None = None, chat_type: str = "group", msg_type: str = "text") -> dict:
    return envelope("im.message.receive_v1", {
        "sender": {"sender_id": {"open_id": "ou_7d8a6e6df7621556ce0d21922b676706", "user_id": "e33ggbyz",
                                 "union_id": "on_8ed6aa67826108097d9ee143816345"}, "sender_type": "user",
                   "tenant_key": "2ca1d211f64f6438"},
        "message": {"message_id": "om_dc13264520392913993dd051dba21dcf", "root_id": "", "parent_id": "om_parent01",
                    "create_time": "1772414100000", "chat_id": "oc_5ad11d72b830411d72b836c20", "chat_type": chat_type,
                    "message_type": msg_type, "content": orjson.dumps(content).decode(), "mentions": mentions or []}})


MENTION = [{"key": "@_user_1", "id": {"open_id": "ou_155184d1e73cbfb8973e5a9e698e74f2", "user_id": "f7b44g"},
            "name": "赵六", "tenant_key": "2ca1d211f64f6438"}]


def test_text_message_replaces_mention_keys_by_names_and_lists_their_ids():
    [msg] = feishu.parse(message({"text": "@_user_1 周五前提交 OKR 自评 📋"}, MENTION)).events
    assert isinstance(msg, MessagePosted)
    assert msg.text == "@赵六 周五前提交 OKR 自评 📋"
    assert msg.mentions == ["ou_155184d1e73cbfb8973e5a9e698e74f2"]
    assert (msg.user_id, msg.group_id, msg.reply_to) == \
        ("ou_7d8a6e6df7621556ce0d21922b676706", "oc_5ad11d72b830411d72b836c20", "om_parent01")
    assert msg.occurred_at == datetime(2026, 3, 2, 1, 15, tzinfo=timezone.utc)


def test_at_all_sets_mention_all():
    [msg] = feishu.parse(message({"text": "@_all 系統維護通知：今晚十點停機"})).events
    assert msg.mention_all and msg.text == "@所有人 系統維護通知：今晚十點停機"


def test_rich_text_post_is_flattened_to_text_and_p2p_chats_are_ignored():
    post = {"title": "周报", "content": [[{"tag": "text", "text": "本周完成："}, {"tag": "at", "user_id": "@_user_1"}],
                                       [{"tag": "a", "text": "详情", "href": "https://example.feishu.cn/docx/1"}]]}
    [msg] = feishu.parse(message(post, MENTION, msg_type="post")).events
    assert msg.text == "周报\n本周完成：@赵六\n详情"
    assert feishu.parse(message({"text": "在吗"}, chat_type="p2p")).ignored == 1


def test_member_events_tell_joins_self_exits_and_removals():
    users = [{"name": "钱七", "tenant_key": "t", "user_id": {"open_id": "ou_qian7", "user_id": "q7"}}]
    added = feishu.parse(envelope("im.chat.member.user.added_v1", {
        "chat_id": "oc_x", "operator_id": {"open_id": "ou_admin"}, "users": users})).events
    left = feishu.parse(envelope("im.chat.member.user.deleted_v1", {
        "chat_id": "oc_x", "operator_id": {"open_id": "ou_qian7"}, "users": users})).events
    removed = feishu.parse(envelope("im.chat.member.user.deleted_v1", {
        "chat_id": "oc_x", "operator_id": {"open_id": "ou_admin"}, "users": users})).events
    withdrawn = feishu.parse(envelope("im.chat.member.user.withdrawn_v1", {
        "chat_id": "oc_x", "operator_id": {"open_id": "ou_admin"}, "users": users})).events
    assert isinstance(added[0], MemberJoined) and added[0].nickname == "钱七" and added[0].operator_id == "ou_admin"
    assert isinstance(left[0], MemberLeft)
    assert isinstance(removed[0], MemberRemoved) and removed[0].operator_id == "ou_admin"
    assert isinstance(withdrawn[0], MemberRemoved)


def test_recall_event_names_the_message():
    [recall] = feishu.parse(envelope("im.message.recalled_v1", {
        "message_id": "om_dc13264520392913993dd051dba21dcf", "chat_id": "oc_x", "recall_time": "1772414160000",
        "recall_type": "message_owner"})).events
    assert isinstance(recall, MessageRecalled) and recall.message_id == "om_dc13264520392913993dd051dba21dcf"


def test_encrypted_body_decrypts_with_sha256_of_the_key():
    inner = orjson.dumps(message({"text": "加密消息"})).decode()
    body = orjson.dumps({"encrypt": feishu.encrypt(KEY, inner, b"\x01" * 16)})
    event, encrypted = feishu.open_envelope(body, KEY)
    assert encrypted and feishu.parse(event).events[0].text == "加密消息"
    with pytest.raises(SignatureError):
        feishu.open_envelope(body, "wrong-key")
    with pytest.raises(SignatureError) as no_key:
        feishu.open_envelope(body, None)
    assert no_key.value.result == "not_configured"


def test_signature_covers_timestamp_nonce_key_and_body_and_expires():
    body = orjson.dumps(message({"text": "hi"}))
    ts = str(int(NOW.timestamp()))
    headers = {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": "1628839571",
               "X-Lark-Signature": feishu.signature(ts, "1628839571", KEY, body)}
    feishu.verify_signature(body, headers, KEY, NOW)
    with pytest.raises(SignatureError):
        feishu.verify_signature(body + b"\n", headers, KEY, NOW)
    with pytest.raises(SignatureError) as stale:
        feishu.verify_signature(body, headers, KEY, NOW + timedelta(hours=2))
    assert stale.value.result == "stale"


def test_verification_token_must_match():
    event = envelope("im.message.receive_v1", {})
    feishu.check_token(event, TOKEN)
    with pytest.raises(SignatureError):
        feishu.check_token(event, "another")
    challenge = {"challenge": "ajls384kdjx98XX", "token": TOKEN, "type": "url_verification"}
    assert feishu.is_challenge(challenge)
    feishu.check_token(challenge, TOKEN)
