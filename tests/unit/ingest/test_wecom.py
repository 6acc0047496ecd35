"""WeCom chat-archive records and customer-group callbacks → canonical chat events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from contracts.chat import GroupDissolved, MemberJoined, MemberLeft, MemberRemoved, MessagePosted, MessageRecalled
from services.ingest.adapters import msgcrypt, wecom
from services.ingest.adapters.base import PayloadError, SignatureError

pytestmark = pytest.mark.unit

ROOM = "wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA"
TOKEN, CORP = "QDG6eK", "wx5823bf96d3bd56c7"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # Tencent's documented sample key
MSGTIME = 1772414100123


def line(rec: dict) -> bytes:
    return orjson.dumps(rec)


def text_record(msgid="CAQQluDa4QUY0On2rYSAgAMgzPrShAE=", content="@所有人 三月考勤表已发群文件，请周五前确认") -> dict:
    return {"msgid": msgid, "action": "send", "from": "zhangsan", "tolist": ["lisi", "wmErxtDgAA9AW32YyyuYRimKr7D1KWlw"],
            "roomid": ROOM, "msgtime": MSGTIME, "msgtype": "text", "text": {"content": content}}


def test_group_text_record_becomes_a_message_with_mention_all():
    [msg] = wecom.parse_archive_lines([line(text_record())]).events
    assert isinstance(msg, MessagePosted)
    assert (msg.group_id, msg.user_id, msg.text, msg.mention_all) == \
        (ROOM, "zhangsan", "@所有人 三月考勤表已发群文件，请周五前确认", True)
    assert msg.occurred_at == datetime(2026, 3, 2, 1, 15, 0, 123000, tzinfo=timezone.utc)


def test_one_to_one_chats_and_switch_records_are_skipped_counted_and_not_kept():
    single = {**text_record("m2"), "roomid": "", "tolist": ["lisi"]}
    switch = {"msgid": "125289002219525886280", "action": "switch", "time": MSGTIME, "user": "zhangsan"}
    parsed = wecom.parse_archive_lines([line(text_record()), line(single), line(switch)])
    assert len(parsed.events) == 1 and parsed.ignored == 2
    assert b"m2" not in parsed.audit_body  # a one-to-one chat is not the company's group business


def test_revoke_record_recalls_the_earlier_message():
    rec = {"msgid": "15775510700152506326_1603875626", "action": "recall", "from": "zhangsan", "tolist": ["lisi"],
           "roomid": ROOM, "msgtime": MSGTIME, "msgtype": "revoke", "revoke": {"pre_msgid": "14822339130656386894_1603875600"}}
    [recall] = wecom.parse_archive_lines([line(rec)]).events
    assert isinstance(recall, MessageRecalled) and recall.message_id == "14822339130656386894_1603875600"


@pytest.mark.parametrize("msgtype, body, kind", [
    ("image", {"md5sum": "50de8e5ae8ffe4f1df7a93841f71993a", "filesize": 70961, "sdkfileid": "CtYBMzA2OTAyMDEwMjA0"}, "image"),
    ("link", {"title": "2026年春节放假安排", "description": "国务院办公厅通知", "link_url": "https://www.gov.cn/x.htm"}, "link"),
    ("file", {"filename": "三月排班表.xlsx", "fileext": "xlsx", "filesize": 1024}, "file"),
    ("voice", {"voice_size": 6810, "play_length": 10}, "voice"),
    ("weapp", {"title": "考勤打卡"}, "card"),
    ("calendar", {"title": "周会"}, "other"),
])
def test_other_message_types_map_to_canonical_kinds(msgtype, body, kind):
    rec = {**text_record(), "msgtype": msgtype, msgtype: body}
    del rec["text"]
    [msg] = wecom.parse_archive_lines([line(rec)]).events
    assert msg.msg_type == kind
    if msgtype == "link":
        assert msg.url == "https://www.gov.cn/x.htm" and "春节" in msg.text


def test_a_batch_with_bad_lines_is_rejected_whole_naming_each_line():
    bad_time = {**text_record("m3")}
    del bad_time["msgtime"]
    with pytest.raises(PayloadError) as exc:
        wecom.parse_archive_lines([line(text_record()), b"{oops", line(bad_time)], first_line=101)
    fields = [e.field for e in exc.value.errors]
    assert fields == ["lines[102]", "lines[103].msgtime"]


def callback_query(encrypt: str, ts: int, nonce: str = "1372623149") -> dict:
    return {"msg_signature": msgcrypt.signature(TOKEN, str(ts), nonce, encrypt), "timestamp": str(ts), "nonce": nonce}


def change_xml(detail: str, members: list[str], quit_scene: int = 0, change: str = "update") -> str:
    items = "".join(f"<Item><![CDATA[{m}]]></Item>" for m in members)
    return (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>1772414100</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[{ROOM}]]></ChatId>"
            f"<ChangeType><![CDATA[{change}]]></ChangeType><UpdateDetail><![CDATA[{detail}]]></UpdateDetail>"
            f"<JoinScene>3</JoinScene><QuitScene>{quit_scene}</QuitScene><MemChangeCnt>{len(members)}</MemChangeCnt>"
            f"<MemChangeList>{items}</MemChangeList><LastMemVer>v1</LastMemVer><CurMemVer>v2</CurMemVer></xml>")


def test_callback_is_verified_decrypted_and_mapped():
    now = datetime.fromtimestamp(1772414105, tz=timezone.utc)
    encrypt = msgcrypt.encrypt(AES_KEY, change_xml("add_member", ["wmErxtDgAA9AW32YyyuYRimKr7D1KWlw", "lisi"]), CORP, b"k" * 16)
    body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>".encode()
    plain = wecom.verify_and_decrypt(callback_query(encrypt, 1772414100), wecom.encrypt_of(body),
                                     token=TOKEN, aes_key=AES_KEY, corp_id=CORP, now=now)
    events = wecom.parse_callback(plain).events
    assert [type(e) for e in events] == [MemberJoined, MemberJoined]
    assert [e.user_id for e in events] == ["wmErxtDgAA9AW32YyyuYRimKr7D1KWlw", "lisi"]
    with pytest.raises(SignatureError):
        wecom.verify_and_decrypt({**callback_query(encrypt, 1772414100), "nonce": "x"}, encrypt,
                                 token=TOKEN, aes_key=AES_KEY, corp_id=CORP, now=now)
    with pytest.raises(SignatureError) as stale:
        wecom.verify_and_decrypt(callback_query(encrypt, 1772414100), encrypt, token=TOKEN, aes_key=AES_KEY,
                                 corp_id=CORP, now=now + timedelta(hours=3))
    assert stale.value.result == "stale"
    with pytest.raises(SignatureError):  # encrypted for another corp
        wrong = msgcrypt.encrypt(AES_KEY, "<xml/>", "wwOtherCorp", b"k" * 16)
        wecom.verify_and_decrypt(callback_query(wrong, 1772414100), wrong, token=TOKEN, aes_key=AES_KEY,
                                 corp_id=CORP, now=now)


def test_quit_scene_tells_leaving_from_removal_and_dismiss_dissolves():
    left = wecom.parse_callback(change_xml("del_member", ["lisi"], quit_scene=0)).events
    removed = wecom.parse_callback(change_xml("del_member", ["lisi"], quit_scene=1)).events
    dismissed = wecom.parse_callback(change_xml("", [], change="dismiss")).events
    assert isinstance(left[0], MemberLeft) and isinstance(removed[0], MemberRemoved)
    assert isinstance(dismissed[0], GroupDissolved)


def test_xml_with_entities_is_refused():
    with pytest.raises(PayloadError):
        wecom.encrypt_of(b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>')
