"""Group membership decisions (pure): reconciliation, who a member is, nickname templates.

Chat platforms do not deliver every join and leave (QQ drops events while the bot is offline,
DingTalk only reports some of them), so the membership built from events drifts. A members
snapshot is the truth at its time: :func:`reconcile` names the accounts that events missed.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

DEFAULT_NICKNAME_TEMPLATE = "{department}-{name}"

MemberKind = Literal["employee", "departed", "external-approved", "probation-approved", "unknown"]


@dataclass(frozen=True)
class Reconciliation:
    joined: list[str]
    left: list[str]

    @property
    def empty(self) -> bool:
        return not self.joined and not self.left


def reconcile(present_by_events: Iterable[str], snapshot: Iterable[str]) -> Reconciliation:
    """Accounts in the snapshot the events did not bring in, and those the events never took out.

    Both lists are sorted so the derived event (and its id) is the same on every replay.
    """
    known, seen = set(present_by_events), set(snapshot)
    return Reconciliation(joined=sorted(seen - known), left=sorted(known - seen))


@dataclass(frozen=True)
class Person:
    """What the roster knows of a linked employee, for classification and nickname checks."""

    employee_id: str
    name: str
    status: str
    department: str | None = None
    title: str | None = None
    level: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Approval:
    kind: str
    until: date | None = None


def classify(person: Person | None, approval: Approval | None, on: date | None = None) -> MemberKind:
    """Who a member is: a linked employee (or a departed one), an approved outsider, or unknown.

    An approval with an ``until`` date stops counting after that date (``on`` is the day asked
    about; None means "do not check expiry").
    """
    if person is not None:
        if person.status == "departed":
            return "departed"
        return "employee"
    if approval is not None and (approval.until is None or on is None or on <= approval.until):
        return "external-approved" if approval.kind == "external" else "probation-approved"
    return "unknown"


def template_from_pack(pack: Mapping[str, Any] | None) -> str:
    """The nickname template of a policy pack, read defensively (the pack format is the rules team's).

    Looks at ``organisation.nickname_template`` (also the US spelling and a nested
    ``nickname.template``); anything missing or not a string gives the default ``{department}-{name}``.
    """
    if not isinstance(pack, Mapping):
        return DEFAULT_NICKNAME_TEMPLATE
    org = pack.get("organisation", pack.get("organization"))
    if not isinstance(org, Mapping):
        return DEFAULT_NICKNAME_TEMPLATE
    value = org.get("nickname_template")
    if value is None and isinstance(org.get("nickname"), Mapping):
        value = org["nickname"].get("template")
    if isinstance(value, str) and value.strip() and _placeholders(value) is not None:
        return value.strip()
    return DEFAULT_NICKNAME_TEMPLATE


def _placeholders(template: str) -> list[str] | None:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError:
        return None


def _normalise(text: str) -> str:
    """Full-width → half-width and surrounding spaces ignored: 研发部－张三 fits 研发部-张三."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def render(template: str, person: Person, company: str | None = None) -> str | None:
    """The expected nickname, or None when the template needs a field this person lacks."""
    fields = {"name": person.name, "department": person.department, "title": person.title,
              "employee_id": person.employee_id, "mobile": person.mobile, "phone": person.mobile,
              "company": company, "level": person.level}
    names = _placeholders(template) or []
    if any(not fields.get(n) for n in names):
        return None
    return template.format(**{n: fields[n] for n in names})


def nickname_fits(template: str, nickname: str | None, person: Person | None,
                  company: str | None = None) -> bool | None:
    """Whether the group nickname matches the template for this person.

    None when it cannot be judged: not an employee, or the roster lacks a field the template
    needs. An empty or missing nickname never fits (the platform then shows the account name).
    """
    if person is None:
        return None
    expected = render(template, person, company)
    if expected is None:
        return None
    if not nickname:
        return False
    return _normalise(nickname) == _normalise(expected)
