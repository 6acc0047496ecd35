"""Composition root of the roster consumer: chat membership, policy templates, roster events."""

from __future__ import annotations

from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.settings import Settings
from services.common.worker import Worker
from services.roster.handlers import ROUTES, prefetch
from services.roster.models import PROJECTION_TABLES
from services.roster.writes import CONSUMER, SOURCE


def build_worker(settings: Settings | None, *, log=None, engine=None) -> Worker:
    """The roster worker: consumes qg.chat.v1, qg.policy.v1 and qg.roster.v1 (its own API's events).
    ``log`` and ``engine`` replace the settings' (benchmarks refolding a recorded run)."""
    return Worker(CONSUMER, log or open_log(settings), engine or make_engine(settings.database_url("roster")),
                  ROUTES, source=SOURCE, projection_tables=PROJECTION_TABLES, prefetch=prefetch)
