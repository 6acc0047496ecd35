"""The process harness of the end-to-end suite: the four services as separate OS processes.

Why not ``qg up`` itself: the fault tests must SIGKILL *one* worker, keep another stopped while
``qg rebuild`` runs, and publish clock ticks at chosen instants. ``qg up``'s supervisor restarts
whatever exits, so the harness starts the very same children ``qg up`` plans
(:func:`services.cli.up.plan`: ``python -m services.cli serve|work <svc>``) with the same shared
environment, and supervises them itself. The clock child is left out on purpose: ticks are
published by the test (:meth:`System.tick`) so SLA timers fire at instants the test knows.

A :class:`System` runs in a temporary data dir, on free ports, with a known admin token (only its
sha256 hash is configured, as operators do), the platforms' signing secrets set, and either the
embedded log + SQLite files, or a Kafka-protocol broker (a fresh Tansu per system, so topic names
and consumer groups never meet another system's) + one PostgreSQL database per service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import hash_token
from services.common.settings import SERVICES, Settings

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "qg_e2e_admin_6d1f0c2b9a8e4f7d"
SECRETS = {"QG_ONEBOT_SECRET": "napcat-e2e-secret", "QG_DINGTALK_APP_SECRET": "dingtalk-e2e-app-secret",
           "QG_FEISHU_VERIFICATION_TOKEN": "feishu-e2e-verification-token"}
COMBOS = {"embedded-sqlite": ("embedded", "sqlite"), "kafka-postgresql": ("kafka", "postgresql"),
          "embedded-postgresql": ("embedded", "postgresql")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def topics_of(service: str) -> list[str]:
    """The topics a service's worker consumes, from its routing table (as ``Worker`` computes them)."""
    if service == "ingest":
        from services.ingest.enforcement.handlers import ROUTES
    else:
        ROUTES = __import__(f"services.{service}.handlers", fromlist=["ROUTES"]).ROUTES
    return sorted({p.topic.name for p in ROUTES})


