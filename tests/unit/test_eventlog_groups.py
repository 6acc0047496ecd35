"""Pure parts of the embedded log: partition assignment, handover planning, header encoding."""

from __future__ import annotations

import pytest

from services.common.eventlog.base import TopicPartition, partition_for
from services.common.eventlog.codec import decode_headers, encode_headers
from services.common.eventlog.groups import Member, assign, plan_handover

pytestmark = pytest.mark.unit
CHAT, CLOCK, POLICY = "qg.chat.v1", "qg.clock.v1", "qg.policy.v1"


def tp(topic: str, p: int) -> TopicPartition:
    return TopicPartition(topic, p)


def test_two_members_split_six_chat_partitions_three_each():
    members = [Member("rules-a", frozenset({CHAT})), Member("rules-b", frozenset({CHAT}))]
    got = assign({CHAT: 6}, members)
    assert sorted(p.partition for p, m in got.items() if m == "rules-a") == [0, 2, 4]
    assert sorted(p.partition for p, m in got.items() if m == "rules-b") == [1, 3, 5]


def test_single_partition_topics_are_spread_over_members_not_piled_on_the_first():
    both = frozenset({CLOCK, POLICY})
    got = assign({CLOCK: 1, POLICY: 1}, [Member("a", both), Member("b", both)])
    assert set(got.values()) == {"a", "b"}


def test_a_member_gets_no_partition_of_a_topic_it_did_not_subscribe_to():
    got = assign({CHAT: 2, CLOCK: 1}, [Member("a", frozenset({CHAT})), Member("b", frozenset({CLOCK}))])
    assert got == {tp(CHAT, 0): "a", tp(CHAT, 1): "a", tp(CLOCK, 0): "b"}


def test_every_member_computes_the_same_assignment_from_the_same_member_list():
    members = [Member(f"m{i}", frozenset({CHAT, CLOCK})) for i in range(3)]
    assert assign({CHAT: 6, CLOCK: 1}, members) == assign({CLOCK: 1, CHAT: 6}, list(members))


def test_handover_releases_what_moved_away_and_waits_for_what_another_member_still_holds():
    desired = {tp(CHAT, 0): "a", tp(CHAT, 1): "b", tp(CHAT, 2): "a"}
    owners = {tp(CHAT, 0): "b", tp(CHAT, 1): "b"}
    plan_a = plan_handover("a", desired, owners)
    assert plan_a.take == {tp(CHAT, 2)} and plan_a.waiting == {tp(CHAT, 0)} and not plan_a.release
    plan_b = plan_handover("b", desired, owners)
    assert plan_b.release == {tp(CHAT, 0)} and not plan_b.take and not plan_b.waiting


def test_headers_round_trip_byte_for_byte_including_chinese_and_empty_values():
    headers = (("content-type", b"application/cloudevents+json"), ("来源", "钉钉".encode()), ("empty", b""))
    assert decode_headers(encode_headers(headers)) == headers
    assert encode_headers(()) is None and decode_headers(None) == ()


def test_truncated_headers_are_refused():
    with pytest.raises(ValueError):
        decode_headers(encode_headers([("k", b"value")])[:-2])


def test_a_key_always_maps_to_the_same_partition_and_no_key_to_partition_zero():
    assert partition_for(b"qq:7001", 6) == partition_for(b"qq:7001", 6)
    assert {partition_for(f"qq:{g}".encode(), 6) for g in range(100)} == set(range(6))
    assert partition_for(None, 6) == 0
