"""The enforcement handler on the real worker runtime: embedded log, SQLite, local platform fakes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from contracts.enforcement import EnforcementFailed, EnforcementSucceeded
from contracts.envelope import decode, new_event
from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.settings import Settings
from services.common.worker import Context, Worker
from services.ingest.enforcement.clients import build_clients
from services.ingest.enforcement.executor import outcome_id
from services.ingest.enforcement.handlers import EnforcementHandler
from tests.integration.enforcement.conftest import FAST, NOTICE, T0, command

pytestmark = pytest.mark.integration


@pytest.fixture
def runtime(tmp_path: Path, settings: Settings):
    log = open_log(Settings(eventlog="embedded", eventlog_path=tmp_path / "eventlog.db"))
    log.create_topics()
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    with httpx.Client(timeout=2.0) as http:
        handler = EnforcementHandler(build_clients(settings, http), FAST, sleep=lambda s: None)
        worker = Worker("ingest-enforcement", log, engine, {type(command("qq", "notice", "1")): handler})
        worker.create_tables()
        yield worker
    log.close()


def requested(cmd):
    return new_event(cmd, id=f"evt-{cmd.command_id}", source="qunguard/penalties", time=T0)


def process(worker: Worker, *events) -> list:
    producer = worker.log.producer()
    for ev in events:
        producer.publish("qg.enforcement.v1", ev.key, ev.to_bytes())
    producer.flush()
    producer.close()
    consumer = worker.log.consumer(worker.name, worker.topics)
    try:
        while worker.run_once(consumer, timeout_s=0.3):
            pass
    finally:
        consumer.close()
    worker.relay.drain()
    reader = worker.log.consumer("test-reader", ["qg.enforcement.v1"])
    try:
        reader.seek_to_beginning()
        out = []
        while batch := reader.poll(0.3, 1000):
            out.extend(decode(r.value) for r in batch)
    finally:
        reader.close()
    return [e for e in out if e.type != "qunguard.enforcement.requested.v1"]


def test_a_requested_notice_is_posted_once_and_its_success_is_emitted_with_a_derived_id(runtime, fakes):
    cmd = command("qq", "notice", "734561290", text=NOTICE, command_id="cmd-0921-001")
    ev = requested(cmd)
    outcomes = process(runtime, ev, ev)  # the same event delivered twice
    assert len(fakes["qq"].calls("/send_group_msg")) == 1
    assert [o.id for o in outcomes] == [outcome_id("cmd-0921-001")]
    outcome = outcomes[0].payload()
    assert isinstance(outcome, EnforcementSucceeded) and outcome.command_id == "cmd-0921-001"
    assert outcomes[0].causation_ids == [ev.id]


def test_an_unsupported_command_emits_a_failure_instead_of_dead_lettering(runtime, fakes):
    cmd = command("feishu", "mute", "oc_a0553eda9014c201e6969b478895c230",
                  user_id="ou_7d8a6e6df7621556ce0d21922b676706ccs", duration_s=600, command_id="cmd-0921-002")
    outcomes = process(runtime, requested(cmd))
    assert len(outcomes) == 1 and outcomes[0].type == "qunguard.enforcement.failed.v1"
    outcome = outcomes[0].payload()
    assert isinstance(outcome, EnforcementFailed) and outcome.unsupported
    assert fakes["feishu"].requests == []


def test_rebuilding_from_the_log_never_calls_a_platform_again(settings, fakes):
    cmd = command("qq", "remove", "734561290", user_id="2854196310", command_id="cmd-0921-003")
    with httpx.Client(timeout=2.0) as http:
        handler = EnforcementHandler(build_clients(settings, http), FAST, sleep=lambda s: None)
        ctx = Context(session=None, event=requested(cmd), source="qunguard/ingest", rebuilding=True)
        handler(ctx, cmd)
    assert fakes["qq"].requests == [] and ctx.emitted == []


def test_the_ingest_worker_built_from_settings_carries_out_enforcement(tmp_path, settings, fakes):
    from services.ingest.worker import build_worker
    worker = build_worker(settings.model_copy(update={"data_dir": tmp_path, "eventlog": "embedded",
                                                      "eventlog_path": tmp_path / "eventlog.db"}))
    worker.log.create_topics()
    worker.create_tables()
    cmd = command("wecom", "notice", "CHAT_SALES_01", text=NOTICE, command_id="cmd-0921-004")
    try:
        outcomes = process(worker, requested(cmd))
    finally:
        worker.log.close()
    assert [o.type for o in outcomes] == ["qunguard.enforcement.succeeded.v1"]
    assert outcomes[0].source == "qunguard/ingest"
    assert fakes["wecom"].calls("/cgi-bin/appchat/send")[0].body["text"]["content"] == NOTICE
