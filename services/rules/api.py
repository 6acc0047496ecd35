"""The rules REST API: publish and list policy versions, read and dismiss violations, what-if replays.

Writes are events applied locally in one transaction (projection + inbox + outbox) through
``worker.apply_locally``, so the API reads its own writes and a rebuild from the log agrees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlmodel import Session

from contracts.envelope import new_event
from contracts.ids import derive_id
from contracts.policy import PolicyPublished
from contracts.violations import ViolationDismissed
from services.common import outbox
from services.common.app import build_app
from services.common.auth import Principal, require
from services.common.db import MAX_SQL_INT, create_tables, make_engine, session_scope
from services.common.problems import ProblemError
from services.common.worker import apply_locally
from services.rules import models as m
from services.rules.handlers import CONSUMER, ROUTES, SOURCE, pack_sha256
from services.rules.policy.loader import (
    PolicyError,
    check_data,
    check_text,
    pack_document,
)

READERS = ("compliance", "admin", "auditor", "hr")


def _session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


DB = Annotated[Session, Depends(_session)]
Publisher = Annotated[Principal, Depends(require("compliance", "admin"))]
Reader = Annotated[Principal, Depends(require(*READERS))]
Compliance = Annotated[Principal, Depends(require("compliance"))]


def _now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


class PackIn(BaseModel):
    """Either ``yaml`` (the file's text, so errors carry line numbers) or ``pack`` (a JSON document)."""

    yaml: str | None = None
    pack: dict[str, Any] | None = None


class DismissIn(BaseModel):
    reason: str = Field(min_length=1, description="为何误报 / why this is a false positive")


class ReplayIn(PackIn):
    since: datetime
    until: datetime


def _validated(body: PackIn) -> Any:
    if (body.yaml is None) == (body.pack is None):
        raise ProblemError(422, detail="请提供 yaml 或 pack 之一 / give exactly one of yaml or pack")
    pack, errors = check_text(body.yaml) if body.yaml is not None else check_data(body.pack)
    if errors or pack is None:
        raise ProblemError(422, detail="策略包未通过校验 / the policy pack is invalid", errors=[_field(e) for e in errors])
    return pack


def _field(e: PolicyError) -> dict[str, str]:
    out = {"field": e.path or "(root)", "message": f"{e.zh} / {e.en}"}
    if e.line:
        out["line"] = str(e.line)
    return out


policies = APIRouter(prefix="/v1", tags=["policies"])
violations = APIRouter(prefix="/v1", tags=["violations"])


def _version_view(v: m.PolicyVersion, with_pack: bool = False) -> dict[str, Any]:
    out = {"policy_id": v.policy_id, "version": v.version, "effective_from": v.effective_from.isoformat(),
           "sha256": v.sha256, "published_by": v.published_by, "published_at": v.published_at.isoformat(),
           "title": v.doc.get("title")}
    if with_pack:
        out["pack"] = v.doc
    return out


@policies.post("/policies", status_code=201, summary="发布策略包 / Validate and publish a policy pack")
def publish(body: PackIn, request: Request, db: DB, who: Publisher) -> dict[str, Any]:
    pack = _validated(body)
    latest = db.scalar(select(func.max(m.PolicyVersion.version)).where(m.PolicyVersion.policy_id == pack.id))
    if latest is not None and pack.version <= latest:
        raise ProblemError(409, detail=f"版本须大于已发布的 {latest} / version must be greater than {latest}",
                           errors=[{"field": "version", "message": f"须大于 {latest} / must exceed {latest}"}])
    doc = pack_document(pack)
    sha = pack_sha256(doc)
    payload = PolicyPublished(policy_id=pack.id, version=pack.version, effective_from=pack.effective_from,
                              sha256=sha, published_by=who.name, pack=doc)
    event = new_event(payload, id=derive_id("policy", pack.id, pack.version, sha), source=SOURCE, time=_now(request))
    apply_locally(db, event, ROUTES, consumer=CONSUMER, source=SOURCE)
    return {"policy_id": pack.id, "version": pack.version, "sha256": sha, "event_id": event.id}


@policies.get("/policies/active", summary="当前生效的策略 / Versions in force now, per policy id")
def active(request: Request, db: DB, _: Reader) -> dict[str, Any]:
    now = _now(request)
    best: dict[str, m.PolicyVersion] = {}
    for v in db.scalars(select(m.PolicyVersion).order_by(m.PolicyVersion.policy_id, m.PolicyVersion.version)):
        if v.effective_from <= now:
            cur = best.get(v.policy_id)
            if cur is None or (v.effective_from, v.version) > (cur.effective_from, cur.version):
                best[v.policy_id] = v
    return {"items": [_version_view(best[k], with_pack=True) for k in sorted(best)]}


@policies.get("/policies/{policy_id}/versions", summary="策略版本 / All versions of a policy")
def versions(policy_id: str, db: DB, _: Reader) -> dict[str, Any]:
    rows = list(db.scalars(select(m.PolicyVersion).where(m.PolicyVersion.policy_id == policy_id)
                           .order_by(m.PolicyVersion.version)))
    if not rows:
        raise ProblemError(404, detail=f"未知策略 / unknown policy {policy_id}")
    return {"items": [_version_view(v) for v in rows]}


@violations.get("/violations", summary="违规列表 / Violations")
def list_violations(db: DB, _: Reader, employee_id: str | None = None, group_id: str | None = None,
                    rule_id: str | None = None, category: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, include_dismissed: bool = True,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0
                    ) -> dict[str, Any]:
    q = select(m.Violation)
    for column, value in ((m.Violation.employee_id, employee_id), (m.Violation.group_id, group_id),
                          (m.Violation.rule_id, rule_id), (m.Violation.category, category)):
        if value is not None:
            q = q.where(column == value)
    if since is not None:
        q = q.where(m.Violation.occurred_at >= since)
    if until is not None:
        q = q.where(m.Violation.occurred_at < until)
    if not include_dismissed:
        q = q.where(m.Violation.dismissed.is_(False))
    total = db.scalar(select(func.count()).select_from(q.subquery()))
    rows = db.scalars(q.order_by(m.Violation.occurred_at, m.Violation.violation_id).offset(offset).limit(limit))
    return {"items": [_violation_view(v) for v in rows], "total": total, "limit": limit, "offset": offset}


def _violation_view(v: m.Violation) -> dict[str, Any]:
    return {**v.doc, "dismissed": v.dismissed, "dismissed_by": v.dismissed_by, "dismissed_reason": v.dismissed_reason}


@violations.get("/violations/{violation_id}", summary="违规详情 / One violation with its rule and evidence")
def get_violation(violation_id: str, db: DB, _: Reader) -> dict[str, Any]:
    v = db.get(m.Violation, violation_id)
    if v is None:
        raise ProblemError(404, detail=f"未知违规 / unknown violation {violation_id}")
    version = db.get(m.PolicyVersion, (v.policy_id, v.policy_version))
    rule = next((r for r in (version.doc.get("rules", []) if version else []) if r.get("id") == v.rule_id), None)
    return {**_violation_view(v), "rule": rule,
            "policy": _version_view(version) if version else {"policy_id": v.policy_id, "version": v.policy_version}}


@violations.post("/violations/{violation_id}/dismiss", summary="驳回误报 / Dismiss a false positive")
def dismiss(violation_id: str, body: DismissIn, request: Request, db: DB, who: Compliance) -> dict[str, Any]:
    v = db.get(m.Violation, violation_id)
    if v is None:
        raise ProblemError(404, detail=f"未知违规 / unknown violation {violation_id}")
    if v.dismissed:
        raise ProblemError(409, detail="该违规已驳回 / already dismissed")
    payload = ViolationDismissed(violation_id=violation_id, employee_id=v.employee_id,
                                 user_ref=None if v.employee_id else f"{v.platform}:{v.user_id}",
                                 dismissed_by=who.name, reason=body.reason, dismissed_at=_now(request))
    event = new_event(payload, id=derive_id("dismissal", violation_id), source=SOURCE, time=payload.dismissed_at,
                      causation=[violation_id])
    apply_locally(db, event, ROUTES, consumer=CONSUMER, source=SOURCE)
    return {"violation_id": violation_id, "dismissed": True, "event_id": event.id}


@violations.post("/replays", summary="假设回放 / What-if replay of a candidate pack")
def replay(body: ReplayIn, request: Request, _: Compliance) -> Response:
    from services.common.outbox import applied_order
    from services.rules.replay import canonical_json, replay_from_log

    if body.since.tzinfo is None or body.until.tzinfo is None or body.until <= body.since:
        raise ProblemError(422, detail="since/until 须带时区且 since < until / need offsets and since < until")
    pack = _validated(body)
    applied = applied_order(request.app.state.engine, CONSUMER)
    report = replay_from_log(request.app.state.log, pack, body.since, body.until, applied)
    return Response(canonical_json(report), media_type="application/json")


def create_app(settings, engine=None, log=None) -> FastAPI:
    """The rules app; opens its engine and log in the lifespan unless given (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from services.common.eventlog import open_log

        app.state.engine = engine or make_engine(settings.database_url("rules"))
        app.state.log = log or open_log(settings)
        create_tables(app.state.engine, outbox.RUNTIME_TABLES + m.ALL_TABLES)
        yield
        if engine is None:
            app.state.engine.dispose()
        if log is None:
            app.state.log.close()

    return build_app("rules", settings, [policies, violations], lifespan=lifespan,
                     description="策略、违规、假设回放 / Policies, violations, what-if replays.")
