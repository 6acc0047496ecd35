"""Composition root of the rules consumer (``qg serve rules`` runs it beside the API)."""

from __future__ import annotations

from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.worker import Worker
from services.rules.handlers import CONSUMER, ROUTES, SOURCE
from services.rules.models import ALL_TABLES


def build_worker(settings, *, log=None, engine=None) -> Worker:
    """The rules worker: chat, roster, policy, clock and (for dismissals) violations topics.

    A rebuild folds 25,000 records per transaction, not the runtime's 5,000: each transaction writes
    back every window and timer its records touched, and a busy member's window is touched by most
    of them (200,000 records: 44-46 s at 5,000, 36-40 s at 25,000, no better at 50,000; 25,000
    decoded messages hold about 110 MB)."""
    return Worker(CONSUMER, log or open_log(settings), engine or make_engine(settings.database_url("rules")),
                  ROUTES, source=SOURCE, projection_tables=ALL_TABLES, rebuild_batch=25_000)
