"""The penalties REST API: sanctions, ledgers, statements, payroll, reviews, appeals, reports, audit.

Reads come from the projections; every write is a human decision published through
``decisions`` (one transaction: projection + inbox + outbox).

Times (时间): every datetime this API returns is ISO 8601 in UTC with the offset spelled ``Z``
(``2026-11-04T16:00:00Z`` is 2026-11-05 00:00 北京时间). Our own rows get it from the column type
(``models.UtcDateTime``) and decisions are stamped with ``_now`` in UTC; the violation payload and
the ingest events inside an audit chain are quoted verbatim as their services published them
(aware too, possibly ``+08:00``). Months (``2026-03``) are cut in 北京时间 (Asia/Shanghai,
``ledger.month_of``); the payroll exports show dates in that zone and say so in the header.

Who may do what (the roles come from the bearer token, ``services.common.auth``):

- **Self-access**: a token whose *name* equals an employee id (工号, e.g. ``E1001``) is that person.
  A person reads their own sanctions and ledger; reading anyone else's needs hr, compliance or
  auditor (``_may_read_person``). Machine tokens (role ``ingest``) get none of these routes.
- **Appeals (申诉)**: filed by the person themselves, HR or admin; decided by compliance only, and
  never by the person sanctioned or the one who filed it (separation of duties: the office that
  decides an appeal does not also bring it).
- **Reports (举报)**: filed under the caller's own name by a person holding ``hr`` or
  ``group-admin`` (or admin). Not by ``ingest`` (a machine), not by ``auditor`` (decides and
  originates nothing; the inter-service token of ``qg up`` is an auditor), not by ``compliance``
  (it decides reports, and an upheld report rewards the reporter). The reporter is never shown to
  anyone but compliance, auditors and the reporter.
- **Leaderboard (积分排行)**: any person (hr, compliance, auditor, group-admin), not machines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session

from contracts.sanctions import SanctionItem
from services.common import outbox
from services.common.app import build_app
from services.common.auth import Principal, require
from services.common.db import MAX_SQL_INT, create_tables, make_engine, session_scope
from services.common.problems import ProblemError
from services.penalties import decisions, statements as st
from services.penalties.audit import audit_chain, ingest_fetcher
from services.penalties.models import ALL_TABLES, Appeal, Employee, LedgerEntry, Report, Review, Sanction

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
READERS = ("compliance", "hr", "auditor")
PEOPLE = ("compliance", "hr", "auditor", "group-admin")  # every role a person holds; not ``ingest``
REPORTERS = ("hr", "group-admin")
APPELLANTS = ("hr",)  # besides the person themselves


def _session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


DB = Annotated[Session, Depends(_session)]
Person = Annotated[Principal, Depends(require(*PEOPLE))]
Compliance = Annotated[Principal, Depends(require("compliance"))]


def _now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return (clock() if clock else datetime.now(timezone.utc)).astimezone(timezone.utc)


def _may_read_person(principal: Principal, employee_id: str) -> None:
    if principal.name != employee_id and not principal.has_any(READERS):
        raise ProblemError(403, detail="只能查看本人记录 / you may only read your own records")


class ReviewDecision(BaseModel):
    decision: Literal["approved", "changed", "dismissed"]
    items: list[SanctionItem] | None = None
    reason: str = Field(min_length=1)


class AppealIn(BaseModel):
    grounds: str = Field(min_length=1)


class AppealDecision(BaseModel):
    decision: Literal["upheld", "overturned"]
    reason: str = Field(min_length=1)


class ReportIn(BaseModel):
    reported_id: str = Field(min_length=1)
    platform: str
    group_id: str
    message_id: str | None = None
    message_event_id: str | None = None
    reason: str = Field(min_length=1)


class ReportDecision(BaseModel):
    decision: Literal["upheld", "rejected"]
    rule_id: str | None = None
    reason: str = Field(min_length=1)


sanctions = APIRouter(prefix="/v1", tags=["sanctions"])


@sanctions.get("/sanctions", summary="处罚列表 / List sanctions")
def list_sanctions(db: DB, _: Annotated[Principal, Depends(require(*READERS))],
                   employee_id: str | None = None, department: str | None = None, rule_id: str | None = None,
                   status: Literal["imposed", "reversed"] | None = None,
                   month: Annotated[str | None, Query(pattern=MONTH)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0) -> dict:
    q = select(Sanction)
    for column, value in ((Sanction.employee_id, employee_id), (Sanction.department_id, department),
                          (Sanction.rule_id, rule_id), (Sanction.status, status), (Sanction.month, month)):
        if value is not None:
            q = q.where(column == value)
    rows = db.scalars(q.order_by(Sanction.posted_at, Sanction.sanction_id).offset(offset).limit(limit)).all()
    return {"items": [r.model_dump(mode="json") for r in rows], "limit": limit, "offset": offset}


@sanctions.get("/sanctions/{sanction_id}", summary="处罚详情 / One sanction")
def get_sanction(sanction_id: str, db: DB, principal: Person) -> dict:
    row = db.get(Sanction, sanction_id)
    if row is None:
        raise ProblemError(404, detail=f"未找到处罚 / unknown sanction {sanction_id}")
    _may_read_person(principal, row.employee_id)
    return row.model_dump(mode="json")


@sanctions.get("/sanctions/{sanction_id}/audit", summary="审计链 / Audit chain of a sanction")
def get_audit(sanction_id: str, request: Request, db: DB,
              _: Annotated[Principal, Depends(require("compliance", "auditor"))]) -> dict:
    row = db.get(Sanction, sanction_id)
    if row is None:
        raise ProblemError(404, detail=f"未找到处罚 / unknown sanction {sanction_id}")
    fetch = getattr(request.app.state, "ingest_fetch", None)
    if fetch is None:
        settings = request.app.state.settings
        fetch = ingest_fetcher(settings.service_url("ingest"), settings.service_token)
    return audit_chain(db, row, fetch)


@sanctions.get("/employees/{employee_id}/ledger", summary="个人台账 / A person's ledger")
def get_ledger(employee_id: str, db: DB, principal: Person) -> dict:
    _may_read_person(principal, employee_id)
    rows = db.scalars(select(LedgerEntry).where(LedgerEntry.employee_id == employee_id).order_by(LedgerEntry.seq)).all()
    stmt = st.statements(rows).get(employee_id) or st.Statement(employee_id)
    return {"employee_id": employee_id, "totals": stmt.as_dict(),
            "entries": [r.model_dump(mode="json", exclude={"prev_hash"}) for r in rows]}


def _month_entries(db: Session, month: str) -> list[LedgerEntry]:
    return list(db.scalars(select(LedgerEntry).where(LedgerEntry.month == month)
                           .order_by(LedgerEntry.employee_id, LedgerEntry.seq)))


@sanctions.get("/leaderboard", summary="积分排行 / Points ranking")
def get_leaderboard(db: DB, _: Person, month: Annotated[str, Query(pattern=MONTH)]) -> dict:
    stmts = st.statements(_month_entries(db, month)).values()
    by_dept: dict[str, list] = {}
    for row in st.leaderboard(stmts):
        by_dept.setdefault(row["department_id"] or "-", []).append(row)
    return {"month": month, "ranking": st.leaderboard(stmts),
            "by_department": {d: st.leaderboard([s for s in stmts if (s.department_id or "-") == d]) for d in by_dept}}


@sanctions.get("/statements/{month}", summary="月度结算 / Monthly statement")
def get_statement(month: Annotated[str, Path(pattern=MONTH)], db: DB,
                  _: Annotated[Principal, Depends(require(*READERS))]) -> dict:
    stmts = st.statements(_month_entries(db, month))
    return {"month": month, "people": [s.as_dict() for s in sorted(stmts.values(), key=lambda s: s.employee_id)],
            "departments": st.department_totals(stmts.values())}


def _payroll(db: Session, month: str) -> list[list]:
    stmts = st.statements(_month_entries(db, month))
    names = {e.employee_id: (e.name, e.department or e.department_id or "")
             for e in db.scalars(select(Employee).where(Employee.employee_id.in_(list(stmts))))}
    return st.payroll_rows(stmts.values(), month, names)


@sanctions.get("/payroll/{month}.csv", summary="工资扣款导出 CSV / Payroll export (CSV)")
def payroll_csv(month: str, db: DB, _: Annotated[Principal, Depends(require("hr", "compliance"))]) -> Response:
    _check_month(month)
    return Response(st.payroll_csv(_payroll(db, month)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="payroll-{month}.csv"'})


@sanctions.get("/payroll/{month}.xlsx", summary="工资扣款导出 Excel / Payroll export (XLSX)")
def payroll_xlsx(month: str, db: DB, _: Annotated[Principal, Depends(require("hr", "compliance"))]) -> Response:
    _check_month(month)
    return Response(st.payroll_xlsx(_payroll(db, month), month),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="payroll-{month}.xlsx"'})


def _check_month(month: str) -> None:
    import re
    if not re.match(MONTH, month):
        raise ProblemError(422, detail="月份格式应为 YYYY-MM / month must be YYYY-MM")


cases = APIRouter(prefix="/v1", tags=["cases"])


@cases.get("/reviews", summary="待复核 / Review queue")
def list_reviews(db: DB, _: Annotated[Principal, Depends(require("compliance", "auditor"))],
                 status: Literal["pending", "approved", "changed", "dismissed"] | None = "pending") -> dict:
    q = select(Review).order_by(Review.occurred_at, Review.review_id)
    if status:
        q = q.where(Review.status == status)
    return {"items": [r.model_dump(mode="json") for r in db.scalars(q)]}


@cases.post("/reviews/{review_id}/decision", summary="复核决定 / Decide a review")
def post_review_decision(review_id: str, body: ReviewDecision, request: Request, db: DB, who: Compliance) -> dict:
    decided = decisions.decide_review(db, review_id, decision=body.decision, items=body.items, actor=who.name,
                                      reason=body.reason, now=_now(request))
    return decided.model_dump(mode="json")


@cases.post("/sanctions/{sanction_id}/appeals", status_code=201, summary="提出申诉 / File an appeal")
def post_appeal(sanction_id: str, body: AppealIn, request: Request, db: DB, who: Person) -> dict:
    row = db.get(Sanction, sanction_id)
    if row is None:
        raise ProblemError(404, detail=f"未找到处罚 / unknown sanction {sanction_id}")
    if who.name != row.employee_id and not who.has_any(APPELLANTS):
        raise ProblemError(403, detail="只有本人、人事或管理员可申诉 / only the person, HR or admin may appeal")
    return decisions.file_appeal(db, sanction_id, filed_by=who.name, grounds=body.grounds,
                                 now=_now(request)).model_dump(mode="json")


@cases.get("/appeals", summary="申诉列表 / Appeals")
def list_appeals(db: DB, _: Annotated[Principal, Depends(require("compliance", "hr", "auditor"))],
                 status: Literal["open", "upheld", "overturned"] | None = None) -> dict:
    q = select(Appeal).order_by(Appeal.filed_at, Appeal.appeal_id)
    if status:
        q = q.where(Appeal.status == status)
    return {"items": [a.model_dump(mode="json") for a in db.scalars(q)]}


@cases.post("/appeals/{appeal_id}/decision", summary="申诉决定 / Decide an appeal")
def post_appeal_decision(appeal_id: str, body: AppealDecision, request: Request, db: DB, who: Compliance) -> dict:
    return decisions.decide_appeal(db, appeal_id, decision=body.decision, actor=who.name, reason=body.reason,
                                   now=_now(request)).model_dump(mode="json")


def report_view(report: Report, principal: Principal) -> dict:
    """Compliance, auditors and the reporter see who reported; nobody else, the reported least."""
    data = report.model_dump(mode="json")
    if not (principal.has_any(("compliance", "auditor")) or principal.name == report.reporter_id):
        data.pop("reporter_id")
    return data


@cases.post("/reports", status_code=201, summary="举报 / Report a message")
def post_report(body: ReportIn, request: Request, db: DB,
                who: Annotated[Principal, Depends(require(*REPORTERS))]) -> dict:
    filed = decisions.file_report(db, reporter_id=who.name, reported_id=body.reported_id, platform=body.platform,
                                  group_id=body.group_id, message_id=body.message_id,
                                  message_event_id=body.message_event_id, reason=body.reason, now=_now(request))
    return {"report_id": filed.report_id, "status": "open"}


@cases.get("/reports", summary="举报列表 / Reports")
def list_reports(db: DB, who: Person, status: Literal["open", "upheld", "rejected"] | None = None) -> dict:
    q = select(Report).order_by(Report.filed_at, Report.report_id)
    if not who.has_any(("compliance", "auditor")):
        q = q.where((Report.reporter_id == who.name) | (Report.reported_id == who.name))
    if status:
        q = q.where(Report.status == status)
    return {"items": [report_view(r, who) for r in db.scalars(q)]}


@cases.get("/reports/{report_id}", summary="举报详情 / One report")
def get_report(report_id: str, db: DB, who: Person) -> dict:
    report = db.get(Report, report_id)
    if report is None or not (who.has_any(("compliance", "auditor")) or who.name in (report.reporter_id,
                                                                                       report.reported_id)):
        raise ProblemError(404, detail=f"未找到举报 / unknown report {report_id}")
    return report_view(report, who)


@cases.post("/reports/{report_id}/decision", summary="举报处理 / Decide a report")
def post_report_decision(report_id: str, body: ReportDecision, request: Request, db: DB, who: Compliance) -> dict:
    decided = decisions.decide_report(db, report_id, decision=body.decision, rule_id=body.rule_id, actor=who.name,
                                      reason=body.reason, now=_now(request))
    return {"report_id": report_id, "decision": decided.decision, "reward_points": decided.reward_points}


def create_app(settings, engine=None) -> FastAPI:
    """The penalties app; opens its engine in the lifespan unless one is given (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = engine is None
        app.state.engine = engine or make_engine(settings.database_url("penalties"))
        create_tables(app.state.engine, outbox.RUNTIME_TABLES + ALL_TABLES)
        yield
        if own:
            app.state.engine.dispose()

    return build_app("penalties", settings, [sanctions, cases], lifespan=lifespan,
                     description="处罚、台账、复核、申诉、举报 / Sanctions, ledger, reviews, appeals, reports.")
