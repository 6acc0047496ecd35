"""The audit chain of one sanction: sanction → ladder step and repeat count → violation → rule and
policy version → triggering chat events → raw platform payload receipts, plus every human decision.

Chat events and raw receipts live in ingest; they are fetched read-only over REST. When ingest
cannot be reached the chain is still returned, with a clear note in place of those links.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import Session

from services.penalties.models import Appeal, Decision, LedgerEntry, PolicyVersion, Review, Sanction, Violation
from services.penalties.pack import PackView

Fetch = Callable[[str], dict[str, Any]]


def ingest_fetcher(base_url: str, token: str | None, timeout_s: float = 3.0) -> Fetch:
    def fetch(event_id: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = httpx.get(f"{base_url.rstrip('/')}/v1/events/{event_id}", headers=headers, timeout=timeout_s)
        resp.raise_for_status()
        return resp.json()
    return fetch


def _triggers(event_ids: list[str], fetch: Fetch) -> list[dict[str, Any]]:
    out = []
    for event_id in event_ids:
        try:
            out.append({"event_id": event_id, "status": "ok", "event": fetch(event_id)})
        except httpx.HTTPStatusError as exc:
            out.append({"event_id": event_id, "status": "unavailable",
                        "note": f"ingest 返回 {exc.response.status_code} / ingest answered {exc.response.status_code}"})
        except (httpx.HTTPError, OSError) as exc:
            out.append({"event_id": event_id, "status": "unavailable",
                        "note": f"无法连接 ingest，原始消息暂不可查 / ingest unreachable: {type(exc).__name__}"})
    return out


def audit_chain(session: Session, sanction: Sanction, fetch: Fetch) -> dict[str, Any]:
    pv = session.get(PolicyVersion, (sanction.policy_id, sanction.policy_version))
    pack = PackView(pv.pack) if pv else None
    ladder = pack.ladders.get(sanction.ladder) if pack else None
    violation = session.get(Violation, sanction.violation_id) if sanction.violation_id else None
    entries = session.scalars(select(LedgerEntry).where(LedgerEntry.sanction_id == sanction.sanction_id)
                              .order_by(LedgerEntry.employee_id, LedgerEntry.seq)).all()
    decisions = session.scalars(select(Decision).where(Decision.subject_id == sanction.sanction_id)
                                .order_by(Decision.at, Decision.event_id)).all()
    reviews = session.scalars(select(Review).where(Review.sanction_id == sanction.sanction_id)).all()
    appeals = session.scalars(select(Appeal).where(Appeal.sanction_id == sanction.sanction_id)).all()
    causing = (violation.payload.get("causing_event_ids") or []) if violation else []
    return {
        "sanction": sanction.model_dump(mode="json"),
        "ladder": {"name": sanction.ladder, "title": ladder.title if ladder else None, "step": sanction.step,
                   "repeat_count": sanction.repeat_count,
                   "window": (ladder.window if isinstance(ladder.window, str) else ladder.window.model_dump())
                   if ladder else None,
                   "step_spec": ladder.step_for(sanction.repeat_count).model_dump(mode="json") if ladder else None},
        "violation": violation.payload if violation else None,
        "rule": {"rule_id": sanction.rule_id, "policy_id": sanction.policy_id,
                 "policy_version": sanction.policy_version, "spec": pack.rule(sanction.rule_id) if pack else None},
        "triggering_events": _triggers(causing, fetch),
        "ledger_entries": [e.model_dump(mode="json") for e in entries],
        "reviews": [r.model_dump(mode="json") for r in reviews],
        "appeals": [a.model_dump(mode="json") for a in appeals],
        "decisions": [d.model_dump(mode="json") for d in decisions],
    }
