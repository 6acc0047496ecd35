"""Ingest's one-pass envelopes are byte for byte what ``new_event(...).to_bytes()`` publishes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter

from contracts.base import AwareDatetime
from contracts.chat import (AdminChanged, GroupCreated, GroupDissolved, GroupRenamed, MemberJoined, MemberLeft,
                            MemberRemoved, MembersSnapshot, MessagePosted, MessageRecalled, NicknameChanged,
                            RawPayloadReceived, SnapshotMember)
from contracts.envelope import decode, new_event
from contracts.ids import derive_id, platform_event_id
from services.ingest.adapters.base import Canonical, Parsed
from services.ingest.envelopes import envelope_bytes, json_time, platform_event_uuid
from services.ingest.intake import Receipt, prepare

pytestmark = pytest.mark.unit

BEIJING = timezone(timedelta(hours=8))
AT = datetime(2026, 3, 2, 9, 15, tzinfo=BEIJING)
COMMON = {"platform": "qq", "group_id": "738112233", "occurred_at": AT, "group_name": "研发部·后端组"}

PAYLOADS = [
    MessagePosted(**COMMON, platform_event_id="group:738112233:msg:1893456721:1772414100", message_id="1893456721",
                  user_id="10002", nickname="李四-财务部", text="报销单今天下班前交给我 😤", mentions=["10003"],
                  mention_all=True, reply_to="1893456700", sender_role="admin"),
    MessagePosted(platform="wecom", group_id="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", platform_event_id="m-2",
                  occurred_at=datetime(2026, 3, 2, 1, 15, 0, 123456, tzinfo=timezone.utc), message_id="m-2",
                  user_id="zhangsan", msg_type="image", url="https://example.cn/a.jpg"),
    MessageRecalled(**COMMON, platform_event_id="r-1", message_id="1893456721", user_id="10002", operator_id="10001"),
    MemberJoined(**COMMON, platform_event_id="j-1", user_id="10009", nickname="新同事 王五", operator_id="10001"),
    MemberLeft(**COMMON, platform_event_id="l-1", user_id="10009"),
    MemberRemoved(**COMMON, platform_event_id="k-1", user_id="10009", operator_id="10001"),
    NicknameChanged(**COMMON, platform_event_id="n-1", user_id="10002", nickname="", old_nickname="李四"),
    GroupCreated(**COMMON, platform_event_id="c-1", user_id="10001"),
    GroupRenamed(**COMMON, platform_event_id="rn-1", old_name="旧群名"),
    GroupDissolved(**COMMON, platform_event_id="d-1"),
    AdminChanged(**COMMON, platform_event_id="a-1", user_id="10002", change="unset"),
    MembersSnapshot(**COMMON, platform_event_id="s-1", members=[
        SnapshotMember(user_id="10001", nickname="群主-王总", role="owner"), SnapshotMember(user_id="10002")]),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_chat_envelope_bytes_equal_the_contract_serialisation(payload):
    eid = platform_event_id(payload.platform, payload.platform_event_id)
    expected = new_event(payload, id=eid, source="qunguard/ingest/onebot", time=payload.occurred_at).to_bytes()
    record = Canonical.of(payload)
    got = envelope_bytes(record.event_type, record.data, id=eid, source="qunguard/ingest/onebot",
                         time=record.data["occurred_at"], partitionkey=payload.partition_key())
    assert got == expected
    assert decode(got).payload() == payload


def test_prepare_publishes_what_the_contract_would_for_chat_and_raw_receipt():
    receipt = Receipt(adapter="onebot", platform="qq", received_at=datetime(2026, 3, 2, 1, 15, 3, tzinfo=timezone.utc),
                      body="群消息 🎉".encode(), signature="verified", headers={"x-self-id": "3889001122"})
    job = prepare(receipt, Parsed(events=PAYLOADS, group_id="738112233"))
    assert [r.value for r in job.chat] == [
        new_event(p, id=platform_event_id(p.platform, p.platform_event_id), source=receipt.source,
                  time=p.occurred_at).to_bytes() for p in PAYLOADS]
    raw = RawPayloadReceived(receipt_id=receipt.receipt_id, adapter="onebot", platform="qq",
                             received_at=receipt.received_at, headers={"x-self-id": "3889001122"}, body="群消息 🎉",
                             signature="verified", event_ids=job.ids, group_id="738112233")
    expected = new_event(raw, id=derive_id("raw", receipt.receipt_id, 1), source=receipt.source,
                         time=receipt.received_at)
    assert job.raw == [(expected.key, expected.to_bytes())]


def test_a_twin_inside_one_request_is_counted_but_published_once():
    receipt = Receipt(adapter="generic", platform="qq", received_at=AT, body=b"{}", signature="verified")
    job = prepare(receipt, Parsed(events=[PAYLOADS[0], PAYLOADS[2], PAYLOADS[0]]))
    assert len(job.ids) == 3 and job.ids[0] == job.ids[2]
    assert [r.event_id for r in job.chat] == job.ids[:2]


@pytest.mark.parametrize("platform,platform_id", [
    ("qq", "group:738112233:msg:1893456721:1772414100"), ("wecom", "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA/消息-1 😀"),
    ("other", ""), ("feishu", "om_\u200b\u202e")])
def test_fast_event_ids_equal_the_contract_uuid5(platform, platform_id):
    assert platform_event_uuid(platform, platform_id) == platform_event_id(platform, platform_id)


@pytest.mark.parametrize("text", [
    "2026-03-02T09:15:00+08:00", "2026-03-02T01:15:00Z", "2026-03-02T01:15:00+00:00", "2026-03-02T01:15:00-00:00",
    "2026-03-02T01:15:00.5+05:45", "2026-12-31T23:59:59.999999-12:00", "0999-01-01T00:00:00+14:00"])
def test_datetimes_are_spelled_as_pydantic_spells_them(text):
    adapter = TypeAdapter(AwareDatetime)
    value = adapter.validate_python(text)
    assert json_time(value) == adapter.dump_python(value, mode="json")
