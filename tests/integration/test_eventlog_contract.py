"""The event-log contract (services/common/eventlog/base.py), run unchanged on both engines.

Every test runs twice through the ``log`` fixture: on the embedded SQLite log and on a real
Kafka-protocol broker. Values are real CloudEvents of chat messages from Chinese work groups, so a
test also proves bytes (UTF-8 text, headers) come back untouched.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts import topics
from contracts.chat import MessagePosted
from contracts.deadletter import RecordDeadLettered
from contracts.envelope import decode, new_event
from contracts.ids import platform_event_id
from services.common.eventlog.base import Consumer, EventLog, Record, TopicPartition
from tests.conftest import make_kafka_log

pytestmark = pytest.mark.integration

CHAT = topics.CHAT.name
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=CST)
GROUPS = ["qq:7001", "dingtalk:cid8a3f", "wecom:wrOgQhDgAA", "feishu:oc_5ad11"]
LINES = ["各位同事早上好，今天下午三点在三楼会议室开周会", "收到", "请大家按时提交周报，谢谢配合",
         "【通知】国庆节假期安排见附件", "好的，马上处理"]


def chat_event(group: str, seq: int) -> bytes:
    """One chat message in ``group``; ``seq`` is its position in that group's conversation."""
    platform, group_id = group.split(":", 1)
    pid = f"{group_id}-{seq}"
    payload = MessagePosted(platform=platform, group_id=group_id, platform_event_id=pid, message_id=pid,
                            occurred_at=T0 + timedelta(seconds=seq), user_id=f"u{seq % 5}",
                            nickname="张伟" if seq % 2 else "李娜", text=LINES[seq % len(LINES)])
    return new_event(payload, id=platform_event_id(platform, pid), source="qunguard/ingest/test",
                     time=payload.occurred_at).to_bytes()


def seq_of(record: Record) -> int:
    return int(decode(record.value).data["message_id"].rsplit("-", 1)[1])


def publish(log: EventLog, items: list[tuple[str, int]], topic: str = CHAT) -> None:
    """Publish ``(group, seq)`` chat events in list order, then flush once."""
    producer = log.producer()
    try:
        for group, seq in items:
            producer.publish(topic, group.encode(), chat_event(group, seq),
                             headers=[("content-type", b"application/cloudevents+json"), ("seq", str(seq).encode())])
        producer.flush()
    finally:
        producer.close()


def interleaved(n_per_group: int, start: int = 0, groups: list[str] = GROUPS) -> list[tuple[str, int]]:
    return [(g, s) for s in range(start, start + n_per_group) for g in groups]


def read(consumer: Consumer, count: int, timeout_s: float = 20.0, idle_s: float = 0.0) -> list[Record]:
    """Poll until ``count`` records arrived (then ``idle_s`` more, to catch extras) or time is up."""
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < count and time.monotonic() < deadline:
        out += consumer.poll(0.2, 1000)
    quiet_until = time.monotonic() + idle_s
    while time.monotonic() < quiet_until:
        out += consumer.poll(0.1, 1000)
    return out


def keyed(records: list[Record]) -> dict[bytes, list[int]]:
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for r in records:
        by_key[r.key or b""].append(seq_of(r))
    return by_key


def test_records_with_one_key_come_back_in_publish_order_in_one_partition(log):
    publish(log, interleaved(15))
    consumer = log.consumer("order-check", [CHAT])
    try:
        records = read(consumer, 60)
    finally:
        consumer.close()
    assert len(records) == 60
    for key, seqs in keyed(records).items():
        assert seqs == list(range(15)), key
    partitions = defaultdict(set)
    for r in records:
        partitions[r.key].add(r.partition)
    assert all(len(p) == 1 for p in partitions.values())
    first = records[0]
    assert dict(first.headers)["content-type"] == b"application/cloudevents+json"
    assert decode(first.value).data["text"] in LINES
    assert first.topic == CHAT and first.timestamp_ms > 0


def test_a_new_member_of_the_group_resumes_after_the_committed_offset(log):
    publish(log, interleaved(5))
    first = log.consumer("rules", [CHAT])
    try:
        seen = read(first, 20)
        first.commit()
    finally:
        first.close()
    publish(log, interleaved(3, start=5))
    second = log.consumer("rules", [CHAT])
    try:
        resumed = read(second, 12, idle_s=0.5)
    finally:
        second.close()
    assert len(seen) == 20
    assert sorted(seq_of(r) for r in resumed) == sorted(list(range(5, 8)) * 4)


def test_records_read_but_not_committed_are_delivered_again_after_the_consumer_closes(log):
    group = GROUPS[0]
    publish(log, [(group, s) for s in range(12)])
    first = log.consumer("penalties", [CHAT])
    try:
        seen = read(first, 12)
        sixth = seen[5]
        first.commit({TopicPartition(sixth.topic, sixth.partition): sixth.offset + 1})
    finally:
        first.close()
    second = log.consumer("penalties", [CHAT])
    try:
        again = read(second, 6, idle_s=0.5)
    finally:
        second.close()
    assert [seq_of(r) for r in seen] == list(range(12))
    assert [seq_of(r) for r in again] == list(range(6, 12))


