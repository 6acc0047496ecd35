"""Composition root of the ingest consumer: carries out enforcement commands (``qg.enforcement.v1``).

The webhook side of ingest publishes straight to the log (see ``intake``); the only thing ingest
consumes is enforcement, so its worker is the enforcement handler with clients built from ``settings``.
"""

from __future__ import annotations

from services.common.db import make_engine
from services.common.eventlog import open_log
from services.common.settings import Settings
from services.common.worker import Worker
from services.ingest.enforcement.handlers import build_routes

CONSUMER = "ingest"
SOURCE = "qunguard/ingest"


def build_worker(settings: Settings) -> Worker:
    """The ingest worker: consumes qg.enforcement.v1 and emits EnforcementSucceeded/Failed through the outbox."""
    return Worker(CONSUMER, open_log(settings), make_engine(settings.database_url("ingest")), build_routes(settings),
                  source=SOURCE)
