"""Base class of every event payload and the registry from CloudEvents ``type`` to model.

A payload class declares its CloudEvents type (past tense, versioned), its topic, and how to derive
its partition key. Changing a published payload means a new class with a ``.v2`` type, never an edit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from contracts.topics import Topic


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a UTC offset (RFC 3339)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

REGISTRY: dict[str, type["Payload"]] = {}


class Payload(BaseModel):
    """An event's ``data``. Subclasses set ``event_type`` and ``topic`` and implement ``partition_key``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str] = ""
    topic: ClassVar[Topic]
    examples: ClassVar[list[dict[str, Any]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("event_type"):
            if cls.event_type in REGISTRY:
                raise TypeError(f"duplicate event type {cls.event_type}")
            REGISTRY[cls.event_type] = cls

    def partition_key(self) -> str:  # pragma: no cover - every concrete payload overrides it
        raise NotImplementedError


def group_ref(platform: str, group_id: str) -> str:
    """The one spelling of a chat group's identity across services: ``platform:group_id``."""
    return f"{platform}:{group_id}"


def user_ref(platform: str, user_id: str) -> str:
    """A platform account before it is linked to an employee: ``platform:user_id``."""
    return f"{platform}:{user_id}"
