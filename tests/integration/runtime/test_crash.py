"""SIGKILL a worker at random points while events flow: after restart nothing is lost or doubled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from contracts.envelope import decode
from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.settings import Settings
from tests.integration.runtime import toy_service
from tests.integration.runtime.test_worker import ids, message, publish, read_all
from tests.integration.runtime.toy_service import ToyCount

pytestmark = pytest.mark.integration
TOY = Path(toy_service.__file__)


def start(target: str, db_url: str, group: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(TOY), target, db_url, group],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})


def wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("backend", ["embedded", "kafka"])
def test_sigkill_at_random_points_loses_nothing_and_applies_nothing_twice(backend, tmp_path, db_url, request):
    if backend == "kafka":
        target = request.getfixturevalue("kafka_bootstrap")
        settings = Settings(eventlog="kafka", kafka_bootstrap=target)
    else:
        target = str(tmp_path / "eventlog.db")
        settings = Settings(eventlog="embedded", eventlog_path=Path(target))
    log = open_log(settings)
    log.create_topics()
    tag, n, kills = uuid.uuid4().hex[:10], 600, 4
    group = f"toy-{tag}"
    engine = make_engine(db_url)
    toy_service.build(log, db_url, group).create_tables()
    rng = random.Random(tag)

    def feed() -> None:
        for start_i in range(0, n, 50):
            publish(log, [message(tag, i) for i in range(start_i, start_i + 50)])
            time.sleep(0.05)

    feeder = threading.Thread(target=feed)
    feeder.start()
    proc = start(target, db_url, group)
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = start(target, db_url, group)
    feeder.join()

    wanted = ids(tag, *range(n))

    def applied() -> dict[str, int]:
        with Session(engine) as s:
            return {r.event_id: r.applied for r in s.scalars(select(ToyCount)) if r.event_id in wanted}

    try:
        assert wait_until(lambda: len(applied()) == n, 90), f"only {len(applied())}/{n} applied"
        assert set(applied().values()) == {1}, "an event was applied twice"

        def emitted() -> set[str]:
            return {decode(r.value).causation for r in read_all(log, "qg.violations.v1", f"check-{uuid.uuid4().hex}")}
        assert wait_until(lambda: wanted <= emitted(), 60), "a derived event was lost"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode in (0, -signal.SIGTERM), proc.stderr.read().decode()[-2000:]
