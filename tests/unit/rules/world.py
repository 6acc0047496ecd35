"""A small world for rules tests: a pack, people, groups, and events fed through the real engine.

Fakes over mocks: ``MemoryState`` is the same repository interface the worker backs with SQL.
Times are Asia/Shanghai; 2025-03-03 is a Monday (a working day).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contracts import chat, roster
from contracts.base import Payload
from contracts.clock import ClockTicked
from contracts.envelope import new_event
from contracts.ids import platform_event_id
from contracts.policy import PolicyPublished
from services.rules.engine import Emitted, PolicyBook, evaluate
from services.rules.policy.loader import load_pack, pack_document
from services.rules.state import MemoryState

TZ = ZoneInfo("Asia/Shanghai")
POLICIES = Path(__file__).resolve().parents[3] / "policies"
MONDAY = datetime(2025, 3, 3, 10, 0, tzinfo=TZ)


def at(day: int, hh: int = 10, mm: int = 0, month: int = 3, year: int = 2025) -> datetime:
    return datetime(year, month, day, hh, mm, tzinfo=TZ)


class World:
    """Feeds events through ``evaluate`` and collects what it emits."""

    def __init__(self, pack: str | dict[str, Any] = "company-default", *, platform: str = "wecom",
                 only: list[str] | None = None, params: dict[str, dict[str, Any]] | None = None,
                 org: dict[str, Any] | None = None) -> None:
        self.state, self.book, self.platform = MemoryState(), PolicyBook(), platform
        doc = pack if isinstance(pack, dict) else pack_document(load_pack(POLICIES / f"{pack}.yaml"))
        doc = dict(doc)
        doc["scope"] = {**doc.get("scope", {}), "platforms": []}
        if only is not None:
            doc["rules"] = [r for r in doc["rules"] if r["id"] in only]
        for rule in doc["rules"]:
            if params and rule["id"] in params:
                rule["params"] = {**rule.get("params", {}), **params[rule["id"]]}
        if org:
            doc["organisation"] = {**doc["organisation"], **org}
        self.doc = doc
        self.seq = itertools.count(1)
        self.emitted: list[Emitted] = []
        self.publish(doc)

    # -- plumbing ------------------------------------------------------------------------------
    def send(self, payload: Payload, time: datetime | None = None, id: str | None = None) -> list[Emitted]:
        time = time or getattr(payload, "occurred_at", None) or payload.now  # type: ignore[attr-defined]
        ev = new_event(payload, id=id or f"ev-{next(self.seq)}", source="test", time=time)
        out = evaluate(self.state, ev, self.book)
        self.emitted += out
        return out

    def publish(self, doc: dict[str, Any], at_: datetime = MONDAY - timedelta(days=60)) -> None:
        self.send(PolicyPublished(policy_id=doc["id"], version=doc["version"],
                                  effective_from=doc["effective_from"], sha256="x", published_by="test",
                                  pack=doc), time=at_)

    def tick(self, when: datetime) -> list[Emitted]:
        return self.send(ClockTicked(now=when), time=when)

    def violations(self, rule_id: str | None = None) -> list[Any]:
        from contracts.violations import ViolationDetected

        return [e.payload for e in self.emitted if isinstance(e.payload, ViolationDetected)
                and (rule_id is None or e.payload.rule_id == rule_id)]

    def merits(self, kind: str | None = None) -> list[Any]:
        from contracts.violations import MeritDetected

        return [e.payload for e in self.emitted if isinstance(e.payload, MeritDetected)
                and (kind is None or e.payload.kind == kind)]

    # -- roster ----------------------------------------------------------------------------------
    def dept(self, dept_id: str, name: str, head: str | None = None) -> None:
        self.send(roster.DepartmentChanged(department_id=dept_id, name=name, head_id=head,
                                           occurred_at=MONDAY - timedelta(days=30)))

    def hire(self, eid: str, name: str, *, account: str | None = None, dept: str = "D-SALES",
             dept_name: str = "销售部", level: str = "staff", status: str = "regular",
             hire_date: date | None = None, when: datetime | None = None) -> None:
        facts = roster.EmployeeFacts(name=name, department_id=dept, department=dept_name, level=level,
                                     status=status, hire_date=hire_date,
                                     accounts=[roster.Account(platform=self.platform, user_id=account or eid.lower())])
        self.send(roster.EmployeeHired(employee_id=eid, occurred_at=when or MONDAY - timedelta(days=30), facts=facts))

    def register(self, gid: str, name: str, category: str = "department", *, owner: str | None = None,
                 admins: list[str] | None = None, dept: str | None = "D-SALES", when: datetime | None = None,
                 **info: Any) -> None:
        self.send(roster.GroupRegistered(platform=self.platform, group_id=gid,
                                         occurred_at=when or MONDAY - timedelta(days=20),
                                         info=roster.GroupInfo(name=name, category=category, owner_id=owner,
                                                               admin_ids=admins or [], department_id=dept, **info)))

    # -- chat -------------------------------------------------------------------------------------
    def _ids(self) -> dict[str, str]:
        n = next(self.seq)
        return {"platform_event_id": f"p{n}"}

    def join(self, gid: str, user: str, when: datetime, *, nickname: str | None = None,
             operator: str | None = None) -> list[Emitted]:
        return self.send(chat.MemberJoined(platform=self.platform, group_id=gid, occurred_at=when, user_id=user,
                                           nickname=nickname, operator_id=operator, **self._ids()))

    def say(self, gid: str, user: str, text: str | None, when: datetime, **kw: Any) -> list[Emitted]:
        n = next(self.seq)
        return self.send(chat.MessagePosted(platform=self.platform, group_id=gid, occurred_at=when,
                                            platform_event_id=f"m{n}", message_id=kw.pop("message_id", f"m{n}"),
                                            user_id=user, text=text, **kw), id=platform_event_id(self.platform, f"m{n}"))
