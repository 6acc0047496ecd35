"""OneBot v11 (NapCat / LLOneBot) reports → canonical chat events, and the X-Signature check."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from contracts.chat import (AdminChanged, MemberJoined, MemberLeft, MemberRemoved, MessagePosted,
                            MessageRecalled, NicknameChanged)
from services.ingest.adapters import onebot
from services.ingest.adapters.base import PayloadError, SignatureError, event_id_of

pytestmark = pytest.mark.unit

SECRET = "napcat-token-研发群"
T = 1772414100  # 2026-03-02 09:15:00 +08:00
NOW = datetime.fromtimestamp(T + 3, tz=timezone.utc)


def group_message(message, **extra) -> dict:
    return {"time": T, "self_id": 3889001122, "post_type": "message", "message_type": "group",
            "sub_type": "normal", "message_id": 1893456721, "group_id": 738112233, "user_id": 10002,
            "anonymous": None, "message": message, "raw_message": "", "font": 0,
            "sender": {"user_id": 10002, "nickname": "小李", "card": "李四-财务部", "role": "admin"}, **extra}


def parse(event: dict) -> list:
    return onebot.parse(orjson.dumps(event), now=NOW).events


def test_segment_array_message_keeps_text_and_turns_at_segments_into_mentions():
    [msg] = parse(group_message([
        {"type": "reply", "data": {"id": "1893456700"}},
        {"type": "at", "data": {"qq": "10003"}},
        {"type": "text", "data": {"text": " 报销单今天下班前交给我，逾期不候 😤"}},
        {"type": "at", "data": {"qq": "all"}},
    ]))
    assert isinstance(msg, MessagePosted)
    assert msg.text == " 报销单今天下班前交给我，逾期不候 😤"
    assert msg.mentions == ["10003"] and msg.mention_all is True
    assert msg.reply_to == "1893456700"
    assert (msg.platform, msg.group_id, msg.user_id, msg.nickname, msg.sender_role) == \
        ("qq", "738112233", "10002", "李四-财务部", "admin")
    assert msg.occurred_at == datetime(2026, 3, 2, 1, 15, tzinfo=timezone.utc)


def test_cq_string_message_is_unescaped_like_the_array_form():
    [msg] = parse(group_message("[CQ:at,qq=10003] 周报模板见 &#91;共享盘&#93; A&amp;B 组 [CQ:face,id=178]"))
    assert msg.text == " 周报模板见 [共享盘] A&B 组 "
    assert msg.mentions == ["10003"]


def test_cq_parameters_unescape_commas_inside_values():
    segments = onebot.parse_cq("[CQ:image,file=abc.jpg,url=https://gchat.qpic.cn/x?a=1&#44;2&amp;b=3]")
    assert segments == [{"type": "image", "data": {"file": "abc.jpg", "url": "https://gchat.qpic.cn/x?a=1,2&b=3"}}]


def test_image_only_message_is_an_image_with_its_url():
    [msg] = parse(group_message([{"type": "image", "data": {"file": "e5f1.image", "url": "https://multimedia.nt.qq.com.cn/download?fileid=e5f1"}}]))
    assert msg.msg_type == "image" and msg.url.endswith("fileid=e5f1") and msg.text is None


def test_unicode_of_every_kind_passes_through_untouched():
    text = "請勿發廣告 مرحبا \u200b零宽\u200d👨‍👩‍👧 ＡＢＣ"
    [msg] = parse(group_message([{"type": "text", "data": {"text": text}}]))
    assert msg.text == text


def test_same_report_maps_to_the_same_event_id_and_a_reused_message_id_later_does_not():
    first = parse(group_message("早"))[0]
    again = parse(group_message("早"))[0]
    next_day = onebot.parse(orjson.dumps(group_message("早", time=T + 86400)), now=NOW + timedelta(days=1)).events[0]
    assert event_id_of(first) == event_id_of(again)
    assert event_id_of(next_day) != event_id_of(first)  # int32 message ids are reused by OneBot


@pytest.mark.parametrize("sub_type, operator, expected", [
    ("approve", 10001, MemberJoined), ("invite", 10001, MemberJoined)])
def test_group_increase_is_a_join_with_who_let_them_in(sub_type, operator, expected):
    [ev] = parse({"time": T, "self_id": 1, "post_type": "notice", "notice_type": "group_increase",
                  "sub_type": sub_type, "group_id": 738112233, "operator_id": operator, "user_id": 10009})
    assert isinstance(ev, expected) and ev.user_id == "10009" and ev.operator_id == "10001"


def test_group_decrease_distinguishes_leaving_from_being_kicked():
    base = {"time": T, "self_id": 3889001122, "post_type": "notice", "notice_type": "group_decrease",
            "group_id": 738112233, "user_id": 10009}
    [left] = parse({**base, "sub_type": "leave", "operator_id": 10009})
    [kicked] = parse({**base, "sub_type": "kick", "operator_id": 10001})
    [bot] = parse({**base, "sub_type": "kick_me", "operator_id": 10001})
    assert isinstance(left, MemberLeft) and left.user_id == "10009"
    assert isinstance(kicked, MemberRemoved) and kicked.operator_id == "10001"
    assert isinstance(bot, MemberRemoved) and bot.user_id == "3889001122"


def test_card_change_recall_and_admin_notices():
    base = {"time": T, "self_id": 1, "post_type": "notice", "group_id": 738112233, "user_id": 10002}
    [card] = parse({**base, "notice_type": "group_card", "card_new": "李四-财务部-出差中", "card_old": "李四-财务部"})
    [recall] = parse({**base, "notice_type": "group_recall", "operator_id": 10001, "message_id": 1893456721})
    [admin] = parse({**base, "notice_type": "group_admin", "sub_type": "unset"})
    assert isinstance(card, NicknameChanged) and card.nickname == "李四-财务部-出差中" and card.old_nickname == "李四-财务部"
    assert isinstance(recall, MessageRecalled) and recall.message_id == "1893456721" and recall.operator_id == "10001"
    assert isinstance(admin, AdminChanged) and admin.change == "unset"


def test_heartbeats_private_messages_and_bans_are_acknowledged_and_ignored():
    heartbeat = {"time": T, "self_id": 1, "post_type": "meta_event", "meta_event_type": "heartbeat",
                 "status": {"online": True}, "interval": 5000}
    private = {**group_message("在吗"), "message_type": "private"}
    ban = {"time": T, "self_id": 1, "post_type": "notice", "notice_type": "group_ban", "sub_type": "ban",
           "group_id": 1, "user_id": 2, "operator_id": 3, "duration": 600}
    for event in (heartbeat, private, ban):
        parsed = onebot.parse(orjson.dumps(event), now=NOW)
        assert parsed.events == [] and parsed.ignored == 1


def test_signature_is_hmac_sha1_of_the_exact_body():
    body = orjson.dumps(group_message("加班通知"))
    onebot.verify(body, {"X-Signature": onebot.sign(body, SECRET)}, SECRET)
    with pytest.raises(SignatureError) as bad:
        onebot.verify(body + b" ", {"X-Signature": onebot.sign(body, SECRET)}, SECRET)
    assert bad.value.result == "invalid"
    with pytest.raises(SignatureError) as missing:
        onebot.verify(body, {}, SECRET)
    assert missing.value.result == "missing"


def test_a_correctly_signed_report_from_two_hours_ago_is_a_replay():
    with pytest.raises(SignatureError) as stale:
        onebot.parse(orjson.dumps(group_message("旧消息")), now=NOW + timedelta(hours=2))
    assert stale.value.result == "stale"


def test_malformed_reports_name_the_field_at_fault():
    with pytest.raises(PayloadError) as no_group:
        onebot.parse(orjson.dumps({k: v for k, v in group_message("hi").items() if k != "group_id"}), now=NOW)
    assert no_group.value.errors[0].field == "group_id"
    with pytest.raises(PayloadError) as not_json:
        onebot.parse(b"{not json", now=NOW)
    assert not_json.value.errors[0].field == "body"
