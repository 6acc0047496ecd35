"""Request-body documentation for routes that read the raw body (signatures need the exact bytes).

FastAPI cannot infer these bodies, so they are declared here for the exported OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from services.ingest.adapters.generic import MAX_EVENTS, GenericEvent


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace local ``#/$defs/X`` references by the definitions, for a self-contained schema."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _generic_body() -> dict[str, Any]:
    event = _inline(GenericEvent.model_json_schema())
    batch = {"type": "object", "additionalProperties": False, "required": ["events"],
             "properties": {"events": {"type": "array", "minItems": 1, "maxItems": MAX_EVENTS, "items": event}}}
    example = {"platform": "wecom", "type": "message", "id": "msg-20260302-0001", "group_id": "wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA",
               "group_name": "华东销售一部", "user_id": "zhangsan", "nickname": "张三-销售部",
               "time": "2026-03-02T09:15:00+08:00", "msg_type": "text", "text": "@所有人 今天下午三点开周会",
               "mentions": [], "mention_all": True}
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [event, batch]}, "example": {"events": [example]}}}}}


GENERIC_BODY = _generic_body()
WEBHOOK_BODY: dict[str, Any] = {"requestBody": {"required": True, "description": (
    "平台原样推送的报文，按平台自身签名方案校验 / The platform's own payload, verified by its own signature scheme."),
    "content": {"application/json": {"schema": {"type": "object"}}}}}
