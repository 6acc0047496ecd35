"""The enforcement handler of the ingest worker and its routing table.

A handler performs the platform call inside the worker's transaction and emits the outcome through the
outbox. Delivery is at least once (see the package docstring): a crash between the call and the commit
repeats the call on redelivery; the outcome event keeps one id per command either way.

The handler writes nothing before the call (the inbox row and the outcome are flushed at commit), so on
SQLite no write lock is held while a platform is slow; the retries are bounded by ``RetryPolicy`` and
the HTTP timeout, so one command holds the worker for at most about attempts × (timeout + backoff).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from functools import lru_cache

from contracts.enforcement import EnforcementRequested, EnforcementSucceeded
from services.common import metrics
from services.common.settings import Settings, get_settings
from services.common.worker import Context, Routes
from services.ingest.enforcement.calls import PlatformClient, RetryPolicy
from services.ingest.enforcement.clients import build_clients, retry_policy
from services.ingest.enforcement.executor import Outcome, enforce, outcome_id

log = logging.getLogger(__name__)


class EnforcementHandler:
    """Handles ``EnforcementRequested``: enforce, then emit ``EnforcementSucceeded``/``EnforcementFailed``."""

    def __init__(self, clients: Mapping[str, PlatformClient], policy: RetryPolicy, *,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.clients, self.policy, self.now, self.sleep = clients, policy, now, sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> "EnforcementHandler":
        return cls(build_clients(settings), retry_policy(settings))

    def __call__(self, ctx: Context, command: EnforcementRequested) -> None:
        if ctx.rebuilding:  # replaying the log must never mute, kick or post again
            return
        outcome = enforce(command, self.clients, self.policy, now=self.now, sleep=self.sleep)
        _record(command, outcome)
        at = outcome.completed_at if isinstance(outcome, EnforcementSucceeded) else outcome.failed_at
        ctx.emit(outcome, id=outcome_id(command.command_id), time=at, causation=[ctx.event.id])


def _record(command: EnforcementRequested, outcome: Outcome) -> None:
    """Metrics and one log line per command, so operators see unsupported actions and give-ups."""
    kind = ("succeeded" if isinstance(outcome, EnforcementSucceeded)
            else "unsupported" if outcome.unsupported else "failed")
    metrics.ENFORCEMENT_OUTCOMES.labels(command.platform, command.action, kind).inc()
    if outcome.attempts:
        metrics.ENFORCEMENT_ATTEMPTS.labels(command.platform, command.action).inc(outcome.attempts)
    level = logging.INFO if kind == "succeeded" else logging.WARNING
    log.log(level, "enforcement %s %s on %s:%s after %d attempt(s)%s", command.action, kind, command.platform,
            command.group_id, outcome.attempts, "" if kind == "succeeded" else f": {outcome.reason}",
            extra={"command_id": command.command_id})


def build_routes(settings: Settings) -> Routes:
    """The routing table with clients built from ``settings`` (for composition roots and tests)."""
    return {EnforcementRequested: EnforcementHandler.from_settings(settings)}


@lru_cache(maxsize=1)
def _default_handler() -> EnforcementHandler:
    return EnforcementHandler.from_settings(get_settings())


def handle_enforcement_requested(ctx: Context, command: EnforcementRequested) -> None:
    """The module-level handler: clients are built from ``get_settings()`` on first use, not at import."""
    _default_handler()(ctx, command)


ROUTES: Routes = {EnforcementRequested: handle_enforcement_requested}
