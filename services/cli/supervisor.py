"""Keeps a set of child processes running on one machine: what ``qg up`` is made of.

Why our own supervisor rather than systemd or honcho: ``qg up`` must work on a fresh laptop with only
the package installed. The contract is small:

- every child starts in its own session (process group), so a terminal's Ctrl-C reaches only the
  supervisor, which then stops children in order instead of racing them into restarts;
- a child that exits while we are not stopping is restarted after a backoff that doubles on each
  quick failure (``initial`` … ``maximum``) and resets once the child has stayed up ``stable_s``;
- ``shutdown`` sends SIGTERM to every child's group, waits up to ``grace_s``, then SIGKILLs the rest.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    maximum_s: float = 30.0
    stable_s: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait before restart number ``failures`` (1-based) of a quickly failing child."""
        return min(self.maximum_s, self.initial_s * 2 ** max(0, failures - 1))


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0
    exit_codes: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(self, specs: Sequence[ChildSpec], *, backoff: Backoff = Backoff(), grace_s: float = 10.0,
                 say: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic) -> None:
        self.children = [Child(spec) for spec in specs]
        self.backoff = backoff
        self.grace_s = grace_s
        self.say = say
        self.clock = clock
        self.stopping = False

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        env = {**os.environ, **(child.spec.env or {})}
        child.process = subprocess.Popen(list(child.spec.argv), env=env, start_new_session=True)
        child.started_at = self.clock()
        child.restart_at = None
        log.info("started %s (pid %s)", child.spec.name, child.process.pid)

    def poll(self) -> None:
        """Notice exited children and restart those whose backoff has elapsed. Call it often."""
        now = self.clock()
        for child in self.children:
            if child.process is not None and child.restart_at is None:
                code = child.process.poll()
                if code is None or self.stopping:
                    continue
                child.exit_codes.append(code)
                up_for = now - child.started_at
                child.failures = 1 if up_for >= self.backoff.stable_s else child.failures + 1
                delay = self.backoff.delay(child.failures)
                child.restart_at = now + delay
                self.say(f"{child.spec.name} 退出 exit={code}，{delay:.1f}s 后重启 / exited, restarting")
            elif child.restart_at is not None and now >= child.restart_at and not self.stopping:
                child.restarts += 1
                self._spawn(child)

    def run(self, stop: threading.Event, tick_s: float = 0.2) -> None:
        """Start, supervise until ``stop`` is set, then shut down."""
        self.start()
        try:
            while not stop.wait(tick_s):
                self.poll()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """SIGTERM every running child's process group, wait ``grace_s``, SIGKILL what is left."""
        self.stopping = True
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            _signal_group(child.process, signal.SIGTERM)
        deadline = self.clock() + self.grace_s
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.spec.name} 未在 {self.grace_s:.0f}s 内退出，强制结束 / killed")
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()


def _signal_group(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
