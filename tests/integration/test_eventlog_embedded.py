"""Embedded-log guarantees beyond the shared contract: several processes, dead members, commits."""

from __future__ import annotations

import multiprocessing
import time
from collections import defaultdict
from pathlib import Path

import pytest

from services.common.eventlog.embedded import EmbeddedLog

pytestmark = pytest.mark.integration
CHAT = "qg.chat.v1"


def append_from_process(path: str, proc: int, batches: int, per_batch: int) -> None:
    """Run in a child process: append ``batches`` flushes of ``per_batch`` records each."""
    log = EmbeddedLog(path)
    producer = log.producer()
    for b in range(batches):
        for i in range(per_batch):
            seq = b * per_batch + i
            producer.publish(CHAT, f"proc{proc}:群{seq % 5}".encode(), f"{proc}:{seq}".encode())
        producer.flush()
    producer.close()


def test_three_processes_appending_at_once_lose_and_duplicate_no_offset(tmp_path: Path):
    path = str(tmp_path / "eventlog.db")
    EmbeddedLog(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=append_from_process, args=(path, n, 10, 30)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    log = EmbeddedLog(path)
    consumer = log.consumer("audit", [CHAT])
    records = []
    while batch := consumer.poll(0.2, 1000):
        records += batch
    ends = consumer.end_offsets()
    consumer.close()
    assert len(records) == 900
    offsets = defaultdict(list)
    for r in records:
        offsets[r.partition].append(r.offset)
    assert all(sorted(o) == list(range(len(o))) for o in offsets.values())
    assert sum(ends.values()) == 900
    values = [r.value.decode() for r in records]
    assert len(set(values)) == 900
    per_key = defaultdict(list)
    for r in records:
        per_key[r.key].append(int(r.value.decode().split(":")[1]))
    assert all(seqs == sorted(seqs) for seqs in per_key.values())


def test_a_silent_member_loses_its_partitions_after_the_lease_and_its_late_commit_is_refused(tmp_path: Path):
    log = EmbeddedLog(tmp_path / "eventlog.db", lease_s=1.0)
    producer = log.producer()
    for i in range(30):
        producer.publish(CHAT, f"wecom:wr{i % 6}".encode(), f"消息{i}".encode())
    producer.flush()
    stuck = log.consumer("rules", [CHAT])
    first = stuck.poll(0.5, 10)
    stuck.commit()
    assert len(stuck.assignment()) == 6
    survivor = log.consumer("rules", [CHAT])
    assert survivor.poll(0.3) == []  # the stuck member still holds everything
    started = time.monotonic()
    rest = []
    while len(rest) < 20 and time.monotonic() - started < 5:
        rest += survivor.poll(0.2)
    waited = time.monotonic() - started
    assert len(rest) == 20 and len(survivor.assignment()) == 6
    assert 0.5 < waited < 4
    assert {r.value for r in rest}.isdisjoint({r.value for r in first})
    before = survivor.committed()
    stuck.commit({tp: 30 for tp in before})  # the stuck member wakes up late: refused
    assert survivor.committed() == before
    survivor.close()


def test_a_closing_member_hands_its_partitions_over_at_once(tmp_path: Path):
    log = EmbeddedLog(tmp_path / "eventlog.db", lease_s=30)
    a, b = log.consumer("ingest", [CHAT]), log.consumer("ingest", [CHAT])
    for _ in range(3):
        a.poll(0.05)
        b.poll(0.05)
    assert len(a.assignment()) == 3 and len(b.assignment()) == 3
    a.close()
    b.poll(0.1)
    assert len(b.assignment()) == 6
    b.close()


def test_a_seek_asked_before_any_partition_is_owned_applies_when_they_arrive(tmp_path: Path):
    log = EmbeddedLog(tmp_path / "eventlog.db", lease_s=30)
    producer = log.producer()
    for i in range(6):
        producer.publish(CHAT, f"qq:{i}".encode(), f"{i}".encode())
    producer.flush()
    holder = log.consumer("rules", [CHAT])
    holder.poll(0.1)
    holder.commit()
    late = log.consumer("rules", [CHAT])
    assert not late.assignment()
    late.seek_to_beginning()  # nothing owned yet: remembered
    holder.poll(0.05)  # the holder releases half
    got = late.poll(1.0)
    mine = late.assignment()
    ends = late.end_offsets()
    assert len(mine) == 3 and sum(ends[tp] for tp in mine) > 0
    assert len(got) == sum(ends[tp] for tp in mine)  # replayed although the group committed them
    holder.close()
    late.close()
