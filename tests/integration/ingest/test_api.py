"""The ingest API over the embedded log and a SQLite database: what is acknowledged is on the log, once."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import orjson
import pytest
from fastapi.testclient import TestClient

from contracts import topics
from services.ingest.adapters import dingtalk, feishu, msgcrypt, onebot
from services.ingest.api import create_app
from tests.integration.ingest.helpers import (AUDITOR_TOKEN, DINGTALK_SECRET, DT_EVENT, FEISHU, ONEBOT_SECRET, WECOM,
                                              bearer, dumps, generic_message, make_settings, read_topic)

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as c:
        yield c


def onebot_report(message_id: int = 1893456721, text: str = "本周五团建，请在群公告接龙报名 🎉") -> dict:
    return {"time": int(time.time()), "self_id": 3889001122, "post_type": "message", "message_type": "group",
            "sub_type": "normal", "message_id": message_id, "group_id": 738112233, "user_id": 10002,
            "message": [{"type": "text", "data": {"text": text}}], "raw_message": text,
            "sender": {"user_id": 10002, "nickname": "小李", "card": "李四-行政部", "role": "member"}}


def post_onebot(client, report: dict, secret: str = ONEBOT_SECRET):
    body = dumps(report)
    return client.post("/v1/ingest/onebot", content=body,
                       headers={"X-Signature": onebot.sign(body, secret), "X-Self-ID": "3889001122",
                                "Content-Type": "application/json"})


def test_onebot_message_is_on_the_log_with_its_raw_receipt_when_acknowledged(client, settings):
    answer = post_onebot(client, onebot_report())
    assert answer.status_code == 200 and answer.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    [chat] = read_topic(settings.log_path(), topics.CHAT.name)
    [raw] = read_topic(settings.log_path(), topics.RAW.name)
    assert chat.type == "qunguard.chat.message_posted.v1" and chat.source == "qunguard/ingest/onebot"
    assert chat.data["text"] == "本周五团建，请在群公告接龙报名 🎉" and chat.partitionkey == "qq:738112233"
    assert raw.data["event_ids"] == [chat.id] and raw.data["signature"] == "verified"
    assert raw.data["headers"]["x-self-id"] == "3889001122" and "authorization" not in raw.data["headers"]
    assert orjson.loads(raw.data["body"])["message_id"] == 1893456721


def test_posting_the_same_event_twice_yields_one_chat_event_and_says_duplicate(client, settings):
    report = onebot_report()
    assert post_onebot(client, report).json()["accepted"] == 1
    again = post_onebot(client, report)
    assert again.json() == {"accepted": 0, "duplicates": 1, "ignored": 0}
    assert len(read_topic(settings.log_path(), topics.CHAT.name)) == 1
    assert len(read_topic(settings.log_path(), topics.RAW.name)) == 2  # the retry itself is audited


def test_bad_and_missing_signatures_are_401_problems_and_publish_nothing(client, settings):
    wrong = post_onebot(client, onebot_report(), secret="guessed")
    missing = client.post("/v1/ingest/onebot", content=dumps(onebot_report()))
    for answer in (wrong, missing):
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["signature"] == "invalid" and missing.json()["signature"] == "missing"
    assert read_topic(settings.log_path(), topics.CHAT.name) == []


def test_a_replayed_old_report_is_refused(client):
    old = onebot_report()
    old["time"] -= 3 * 3600
    answer = post_onebot(client, old)
    assert answer.status_code == 401 and answer.json()["signature"] == "stale"


def test_heartbeat_is_accepted_and_ignored(client, settings):
    body = dumps({"time": int(time.time()), "self_id": 1, "post_type": "meta_event", "meta_event_type": "heartbeat",
                  "interval": 5000, "status": {"online": True, "good": True}})
    answer = client.post("/v1/ingest/onebot", content=body, headers={"X-Signature": onebot.sign(body, ONEBOT_SECRET)})
    assert answer.status_code == 200 and answer.json() == {"accepted": 0, "duplicates": 0, "ignored": 1}
    assert read_topic(settings.log_path(), topics.RAW.name) == []


def test_unsigned_webhooks_are_refused_when_no_secret_is_configured(tmp_path):
    settings = make_settings(tmp_path, onebot_secret=None)
    with TestClient(create_app(settings)) as c:
        answer = c.post("/v1/ingest/onebot", content=dumps(onebot_report()))
    assert answer.status_code == 401 and answer.json()["signature"] == "not_configured"


def test_generic_batch_is_accepted_and_counts_duplicates(client, settings):
    batch = {"events": [generic_message(i) for i in range(50)]}
    first = client.post("/v1/ingest/generic", content=dumps(batch), headers=bearer())
    assert first.status_code == 202 and first.json() == {"accepted": 50, "duplicates": 0, "ignored": 0}
    overlap = {"events": [generic_message(i) for i in range(40, 60)]}
    second = client.post("/v1/ingest/generic", content=dumps(overlap), headers=bearer())
    assert second.json() == {"accepted": 10, "duplicates": 10, "ignored": 0}
    assert len(read_topic(settings.log_path(), topics.CHAT.name)) == 60


def test_generic_batch_with_bad_indices_is_rejected_whole(client, settings):
    events = [generic_message(i) for i in range(5)]
    events[1]["time"] = "昨天下午"
    events[3]["type"] = "sticker"
    answer = client.post("/v1/ingest/generic", content=dumps({"events": events}), headers=bearer())
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["events[1].time", "events[3].type"]
    assert read_topic(settings.log_path(), topics.CHAT.name) == []


def test_generic_needs_an_ingest_token(client):
    assert client.post("/v1/ingest/generic", content=dumps(generic_message(1))).status_code == 401
    assert client.post("/v1/ingest/generic", content=dumps(generic_message(1)),
                       headers=bearer(AUDITOR_TOKEN)).status_code == 403


def test_oversize_body_is_413_problem(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, max_body_bytes=4096))) as c:
        big = dumps({"events": [generic_message(i, "长" * 100) for i in range(40)]})
        answer = c.post("/v1/ingest/generic", content=big, headers=bearer())
    assert answer.status_code == 413 and answer.headers["content-type"].startswith("application/problem+json")


def test_unicode_of_every_kind_survives_to_the_log_and_the_audit_lookup(client, settings):
    text = "繁體：請勿外傳 | RTL: שלום مرحبا | ZW: a\u200bb\u200dc\ufeff | 😀👨‍👩‍👧🇨🇳 | \u202e反转"
    client.post("/v1/ingest/generic", content=dumps(generic_message(7, text)), headers=bearer())
    [chat] = read_topic(settings.log_path(), topics.CHAT.name)
    assert chat.data["text"] == text
    found = client.get(f"/v1/events/{chat.id}", headers=bearer(AUDITOR_TOKEN))
    assert found.status_code == 200
    assert found.json()["event"]["data"]["text"] == text
    receipt = found.json()["receipt"]
    assert orjson.loads(receipt["body"])["text"] == text and receipt["adapter"] == "generic"
    assert client.get("/v1/events/nope", headers=bearer(AUDITOR_TOKEN)).status_code == 404
    assert client.get(f"/v1/events/{chat.id}", headers=bearer()).status_code == 403


def test_dingtalk_robot_callback_with_valid_sign(client, settings):
    ts = str(int(time.time() * 1000))
    body = dumps({"conversationId": "cidq2Ek5lXJxB3pT9v0Wb7zQw==", "conversationType": "2", "msgId": "msgA1",
                  "msgtype": "text", "text": {"content": " 收到"}, "createAt": int(ts), "senderStaffId": "0152",
                  "senderNick": "赵六", "conversationTitle": "华东区销售群"})
    ok = client.post("/v1/ingest/dingtalk", content=body,
                     headers={"timestamp": ts, "sign": dingtalk.robot_sign(ts, DINGTALK_SECRET)})
    bad = client.post("/v1/ingest/dingtalk", content=body, headers={"timestamp": ts, "sign": "AAAA"})
    assert ok.status_code == 200 and ok.json()["accepted"] == 1 and bad.status_code == 401


def test_dingtalk_event_callback_answers_encrypted_success(client, settings):
    plain = dumps({"EventType": "chat_add_member", "ChatId": "chat8f1a", "OpenConversationId": "cidXYZ",
                   "Operator": "manager4711", "UserId": ["0152"], "TimeStamp": str(int(time.time() * 1000))}).decode()
    encrypt = msgcrypt.encrypt(DT_EVENT["aes"], plain, DT_EVENT["owner"], os.urandom(16))
    ts, nonce = str(int(time.time() * 1000)), "n0nce"
    query = {"signature": msgcrypt.signature(DT_EVENT["token"], ts, nonce, encrypt), "timestamp": ts, "nonce": nonce}
    answer = client.post("/v1/ingest/dingtalk/events", params=query, content=dumps({"encrypt": encrypt}))
    assert answer.status_code == 200
    assert msgcrypt.decrypt(DT_EVENT["aes"], answer.json()["encrypt"], DT_EVENT["owner"]) == "success"
    [joined] = read_topic(settings.log_path(), topics.CHAT.name)
    assert joined.data["user_id"] == "0152" and joined.data["group_id"] == "cidXYZ"
    [raw] = read_topic(settings.log_path(), topics.RAW.name)
    assert "chat_add_member" in raw.data["body"]  # kept decrypted: auditors have no AES key


def test_wecom_url_check_and_callback(client, settings):
    ts, nonce = str(int(time.time())), "1372623149"
    echo = msgcrypt.encrypt(WECOM["aes"], "8125947186730409127", WECOM["corp"], os.urandom(16))
    q = {"msg_signature": msgcrypt.signature(WECOM["token"], ts, nonce, echo), "timestamp": ts, "nonce": nonce, "echostr": echo}
    check = client.get("/v1/ingest/wecom/callback", params=q)
    assert check.status_code == 200 and check.text == "8125947186730409127"
    xml = (f"<xml><ToUserName>{WECOM['corp']}</ToUserName><CreateTime>{ts}</CreateTime><MsgType>event</MsgType>"
           "<Event>change_external_chat</Event><ChatId>wrOgQhDgAAcwMTB7</ChatId><ChangeType>update</ChangeType>"
           "<UpdateDetail>del_member</UpdateDetail><QuitScene>1</QuitScene><MemChangeList><Item>lisi</Item>"
           "</MemChangeList><CurMemVer>v9</CurMemVer></xml>")
    encrypt = msgcrypt.encrypt(WECOM["aes"], xml, WECOM["corp"], os.urandom(16))
    body = f"<xml><ToUserName><![CDATA[{WECOM['corp']}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    q = {"msg_signature": msgcrypt.signature(WECOM["token"], ts, nonce, encrypt), "timestamp": ts, "nonce": nonce}
    answer = client.post("/v1/ingest/wecom/callback", params=q, content=body.encode())
    assert answer.status_code == 200 and answer.text == "success"
    [removed] = read_topic(settings.log_path(), topics.CHAT.name)
    assert removed.type == "qunguard.chat.member_removed.v1" and removed.data["user_id"] == "lisi"
    q["msg_signature"] = "0" * 40
    assert client.post("/v1/ingest/wecom/callback", params=q, content=body.encode()).status_code == 401


def test_wecom_archive_post_skips_one_to_one_chats(client, settings):
    rec = {"msgid": "m1", "action": "send", "from": "zhangsan", "tolist": ["lisi"], "roomid": "wrRoom1",
           "msgtime": 1772414100123, "msgtype": "text", "text": {"content": "收到，马上处理"}}
    lines = b"\n".join(dumps(r) for r in (rec, {**rec, "msgid": "m2", "roomid": ""},
                                           {"msgid": "s1", "action": "switch", "time": 1, "user": "zhangsan"}))
    answer = client.post("/v1/ingest/wecom/archive", content=lines, headers=bearer())
    assert answer.status_code == 202 and answer.json() == {"accepted": 1, "duplicates": 0, "ignored": 2}


def test_feishu_challenge_and_encrypted_signed_message(client, settings):
    challenge = {"encrypt": feishu.encrypt(FEISHU["key"], orjson.dumps(
        {"challenge": "ajls384kdjx98XX", "token": FEISHU["token"], "type": "url_verification"}).decode(), os.urandom(16))}
    assert client.post("/v1/ingest/feishu", content=dumps(challenge)).json() == {"challenge": "ajls384kdjx98XX"}
    now_ms = str(int(time.time() * 1000))
    event = {"schema": "2.0", "header": {"event_id": "evt-1", "event_type": "im.message.receive_v1", "create_time": now_ms,
                                         "token": FEISHU["token"], "app_id": "cli_x", "tenant_key": "t"},
             "event": {"sender": {"sender_id": {"open_id": "ou_a"}}, "message": {
                 "message_id": "om_1", "create_time": now_ms, "chat_id": "oc_1", "chat_type": "group",
                 "message_type": "text", "content": orjson.dumps({"text": "请假申请已提交"}).decode()}}}
    body = dumps({"encrypt": feishu.encrypt(FEISHU["key"], orjson.dumps(event).decode(), os.urandom(16))})
    ts = str(int(datetime.now(timezone.utc).timestamp()))
    headers = {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": "42",
               "X-Lark-Signature": feishu.signature(ts, "42", FEISHU["key"], body)}
    answer = client.post("/v1/ingest/feishu", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    headers["X-Lark-Signature"] = "f" * 64
    assert client.post("/v1/ingest/feishu", content=body, headers=headers).status_code == 401
