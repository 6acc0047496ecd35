"""Sample events of every type are valid CloudEvents 1.0 and valid against their generated schema."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from contracts import generate
from contracts.base import REGISTRY, Payload
from contracts.envelope import new_event
from contracts.ids import derive_id

pytestmark = pytest.mark.unit

CLOUDEVENTS = json.loads((Path(__file__).parents[1] / "data" / "cloudevents-1.0.schema.json").read_text())
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return "T" in value and parsed.tzinfo is not None


@FORMATS.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme) and " " not in value


@FORMATS.checks("uri-reference")
def _uri_reference(value: object) -> bool:
    return not isinstance(value, str) or (" " not in value and value != "")


STRING_SAMPLES = {
    "platform": "wecom", "group_id": "研发一群", "group_name": "研发部-产品研发群", "text": "各位同事下午好，三点开周会",
    "nickname": "研发部-张伟", "user_id": "zhangwei", "employee_id": "E10086", "name": "张伟",
    "reason": "在工作群发布广告链接", "timezone": "Asia/Shanghai",
}


def sample(schema: dict[str, Any], root: dict[str, Any], name: str = "") -> Any:
    """A minimal instance of ``schema``: required properties only, first choice of every union."""
    if "$ref" in schema:
        return sample(root["definitions"][schema["$ref"].split("/")[-1]], root, name)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return sample(options[0], root, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: sample(props[k], root, k) for k in schema.get("required", [])}
    if kind == "array":
        return [sample(schema.get("items", {}), root, name) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return "2024-03-04T15:00:00+08:00"
    if schema.get("format") == "date":
        return "2024-03-04"
    return STRING_SAMPLES.get(name, f"示例-{name or 'value'}")


def samples_of(model: type[Payload]) -> list[Payload]:
    if model.examples:
        return [model.model_validate(e) for e in model.examples]
    schema = model.model_json_schema(ref_template="#/definitions/{model}")
    schema["definitions"] = schema.pop("$defs", {})
    return [model.model_validate(sample(schema, schema))]


def envelope(payload: Payload) -> dict[str, Any]:
    event = new_event(payload, id=derive_id("sample", payload.event_type), source="qunguard/tests",
                      time=datetime.fromisoformat("2024-03-04T15:00:00+08:00"),
                      causation=[derive_id("cause", 1)], correlation=derive_id("cause", 1))
    return json.loads(event.to_bytes())


def type_schema(event_type: str) -> dict[str, Any]:
    return json.loads((generate.HERE / "schemas" / f"{event_type}.json").read_text("utf-8"))


def _errors(schema: dict[str, Any], instance: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


@pytest.mark.parametrize("event_type", sorted(REGISTRY))
def test_sample_event_is_a_valid_cloudevent_and_matches_its_schema(event_type: str) -> None:
    for payload in samples_of(REGISTRY[event_type]):
        event = envelope(payload)
        assert _errors(CLOUDEVENTS, event) == []
        assert _errors(type_schema(event_type), event) == []


def test_message_posted_schema_rejects_an_envelope_of_another_type() -> None:
    posted = envelope(samples_of(REGISTRY["qunguard.chat.message_posted.v1"])[0])
    posted["type"] = "qunguard.chat.member_joined.v1"
    assert _errors(type_schema("qunguard.chat.message_posted.v1"), posted)


def test_schema_rejects_data_missing_a_required_field() -> None:
    posted = envelope(samples_of(REGISTRY["qunguard.chat.message_posted.v1"])[0])
    del posted["data"]["group_id"]
    assert any("group_id" in e for e in _errors(type_schema("qunguard.chat.message_posted.v1"), posted))


@pytest.mark.parametrize("broken", [
    {"id": None}, {"source": ""}, {"specversion": "0.3"}, {"time": "2024-03-04 15:00"},
    {"causationIds": "x"}, {"very_long_extension_name": "x"},
])
def test_cloudevents_schema_rejects_spec_violations(broken: dict[str, Any]) -> None:
    event = envelope(samples_of(REGISTRY["qunguard.clock.ticked.v1"])[0])
    for key, value in broken.items():
        if value is None:
            del event[key]
        else:
            event[key] = value
    assert _errors(CLOUDEVENTS, event)
