"""The CloudEvents 1.0 envelope, structured JSON mode, and its (de)serialisation.

The whole event is the Kafka record value (``content-type: application/cloudevents+json``).
Extensions (lowercase alphanumerics, as the spec requires): ``partitionkey`` (the record key),
``causation`` (space-separated ids of the events this one came from) and ``correlation`` (the id of
the first event of the chain, usually a chat message).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.base import REGISTRY, AwareDatetime, Payload

CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
SCHEMA_BASE = "https://qunguard.dev/schemas/"


class EnvelopeError(ValueError):
    """A record that is not a valid Qunguard CloudEvent; workers dead-letter it."""


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    partitionkey: str
    causation: str | None = None
    correlation: str | None = None
    data: dict[str, Any]

    @property
    def causation_ids(self) -> list[str]:
        return self.causation.split() if self.causation else []

    def payload(self) -> Payload:
        """The typed payload; raises EnvelopeError for an unknown type or invalid data."""
        model = REGISTRY.get(self.type)
        if model is None:
            raise EnvelopeError(f"unknown event type {self.type!r}")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise EnvelopeError(f"invalid data for {self.type}: {exc}") from exc

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    @property
    def key(self) -> bytes:
        return self.partitionkey.encode()


def new_event(
    payload: Payload,
    *,
    id: str,
    source: str,
    time: datetime,
    causation: list[str] | None = None,
    correlation: str | None = None,
    subject: str | None = None,
) -> CloudEvent:
    """Wrap a payload. ``time`` is when it happened (event time), never when we processed it."""
    return CloudEvent(
        id=id,
        source=source,
        type=payload.event_type,
        time=time,
        subject=subject,
        dataschema=SCHEMA_BASE + payload.event_type + ".json",
        partitionkey=payload.partition_key(),
        causation=" ".join(causation) if causation else None,
        correlation=correlation,
        data=payload.model_dump(mode="json", exclude_none=True),
    )


_EXT = re.compile(r"^[a-z0-9]{1,20}$")


def decode(value: bytes) -> CloudEvent:
    """Parse a record value into an envelope; raises EnvelopeError with the reason."""
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise EnvelopeError("envelope is not a JSON object")
    try:
        return CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise EnvelopeError(f"not a Qunguard CloudEvent: {exc}") from exc
