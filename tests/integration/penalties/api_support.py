"""Who calls the penalties API in the tests (tokens by name and role) and how events are delivered."""

from __future__ import annotations

from datetime import datetime

from contracts.envelope import CloudEvent
from services.common.db import session_scope
from services.common.worker import apply_locally
from services.penalties.actions import CONSUMER
from services.penalties.handlers import ROUTES
from tests.integration.penalties import scenario as sc

MARCH = datetime(2024, 3, 4, 10, 0, tzinfo=sc.CST)
CLOCK = datetime(2024, 3, 20, 15, 0, tzinfo=sc.CST)  # "now" of every human decision in the API tests
# token name → token; a name that is an employee id (工号) is that person (self-access)
TOKENS = {"compliance": "tok-compliance", "hr": "tok-hr", "E1001": "tok-e1001", "E1002": "tok-e1002",
          "E2001": "tok-e2001", "auditor": "tok-auditor"}
ROLES = {"compliance": "compliance", "hr": "hr", "auditor": "auditor", "E1001": "group-admin",
         "E1002": "group-admin", "E2001": "group-admin"}


def auth(who: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


def feed(engine, *events: CloudEvent) -> None:
    """Deliver events as the worker would (handler + inbox + outbox in one transaction each)."""
    for event in events:
        with session_scope(engine) as session:
            apply_locally(session, event, ROUTES, consumer=CONSUMER, source="qunguard/test")
