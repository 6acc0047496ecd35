"""Database engines, the unit of work, and state digests.

One SQLite file per service on one machine (WAL, so the API and the worker of a service can share
it), PostgreSQL in production. Nothing here runs at import time: engines are made by a service's
composition root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, MetaData, Table, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, create_engine

SQLITE_BUSY_MS = 30_000
# The largest integer both SQLite and PostgreSQL bind (signed 64-bit). Paging parameters (offset)
# declare it as their bound, so a larger one is refused as input (422) instead of reaching the
# driver (OverflowError → 500).
MAX_SQL_INT = 2**63 - 1


def _json_dumps(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (state documents, payloads, ledger items) through orjson: the standard library's
# encoder was a tenth of the rules worker's write-through and its decoder a tenth of the penalties
# worker. Same values back; the stored text is compact UTF-8 instead of ASCII escapes, which only
# the database sees (digests are over decoded values).
_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False,
                                                              "timeout": SQLITE_BUSY_MS / 1000}, **_JSON)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10, **_JSON)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL under WAL: a committed transaction survives a process crash (SIGKILL); only a power
    # loss can drop the last transactions, and the log (the truth) lets us rebuild from it.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cur.close()


def create_tables(engine: Engine, tables: Iterable[Table]) -> None:
    """Create a service's own tables (the shared SQLModel metadata also holds other services')."""
    tables = list(tables)
    tables[0].metadata.create_all(engine, tables=tables)


def drop_tables(engine: Engine, tables: Iterable[Table]) -> None:
    tables = list(tables)
    if not tables:  # a service without projections (ingest's worker) has nothing to drop
        return
    tables[0].metadata.drop_all(engine, tables=tables)


class UnitOfWork(Session):
    """A session that keeps every row it loaded or wrote alive until it ends.

    SQLAlchemy's identity map holds unchanged rows *weakly*: once a handler returns and its row is
    flushed, nothing references it, it is collected, and the next record of the batch that looks up
    the same row (the same group, the same member) loads it again, autoflushing everything pending
    first. A worker applies a hundred records per transaction, most of them about a few groups and
    people, so that was two SELECTs and a flush per record (measured: 70 % of the roster worker's
    CPU). Holding the rows for the transaction's short life turns those look-ups into dictionary hits.
    """


def _hold(session: Session, instance: object) -> None:
    session.info.setdefault("held", []).append(instance)


event.listen(UnitOfWork, "loaded_as_persistent", _hold)
event.listen(UnitOfWork, "pending_to_persistent", _hold)

_IN_HAND = "qg_in_hand"  # session.info: rows this transaction holds, by (model, key); see get_unflushed
_ABSENT = object()       # in _IN_HAND: looked for by a batch query (hold), not in the database


def add_new(session: Session, row: object, key: object) -> None:
    """Add a new row so that :func:`get_unflushed` finds it before it is flushed."""
    session.add(row)
    session.info.setdefault(_IN_HAND, {})[(type(row), key)] = row


def hold(session: Session, model: type, keys: Iterable[object], found: dict[object, object]) -> None:
    """Remember what one query found for ``keys`` (``found``: key → row; the other keys do not exist),
    so :func:`get_unflushed` answers them without SQL: a worker loads a batch's rows in a query or two
    instead of one per record (roster's ``prefetch``)."""
    in_hand = session.info.setdefault(_IN_HAND, {})
    for key in keys:
        in_hand[(model, key)] = found.get(key, _ABSENT)


def load(session: Session, model: type, keys: Iterable[object], column: Any,
         key_of: Callable[[Any], object] | None = None) -> None:
    """Hold the rows of ``model`` whose ``column`` is among ``keys`` (those not in hand yet), a query
    per 500 keys, without flushing: rows this transaction changed are the identity map's, returned
    as they are. ``column`` is the key column, or a ``tuple_`` of them with ``key_of`` giving a row's key."""
    in_hand = session.info.setdefault(_IN_HAND, {})
    wanted = [key for key in dict.fromkeys(keys) if (model, key) not in in_hand]
    key_of = key_of or (lambda row: getattr(row, column.key))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        with session.no_autoflush:
            found = {key_of(row): row for row in session.scalars(select(model).where(column.in_(chunk)))}
        hold(session, model, chunk, found)


def get_unflushed(session: Session, model: type, key: object) -> Any:
    """``session.get`` without flushing the transaction's pending changes first.

    A new row is not in the identity map until flushed, so ``get`` must flush to find it: once per
    event, one by one, when a handler asks "is this sanction already here?" for every sanction it
    folds (half of the penalties rebuild), or "is this member known?" for every message (a third of
    the roster worker). Rows added through :func:`add_new` or loaded through :func:`hold` are answered
    in hand; any other row is in the identity map or in the database.
    """
    row = session.info.get(_IN_HAND, {}).get((model, key))
    if row is _ABSENT:
        return None
    if row is not None:
        return row
    with session.no_autoflush:
        return session.get(model, key)


@event.listens_for(OrmSession, "after_rollback")
def _forget_in_hand(session: OrmSession) -> None:
    """Rolled back, the rows in hand are gone from the session (new ones) or stale (loaded ones)."""
    session.info.pop(_IN_HAND, None)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """The unit of work: one transaction, committed once at the end, rolled back on any error.

    Repositories and handlers never commit; whoever opens the scope owns the transaction.
    """
    session = UnitOfWork(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Raise when the database cannot be reached (readiness check)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def state_digest(session: Session, tables: Iterable[Table], exclude: Iterable[str] = ()) -> str:
    """SHA-256 over every row of ``tables`` in primary-key order, as canonical JSON.

    Used to prove a rebuild from the log reproduces the state exactly; leave out columns that
    record processing time (``exclude``), since those legitimately differ between runs.
    """
    skip = set(exclude)
    digest = hashlib.sha256()
    for table in sorted(tables, key=lambda t: t.name):
        cols = [c for c in table.columns if c.name not in skip]
        order = list(table.primary_key.columns) or cols
        digest.update(table.name.encode())
        for row in session.execute(select(*cols).order_by(*order)):
            digest.update(orjson.dumps([_canonical(v) for v in row], option=orjson.OPT_NON_STR_KEYS))
    return digest.hexdigest()


def metadata_of(tables: Iterable[Table]) -> MetaData:
    return next(iter(tables)).metadata
