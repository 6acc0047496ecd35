"""The generic JSON shape: every field validated, bad batches rejected whole with each index named."""

from __future__ import annotations

import orjson
import pytest

from contracts.chat import MembersSnapshot, MessagePosted, MessageRecalled, NicknameChanged
from services.ingest.adapters import generic
from services.ingest.adapters.base import Canonical, PayloadError

pytestmark = pytest.mark.unit


def msg(i: int = 1, **extra) -> dict:
    return {"platform": "wechat", "type": "message", "id": f"wx-msg-{i}", "group_id": "研发部-后端组",
            "group_name": "研发部·后端组", "user_id": "wxid_zhangsan", "nickname": "张三（后端）",
            "time": "2026-03-02T09:15:00+08:00", "msg_type": "text", "text": "今晚上线，请大家 21:00 到位",
            "mentions": ["wxid_lisi"], "mention_all": False, **extra}


def errors_of(body: dict) -> list[str]:
    with pytest.raises(PayloadError) as exc:
        generic.parse(orjson.dumps(body))
    return [e.field for e in exc.value.errors]


def test_single_object_becomes_one_message():
    [ev] = generic.parse(orjson.dumps(msg())).events
    assert isinstance(ev, MessagePosted)
    assert (ev.platform, ev.group_id, ev.group_name, ev.user_id, ev.mentions) == \
        ("wechat", "研发部-后端组", "研发部·后端组", "wxid_zhangsan", ["wxid_lisi"])
    assert ev.occurred_at.utcoffset().total_seconds() == 8 * 3600


def test_batch_with_bad_events_is_rejected_naming_each_bad_index_and_field():
    bad_time = msg(2, time="2026-03-02 09:15:00")             # no offset
    bad_platform = msg(3, platform="telegram")
    no_type = {k: v for k, v in msg(4).items() if k != "msg_type"}
    extra_field = msg(5, colour="red")
    fields = errors_of({"events": [msg(1), bad_time, bad_platform, no_type, extra_field, msg(6, time=1772414100)]})
    assert fields == ["events[1].time", "events[2].platform", "events[3].msg_type", "events[4].colour", "events[5].time"]


def test_batch_limit_is_ten_thousand():
    assert len(generic.parse(orjson.dumps({"events": [msg(i) for i in range(generic.MAX_EVENTS)]})).events) == 10_000
    assert errors_of({"events": [msg(i) for i in range(generic.MAX_EVENTS + 1)]}) == ["events"]


def test_empty_batch_non_object_and_malformed_json_are_refused():
    assert errors_of({"events": []}) == ["events"]
    with pytest.raises(PayloadError):
        generic.parse(b"[1, 2]")
    with pytest.raises(PayloadError):
        generic.parse(b'{"platform": "qq",')


def test_every_type_maps_to_its_canonical_event():
    base = {"platform": "qq", "id": "e", "group_id": "738112233", "time": "2026-03-02T09:15:00+08:00"}
    kinds = ["member_joined", "member_left", "member_removed", "group_created", "admin_changed"]
    for i, kind in enumerate(kinds):
        [ev] = generic.parse(orjson.dumps({**base, "id": f"e{i}", "type": kind, "user_id": "10002"})).events
        assert ev.user_id == "10002"
    [renamed] = generic.parse(orjson.dumps({**base, "type": "group_renamed", "group_name": "财务群（新）"})).events
    assert renamed.group_name == "财务群（新）"
    [nick] = generic.parse(orjson.dumps({**base, "type": "nickname_changed", "user_id": "10002", "nickname": ""})).events
    assert isinstance(nick, NicknameChanged) and nick.nickname == ""
    [recall] = generic.parse(orjson.dumps({**base, "type": "message_recalled", "user_id": "10002", "message_id": "m9"})).events
    assert isinstance(recall, MessageRecalled) and recall.message_id == "m9"
    [snap] = generic.parse(orjson.dumps({**base, "type": "members_snapshot", "members": [
        {"user_id": "10001", "nickname": "群主-王总", "role": "owner"}, {"user_id": "10002"}]})).events
    assert isinstance(snap, MembersSnapshot) and [m.role for m in snap.members] == ["owner", "member"]


def test_type_specific_requirements_are_named():
    base = {"platform": "qq", "id": "e", "group_id": "g", "time": "2026-03-02T09:15:00+08:00"}
    assert errors_of({**base, "type": "member_joined"}) == ["user_id"]
    assert errors_of({**base, "type": "members_snapshot"}) == ["members"]
    assert errors_of({**base, "type": "message_recalled", "user_id": "u"}) == ["message_id"]
    assert errors_of({**base, "type": "members_snapshot", "members": [{"user_id": "u", "role": "boss"}]}) == ["members[0].role"]


def test_unicode_of_every_kind_passes_through_untouched():
    text = "這是繁體 עברית \u200f\u200b 😀🇨🇳 e\u0301"
    [ev] = generic.parse(orjson.dumps(msg(text=text, nickname="\u202e名字"))).events
    assert ev.text == text and ev.nickname == "\u202e名字"


def every_shape() -> list[dict]:
    """Each event type with its optional fields both present and absent, in several time zones."""
    times = ["2026-03-02T09:15:00+08:00", "2026-03-02T01:15:00Z", "2026-03-02T01:15:00.25-05:30"]
    optional = {"group_name": "财务群（新）", "nickname": "王五\u200b", "operator_id": "10001"}
    out = []
    for i, kind in enumerate(["message", "message_recalled", "member_joined", "member_left", "member_removed",
                              "nickname_changed", "group_created", "group_renamed", "group_dissolved",
                              "admin_changed", "members_snapshot"]):
        for with_optional in (False, True):
            event = {"platform": "qq", "type": kind, "id": f"{kind}-{with_optional}", "group_id": "738112233",
                     "time": times[(i + with_optional) % 3], "user_id": "10002"}
            if with_optional:
                event.update(optional)
            if kind == "message":
                event.update({"msg_type": "text", "text": "收到👌", "url": "https://example.cn", "reply_to": "m1",
                              "mentions": ["10003"], "mention_all": True} if with_optional else {"msg_type": "image"})
            if kind == "message_recalled":
                event["message_id" if with_optional else "reply_to"] = "m1"
            if kind == "nickname_changed":
                event["nickname"] = "李四-财务部" if with_optional else ""
            if kind in ("group_renamed", "group_dissolved") and not with_optional:
                del event["user_id"]
            if kind == "members_snapshot":
                event["members"] = [{"user_id": "10001", "nickname": "群主", "role": "owner"}, {"user_id": "10002"}]
            out.append(event)
    return out


def test_the_published_form_built_without_models_equals_the_models_dump_for_every_shape():
    body = orjson.dumps({"events": every_shape()})
    fast = generic.parse_canonical(body).canonical
    assert fast == [Canonical.of(e) for e in generic.parse(body).events]
    assert [orjson.dumps(c.data) for c in fast] == [orjson.dumps(Canonical.of(e).data) for e in generic.parse(body).events]
    assert all(c.model() == e for c, e in zip(fast, generic.parse(body).events))


def test_both_forms_refuse_a_bad_batch_with_the_same_indexed_errors():
    events = every_shape()
    events[3]["time"] = "2026-03-02 09:15"
    events[7]["platform"] = "telegram"
    for parse in (generic.parse, generic.parse_canonical):
        with pytest.raises(PayloadError) as exc:
            parse(orjson.dumps({"events": events}))
        assert [e.field for e in exc.value.errors] == ["events[3].time", "events[7].platform"]
