"""A toy service for runtime tests: counts each message once and emits one violation per message.

It runs in-process (tests) and as a child process (the SIGKILL crash test):
``python toy_service.py LOG_PATH_OR_BOOTSTRAP DB_URL GROUP``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlmodel import Field, SQLModel

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from contracts.chat import MessagePosted  # noqa: E402
from contracts.ids import derive_id  # noqa: E402
from contracts.roster import EmployeeHired  # noqa: E402
from contracts.violations import Evidence, ViolationDetected  # noqa: E402


class ToyCount(SQLModel, table=True):
    __tablename__ = "toy_count"
    event_id: str = Field(primary_key=True)
    applied: int = 0
    sender_known: bool = False


class ToyKnown(SQLModel, table=True):
    """Accounts HR told us about: makes the toy's answer depend on cross-topic order."""

    __tablename__ = "toy_known"
    user_id: str = Field(primary_key=True)


class ToyPoison(Exception):
    pass


def on_message(ctx, msg: MessagePosted) -> None:
    if msg.text == "POISON":
        raise ToyPoison("this message always fails")
    row = ctx.session.get(ToyCount, ctx.event.id)
    if row is None:
        row = ToyCount(event_id=ctx.event.id, applied=0)
    row.applied += 1
    row.sender_known = ctx.session.get(ToyKnown, msg.user_id) is not None
    ctx.session.add(row)
    ctx.emit(ViolationDetected(
        violation_id=derive_id("toy", ctx.event.id), rule_id="toy.rule", category="toy", severity="low",
        policy_id="toy", policy_version=1, platform=msg.platform, group_id=msg.group_id, user_id=msg.user_id,
        occurred_at=msg.occurred_at, causing_event_ids=[ctx.event.id], evidence=Evidence(summary="toy")),
        id=derive_id("toy", ctx.event.id), time=msg.occurred_at)


def on_hired(ctx, hired: EmployeeHired) -> None:
    for account in hired.facts.accounts:
        if ctx.session.get(ToyKnown, account.user_id) is None:
            ctx.session.add(ToyKnown(user_id=account.user_id))


ROUTES = {MessagePosted: on_message, EmployeeHired: on_hired}


def build(log, db_url: str, name: str = "toy"):
    from services.common.db import make_engine
    from services.common.worker import Worker
    return Worker(name, log, make_engine(db_url), ROUTES, projection_tables=[ToyCount.__table__, ToyKnown.__table__], batch=50)


if __name__ == "__main__":
    from services.common.eventlog import open_log
    from services.common.settings import Settings
    target, db_url, name = sys.argv[1], sys.argv[2], sys.argv[3]
    settings = (Settings(eventlog="kafka", kafka_bootstrap=target) if ":" in target and not target.endswith(".db")
                else Settings(eventlog="embedded", eventlog_path=Path(target)))
    build(open_log(settings), db_url, name).run()
