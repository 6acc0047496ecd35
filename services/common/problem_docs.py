"""Document the problem+json answers in every service's OpenAPI document.

Why: FastAPI documents only the success status and a 422 as ``application/json`` (its own
``HTTPValidationError`` shape), while every 4xx/5xx of ours is RFC 9457 ``application/problem+json``
(``problems``). A client generated from the document would then meet statuses and media types it
was never told about (a 401 on every secured route, 404 for an unknown id, 409, 413, 503). This
rewrites the document, once, so it says what the services answer:

- ``401`` and ``403`` on every operation that requires a bearer token;
- ``422`` as a problem document (with ``errors``) wherever FastAPI or the route declares one;
- ``4XX`` and ``5XX`` as problem documents, unless the operation documents its own error shape
  (SCIM answers SCIM Error documents and declares them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from services.common.problems import MEDIA_TYPE

SCHEMA_NAME = "Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": SCHEMA_NAME,
    "description": "RFC 9457 problem details; titles Chinese first, English second.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string", "description": "Quote it to support; it is in the logs too."},
        "errors": {
            "type": "array",
            "description": "Invalid input, one entry per field at fault (e.g. events[3].time).",
            "items": {"type": "object", "required": ["field", "message"],
                      "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
    "additionalProperties": True,
}
_REF = {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}
_DESCRIPTIONS = {
    "401": "未认证：缺少或无效的访问令牌 / Missing or invalid bearer token",
    "403": "无权限：令牌没有所需角色 / The token lacks the required role",
    "422": "输入校验失败 / Validation failed (errors lists each field)",
    "4XX": "请求错误（problem+json）/ Client error as a problem document",
    "5XX": "服务器错误或暂不可用（problem+json）/ Server error or unavailable, as a problem document",
}
_UNUSED_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": dict(_REF)}}}


def _document_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if operation.get("security"):
        for status in ("401", "403"):
            responses.setdefault(status, problem_response(_DESCRIPTIONS[status]))
    if "422" in responses:
        responses["422"] = problem_response(responses["422"].get("description") or _DESCRIPTIONS["422"])
    if "default" not in responses:
        for status in ("4XX", "5XX"):
            responses.setdefault(status, problem_response(_DESCRIPTIONS[status]))


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``schema`` (an OpenAPI document) in place, as described above, and return it."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}:
                _document_operation(operation)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas[SCHEMA_NAME] = PROBLEM_SCHEMA
    text = json.dumps(schema.get("paths", {}))
    for name in _UNUSED_FASTAPI_SCHEMAS:
        if f'"#/components/schemas/{name}"' not in text:
            schemas.pop(name, None)
    return schema


def install(app: Any) -> None:
    """Make ``app.openapi()`` return the documented schema (built once, then cached like FastAPI's)."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "problems_documented", False):
            document_problems(original())
            app.state.problems_documented = True
        return original()

    app.openapi = openapi
