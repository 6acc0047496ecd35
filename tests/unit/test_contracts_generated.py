"""The checked-in contract documents are exactly what the code generates."""

from __future__ import annotations

import pytest
import yaml

from contracts import generate, topics
from contracts.base import REGISTRY

pytestmark = pytest.mark.unit


def test_checked_in_schemas_asyncapi_and_openapi_are_current() -> None:
    stale = generate.stale_files()
    assert stale == [], f"stale generated contracts {stale}: run `qg contracts generate` and commit"


def test_generation_is_deterministic() -> None:
    first, second = generate.generated(), generate.generated()
    assert first.files == second.files


def test_every_event_type_has_a_schema_naming_its_type() -> None:
    files = generate.schema_files()
    assert len(files) == len(REGISTRY)
    for event_type in REGISTRY:
        assert f'"const": "{event_type}"' in files[f"schemas/{event_type}.json"]


def test_asyncapi_has_a_channel_per_topic_and_every_message_in_its_topic() -> None:
    doc = yaml.safe_load(generate.asyncapi_text())
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["channels"]) == {t.name for t in topics.ALL}
    for model in REGISTRY.values():
        channel = doc["channels"][model.topic.name]
        assert model.__name__ in channel["messages"]
        message = doc["components"]["messages"][model.__name__]
        assert message["name"] == model.event_type
        assert message["payload"]["schema"]["$ref"] == f"./schemas/{model.event_type}.json"
    chat = doc["channels"]["qg.chat.v1"]
    assert "group ref" in chat["description"] and chat["bindings"]["kafka"]["partitions"] == 6


def test_asyncapi_local_references_resolve() -> None:
    doc = yaml.safe_load(generate.asyncapi_text())

    def walk(node: object) -> list[str]:
        if isinstance(node, dict):
            refs = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return refs + [r for v in node.values() for r in walk(v)]
        if isinstance(node, list):
            return [r for v in node for r in walk(v)]
        return []

    for ref in walk(doc):
        if ref.startswith("#/"):
            target: object = doc
            for part in ref[2:].split("/"):
                assert isinstance(target, dict) and part in target, ref
                target = target[part]
        else:
            assert (generate.HERE / ref).exists(), ref


def test_a_missing_service_api_is_skipped_with_a_note() -> None:
    out = generate.Generated()
    generate.add_openapi(out, ["no_such_service"])
    assert out.files == {} and out.errors == {}
    assert "no_such_service" in out.notes[0]
