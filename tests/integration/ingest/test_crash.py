"""A SIGKILL of the ingest process mid-traffic loses no acknowledged event.

The API runs as a real process (uvicorn, embedded log, SQLite). Clients keep posting batches; the
process is killed with SIGKILL while requests are in flight; every batch that got a 202 before the
kill must be on the log. After a restart the clients retry what was never acknowledged (as
platforms do) and in the end every event is on the log, each answered once as new.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from contracts import topics
from services.common.auth import hash_token
from tests.integration.ingest.helpers import INGEST_TOKEN, bearer, dumps, generic_message, read_topic

pytestmark = pytest.mark.integration

BATCH = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "QG_DATA_DIR": str(data_dir), "QG_EVENTLOG": "embedded",
           "QG_TOKENS": f"{hash_token(INGEST_TOKEN)}:ingest:压测", "QG_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "services.ingest.api:create_app",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, cwd=Path(__file__).resolve().parents[3],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"ingest did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def test_sigkill_between_receipt_and_acknowledgement_loses_no_acknowledged_event(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/ingest/generic"
    batches = [[generic_message(b * BATCH + i, f"批次{b}·第{i}条 🚀") for i in range(BATCH)] for b in range(60)]
    acked: set[int] = set()
    failed_in_flight = threading.Event()
    stop = threading.Event()
    lock = threading.Lock()
    next_batch = iter(range(len(batches)))

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                with lock:
                    b = next(next_batch, None)
                if b is None:
                    return
                try:
                    answer = http.post(url, content=dumps({"events": batches[b]}), headers=bearer())
                except httpx.HTTPError:
                    failed_in_flight.set()
                    return
                if answer.status_code == 202:
                    with lock:
                        acked.add(b)

    proc = start(tmp_path, port)
    try:
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        while len(acked) < 5:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert failed_in_flight.is_set(), "the kill should have cut requests in flight"

    on_log = {e.data["platform_event_id"] for e in read_topic(tmp_path / "eventlog.db", topics.CHAT.name)}
    for b in acked:
        assert all(e["id"] in on_log for e in batches[b]), f"acknowledged batch {b} missing from the log"

    proc = start(tmp_path, port)  # platforms retry everything not acknowledged
    try:
        with httpx.Client(timeout=30) as http:
            retried = [http.post(url, content=dumps({"events": batches[b]}), headers=bearer()).json()
                       for b in range(len(batches)) if b not in acked]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    records = read_topic(tmp_path / "eventlog.db", topics.CHAT.name)
    every = {e["id"] for batch in batches for e in batch}
    assert {e.data["platform_event_id"] for e in records} == every
    assert all(r["accepted"] + r["duplicates"] == BATCH for r in retried)
