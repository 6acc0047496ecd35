"""Composition root of the penalties consumer, and the rebuild behind ``qg rebuild penalties``.

Rebuild: drop the projections and fold them again from the log. The ledger state comes from
``qg.sanctions.v1`` alone (see ``handlers`` for why decisions are not re-made), so
``ledger_digest`` before and after is identical.
"""

from __future__ import annotations

from sqlmodel import Session

from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.worker import Worker
from services.penalties.actions import CONSUMER, SOURCE
from services.penalties.handlers import ROUTES, prefetch
from services.penalties.models import ALL_TABLES
from services.penalties.store import ledger_digest


def build_worker(settings, *, log=None, engine=None) -> Worker:
    return Worker(CONSUMER, log or open_log(settings), engine or make_engine(settings.database_url("penalties")),
                  ROUTES, source=SOURCE, projection_tables=ALL_TABLES, prefetch=prefetch)


def rebuild(settings, *, log=None, engine=None) -> tuple[str, str, int]:
    """Drain our outbox, rebuild every projection; returns (digest before, digest after, records read).

    The live worker must be stopped. Draining first puts every decision already taken on the log,
    so nothing is lost when the projections are dropped.
    """
    worker = build_worker(settings, log=log, engine=engine)
    worker.create_tables()
    worker.relay.drain()
    with Session(worker.engine) as session:
        before = ledger_digest(session)
    count = worker.rebuild()
    with Session(worker.engine) as session:
        after = ledger_digest(session)
    return before, after, count
