"""Deterministic event ids.

Ids are never random where a cause exists: a platform event's id is uuid5 of (platform, the
platform's own id), so a retried webhook maps to the same event on any replica; a derived event's
id is uuid5 of its kind and causes, so reprocessing yields the same id and consumers drop it.
"""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6f1c2a7e-5b7d-4c1e-9a51-71a6e0c0a9d1")


def derive_id(*parts: object) -> str:
    """uuid5 over the parts joined by a separator that cannot occur inside str(part) ambiguities."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def platform_event_id(platform: str, platform_id: str) -> str:
    """The id of the canonical event for one platform event (the same across retries)."""
    return derive_id("platform", platform, platform_id)


def fresh_id() -> str:
    """For human decisions only (a review, an appeal): they have no deterministic cause."""
    return str(uuid.uuid4())