@dataclass
class System:
    """Four APIs and four workers as child processes; see the module docstring."""

    root: Path
    backend: str = "embedded"
    database: str = "sqlite"
    kafka: str | None = None
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = self.root / "var"
        self.logs = self.root / "logs"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.ports = {s: free_port() for s in SERVICES}

    # -- configuration ------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QG_")}
        env.update({"QG_DATA_DIR": str(self.data_dir), "QG_TOKENS": f"{hash_token(ADMIN_TOKEN)}:admin:e2e-admin",
                    "QG_SERVICE_TOKEN": ADMIN_TOKEN, "QG_LOG_LEVEL": "WARNING", "QG_WEBHOOK_MAX_AGE_S": "864000",
                    "QG_ENFORCEMENT_MAX_ATTEMPTS": "1", "PYTHONUNBUFFERED": "1", **SECRETS})
        for s in SERVICES:
            env[f"QG_{s.upper()}_PORT"] = str(self.ports[s])
            env[f"QG_{s.upper()}_URL"] = self.url(s)
            if s in self.database_urls:
                env[f"QG_{s.upper()}_DATABASE_URL"] = self.database_urls[s]
        if self.backend == "kafka":
            # Tansu waits out max_poll_interval in a rebalance: short, but far above a batch's time.
            env.update(QG_EVENTLOG="kafka", QG_KAFKA_BOOTSTRAP=str(self.kafka), QG_KAFKA_MAX_POLL_INTERVAL_MS="30000")
        env.update(self.extra_env)
        return env

    def settings(self) -> Settings:
        """The same configuration, for code the test runs in-process (rebuild, the log, digests)."""
        values: dict[str, Any] = {"data_dir": self.data_dir, "eventlog": self.backend, "kafka_bootstrap": self.kafka,
                                  "tokens": "", "service_token": ADMIN_TOKEN}
        values.update({f"{s}_database_url": u for s, u in self.database_urls.items()})
        return Settings(_env_file=None, **values)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def urls(self) -> dict[str, str]:
        return {s: self.url(s) for s in SERVICES}

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=timeout)

    # -- children -----------------------------------------------------------------------------
    @staticmethod
    def argv(name: str) -> list[str]:
        service, part = name.rsplit("-", 1)
        return [sys.executable, "-m", "services.cli", "serve" if part == "api" else "work", service]

    def start(self, name: str) -> None:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.procs[name] = subprocess.Popen(self.argv(name), env=self.env, cwd=REPO, stdout=out, stderr=out,
                                            start_new_session=True)
        out.close()

    def start_all(self) -> None:
        self.create_topics()
        for s in SERVICES:
            self.start(f"{s}-api")
        self.wait_ready()
        for s in SERVICES:
            self.start(f"{s}-worker")

    def create_topics(self) -> None:
        event_log = self.open_log()
        try:
            event_log.create_topics()
        finally:
            event_log.close()

    def kill(self, name: str) -> None:
        """SIGKILL the child's whole process group: no shutdown hook, no drain, no final commit."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, name: str, grace_s: float = 20.0) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill(name)

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def shutdown(self) -> None:
        for name in list(self.procs):
            with contextlib.suppress(ProcessLookupError):
                if self.alive(name):
                    os.killpg(self.procs[name].pid, signal.SIGTERM)
        for name in list(self.procs):
            try:
                self.procs[name].wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def wait_ready(self, services: tuple[str, ...] = SERVICES, timeout_s: float = 60.0) -> None:
        """Every API answers /healthz and /readyz with 200 (fails with the child's log tail)."""
        deadline = time.monotonic() + timeout_s
        pending = list(services)
        with httpx.Client(timeout=3) as http:
            while pending:
                s = pending[0]
                try:
                    if (http.get(self.url(s) + "/healthz").status_code == 200
                            and http.get(self.url(s) + "/readyz").status_code == 200):
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                if self.procs.get(f"{s}-api") and not self.alive(f"{s}-api") or time.monotonic() > deadline:
                    pytest.fail(f"{s} API not ready:\n{self.tail(s + '-api')}", pytrace=False)
                time.sleep(0.2)

    def tail(self, name: str, n: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else "(no log)"

    # -- the event log, from the test ---------------------------------------------------------
    def open_log(self) -> Any:
        from services.common.eventlog import open_log

        return open_log(self.settings())

    def publish(self, events: list[Any]) -> None:
        """Append envelopes (``CloudEvent``) to their topics, as a producer elsewhere would."""
        from contracts.envelope import CONTENT_TYPE

        event_log = self.open_log()
        producer = event_log.producer()
        try:
            for ev in events:
                topic = ev.payload().topic.name
                producer.publish(topic, ev.key, ev.to_bytes(), headers=[("content-type", CONTENT_TYPE.encode())])
            producer.flush()
        finally:
            producer.close()
            event_log.close()

    def publish_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        event_log = self.open_log()
        producer = event_log.producer()
        try:
            producer.publish(topic, key, value)
            producer.flush()
        finally:
            producer.close()
            event_log.close()

    def tick(self, at: datetime) -> None:
        """A ``ClockTicked`` at ``at`` (what ``qg clock`` appends every interval)."""
        from services.cli.run import tick_event

        self.publish([tick_event(at.astimezone(UTC))])

    def offsets(self) -> tuple[dict[tuple[str, int], int], dict[str, int]]:
        """(end offset per topic-partition, lag per worker group) — read without joining any group."""
        groups = {s: topics_of(s) for s in SERVICES}
        if self.backend == "embedded":
            conn = sqlite3.connect(f"file:{self.settings().log_path()}?mode=ro", uri=True, timeout=10)
            try:
                ends = {(t, p): n for t, p, n in conn.execute("SELECT topic, partition, next_offset FROM partitions")}
                done = {(g, t, p): n for g, t, p, n in conn.execute(
                    "SELECT grp, topic, partition, next_offset FROM group_offsets")}
            finally:
                conn.close()
        else:
            ends, done = _kafka_offsets(str(self.kafka), groups)
        lag = {g: sum(n - done.get((g, t, p), 0) for (t, p), n in ends.items() if t in topics) for g, topics in
               groups.items()}
        return ends, lag

    def wait_idle(self, timeout_s: float = 180.0, quiet_s: float = 1.5) -> float:
        """Until every worker's lag is 0 and no topic grew for ``quiet_s`` (outboxes drained too,
        since a pending outbox row would be published and move an end offset). Returns seconds."""
        started = time.monotonic()
        last, since = None, time.monotonic()
        while True:
            ends, lag = self.offsets()
            if ends != last or any(lag.values()):
                last, since = ends, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                dead = [n for n in self.procs if not self.alive(n)]
                pytest.fail(f"pipeline not idle after {timeout_s:.0f} s: lag {lag}; exited children {dead}",
                            pytrace=False)
            time.sleep(0.25)


def _kafka_offsets(bootstrap: str, groups: dict[str, list[str]]) -> tuple[dict[tuple[str, int], int],
                                                                           dict[tuple[str, str, int], int]]:
    """End offsets (confirmed as the event log confirms them) and each group's committed offsets,
    read without joining any group."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    from services.common.eventlog.kafka_consumer import confirmed_end_offsets

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="qg-e2e-probe")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="qg-e2e-probe", enable_auto_commit=False)
    probes: list[Any] = []

    def probe() -> Any:
        probes.append(KafkaConsumer(bootstrap_servers=bootstrap, client_id="qg-e2e-probe", enable_auto_commit=False))
        return probes[-1]

    try:
        tps = [TopicPartition(t, p) for t in consumer.topics() if t.startswith("qg.")
               for p in consumer.partitions_for_topic(t) or ()]
        ends = {(tp.topic, tp.partition): n for tp, n in confirmed_end_offsets(consumer, probe, tps, 10).items()}
        done: dict[tuple[str, str, int], int] = {}
        for g, topics in groups.items():
            mine = [tp for tp in tps if tp.topic in topics]
            for tp, meta in admin.list_group_offsets({g: mine}).get(g, {}).items():
                done[(g, tp.topic, tp.partition)] = max(meta.offset, 0)
        return ends, done
    finally:
        for c in probes:
            c.close()
        consumer.close()
        admin.close()


# -- PostgreSQL: one database per service -------------------------------------------------------
def _create_databases(base_url: str, tag: str) -> tuple[dict[str, str], list[str]]:
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.conftest import _libpq

    urls, names = {}, []
    with psycopg.connect(_libpq(base_url), autocommit=True) as conn:
        for s in SERVICES:
            name = f"qg_e2e_{tag}_{s}"
            conn.execute(f'CREATE DATABASE "{name}"')
            names.append(name)
            urls[s] = make_url(base_url).set(database=name, drivername="postgresql+psycopg").render_as_string(
                hide_password=False)
    return urls, names


def _drop_databases(base_url: str, names: list[str]) -> None:
    import psycopg

    from tests.conftest import _libpq

    with psycopg.connect(_libpq(base_url), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_system(request: pytest.FixtureRequest, root: Path, combo: str, **kw: Any) -> Iterator[System]:
    """A started :class:`System` for ``combo`` (``embedded-sqlite`` | ``kafka-postgresql``), torn down after."""
    backend, database = COMBOS[combo]
    with contextlib.ExitStack() as stack:
        kafka = None
        if backend == "kafka":
            from services.common.eventlog.tansu import TansuBroker

            broker = TansuBroker(log_file=root / "tansu.log")
            broker.start()
            stack.callback(broker.stop)
            kafka = broker.bootstrap
        urls: dict[str, str] = {}
        if database == "postgresql":
            base = request.getfixturevalue("postgres_url")
            urls, names = _create_databases(base, uuid.uuid4().hex[:8])
            stack.callback(_drop_databases, base, names)
        system = System(root, backend, database, kafka, urls, **kw)
        stack.callback(system.shutdown)
        system.start_all()
        yield system


def e2e_combos() -> list[Any]:
    """Both: the embedded log + SQLite (one machine) and Kafka (a local Tansu) + PostgreSQL (production)."""
    return [pytest.param(c, id=c) for c in ("embedded-sqlite", "kafka-postgresql")]


@pytest.fixture
def system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    """An empty running system on embedded + SQLite (for tests that need just one, fresh)."""
    with running_system(request, tmp_path, "embedded-sqlite") as s:
        yield s
