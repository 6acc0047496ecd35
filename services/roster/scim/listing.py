"""Rendering stored SCIM documents, and queries: ``GET /Users?filter=…`` and ``POST /.search``.

RFC 7644 §3.4.2 (GET with query parameters) and §3.4.3 (POST ``/.search`` with a SearchRequest
body) are the same query spelled two ways, so both become a :class:`Query` and one function
answers it. ``/.search`` matters for clients that must not put filters in URLs (a filter on
``userName`` or ``externalId`` carries an email or an employee number, which proxies log); Okta and
Entra ID use GET, scim2-client and several HR connectors use POST.

Sorting is not supported (ServiceProviderConfig says so): ``sortBy`` is accepted and ignored,
results come in creation order, which is stable across pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, ResponseParameters, SCIMException, ScimFilter
from sqlmodel import Session

from services.roster.models import ScimResource
from services.roster.scim import store
from services.roster.scim.errors import ScimError
from services.roster.scim.resources import MAX_RESULTS, POLICY, ScimGroup, ScimUser

LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MODELS: dict[str, type] = {"User": ScimUser, "Group": ScimGroup}


@dataclass(frozen=True)
class Query:
    """One query, whichever way it was asked."""

    filter: str | None = None
    start_index: int = 1
    count: int = MAX_RESULTS
    attributes: str | None = None
    excluded_attributes: str | None = None


def _int(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise ScimError(400, f"{name} 须为整数 / {name} must be an integer", "invalidValue")
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise ScimError(400, f"{name} 须为整数 / {name} must be an integer", "invalidValue") from exc


def _names(raw: Any, name: str) -> str | None:
    """``attributes`` is a comma-separated string in a URL and a list of strings in a SearchRequest."""
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return ",".join(raw)
    raise ScimError(400, f"{name} 须为字符串列表 / {name} must be a list of strings", "invalidValue")


def _query(filter_text: Any, start: Any, count: Any, attributes: Any, excluded: Any) -> Query:
    if filter_text is not None and not isinstance(filter_text, str):
        raise ScimError(400, "filter 须为字符串 / filter must be a string", "invalidFilter")
    return Query(filter=filter_text or None,
                 start_index=max(1, _int(start, "startIndex", 1)),
                 count=min(max(0, _int(count, "count", MAX_RESULTS)), MAX_RESULTS),
                 attributes=_names(attributes, "attributes"),
                 excluded_attributes=_names(excluded, "excludedAttributes"))


def query_from_params(params: Mapping[str, str]) -> Query:
    """RFC 7644 §3.4.2: the query parameters of ``GET /Users``."""
    return _query(params.get("filter"), params.get("startIndex"), params.get("count"),
                  params.get("attributes"), params.get("excludedAttributes"))


def query_from_search(body: Any) -> Query:
    """RFC 7644 §3.4.3: a SearchRequest body (its ``schemas`` must name the SearchRequest URN)."""
    if not isinstance(body, dict):
        raise ScimError(400, "请求体须为 JSON 对象 / body must be a JSON object", "invalidSyntax")
    if SEARCH_URN not in (body.get("schemas") or []):
        raise ScimError(400, f"schemas 须包含 {SEARCH_URN} / schemas must name the SearchRequest", "invalidSyntax")
    return _query(body.get("filter"), body.get("startIndex"), body.get("count"),
                  body.get("attributes"), body.get("excludedAttributes"))


def response_parameters(model: type, query: Query) -> ResponseParameters | None:
    if not query.attributes and not query.excluded_attributes:
        return None
    try:
        return ResponseParameters[model](attributes=query.attributes, excluded_attributes=query.excluded_attributes)
    except (ValidationError, SCIMException) as exc:
        raise ScimError.from_validation(exc) from exc


def model_of(row: ScimResource, base: str, user_groups: dict[str, list[dict[str, Any]]] | None) -> Any:
    """The stored document with its server-computed parts (meta, a User's groups), as a model."""
    doc = dict(row.document)
    kind = row.resource_type
    doc["meta"] = {"resourceType": kind, "created": row.created.isoformat(),
                   "lastModified": row.last_modified.isoformat(), "version": store.etag(row.version),
                   "location": f"{base}/{kind}s/{row.resource_id}"}
    if kind == "User" and user_groups is not None and user_groups.get(row.resource_id):
        doc["groups"] = user_groups[row.resource_id]
    return MODELS[kind].model_validate(doc, scim_policy=POLICY)


def render(row: ScimResource, base: str, user_groups: dict | None, params: ResponseParameters | None,
           ctx: Context = Context.RESOURCE_QUERY_RESPONSE) -> dict[str, Any]:
    return model_of(row, base, user_groups).model_dump(scim_ctx=ctx, response_parameters=params, scim_policy=POLICY)


def _parameters_for(kind: str, query: Query, several: bool) -> ResponseParameters | None:
    try:
        return response_parameters(MODELS[kind], query)
    except ScimError:
        if several:  # attributes of the other kind: this kind is returned whole
            return None
        raise


def _matching(session: Session, kind: str, query: Query, base: str,
              user_groups: dict | None) -> list[ScimResource]:
    rows, exact = store.candidates(session, kind, query.filter)
    if exact:
        return rows
    try:
        scim_filter = ScimFilter[MODELS[kind]](query.filter)
        return [row for row in rows if scim_filter.match(model_of(row, base, user_groups), strict=False)]
    except (ValidationError, SCIMException) as exc:
        raise ScimError(400, f"过滤条件无效 / invalid filter: {exc}", "invalidFilter") from exc


def list_response(session: Session, kinds: list[str], query: Query, base: str) -> dict[str, Any]:
    """Filter, then page (startIndex is 1-based; count 0 returns only the total).

    With several kinds (``POST /.search`` at the root) a filter that names an attribute one kind
    lacks selects nothing of that kind; it is an error only when no kind understands it.
    """
    user_groups = store.groups_of_users(session, base) if "User" in kinds else None
    found: list[ScimResource] = []
    errors: list[ScimError] = []
    for kind in kinds:
        try:
            found += _matching(session, kind, query, base, user_groups)
        except ScimError as err:
            errors.append(err)
    if errors and len(errors) == len(kinds):
        raise errors[0]
    page = found[query.start_index - 1:query.start_index - 1 + query.count]
    params = {kind: _parameters_for(kind, query, several=len(kinds) > 1) for kind in kinds}
    return {"schemas": [LIST_URN], "totalResults": len(found), "startIndex": query.start_index,
            "itemsPerPage": len(page),
            "Resources": [render(row, base, user_groups, params[row.resource_type]) for row in page]}
