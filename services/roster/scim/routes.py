"""The SCIM 2.0 service provider at ``/scim/v2`` (RFC 7644): Users, Groups and discovery.

Routes are thin: read the body, run one operation in one transaction, answer ``application/scim+json``.
Every refusal is a SCIM Error document (``status`` as a string, ``scimType``), never problem+json,
because identity providers parse these.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from scim2_models import Context, ResponseParameters
from sqlmodel import Session

from services.common.auth import require
from services.common.db import session_scope
from services.roster.models import ScimResource
from services.roster.scim import groups, listing, store, users
from services.roster.scim.errors import (
    ERROR_RESPONSES,
    SCIM_MEDIA_TYPE,
    ScimError,
    error_response,
    scim_response,
)
from services.roster.scim.resources import (
    ScimGroup,
    ScimUser,
    resource_types,
    schemas,
    service_provider_config,
)

LIST_URN = listing.LIST_URN
router = APIRouter(prefix="/scim/v2", tags=["scim"], dependencies=[Depends(require("hr"))],
                   responses=ERROR_RESPONSES)
_SCIM_CONTENT = {"content": {SCIM_MEDIA_TYPE: {}}}


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/scim/v2"


async def _body(request: Request) -> Any:
    ctype = request.headers.get("content-type", "")
    if ctype and "json" not in ctype.lower():
        raise ScimError(415, f"不支持的内容类型 / unsupported content type {ctype!r}; use {SCIM_MEDIA_TYPE}")
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise ScimError(400, f"JSON 格式错误 / malformed JSON: {exc}", "invalidSyntax") from exc


async def _run(request: Request, operation: Callable[[Session], Response]) -> Response:
    """One transaction per request; a ScimError rolls it back and becomes a SCIM Error document."""
    def work() -> Response:
        with session_scope(request.app.state.engine) as session:
            return operation(session)
    try:
        return await run_in_threadpool(work)
    except ScimError as err:
        return error_response(err)


OCCURRED_AT = "X-Qunguard-Occurred-At"
CLOCK_SKEW = timedelta(minutes=5)


def _now(request: Request) -> datetime:
    """When the change happened: now, or the time the caller states for a change it loads late.

    HR systems are often synchronised after the fact (a month of hires and departures loaded at
    once). Stamped on arrival, a hire loaded weeks late has every deadline already past and is
    judged against chat that happened after it; with ``X-Qunguard-Occurred-At`` (RFC 3339 with an
    offset, not in the future) the roster events carry the time HR gives, and the rules judge each
    deadline in event time. Unparseable or future values are refused, never guessed.
    """
    now = request.app.state.clock()
    raw = request.headers.get(OCCURRED_AT)
    if raw is None:
        return now
    try:
        at = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ScimError(400, f"{OCCURRED_AT} 不是 RFC 3339 时间 / {OCCURRED_AT} is not an RFC 3339 time: "
                             f"{raw[:60]!r}", "invalidValue") from None
    if at.tzinfo is None:
        raise ScimError(400, f"{OCCURRED_AT} 缺少时区 / {OCCURRED_AT} needs an offset (+08:00 or Z)",
                        "invalidValue")
    if at > now + CLOCK_SKEW:
        raise ScimError(400, f"{OCCURRED_AT} 在未来 / {OCCURRED_AT} is in the future: {raw[:60]}",
                        "invalidValue")
    return at


def _params(model: type, request: Request) -> ResponseParameters | None:
    return listing.response_parameters(model, listing.query_from_params(request.query_params))


def _resource(row: ScimResource, request: Request, session: Session, status: int = 200,
              ctx: Context = Context.RESOURCE_QUERY_RESPONSE) -> Response:
    base = base_url(request)
    model = ScimUser if row.resource_type == "User" else ScimGroup
    user_groups = store.groups_of_users(session, base) if row.resource_type == "User" else None
    body = listing.render(row, base, user_groups, _params(model, request), ctx)
    headers = {"ETag": store.etag(row.version)}
    if status == 201:
        headers["Location"] = body["meta"]["location"]
    return scim_response(body, status, headers)


def _list(request: Request, session: Session, kind: str) -> Response:
    return scim_response(listing.list_response(session, [kind], listing.query_from_params(request.query_params),
                                               base_url(request)))


async def _search(request: Request, kinds: list[str]) -> Response:
    """RFC 7644 §3.4.3: POST ``/.search`` answers as the same GET query would."""
    try:
        query = listing.query_from_search(await _body(request))
    except ScimError as err:
        return error_response(err)
    return await _run(request, lambda s: scim_response(listing.list_response(s, kinds, query, base_url(request))))


# -- Users ----------------------------------------------------------------------------------------

@router.get("/Users", summary="列出员工 / List Users", responses={200: _SCIM_CONTENT})
async def list_users(request: Request) -> Response:
    return await _run(request, lambda s: _list(request, s, "User"))


@router.post("/Users/.search", summary="查询员工 / Search Users", responses={200: _SCIM_CONTENT})
async def search_users(request: Request) -> Response:
    return await _search(request, ["User"])


@router.post("/Users", status_code=201, summary="创建员工 / Create a User", responses={201: _SCIM_CONTENT})
async def create_user(request: Request) -> Response:
    try:
        body = await _body(request)
    except ScimError as err:
        return error_response(err)
    return await _run(request, lambda s: _resource(users.create(s, body, _now(request)), request, s, 201,
                                                   Context.RESOURCE_CREATION_RESPONSE))


@router.get("/Users/{resource_id}", summary="查看员工 / Get a User", responses={200: _SCIM_CONTENT})
async def get_user(resource_id: str, request: Request) -> Response:
    return await _run(request, lambda s: _resource(store.get(s, "User", resource_id), request, s))


@router.put("/Users/{resource_id}", summary="替换员工 / Replace a User", responses={200: _SCIM_CONTENT})
async def replace_user(resource_id: str, request: Request) -> Response:
    try:
        body = await _body(request)
    except ScimError as err:
        return error_response(err)
    if_match = request.headers.get("if-match")
    return await _run(request, lambda s: _resource(users.replace(s, resource_id, body, _now(request), if_match),
                                                   request, s, ctx=Context.RESOURCE_REPLACEMENT_RESPONSE))


@router.patch("/Users/{resource_id}", summary="修改员工 / Patch a User", responses={200: _SCIM_CONTENT})
async def patch_user(resource_id: str, request: Request) -> Response:
    try:
        body = await _body(request)
    except ScimError as err:
        return error_response(err)
    if_match = request.headers.get("if-match")
    return await _run(request, lambda s: _resource(users.patch(s, resource_id, body, _now(request), if_match),
                                                   request, s, ctx=Context.RESOURCE_PATCH_RESPONSE))


@router.delete("/Users/{resource_id}", status_code=204, summary="删除员工（视为离职）/ Delete a User (departs)")
async def delete_user(resource_id: str, request: Request) -> Response:
    if_match = request.headers.get("if-match")

    def op(session: Session) -> Response:
        users.delete(session, resource_id, _now(request), if_match)
        return Response(status_code=204)
    return await _run(request, op)


# -- Groups (departments) -------------------------------------------------------------------------

@router.get("/Groups", summary="列出部门 / List Groups", responses={200: _SCIM_CONTENT})
async def list_groups(request: Request) -> Response:
    return await _run(request, lambda s: _list(request, s, "Group"))


@router.post("/Groups/.search", summary="查询部门 / Search Groups", responses={200: _SCIM_CONTENT})
async def search_groups(request: Request) -> Response:
    return await _search(request, ["Group"])


@router.post("/.search", summary="查询员工与部门 / Search Users and Groups", responses={200: _SCIM_CONTENT})
async def search_all(request: Request) -> Response:
    return await _search(request, ["User", "Group"])


@router.post("/Groups", status_code=201, summary="创建部门 / Create a Group", responses={201: _SCIM_CONTENT})
async def create_group(request: Request) -> Response:
    try:
        body = await _body(request)
    except ScimError as err:
        return error_response(err)
    return await _run(request, lambda s: _resource(groups.create(s, body, _now(request)), request, s, 201,
                                                   Context.RESOURCE_CREATION_RESPONSE))


@router.get("/Groups/{resource_id}", summary="查看部门 / Get a Group", responses={200: _SCIM_CONTENT})
async def get_group(resource_id: str, request: Request) -> Response:
    return await _run(request, lambda s: _resource(store.get(s, "Group", resource_id), request, s))


@router.put("/Groups/{resource_id}", summary="替换部门 / Replace a Group", responses={200: _SCIM_CONTENT})
async def replace_group(resource_id: str, request: Request) -> Response:
    try:
        body = await _body(request)
    except ScimError as err:
        return error_response(err)
    if_match = request.headers.get("if-match")
    return await _run(request, lambda s: _resource(groups.replace(s, resource_id, body, _now(request), if_match),
                                                   request, s, ctx=Context.RESOURCE_REPLACEMENT_RESPONSE))


@router.patch("/Groups/{resource_id}", summary="修改部门（含成员）/ Patch a Group", responses={200: _SCIM_CONTENT})
async def patch_group(resource_id: str, request: Request) -> Response:
    try:
        body = await _body(request)
    except ScimError as err:
        return error_response(err)
    if_match = request.headers.get("if-match")
    return await _run(request, lambda s: _resource(groups.patch(s, resource_id, body, _now(request), if_match),
                                                   request, s, ctx=Context.RESOURCE_PATCH_RESPONSE))


@router.delete("/Groups/{resource_id}", status_code=204, summary="删除部门 / Delete a Group")
async def delete_group(resource_id: str, request: Request) -> Response:
    if_match = request.headers.get("if-match")

    def op(session: Session) -> Response:
        groups.delete(session, resource_id, _now(request), if_match)
        return Response(status_code=204)
    return await _run(request, op)


# -- discovery (RFC 7644 §4) -----------------------------------------------------------------------

def _listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": [LIST_URN], "totalResults": len(items), "startIndex": 1, "itemsPerPage": len(items),
            "Resources": items}


def _one(items: list[dict[str, Any]], key: str, kind: str) -> Response:
    for item in items:
        if item["id"].casefold() == key.casefold():
            return scim_response(item)
    return error_response(ScimError.not_found(kind, key))


@router.get("/ServiceProviderConfig", summary="服务能力 / ServiceProviderConfig", responses={200: _SCIM_CONTENT})
async def get_service_provider_config(request: Request) -> Response:
    return scim_response(service_provider_config(base_url(request)))


@router.get("/ResourceTypes", summary="资源类型 / ResourceTypes", responses={200: _SCIM_CONTENT})
async def list_resource_types(request: Request) -> Response:
    return scim_response(_listing(resource_types(base_url(request))))


@router.get("/ResourceTypes/{name}", summary="资源类型 / One ResourceType", responses={200: _SCIM_CONTENT})
async def get_resource_type(name: str, request: Request) -> Response:
    return _one(resource_types(base_url(request)), name, "ResourceType")


@router.get("/Schemas", summary="模式 / Schemas", responses={200: _SCIM_CONTENT})
async def list_schemas(request: Request) -> Response:
    return scim_response(_listing(schemas(base_url(request))))


@router.get("/Schemas/{schema_id}", summary="模式 / One Schema", responses={200: _SCIM_CONTENT})
async def get_schema(schema_id: str, request: Request) -> Response:
    return _one(schemas(base_url(request)), schema_id, "Schema")
