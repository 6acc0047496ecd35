"""Generate the checked-in contract documents from the code, deterministically.

Outputs (all under ``contracts/``):
- ``schemas/<event type>.json``: JSON Schema (draft-07, AsyncAPI's default format) of the whole CloudEvents envelope of one
  event type, with ``data`` the payload schema. Consumers in other languages validate against these.
- ``asyncapi.yaml``: AsyncAPI 3.0 — channels are the topics of ``contracts.topics`` (address, key,
  partitions, retention), messages are the event types, payloads refer to ``schemas/``.
- ``openapi/<service>.json``: each service's REST API, from its ``create_app`` (a service whose
  ``api`` module does not exist yet is skipped with a note).

Why generated and checked in: reviewers see a contract change as a diff, and a test fails when a
file is stale (``qg contracts check``). Output is byte-stable: sorted keys, fixed order, the package
version read from ``pyproject.toml`` rather than from whatever is installed.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from contracts import topics
from contracts.base import REGISTRY, Payload
from contracts.envelope import CONTENT_TYPE, SCHEMA_BASE

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVICES = ("ingest", "roster", "rules", "penalties")
JSON_SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"


def project_version() -> str:
    pyproject = ROOT / "pyproject.toml"
    if pyproject.exists():
        return tomllib.loads(pyproject.read_text("utf-8"))["project"]["version"]
    from importlib.metadata import version

    return version("qunguard")


def dump_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def payload_types() -> list[type[Payload]]:
    return [REGISTRY[name] for name in sorted(REGISTRY)]


def _doc(model: type[Payload]) -> str:
    return " ".join((model.__doc__ or "").split())


def envelope_schema(model: type[Payload]) -> dict[str, Any]:
    """The envelope of ``model``'s events: CloudEvents attributes + our extensions + typed ``data``."""
    payload = model.model_json_schema(ref_template="#/definitions/{model}")
    defs = payload.pop("$defs", {})
    defs[model.__name__] = payload
    text = {"type": "string", "minLength": 1}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_BASE + model.event_type + ".json",
        "title": model.__name__,
        "description": _doc(model) or f"CloudEvents envelope of {model.event_type}.",
        "type": "object",
        "additionalProperties": False,
        "required": ["specversion", "id", "source", "type", "time", "partitionkey", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {**text, "description": "Deterministic: uuid5 of the platform id or of the causes."},
            "source": {**text, "format": "uri-reference", "description": "Service and adapter."},
            "type": {"const": model.event_type},
            "time": {"type": "string", "format": "date-time", "description": "Event time (RFC 3339)."},
            "subject": text,
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"type": "string", "format": "uri"},
            "partitionkey": {**text, "description": f"Record key: {model.topic.key}."},
            "causation": {**text, "description": "Space-separated ids of the causing events."},
            "correlation": {**text, "description": "Id of the first event of the chain."},
            "data": {"$ref": f"#/definitions/{model.__name__}"},
        },
        "definitions": defs,
    }


def schema_files() -> dict[str, str]:
    return {f"schemas/{m.event_type}.json": dump_json(envelope_schema(m)) for m in payload_types()}


