"""The JSON Schema of policy packs (``policies/schema.json``), generated from the pydantic models.

Editors use it for completion and inline errors; ``qg policy check`` remains the authority because
it also validates each rule's ``params`` against its detector and each ladder against penalties' model.
The generated schema constrains ``rules[].params`` per detector with ``if``/``then`` on ``detector``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from services.rules.detectors.base import load_all
from services.rules.policy.model import PolicyPack

SCHEMA_ID = "https://qunguard.dev/schemas/policy-pack.json"


def build_schema() -> dict[str, Any]:
    schema = PolicyPack.model_json_schema()
    registry = load_all()
    defs = schema.setdefault("$defs", {})
    rule = defs["RuleSpec"]
    rule["properties"]["detector"]["enum"] = sorted(registry)
    branches = []
    for name in sorted(registry):
        params = registry[name].params.model_json_schema()
        for key, value in params.pop("$defs", {}).items():
            defs.setdefault(key, value)
        branches.append({"if": {"properties": {"detector": {"const": name}}},
                         "then": {"properties": {"params": params}}})
    rule["allOf"] = branches
    schema["$id"] = SCHEMA_ID
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render() -> bytes:
    return orjson.dumps(build_schema(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def write_schema(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render())
