"""SCIM error responses (RFC 7644 §3.12): ``status`` is a string, ``scimType`` names the kind."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import ValidationError
from scim2_models import SCIMException

SCIM_MEDIA_TYPE = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
# Documents the refusals in the OpenAPI document (the app factory documents problem+json for every
# other route; SCIM clients parse SCIM Error documents, so these routes say so).
_SCIM_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["schemas", "status"],
    "properties": {"schemas": {"type": "array", "items": {"type": "string", "enum": [ERROR_URN]}},
                   "status": {"type": "string", "pattern": "^4[0-9][0-9]$"},
                   "scimType": {"type": "string"}, "detail": {"type": "string"}}}


def _scim_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {SCIM_MEDIA_TYPE: {"schema": _SCIM_ERROR_SCHEMA}}}


# 401 and 403 are named explicitly: the app factory documents them as problem+json on every secured
# route unless a route says otherwise, and under /scim/v2 they are SCIM Errors too.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "401": _scim_error("未认证 / Missing or invalid bearer token (SCIM Error)"),
    "403": _scim_error("无权限 / The token lacks the hr role (SCIM Error)"),
    "4XX": _scim_error("SCIM 错误 / SCIM Error (RFC 7644 §3.12)"),
}


class ScimError(Exception):
    """A request the SCIM endpoints refuse; ``detail`` is Chinese first, English second."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type

    @classmethod
    def not_found(cls, kind: str, resource_id: str) -> ScimError:
        return cls(404, f"{kind} 不存在 / {kind} {resource_id} not found")

    @classmethod
    def from_validation(cls, exc: ValidationError | SCIMException) -> ScimError:
        """Map scim2-models/pydantic failures to invalidValue, mutability, invalidPath, …"""
        if isinstance(exc, SCIMException):
            return cls(int(exc.status), f"请求无效 / {exc}", exc.scim_type or None)
        errors = exc.errors(include_url=False)
        scim_type = "invalidValue"
        for err in errors:
            ctx_type = (err.get("ctx") or {}).get("scim_type") or err.get("type", "")
            if ctx_type in ("mutability", "invalidPath", "noTarget", "invalidSyntax", "invalidFilter", "uniqueness"):
                scim_type = ctx_type
                break
        parts = ["{}: {}".format(".".join(str(x) for x in err.get("loc", ())) or "body", err.get("msg"))
                 for err in errors[:5]]
        return cls(400, "请求无效 / invalid request: " + "; ".join(parts), scim_type)


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=SCIM_MEDIA_TYPE, headers=headers)


def error_response(err: ScimError) -> Response:
    body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(err.status), "detail": err.detail}
    if err.scim_type:
        body["scimType"] = err.scim_type
    return scim_response(body, err.status)