def _kafka_channel_binding(topic: topics.Topic) -> dict[str, Any]:
    return {"kafka": {"bindingVersion": "0.5.0", "partitions": topic.partitions, "topic": topic.name,
                      "topicConfiguration": {"retention.ms": topic.retention_ms}}}


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document: one channel per topic, one message per event type."""
    by_topic: dict[str, list[type[Payload]]] = {t.name: [] for t in topics.ALL}
    for model in payload_types():
        by_topic[model.topic.name].append(model)
    channels, operations, messages = {}, {}, {}
    for topic in topics.ALL:
        names = [m.__name__ for m in by_topic[topic.name]]
        channels[topic.name] = {
            "address": topic.name,
            "description": f"{topic.description} Key: {topic.key}.",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
            "bindings": _kafka_channel_binding(topic),
        }
        operations[f"publish {topic.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic.name}"},
            "messages": [{"$ref": f"#/channels/{topic.name}/messages/{n}"} for n in names],
        }
    for model in payload_types():
        messages[model.__name__] = {
            "name": model.event_type,
            "title": model.__name__,
            "summary": _doc(model) or model.event_type,
            "contentType": CONTENT_TYPE,
            "traits": [{"$ref": "#/components/messageTraits/cloudEventsStructured"}],
            "payload": {"schemaFormat": "application/schema+json;version=draft-07",
                        "schema": {"$ref": f"./schemas/{model.event_type}.json"}},
            "bindings": {"kafka": {"bindingVersion": "0.5.0",
                                   "key": {"type": "string", "description": model.topic.key}}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Qunguard events",
            "version": project_version(),
            "description": ("Every event Qunguard writes. Envelope: CloudEvents 1.0 in structured JSON "
                            "mode as the Kafka record value; the record key is the envelope's "
                            "partitionkey; time is event time."),
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "messageTraits": {"cloudEventsStructured": {
                "headers": {"type": "object", "properties": {
                    "content-type": {"type": "string", "const": CONTENT_TYPE,
                                     "description": "CloudEvents structured mode (Kafka protocol binding)"}}},
                "correlationId": {"description": "First event of the causal chain",
                                  "location": "$message.payload#/correlation"},
            }},
        },
    }


def asyncapi_text() -> str:
    return yaml.safe_dump(asyncapi(), sort_keys=True, allow_unicode=True, width=100)


def _missing(exc: ModuleNotFoundError, module: str) -> bool:
    return bool(exc.name) and (module == exc.name or module.startswith(exc.name + "."))


class Generated:
    """Every generated file (path relative to ``contracts/`` → text), notes, and failures by path."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.notes: list[str] = []
        self.errors: dict[str, str] = {}


def add_openapi(out: Generated, services: Iterable[str] = SERVICES) -> None:
    """``openapi/<svc>.json`` per service with an ``api`` module; a missing one is a note, a broken
    one an error (its checked-in file is kept, and ``check`` reports it)."""
    from services.common.settings import Settings

    for service in services:
        module_name, rel = f"services.{service}.api", f"openapi/{service}.json"
        try:
            module = importlib.import_module(module_name)
            doc = module.create_app(Settings(_env_file=None)).openapi()
        except ModuleNotFoundError as exc:
            if _missing(exc, module_name):
                out.notes.append(f"跳过 / skipped {rel}: {module_name} does not exist yet")
                continue
            out.errors[rel] = f"{type(exc).__name__}: {exc}"
            continue
        except Exception as exc:  # noqa: BLE001 - report which service is broken, keep the others
            out.errors[rel] = f"{type(exc).__name__}: {exc}"
            continue
        doc["info"]["version"] = project_version()
        out.files[rel] = dump_json(doc)


def generated() -> Generated:
    out = Generated()
    out.files.update(schema_files())
    out.files["asyncapi.yaml"] = asyncapi_text()
    add_openapi(out)
    return out


def _owned_on_disk() -> set[str]:
    found = {f"schemas/{p.name}" for p in (HERE / "schemas").glob("*.json")}
    found |= {f"openapi/{p.name}" for p in (HERE / "openapi").glob("*.json")}
    if (HERE / "asyncapi.yaml").exists():
        found.add("asyncapi.yaml")
    return found


def write_all() -> list[str]:
    """Write every file, remove generated files no longer produced; returns notes for the user."""
    out = generated()
    notes = list(out.notes)
    for rel, text in out.files.items():
        path = HERE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, encoding="utf-8")
            notes.append(f"写入 / wrote contracts/{rel}")
    for rel in sorted(_owned_on_disk() - set(out.files) - set(out.errors)):
        (HERE / rel).unlink()
        notes.append(f"删除 / removed contracts/{rel}")
    notes += [f"错误 / FAILED contracts/{rel}: {err}" for rel, err in sorted(out.errors.items())]
    return notes


def stale_files() -> list[str]:
    """Paths (relative to ``contracts/``) that differ from, are missing in, or cannot be produced
    from the code; each failure carries its reason."""
    out = generated()
    stale = [rel for rel, text in out.files.items()
             if not (HERE / rel).exists() or (HERE / rel).read_text("utf-8") != text]
    stale += sorted(_owned_on_disk() - set(out.files) - set(out.errors))
    stale += [f"{rel} (cannot generate: {err})" for rel, err in out.errors.items()]
    return sorted(stale)


if __name__ == "__main__":
    for line in write_all():
        print(line)
