"""Ingest's two append-only tables, written fast: multi-row insert-or-ignore and off-path WAL checkpoints.

SQLAlchemy core's ``insert(...).on_conflict_do_nothing().returning(...)`` with a list of 10,000 dicts
spends ≈ 25 µs per row in Python (parameter dicts, compilation of "insertmanyvalues" batches). The
rows here are plain tuples in column order, so :class:`RowInserter` writes multi-row
``INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING [RETURNING key]`` statements itself and sends them
through ``Connection.exec_driver_sql``, inside the caller's transaction. Values still go through
SQLAlchemy's own bind processors for the dialect (SQLite datetimes as text, JSON columns serialised),
so rows read back through the ORM exactly as if the ORM had written them (JSON on PostgreSQL is
psycopg's ``Json`` wrapper, typed json). Works on SQLite ≥ 3.35 and
PostgreSQL (both spell insert-or-ignore ``ON CONFLICT DO NOTHING`` and support ``RETURNING``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.engine import Dialect

log = logging.getLogger(__name__)

#: Rows per statement: SQLite binds at most 32,766 parameters, PostgreSQL 65,535; 12 columns × 500 fit.
ROWS_PER_STATEMENT = 500

Processor = Callable[[Any], Any] | None


class RowInserter:
    """Insert tuples (in ``columns`` order) into ``table``, skipping primary keys already there."""

    def __init__(self, table: Table, columns: Sequence[str], returning: str | None = None) -> None:
        self.table = table
        self.columns = list(columns)
        self.returning = returning
        self._by_dialect: dict[str, tuple[str, str, list[Processor]]] = {}

    def insert(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> set[Any]:
        """Insert ``rows``; returns the ``returning`` values of the rows actually inserted (else empty)."""
        if not rows:
            return set()
        head, one_row, processors = self._compiled(conn.dialect)
        tail = " ON CONFLICT DO NOTHING" + (f" RETURNING {self.returning}" if self.returning else "")
        inserted: set[Any] = set()
        converting = [(i, p) for i, p in enumerate(processors) if p is not None]
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start:start + ROWS_PER_STATEMENT]
            params: list[Any] = []
            extend = params.extend
            if converting:
                for row in chunk:
                    values = list(row)
                    for i, proc in converting:
                        values[i] = proc(values[i])
                    extend(values)
            else:
                for row in chunk:
                    extend(row)
            sql = head + ", ".join([one_row] * len(chunk)) + tail
            result = conn.exec_driver_sql(sql, tuple(params))
            if self.returning:
                inserted.update(r[0] for r in result.fetchall())
        return inserted

    def _compiled(self, dialect: Dialect) -> tuple[str, str, list[Processor]]:
        cached = self._by_dialect.get(dialect.name)
        if cached is None:
            cached = self._by_dialect[dialect.name] = self._compile(dialect)
        return cached

    def _compile(self, dialect: Dialect) -> tuple[str, str, list[Processor]]:
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        # The dialect's implementation of each column type, with TypeDecorators' own conversions
        # chained in (SQLModel's UTCDateTime → UTC, then SQLite's datetime-as-text).
        processors = [self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                      for name in self.columns]
        head = f"INSERT INTO {self.table.name} ({', '.join(self.columns)}) VALUES "
        return head, "(" + ", ".join([marker] * len(self.columns)) + ")", processors


class WalCheckpointer:
    """Runs SQLite's WAL checkpoint in a thread of its own, after each commit, instead of in the commit.

    SQLite checkpoints automatically inside the ``COMMIT`` that pushes the WAL past 1,000 pages: for a
    10,000-event batch (≈ 10 MB of rows) that is ≈ 80–100 ms of copying and fsync on the intake's critical
    path, against ≈ 10 ms for the commit itself. The intake turns the automatic checkpoint off for its
    own transactions and reports what each commit wrote (:meth:`wrote`); once ``every_bytes`` have
    accumulated (SQLite's own default is 1,000 pages, ≈ 4 MB) this thread runs a PASSIVE checkpoint,
    which never blocks the writer (it keeps appending to the WAL meanwhile). Nothing here affects
    durability: with WAL, a committed transaction is in the WAL file whether or not it has been copied
    back into the database file.
    """

    def __init__(self, engine: Engine, every_bytes: int = 4 * 1024 * 1024) -> None:
        self.engine = engine
        self.every_bytes = every_bytes
        self._pending = 0
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ingest-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self, approx_bytes: int) -> None:
        """Called by the writer after each commit (approximate row bytes are enough)."""
        self._pending += approx_bytes
        if self._pending >= self.every_bytes:
            self._pending = 0
            self._wanted.set()

    def close(self) -> None:
        """Run a last checkpoint, then stop."""
        self._stopping = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # noqa: BLE001 - a skipped checkpoint only lets the WAL grow until the next
                log.warning("ingest WAL checkpoint failed: %s", exc)
            if self._stopping:
                return
