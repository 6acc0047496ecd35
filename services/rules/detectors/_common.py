"""Small pieces the detectors share: durations in params, roles, people lookups, text digests."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from services.rules.detectors.base import Input, StateView
from services.rules.state import GroupRecord, Person

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w|秒|分钟|分|小时|天|日|周)?\s*$")
_UNIT = {None: 1, "s": 1, "秒": 1, "m": 60, "min": 60, "分钟": 60, "分": 60, "h": 3600, "小时": 3600,
         "d": 86400, "天": 86400, "日": 86400, "w": 604800, "周": 604800}


def _seconds(value: object) -> object:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("时长格式应为 数字+单位（s/m/h/d/w 或 秒/分钟/小时/天/周） / "
                             "duration must be a number with a unit (s, m, h, d, w)")
        return float(match.group(1)) * _UNIT[match.group(2)]
    return value


_SECONDS_SCHEMA = {"description": "Seconds, or a number with a unit: '10m', '2h', '3d', '30分钟'.",
                   "anyOf": [{"type": "number", "exclusiveMinimum": 0},
                             {"type": "string", "pattern": _DURATION.pattern}]}
Seconds = Annotated[float, Field(gt=0), BeforeValidator(_seconds), WithJsonSchema(_SECONDS_SCHEMA)]
PositiveInt = Annotated[int, Field(gt=0)]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def roles_of(state: StateView, inp: Input, user_id: str | None = None, person: Person | None = None) -> set[str]:
    """The actor's roles in the group (owner/admin) and in the company (manager/executive)."""
    user_id = user_id or inp.user_id
    person = person if person is not None else (inp.actor if user_id == inp.user_id else None)
    if person is None and user_id and inp.platform:
        person = state.person_by_account(inp.platform, user_id)
    roles: set[str] = set()
    if person is not None:
        roles.add(person.level)
    g = inp.group
    if g is not None and user_id:
        if user_id == g.owner_user_id or (person and person.employee_id == g.owner_employee_id):
            roles.add("owner")
        if user_id in g.admin_user_ids or (person and person.employee_id in g.admin_employee_ids):
            roles.add("admin")
        m = state.member(g.platform, g.group_id, user_id)
        if m is not None and m.role in ("owner", "admin"):
            roles.add(m.role)
    return roles


def accounts_on(person: Person | None, platform: str) -> list[str]:
    return [u for p, u in person.accounts if p == platform] if person else []


def group_admin_employees(state: StateView, g: GroupRecord) -> list[str]:
    """Owner and admins of a group as employee ids (registry first, then platform roles)."""
    ids = [g.owner_employee_id] if g.owner_employee_id else []
    ids += list(g.admin_employee_ids)
    for user in ([g.owner_user_id] if g.owner_user_id else []) + list(g.admin_user_ids):
        p = state.person_by_account(g.platform, user)
        if p is not None:
            ids.append(p.employee_id)
    return sorted(set(ids))


def department_head(state: StateView, department_id: str | None) -> Person | None:
    if not department_id:
        return None
    dept = state.department(department_id)
    return state.person(dept.head_id) if dept and dept.head_id else None


@lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """Text as compared for "the same content": the matcher's normaliser when present, else NFKC,
    case-folded, without whitespace and punctuation."""
    try:
        from services.rules.text.normalize import normalize_text
    except ImportError:  # pragma: no cover - the text package ships with the service
        normalize_text = None
    if normalize_text is not None:
        text = normalize_text(text)
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] in "PSZC"))


def digest(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()[:32]


def local_day(inp: Input, t: datetime, day_ends_at: str = "00:00") -> date:
    """The local calendar day of ``t``; a day may end after midnight (``02:00`` = shares until 2 a.m.)."""
    hours, minutes = (int(x) for x in day_ends_at.split(":"))
    local = t.astimezone(inp.runtime.tz) - timedelta(hours=hours, minutes=minutes)  # type: ignore[attr-defined]
    return local.date()


def in_range(hhmm: str, start: str, end: str) -> bool:
    """Whether local ``hhmm`` lies in [start, end), wrapping past midnight when start > end."""
    return start <= hhmm < end if start < end else (hhmm >= start or hhmm < end)


def who(person: Person | None, user_id: str | None) -> str:
    return person.name if person else (user_id or "?")
