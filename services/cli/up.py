"""``qg up``: the whole system on one machine, as supervised child processes.

Children: for each service an API (``qg serve``) and a worker (``qg work``), plus the clock ticker.
They share one configuration passed by environment: the data directory (SQLite databases and the
embedded log under ``./var`` by default), the tokens file, and the event log choice (embedded, a
Kafka at ``--kafka HOST:PORT``, or ``--kafka local`` for a Tansu broker we start and stop).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from services.cli.supervisor import Backoff, ChildSpec, Supervisor
from services.common.auth import create_token, has_role

Say = Callable[[str], None]


def tokens_path(settings: Any) -> Path:
    return settings.tokens_file or settings.data_dir / "tokens"


def ensure_admin_token(path: Path) -> str | None:
    """Create a first admin token when the file has none; returns it (to print once) or None."""
    if has_role(path, "admin"):
        return None
    return create_token("first-admin", ["admin"], path)


def ensure_service_token(settings: Any) -> str:
    """The token services use to read each other's REST (penalties' audit chain reads ingest).

    Kept in ``DATA_DIR/service-token`` (0600) so restarts reuse it; its hash, with role ``auditor``
    (read-only), goes into the tokens file like any other token. A configured ``QG_SERVICE_TOKEN`` wins.
    """
    if settings.service_token:
        return settings.service_token
    secret = Path(settings.data_dir) / "service-token"
    if secret.exists():
        return secret.read_text("utf-8").strip()
    token = create_token("qunguard-services", ["auditor"], tokens_path(settings))
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def plan(services: Sequence[str], *, clock: bool = True) -> list[ChildSpec]:
    """The children of ``qg up``: each runs ``python -m services.cli …`` with the shared env."""
    qg = [sys.executable, "-m", "services.cli"]
    specs = []
    for service in services:
        specs.append(ChildSpec(f"{service}-api", [*qg, "serve", service]))
        specs.append(ChildSpec(f"{service}-worker", [*qg, "work", service]))
    if clock:
        specs.append(ChildSpec("clock", [*qg, "clock"]))
    return specs


def child_env(settings: Any, *, kafka: str | None, prefix: str) -> dict[str, str]:
    env = {
        "QG_DATA_DIR": str(Path(settings.data_dir).resolve()),
        "QG_TOKENS_FILE": str(tokens_path(settings).resolve()),
        "QG_SERVICE_MODULE_PREFIX": prefix,
    }
    if kafka:
        env.update(QG_EVENTLOG="kafka", QG_KAFKA_BOOTSTRAP=kafka)
    return env


def create_topics(settings: Any, say: Say) -> None:
    from services.cli.run import open_event_log

    try:
        event_log = open_event_log(settings)
    except ImportError as exc:
        say(f"警告：事件日志不可用，未建主题 / warning: event log unavailable, topics not created: {exc}")
        return
    try:
        created = event_log.create_topics()
    finally:
        event_log.close()
    if created:
        say("已创建主题 / topics created: " + ", ".join(created))


def run_up(settings: Any, services: Sequence[str], *, kafka: str | None, prefix: str,
           clock: bool, grace_s: float, backoff: Backoff, stop: threading.Event, say: Say) -> None:
    """Prepare (data dir, broker, topics, token), start the children, supervise until ``stop``."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if kafka == "local":
            from services.common.eventlog.tansu import TansuBroker

            broker = stack.enter_context(TansuBroker())
            kafka = broker.bootstrap
            say(f"本地 Kafka 协议代理（内存存储）/ local Tansu broker (memory storage): {kafka}")
        env = child_env(settings, kafka=kafka, prefix=prefix)
        env["QG_SERVICE_TOKEN"] = ensure_service_token(settings)
        shared = settings.model_copy(update={"eventlog": "kafka" if kafka else settings.eventlog,
                                             "kafka_bootstrap": kafka or settings.kafka_bootstrap})
        create_topics(shared, say)
        token = ensure_admin_token(tokens_path(settings))
        specs = [ChildSpec(s.name, s.argv, env) for s in plan(services, clock=clock)]
        for service in services:
            say(f"{service:<10} {settings.service_url(service)}  (docs: {settings.service_url(service)}/docs)")
        if token:
            say(f"首个管理员令牌（只显示这一次）/ first admin token (shown once): {token}")
        say(f"数据目录 / data: {Path(settings.data_dir).resolve()}   按 Ctrl-C 停止 / Ctrl-C to stop")
        Supervisor(specs, backoff=backoff, grace_s=grace_s, say=say).run(stop)
