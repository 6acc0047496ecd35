"""DingTalk robot callbacks and encrypted group-change events → canonical chat events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from contracts.chat import AdminChanged, GroupDissolved, GroupRenamed, MemberJoined, MemberLeft, MemberRemoved
from services.ingest.adapters import dingtalk, msgcrypt
from services.ingest.adapters.base import SignatureError

pytestmark = pytest.mark.unit

APP_SECRET = "gF3kq9Zx7Lw2Rp8Yt5Nv1Mb4Hc6Jd0Se-钉钉"
CREATE_AT = 1772414100123
NOW = datetime(2026, 3, 2, 1, 15, 5, tzinfo=timezone.utc)
TOKEN, AES_KEY, APP_KEY = "dt-token", "A" * 42 + "E", "dingxyzappkey"


def robot_callback(**extra) -> dict:
    return {
        "conversationId": "cidq2Ek5lXJxB3pT9v0Wb7zQw==", "conversationTitle": "华东区销售群",
        "conversationType": "2", "msgId": "msgZ8rT2+Qh1bW5nY0vK3xJ9Aw==", "msgtype": "text",
        "text": {"content": " 各位，明天上午九点准时开早会，迟到罚款五十元"},
        "createAt": CREATE_AT, "senderId": "$:LWCP_v1:$encrypted==", "senderNick": "王经理",
        "senderStaffId": "manager4711", "senderCorpId": "ding9f50b", "isAdmin": True,
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}, {"dingtalkId": "$:LWCP_v1:$x", "staffId": "0152"}],
        "isInAtList": True, "chatbotUserId": "$:LWCP_v1:$robot", "robotCode": "dingrobot",
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=abc",
        "sessionWebhookExpiredTime": CREATE_AT + 5400000, **extra}


def test_robot_text_message_strips_only_the_space_left_by_the_at():
    [msg] = dingtalk.parse_robot(orjson.dumps(robot_callback())).events
    assert msg.text == "各位，明天上午九点准时开早会，迟到罚款五十元"
    assert (msg.group_id, msg.group_name, msg.user_id, msg.nickname) == \
        ("cidq2Ek5lXJxB3pT9v0Wb7zQw==", "华东区销售群", "manager4711", "王经理")
    assert msg.mentions == ["0152"]  # the robot itself has no staffId
    assert msg.occurred_at == datetime(2026, 3, 2, 1, 15, 0, 123000, tzinfo=timezone.utc)
    assert msg.platform_event_id == "msgZ8rT2+Qh1bW5nY0vK3xJ9Aw=="


def test_one_to_one_robot_chats_are_ignored():
    parsed = dingtalk.parse_robot(orjson.dumps(robot_callback(conversationType="1")))
    assert parsed.events == [] and parsed.ignored == 1


def test_external_sender_without_staff_id_is_identified_by_sender_id():
    body = robot_callback()
    del body["senderStaffId"]
    [msg] = dingtalk.parse_robot(orjson.dumps(body)).events
    assert msg.user_id == "$:LWCP_v1:$encrypted=="


def test_robot_sign_header_is_verified_within_one_hour():
    ts = str(CREATE_AT)
    dingtalk.verify_robot({"timestamp": ts, "sign": dingtalk.robot_sign(ts, APP_SECRET)}, APP_SECRET, NOW)
    with pytest.raises(SignatureError) as wrong:
        dingtalk.verify_robot({"timestamp": ts, "sign": dingtalk.robot_sign(ts, "other")}, APP_SECRET, NOW)
    assert wrong.value.result == "invalid"
    with pytest.raises(SignatureError) as old:
        dingtalk.verify_robot({"timestamp": ts, "sign": dingtalk.robot_sign(ts, APP_SECRET)}, APP_SECRET,
                              NOW + timedelta(hours=1, seconds=1))
    assert old.value.result == "stale"
    with pytest.raises(SignatureError) as missing:
        dingtalk.verify_robot({"timestamp": ts}, APP_SECRET, NOW)
    assert missing.value.result == "missing"


def _event(plain: dict) -> str:
    return msgcrypt.encrypt(AES_KEY, orjson.dumps(plain).decode(), APP_KEY, b"r" * 16)


def test_group_change_events_decrypt_and_map_to_membership_events():
    base = {"ChatId": "chat8f1a", "OpenConversationId": "cidq2Ek5lXJxB3pT9v0Wb7zQw==", "Operator": "manager4711",
            "TimeStamp": str(CREATE_AT), "CorpId": "ding9f50b"}
    cases = {
        "chat_add_member": ({"UserId": ["0152", "0153"]}, MemberJoined),
        "chat_remove_member": ({"UserId": ["0152"]}, MemberRemoved),
        "chat_quit": ({"Operator": "0153"}, MemberLeft),
        "chat_update_owner": ({"Owner": "0152"}, AdminChanged),
        "chat_update_title": ({"Title": "华东区销售群（2026）"}, GroupRenamed),
        "chat_disband": ({}, GroupDissolved),
    }
    for kind, (extra, expected) in cases.items():
        plain = msgcrypt.decrypt(AES_KEY, _event({**base, "EventType": kind, **extra}), APP_KEY)
        events = dingtalk.parse_event(plain).events
        assert events and all(isinstance(e, expected) for e in events), kind
        assert all(e.group_id == "cidq2Ek5lXJxB3pT9v0Wb7zQw==" for e in events)
    joined = dingtalk.parse_event(orjson.dumps({**base, "EventType": "chat_add_member", "UserId": ["0152", "0153"]}).decode()).events
    assert [e.user_id for e in joined] == ["0152", "0153"] and joined[0].operator_id == "manager4711"
    assert len({e.platform_event_id for e in joined}) == 2


def test_check_url_and_unrelated_events_are_acknowledged_without_events():
    assert dingtalk.parse_event('{"EventType": "check_url"}').ignored == 1


def test_event_callback_signature_and_timestamp_are_checked():
    encrypt = _event({"EventType": "check_url"})
    ts, nonce = str(CREATE_AT), "nX3q"
    good = {"signature": msgcrypt.signature(TOKEN, ts, nonce, encrypt), "timestamp": ts, "nonce": nonce}
    dingtalk.verify_event(good, encrypt, TOKEN, NOW)
    with pytest.raises(SignatureError):
        dingtalk.verify_event({**good, "nonce": "other"}, encrypt, TOKEN, NOW)
    with pytest.raises(SignatureError) as stale:
        dingtalk.verify_event(good, encrypt, TOKEN, NOW + timedelta(days=1))
    assert stale.value.result == "stale"


def test_encrypted_success_answer_decrypts_to_success_for_our_app_key():
    answer = dingtalk.encrypted_success(AES_KEY, TOKEN, APP_KEY, random16=b"0" * 16, nonce="abc123", now=NOW)
    assert msgcrypt.decrypt(AES_KEY, answer["encrypt"], APP_KEY) == "success"
    assert answer["msg_signature"] == msgcrypt.signature(TOKEN, answer["timeStamp"], "abc123", answer["encrypt"])


def test_a_message_encrypted_for_another_app_is_refused():
    with pytest.raises(SignatureError):
        msgcrypt.decrypt(AES_KEY, msgcrypt.encrypt(AES_KEY, "{}", "another-app", b"x" * 16), APP_KEY)
