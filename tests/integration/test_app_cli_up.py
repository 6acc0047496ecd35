"""`qg up` and its supervisor run real child processes: restart what crashes, stop everything cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from services.cli.supervisor import Backoff, ChildSpec, Supervisor

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _wait_for(condition, timeout_s: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def test_crashed_child_is_restarted_with_backoff(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    child = ChildSpec("flaky-worker", _python(f"""
        import sys, time
        with open({str(starts)!r}, "a") as f: f.write("x")
        if len(open({str(starts)!r}).read()) < 3: sys.exit(3)
        time.sleep(60)
    """))
    messages: list[str] = []
    supervisor = Supervisor([child], backoff=Backoff(initial_s=0.05, maximum_s=0.2), grace_s=2,
                            say=messages.append)
    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop, 0.02))
    thread.start()
    try:
        _wait_for(lambda: starts.exists() and len(starts.read_text()) == 3, what="third start")
        time.sleep(0.3)
        state = supervisor.children[0]
        assert state.exit_codes == [3, 3] and state.restarts == 2
        assert state.process is not None and state.process.poll() is None
        assert any("flaky-worker" in m and "exit=3" in m for m in messages)
    finally:
        stop.set()
        thread.join(10)
    assert supervisor.children[0].process.poll() is not None


def test_shutdown_sends_sigterm_then_kills_what_ignores_it(tmp_path: Path) -> None:
    marker = tmp_path / "terminated"
    polite = ChildSpec("api", _python(f"""
        import signal, sys, time
        def bye(*_):
            open({str(marker)!r}, "w").write("bye"); sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("ready", flush=True)
        time.sleep(60)
    """))
    stubborn = ChildSpec("stuck", _python("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
    """))
    supervisor = Supervisor([polite, stubborn], grace_s=0.5, say=lambda _: None)
    supervisor.start()
    time.sleep(0.5)
    started = time.monotonic()
    supervisor.shutdown()
    assert time.monotonic() - started < 5
    assert marker.read_text() == "bye"
    assert supervisor.children[0].process.returncode == 0
    assert supervisor.children[1].process.returncode == -signal.SIGKILL


FAKE_API = """
from fastapi import APIRouter
from services.common.app import build_app
from services.common.auth import require

def create_app(settings):
    router = APIRouter()

    @router.get("/whoami")
    def whoami(who=__import__("fastapi").Depends(require())):
        return {"name": who.name}

    return build_app("ingest", settings, [router])
"""
FAKE_WORKER = """
import os, signal, threading
from pathlib import Path

class FakeWorker:
    def __init__(self, settings):
        self.pidfile = Path(settings.data_dir) / "worker.pid"
    def run(self):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.pidfile.write_text(str(os.getpid()))
        stop.wait()

def build_worker(settings):
    return FakeWorker(settings)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_qg_up_serves_prints_a_first_admin_token_restarts_and_stops(tmp_path: Path) -> None:
    package = tmp_path / "qgfake"
    (package / "ingest").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "ingest" / "__init__.py").write_text("")
    (package / "ingest" / "api.py").write_text(FAKE_API)
    (package / "ingest" / "worker.py").write_text(FAKE_WORKER)
    port, data = _free_port(), tmp_path / "var"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "QG_DATA_DIR": str(data),
           "QG_INGEST_PORT": str(port), "QG_SERVICE_MODULE_PREFIX": "qgfake", "QG_LOG_LEVEL": "WARNING"}
    env.pop("QG_TOKENS_FILE", None)
    up = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "-s", "ingest", "--no-clock",
                           "--grace", "5", "--backoff-max", "0.5"], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(up.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        _wait_for(lambda: any("first admin token" in line for line in lines), what="token line")
        token = next(line for line in lines if "first admin token" in line).split()[-1]
        assert any(f"http://127.0.0.1:{port}" in line for line in lines)

        def whoami() -> bool:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/whoami",
                                             headers={"Authorization": f"Bearer {token}"})
            try:
                return urllib.request.urlopen(request, timeout=1).read() == b'{"name":"first-admin"}'
            except OSError:
                return False

        _wait_for(whoami, what="API answering with the printed admin token")
        assert token not in (data / "tokens").read_text()
        pidfile = data / "worker.pid"
        _wait_for(pidfile.exists, what="worker start")
        first_worker = int(pidfile.read_text())
        os.kill(first_worker, signal.SIGKILL)
        _wait_for(lambda: pidfile.read_text() != str(first_worker), what="worker restart")
        second_worker = int(pidfile.read_text())
        up.send_signal(signal.SIGTERM)
        assert up.wait(15) == 0
        assert not _alive(second_worker)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
