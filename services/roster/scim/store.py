"""Reading SCIM documents back: lookup, versions (ETags), listing with filters and paging."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from services.roster.models import ScimResource
from services.roster.scim.errors import ScimError

# The filters identity providers send before every create/update: answered from an index.
_INDEXED = re.compile(r'^\s*(userName|externalId)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


def etag(version: int) -> str:
    return f'W/"{version}"'


def get(session: Session, resource_type: str, resource_id: str) -> ScimResource:
    row = session.get(ScimResource, resource_id)
    if row is None or row.resource_type != resource_type:
        raise ScimError.not_found(resource_type, resource_id)
    return row


def check_precondition(row: ScimResource, if_match: str | None) -> None:
    """RFC 7644 §3.14: a stale If-Match is 412 (ETags are weak, compared as such)."""
    if not if_match:
        return
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags:
        return
    want = etag(row.version)
    if not any(t.removeprefix("W/") == want.removeprefix("W/") for t in tags):
        raise ScimError(412, f"版本已变化 / precondition failed: resource is at {want}")


def user_name_taken(session: Session, user_name: str, except_id: str | None = None) -> bool:
    query = select(ScimResource.resource_id).where(ScimResource.resource_type == "User",
                                                   ScimResource.name_key == user_name.casefold())
    found = session.exec(query).first()
    return found is not None and found != except_id


def user_for_employee(session: Session, employee_id: str) -> str | None:
    query = select(ScimResource.resource_id).where(ScimResource.resource_type == "User",
                                                   ScimResource.key == employee_id)
    return session.exec(query).first()


def candidates(session: Session, resource_type: str, filter_text: str | None) -> tuple[list[ScimResource], bool]:
    """Rows that may match ``filter_text``; the bool says whether the filter is already fully applied.

    ``userName eq`` and ``externalId eq`` (what Okta and Entra send before provisioning) use the
    indexed columns; anything else is evaluated by the caller on every row of the type.
    """
    query = select(ScimResource).where(ScimResource.resource_type == resource_type)
    match = _INDEXED.match(filter_text or "")
    if match and resource_type == "User":
        attr, value = match.group(1).lower(), re.sub(r'\\(.)', r"\1", match.group(2))
        if attr == "username":
            query = query.where(ScimResource.name_key == value.casefold())
        else:
            query = query.where(ScimResource.external_id == value)
        return list(session.exec(query.order_by(ScimResource.created, ScimResource.name_key, ScimResource.resource_id))), True
    return list(session.exec(query.order_by(ScimResource.created, ScimResource.name_key, ScimResource.resource_id))), filter_text is None


def count(session: Session, resource_type: str) -> int:
    return int(session.exec(select(func.count()).select_from(ScimResource)
                            .where(ScimResource.resource_type == resource_type)).one())


def groups_of_users(session: Session, base_url: str) -> dict[str, list[dict[str, Any]]]:
    """User id → its read-only ``groups`` entries (departments it is a member of)."""
    out: dict[str, list[dict[str, Any]]] = {}
    rows = session.exec(select(ScimResource).where(ScimResource.resource_type == "Group"))
    for row in rows:
        for member in row.document.get("members") or []:
            value = member.get("value")
            if value:
                out.setdefault(value, []).append({"value": row.resource_id, "display": row.document.get("displayName"),
                                                  "$ref": f"{base_url}/Groups/{row.resource_id}", "type": "direct"})
    return out


def departments_of_user(session: Session, user_id: str) -> list[tuple[str, str]]:
    """(Group id, name) of each department Group the User is a member of, newest Group first."""
    rows = session.exec(select(ScimResource).where(ScimResource.resource_type == "Group")
                        .order_by(ScimResource.last_modified.desc(), ScimResource.resource_id))
    return [(row.resource_id, row.document.get("displayName") or "") for row in rows
            if any(m.get("value") == user_id for m in row.document.get("members") or [])]
