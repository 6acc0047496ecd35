"""Ingest's own tables: which platform events it has already put on the log, and every raw receipt.

``ingest_seen_event`` is the dedupe memory (a platform retry maps to the same deterministic event id
and is answered as a duplicate) and also holds the canonical envelope as published, so
``GET /v1/events/{id}`` can serve an audit chain without reading the log. ``ingest_raw_receipt`` keeps
each request as received (headers that matter, body, signature result); it mirrors what went to
``qg.ingest.raw.v1``.

Rows are written only after the log flush returned: a row here means "durably on the log".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel


class SeenEvent(SQLModel, table=True):
    """A canonical chat event ingest has published (one row per deterministic event id)."""

    __tablename__ = "ingest_seen_event"
    event_id: str = Field(primary_key=True, max_length=64)
    platform: str = Field(max_length=20)
    platform_event_id: str = Field(max_length=400)
    event_type: str = Field(max_length=100)
    group_id: str = Field(max_length=200, index=True)
    occurred_at: datetime
    receipt_id: str = Field(max_length=64, index=True)
    envelope: str = Field(sa_column=Column(Text, nullable=False), description="The CloudEvent as published (JSON).")


class RawReceipt(SQLModel, table=True):
    """One request as received from a platform or an import."""

    __tablename__ = "ingest_raw_receipt"
    receipt_id: str = Field(primary_key=True, max_length=64)
    adapter: str = Field(max_length=40)
    platform: str = Field(max_length=20)
    received_at: datetime = Field(index=True)
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    body_encoding: str = Field(default="utf-8", max_length=10)
    signature: str = Field(max_length=20)
    event_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0


TABLES = [SeenEvent.__table__, RawReceipt.__table__]
