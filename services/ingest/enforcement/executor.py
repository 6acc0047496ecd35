"""Carry out one enforcement command: plan, attempt with backoff, and state the outcome as an event.

``enforce`` never raises for anything a platform or the network does: every ending is an
``EnforcementSucceeded`` or an ``EnforcementFailed`` (``unsupported=True`` when the platform has no such
action). The clock and the sleep are injected so that tests run without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from contracts.enforcement import EnforcementFailed, EnforcementRequested, EnforcementSucceeded
from contracts.ids import derive_id
from services.ingest.enforcement.calls import Invalid, NotConfigured, PlatformClient, Reply, RetryPolicy, Unsupported

log = logging.getLogger(__name__)

Outcome = EnforcementSucceeded | EnforcementFailed


def outcome_id(command_id: str) -> str:
    """The outcome event's id: one per command, so a repeated command yields the same outcome id."""
    return derive_id("enforcement-outcome", command_id)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _common(command: EnforcementRequested) -> dict:
    return {"command_id": command.command_id, "platform": command.platform, "group_id": command.group_id,
            "action": command.action}


def refused(command: EnforcementRequested, refusal: Unsupported, at: datetime) -> EnforcementFailed:
    """The outcome of a command that is never attempted. ``unsupported`` only when the platform lacks
    the action, not when the command is incomplete or this deployment lacks credentials."""
    is_unsupported = not isinstance(refusal, (Invalid, NotConfigured))
    return EnforcementFailed(**_common(command), attempts=0, failed_at=at, reason=refusal.reason,
                             unsupported=is_unsupported)


def enforce(command: EnforcementRequested, clients: Mapping[str, PlatformClient], policy: RetryPolicy, *,
            now: Callable[[], datetime] = _utcnow, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Run ``command`` against its platform's client and return the outcome payload."""
    client = clients.get(command.platform)
    if client is None:
        return refused(command, Unsupported(f"平台 {command.platform} 不支持自动执行处罚",
                                            f"platform {command.platform} has no enforcement client"), now())
    planned = client.plan(command)
    if isinstance(planned, Unsupported):
        return refused(command, planned, now())
    reply = Reply("fail", "no attempt made")
    for attempt in range(1, policy.max_attempts + 1):
        reply = client.send(planned)
        if reply.kind == "ok":
            return EnforcementSucceeded(**_common(command), attempts=attempt, completed_at=now(),
                                        platform_response=reply.data)
        if reply.kind != "retry":
            return EnforcementFailed(**_common(command), attempts=attempt, failed_at=now(), reason=reply.reason)
        if attempt < policy.max_attempts:
            delay = policy.delay(attempt, reply.retry_after_s)
            log.warning("enforcement %s on %s attempt %d/%d failed, retrying in %.1fs: %s", command.action,
                        command.platform, attempt, policy.max_attempts, delay, reply.reason,
                        extra={"command_id": command.command_id})
            sleep(delay)
    return EnforcementFailed(**_common(command), attempts=policy.max_attempts, failed_at=now(),
                             reason=f"{policy.max_attempts} 次尝试均失败 / gave up after {policy.max_attempts} "
                                    f"attempts: {reply.reason}")
