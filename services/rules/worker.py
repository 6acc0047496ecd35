"""Composition root of the rules consumer (``qg serve rules`` runs it beside the API)."""

from __future__ import annotations

from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.worker import Worker
from services.rules.handlers import CONSUMER, ROUTES, SOURCE
from services.rules.models import ALL_TABLES


def build_worker(settings, *, log=None, engine=None) -> Worker:
    """The rules worker: chat, roster, policy, clock and (for dismissals) violations topics."""
    return Worker(CONSUMER, log or open_log(settings), engine or make_engine(settings.database_url("rules")),
                  ROUTES, source=SOURCE, projection_tables=ALL_TABLES)