def test_seek_to_beginning_replays_everything_even_what_the_group_committed(log):
    publish(log, interleaved(4))
    first = log.consumer("rebuild", [CHAT])
    try:
        read(first, 16)
        first.commit()
    finally:
        first.close()
    second = log.consumer("rebuild", [CHAT])
    try:
        second.seek_to_beginning()
        replayed = read(second, 16, idle_s=0.3)
    finally:
        second.close()
    assert {k: sorted(v) for k, v in keyed(replayed).items()} == {g.encode(): list(range(4)) for g in GROUPS}


def test_members_of_one_group_split_the_partitions_and_together_see_each_record_once(log):
    members: list[Consumer | None] = [None, None]
    seen: list[list[Record]] = [[], []]
    owned: list[set[int]] = [set(), set()]
    stop = threading.Event()

    def run(i: int) -> None:
        members[i] = log.consumer("roster", [CHAT])  # each member lives in its own thread, as in a service
        while not stop.is_set():
            batch = members[i].poll(0.1, 100)
            seen[i] += batch
            owned[i] |= {r.partition for r in batch}
            if batch:
                members[i].commit()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while not all(m and m.assignment() for m in members) or sum(len(m.assignment()) for m in members) != 6:
            assert time.monotonic() < deadline, "the group never settled on a split"
            time.sleep(0.05)
        groups = [f"qq:{7000 + g}" for g in range(24)]
        publish(log, interleaved(5, groups=groups))
        while sum(map(len, seen)) < 120 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
        for m in members:
            if m is not None:
                m.close()
    ids = [(r.key, seq_of(r)) for batch in seen for r in batch]
    assert len(ids) == 120 and len(set(ids)) == 120
    assert seen[0] and seen[1]
    assert not owned[0] & owned[1]


def test_seek_to_time_starts_at_the_first_record_at_or_after_that_time(log):
    publish(log, interleaved(3))
    time.sleep(0.05)
    cut = datetime.now(UTC)
    time.sleep(0.05)
    publish(log, interleaved(2, start=3))
    consumer = log.consumer("audit", [CHAT])
    try:
        consumer.seek_to_time(cut)
        after = read(consumer, 8, idle_s=0.3)
        consumer.seek_to_time(datetime.now(UTC) + timedelta(hours=1))
        nothing = consumer.poll(0.3)
    finally:
        consumer.close()
    assert sorted(seq_of(r) for r in after) == sorted([3, 4] * 4)
    assert all(r.timestamp_ms >= int(cut.timestamp() * 1000) for r in after)
    assert nothing == []


def test_end_offsets_and_lag_count_what_the_group_has_not_committed(log):
    publish(log, interleaved(5))
    consumer = log.consumer("lag-check", [CHAT])
    try:
        ends = consumer.end_offsets()
        assert set(ends) == {TopicPartition(CHAT, p) for p in range(topics.CHAT.partitions)}
        assert sum(ends.values()) == 20
        assert consumer.lag() == 20
        read(consumer, 20)
        consumer.commit()
        assert consumer.lag() == 0
        assert consumer.committed() == ends
        publish(log, interleaved(1, start=5, groups=GROUPS[:3]))
        assert consumer.lag() == 3
        assert sum(consumer.end_offsets().values()) == 23
    finally:
        consumer.close()


def reopen(log: EventLog) -> EventLog:
    """A second, independent handle on the same log (a restarted process would make one)."""
    from services.common.eventlog.embedded import EmbeddedLog
    from services.common.eventlog.kafka import KafkaLog

    if isinstance(log, EmbeddedLog):
        return EmbeddedLog(log.path, lease_s=log.lease_ms / 1000)
    assert isinstance(log, KafkaLog)
    return make_kafka_log(log.bootstrap, log.prefix)


def test_records_and_committed_offsets_survive_reopening_the_log(log):
    publish(log, interleaved(3))
    consumer = log.consumer("ingest", [CHAT])
    try:
        read(consumer, 12)
        consumer.commit()
    finally:
        consumer.close()
    log.close()
    again = reopen(log)
    try:
        assert again.create_topics() == []
        fresh = again.consumer("ingest", [CHAT])
        try:
            assert sum(fresh.committed().values()) == 12
            assert fresh.lag() == 0
            fresh.seek_to_beginning()
            assert len(read(fresh, 12, idle_s=0.2)) == 12
        finally:
            fresh.close()
    finally:
        again.close()


def test_a_dead_letter_is_published_to_the_deadletter_topic_and_reads_back_intact(log):
    bad = "不是合法的 CloudEvent {".encode()
    letter = RecordDeadLettered(
        consumer_group="rules", origin_topic=CHAT, origin_partition=3, origin_offset=41, key="qq:7001",
        value_base64=base64.b64encode(bad).decode(), reason="无法解析 / undecodable",
        error="EnvelopeError: not JSON", dead_lettered_at=T0)
    event = new_event(letter, id="dl-rules-qg.chat.v1-3-41", source="qunguard/rules", time=T0)
    producer = log.producer()
    try:
        producer.publish(topics.DEADLETTER.name, event.key, event.to_bytes())
        producer.flush()
    finally:
        producer.close()
    consumer = log.consumer("dlq-inspector", [topics.DEADLETTER.name])
    try:
        records = read(consumer, 1, idle_s=0.2)
    finally:
        consumer.close()
    assert len(records) == 1
    back = decode(records[0].value).payload()
    assert isinstance(back, RecordDeadLettered)
    assert back == letter and base64.b64decode(back.value_base64) == bad
    assert records[0].topic == topics.DEADLETTER.name and records[0].key == b"qq:7001"
