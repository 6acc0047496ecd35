"""REST routes under /v1: CSV import, employees, the group registry and the membership view."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session, select

from services.common.auth import Principal, require
from services.common.db import MAX_SQL_INT, session_scope
from services.common.problems import ProblemError
from services.roster import registry, views, writes
from services.roster.csv_rows import decode
from services.roster.importer import run_import
from services.roster.models import RegisteredGroup

router = APIRouter(prefix="/v1")
WRITE_GROUPS = ("admin", "group-admin", "hr")
READ = ("admin", "group-admin", "hr", "compliance", "auditor")


def _engine(request: Request):
    return request.app.state.engine


def _now(request: Request) -> datetime:
    return request.app.state.clock()


async def _in_tx(request: Request, fn) -> Any:
    def work() -> Any:
        with session_scope(_engine(request)) as session:
            return fn(session)
    return await run_in_threadpool(work)


# -- CSV import -----------------------------------------------------------------------------------

@router.post("/roster/import", tags=["roster"], summary="导入花名册 CSV / Import an HR roster CSV (all or nothing)",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
             responses={422: {"description": "Rows with errors; nothing was imported"}})
async def import_csv(request: Request, _: Annotated[Principal, Depends(require("hr"))]) -> dict[str, Any]:
    text = decode(await request.body())
    at = _now(request)
    report = await _in_tx(request, lambda s: run_import(s, text, at))
    if not report.ok:
        raise ProblemError(422, detail=f"{len(report.errors)} 处错误，未导入任何数据 / {len(report.errors)} errors; "
                                       "nothing was imported",
                           errors=[{"field": f"row {e.row}" + (f": {e.column}" if e.column else ""),
                                    "message": e.message} for e in report.errors[:1000]],
                           extra={"report": report.as_dict()})
    return report.as_dict()


# -- employees ------------------------------------------------------------------------------------

@router.get("/employees", tags=["roster"], summary="员工列表 / List employees")
async def list_employees(request: Request, _: Annotated[Principal, Depends(require(*READ))],
                         department: str | None = None,
                         status: Annotated[str | None, Query(pattern="^(probation|intern|regular|departed)$")] = None,
                         offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
                         limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    return await _in_tx(request, lambda s: views.employees_page(s, department, status, offset, limit))


@router.get("/employees/{employee_id}", tags=["roster"], summary="员工详情：身份、所在群、状态历史 / One employee")
async def get_employee(employee_id: str, request: Request,
                       _: Annotated[Principal, Depends(require(*READ))]) -> dict[str, Any]:
    view = await _in_tx(request, lambda s: views.employee_view(s, employee_id))
    if view is None:
        raise ProblemError(404, detail=f"员工 {employee_id} 不存在 / employee not found")
    return view


# -- the group registry ---------------------------------------------------------------------------

def _existing(session: Session, ref: str) -> tuple[dict[str, Any] | None, int]:
    row = session.get(RegisteredGroup, ref)
    if row is None:
        return None, 0
    return {"info": row.info, "retired": row.retired}, row.version


def _split(ref: str) -> tuple[str, str]:
    platform, sep, group_id = ref.partition(":")
    if not sep or not group_id:
        raise ProblemError(422, detail="群引用格式应为 platform:group_id / ref must be platform:group_id")
    return platform, group_id


def _apply(session: Session, decided: tuple[str, Any] | None, at: datetime) -> None:
    if decided is not None:
        event_id, payload = decided
        writes.apply(session, payload, id=event_id, at=at)


def _guard(fn):
    try:
        return fn()
    except registry.RegistryError as exc:
        raise ProblemError(exc.status, detail=str(exc)) from exc


@router.get("/groups", tags=["groups"], summary="已登记的群 / Registered groups")
async def list_groups(request: Request, _: Annotated[Principal, Depends(require(*READ))],
                      platform: str | None = None, category: str | None = None,
                      include_retired: bool = False) -> dict[str, Any]:
    def read(session: Session) -> dict[str, Any]:
        query = select(RegisteredGroup).order_by(RegisteredGroup.ref)
        if platform:
            query = query.where(RegisteredGroup.platform == platform)
        rows = [r for r in session.exec(query) if (include_retired or not r.retired)
                and (category is None or r.info.get("category") == category)]
        return {"total": len(rows), "items": [views.group_summary(r) for r in rows]}
    return await _in_tx(request, read)


@router.post("/groups", tags=["groups"], status_code=201, summary="登记群 / Register a group")
async def register_group(body: registry.GroupRegistration, request: Request,
                         who: Annotated[Principal, Depends(require(*WRITE_GROUPS))]) -> dict[str, Any]:
    at, ref = _now(request), f"{body.platform}:{body.group_id}"

    def op(session: Session) -> dict[str, Any]:
        existing, version = _existing(session, ref)
        _apply(session, _guard(lambda: registry.register(body, existing, version, who.name, at)), at)
        return views.group_summary(session.get(RegisteredGroup, ref))
    return await _in_tx(request, op)


@router.put("/groups/{ref}", tags=["groups"], summary="修改群登记 / Update a registration")
async def update_group(ref: str, body: registry.GroupRegistration, request: Request,
                       who: Annotated[Principal, Depends(require(*WRITE_GROUPS))]) -> dict[str, Any]:
    if ref != f"{body.platform}:{body.group_id}":
        raise ProblemError(422, detail="路径与请求体中的群不一致 / ref does not match platform:group_id of the body")
    at = _now(request)

    def op(session: Session) -> dict[str, Any]:
        existing, version = _existing(session, ref)
        _apply(session, _guard(lambda: registry.update(body, existing, version, who.name, at)), at)
        return views.group_summary(session.get(RegisteredGroup, ref))
    return await _in_tx(request, op)


@router.delete("/groups/{ref}", tags=["groups"], summary="注销群登记 / Retire a group")
async def retire_group(ref: str, request: Request, who: Annotated[Principal, Depends(require(*WRITE_GROUPS))],
                       reason: str | None = None) -> dict[str, Any]:
    platform, group_id = _split(ref)
    at = _now(request)

    def op(session: Session) -> dict[str, Any]:
        existing, version = _existing(session, ref)
        _apply(session, _guard(lambda: registry.retire(platform, group_id, existing, version, reason, at)), at)
        return views.group_summary(session.get(RegisteredGroup, ref))
    return await _in_tx(request, op)


@router.post("/groups/{ref}/approvals", tags=["groups"], status_code=201,
             summary="批准外部成员或提前入群的试用期员工 / Approve an external or probation member")
async def approve_member(ref: str, body: registry.ApprovalRequest, request: Request,
                         who: Annotated[Principal, Depends(require(*WRITE_GROUPS))]) -> dict[str, Any]:
    platform, group_id = _split(ref)
    at = _now(request)

    def op(session: Session) -> dict[str, Any]:
        existing, _v = _existing(session, ref)
        event_id, payload = _guard(lambda: registry.approve(platform, group_id, existing, body, who.name, at))
        writes.apply(session, payload, id=event_id, at=at)
        return {"ref": ref, "user_id": body.user_id, "kind": body.kind, "approved_by": who.name,
                "until": body.until.isoformat() if body.until else None, "event_id": event_id}
    return await _in_tx(request, op)


@router.get("/groups/{ref}", tags=["groups"], summary="群详情与成员（对照花名册）/ A group and its members")
async def get_group(ref: str, request: Request, _: Annotated[Principal, Depends(require(*READ))],
                    include_past: bool = False) -> dict[str, Any]:
    _split(ref)
    on = _now(request).date()
    view = await _in_tx(request, lambda s: views.group_view(s, ref, on, include_past))
    if view is None:
        raise ProblemError(404, detail=f"群 {ref} 未登记且无成员记录 / group not known")
    return view



