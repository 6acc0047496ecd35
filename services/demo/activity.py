"""Group activity of the sample company over a day or a month, with every injected violation labelled.

Output: events in the ingest ``generic`` JSON shape (``POST /v1/ingest/generic``), HR changes as
SCIM documents, and :class:`Label` rows naming the rule id each injected case must trigger. The
labels are the generator's own expectation, computed from what it injected and from the default
pack's published parameters (30 working minutes for a leader's task, 60 for a notice, 3 days to
remove a departed member…), never by running the rules engine — so a test comparing them with the
violations the system reports measures the system's precision and recall.

Clean traffic is built to trigger nothing (see :mod:`services.demo.selfcheck`): senders are current
members using the nickname template, at most one message per person per group every few minutes,
only between 08:00 and 22:30, no two-person runs, no repeated text in a group, and texts free of
every trigger word. Scenario actors are kept out of clean traffic in the group and day of their case.

Profiles: :func:`day` (a compressed day for ``qg demo``: cases dated so their deadlines fall before
the day ends) and :func:`month` (≥ 20,000 messages for the end-to-end suite).
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, ClassVar

from services.demo import texts
from services.demo.company import Company, Employee, Group, generate_company
from services.demo.names import CITIES, CUSTOMERS, PRODUCTS

CST = timezone(timedelta(hours=8))
CLEAN_START, CLEAN_END = time(8, 0), time(22, 30)
_FORMATTER = string.Formatter()
_NON_WORD = re.compile(r"[\W_]+")
MIN_GAP_S = 180            # one person, one group: at most one clean message every 3 minutes


@dataclass(frozen=True)
class Label:
    """One violation the generator expects: ``rule_id`` caused by ``event_id`` (a generic event id,
    an HR change id, or ``registration:<ref>``), about ``subject`` (a platform account or an
    employee id), expected at ``at`` (the event time or the deadline that passes)."""

    rule_id: str
    event_id: str
    group_ref: str | None
    subject: str | None
    at: datetime
    note: str = ""


@dataclass(frozen=True)
class Event:
    """One platform event: ``body`` in the generic shape; ``native`` names the webhook it may also
    be sent through (``onebot``, ``dingtalk``, ``feishu``) or is None for generic only."""

    body: dict[str, Any]
    native: str | None = None
    clean: bool = True

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.body["time"])

    @property
    def id(self) -> str:
        return self.body["id"]


@dataclass(frozen=True)
class HrChange:
    """A change HR pushes over SCIM at ``at``: ``method`` POST (hire) or PUT (transfer, departure)."""

    id: str
    at: datetime
    kind: str
    employee_id: str
    method: str
    document: dict[str, Any]


@dataclass
class Activity:
    company: Company
    start: datetime
    end: datetime
    events: list[Event]
    labels: list[Label]
    hr_changes: list[HrChange]
    hires: list[Employee] = field(default_factory=list)

    @property
    def messages(self) -> list[Event]:
        return [e for e in self.events if e.body["type"] == "message"]

    def label_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for label in self.labels:
            out[label.rule_id] = out.get(label.rule_id, 0) + 1
        return dict(sorted(out.items()))


def at(d: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=CST)


def rfc3339(t: datetime) -> str:
    return t.astimezone(CST).isoformat(timespec="seconds")


def text_key(text: str) -> str:
    """What "the same text" means for the repeat rules: letters and digits only, case-folded."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


class Builder:
    """The mutable state of one generation run: membership, who is busy, events and labels so far."""

    NATIVE: ClassVar[dict[str, str]] = {"qq": "onebot", "dingtalk": "dingtalk", "feishu": "feishu"}

    def __init__(self, company: Company, seed: int, native_share: float = 0.3) -> None:
        self.company, self.rng, self.native_share = company, random.Random(seed), native_share
        self.members: dict[str, set[str]] = {g.ref: set(g.members) for g in company.groups}
        self.people: dict[str, Employee] = {e.employee_id: e for e in company.employees}
        self.events: list[Event] = []
        self.labels: list[Label] = []
        self.hr: list[HrChange] = []
        self.hires: list[Employee] = []
        self.busy: set[str] = set()                       # HR-change people: no clean traffic at all
        self.reserved: set[tuple[str, date, str]] = set()  # (group ref, day, employee id)
        self.blocked: dict[str, list[tuple[datetime, datetime]]] = {}  # no clean traffic in these windows
        self.seen_text: dict[str, set[str]] = {}
        self.last_spoke: dict[tuple[str, str], datetime] = {}
        self.seq = 0
        self.extra_groups: list[Group] = []
        self._lists: dict[str, list[str]] = {}

    # -- ids and bodies ----------------------------------------------------------------------
    def next_id(self, t: datetime) -> str:
        self.seq += 1
        return f"demo-{t:%Y%m%d}-{self.seq:06d}"

    def account(self, g: Group, eid: str) -> str:
        return self.people[eid].accounts[g.platform]

    def nickname(self, eid: str) -> str:
        return self.people[eid].nickname

    def add(self, g: Group, t: datetime, kind: str, user: str, *, clean: bool = True,
            native_ok: bool = False, **fields: Any) -> Event:
        body: dict[str, Any] = {"platform": g.platform, "type": kind, "id": self.next_id(t), "group_id": g.group_id,
                                "group_name": g.name, "user_id": user, "time": rfc3339(t)}
        body.update({k: v for k, v in fields.items() if v is not None})
        native = None
        if native_ok and kind == "message" and g.platform in self.NATIVE and self.rng.random() < self.native_share:
            native = self.NATIVE[g.platform]
        ev = Event(body, native, clean)
        self.events.append(ev)
        return ev

    def say(self, g: Group, eid: str, t: datetime, text: str | None, *, clean: bool = True,
            mentions: list[str] | None = None, mention_all: bool = False, msg_type: str = "text",
            url: str | None = None) -> Event:
        """A message by employee ``eid`` in ``g`` with their template nickname."""
        self.last_spoke[(g.ref, eid)] = t
        if text is not None:
            self.seen_text.setdefault(g.ref, set()).add(text_key(text))
        return self.add(g, t, "message", self.account(g, eid), clean=clean, native_ok=True,
                        nickname=self.nickname(eid), msg_type=msg_type, text=text,
                        mentions=[self.account(g, m) for m in mentions or []], mention_all=mention_all, url=url)

    def label(self, rule_id: str, ev_id: str, g: Group | None, subject: str | None, t: datetime,
              note: str = "") -> None:
        self.labels.append(Label(rule_id, ev_id, g.ref if g else None, subject, t, note))

    # -- choosing people ---------------------------------------------------------------------
    def available(self, g: Group, d: date, *, staff: bool = False, regular: bool = True) -> list[str]:
        out = []
        for eid in sorted(self.members[g.ref]):
            e = self.people[eid]
            if eid in self.busy or (g.ref, d, eid) in self.reserved:
                continue
            if staff and (e.is_leader or eid == g.owner_id or eid in g.admin_ids):
                continue
            if regular and e.status != "regular":
                continue
            out.append(eid)
        return out

    def pick(self, g: Group, d: date, n: int = 1, **kw: Any) -> list[str]:
        pool = self.available(g, d, **kw)
        chosen = self.rng.sample(pool, min(n, len(pool)))
        for eid in chosen:
            self.reserved.add((g.ref, d, eid))
        return chosen

    def block(self, g: Group, start: datetime, end: datetime) -> None:
        self.blocked.setdefault(g.ref, []).append((start, end))

    def groups(self, *categories: str) -> list[Group]:
        return [g for g in self.company.groups if g.category in categories]

    # -- text ----------------------------------------------------------------------------------
    def fill(self, template: str, g: Group, d: date, speaker: str | None = None) -> str:
        """The template with its slots filled; only the slots it uses draw from the generator."""
        rng = self.rng
        values: dict[str, Any] = {}
        for _, slot, _, _ in _FORMATTER.parse(template):
            if slot and slot not in values:
                values[slot] = self._slot(slot, g, d, speaker)
        text = template.format(**values)
        if rng.random() < 0.35:
            text = rng.choice(texts.OPENERS) + text
        if rng.random() < 0.3:
            text += rng.choice(texts.CLOSERS)
        return text

    def _slot(self, slot: str, g: Group, d: date, speaker: str | None) -> Any:
        rng = self.rng
        if slot in ("colleague", "colleague2"):
            members = self.members[g.ref]
            pool = self._member_list(g)
            for _ in range(5):
                eid = rng.choice(pool)
                if eid != speaker and eid in members:
                    return self.people[eid].name
            return "同事"
        simple = {
            "week": lambda: f"第{d.isocalendar()[1]}周", "client": lambda: rng.choice(CUSTOMERS),
            "dept": lambda: self.people[speaker].department if speaker else "部门",
            "city": lambda: rng.choice(CITIES), "product": lambda: rng.choice(PRODUCTS),
            "n": lambda: rng.randint(2, 19), "time": lambda: f"{rng.choice((2, 3, 4))}点",
            "room": lambda: rng.choice(texts.ROOMS), "day": lambda: rng.choice(texts.DAYS),
            "month": lambda: f"{d.month}月", "pct": lambda: f"{rng.randint(55, 98)}%",
            "order": lambda: f"SO{rng.randint(10000, 99999)}",
            "code": lambda: "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(8)),
        }
        return simple[slot]()

    def _member_list(self, g: Group) -> list[str]:
        cache = self._lists.get(g.ref)
        if cache is None or len(cache) != len(self.members[g.ref]):
            cache = self._lists[g.ref] = sorted(self.members[g.ref])
        return cache

    def unique_text(self, templates: tuple[str, ...], g: Group, d: date, speaker: str | None) -> str:
        seen = self.seen_text.setdefault(g.ref, set())
        for _ in range(12):
            text = self.fill(self.rng.choice(templates), g, d, speaker)
            if text_key(text) not in seen:
                return text
        return f"{text}（{d:%m月%d日}补充{self.rng.randint(1, 99)}）"

    # -- membership bookkeeping ------------------------------------------------------------------
    def leave(self, g: Group, eid: str) -> None:
        self.members[g.ref].discard(eid)

    def join(self, g: Group, eid: str) -> None:
        self.members[g.ref].add(eid)

    def snapshot(self, g: Group, t: datetime) -> None:
        members = []
        for eid in sorted(self.members[g.ref]):
            role = "owner" if eid == g.owner_id else "admin" if eid in g.admin_ids else "member"
            members.append({"user_id": self.account(g, eid), "nickname": self.nickname(eid), "role": role})
        members += [{"user_id": o.user_id, "nickname": o.nickname, "role": "member"} for o in g.outsiders]
        self.add(g, t, "members_snapshot", members[0]["user_id"], members=members)


def working_days(start: date, end: date) -> list[date]:
    from services.common.calendar import WorkingCalendar  # the shared pure calendar

    cal = WorkingCalendar()
    out, d = [], start
    while d <= end:
        if cal.is_working_day(d):
            out.append(d)
        d += timedelta(days=1)
    return out


def generate(company: Company, days: list[date], seed: int, *, profile: str,
             clean_per_day: dict[str, int] | None = None, native_share: float = 0.3) -> Activity:
    """The shared engine of both profiles: snapshots, cases, clean traffic, repair, sort."""
    from services.demo import scenarios, traffic

    b = Builder(company, seed, native_share)
    first = days[0]
    for g in company.groups:
        b.snapshot(g, at(first, 6, 50))
    scenarios.run(b, days, profile)
    for d in days:
        traffic.clean_day(b, d, clean_per_day)
    traffic.break_pairs(b)
    b.events.sort(key=lambda e: (e.time, e.id))
    start, end = at(first, 0), at(days[-1], 23, 59, 59)
    return Activity(company, start, end, b.events, sorted(b.labels, key=lambda x: (x.at, x.rule_id, x.event_id)),
                    sorted(b.hr, key=lambda h: (h.at, h.id)), b.hires)


def day(the_day: date | None = None, seed: int = 7) -> Activity:
    """A compressed day for ``qg demo``: ~900 messages and every kind of case once."""
    the_day = the_day or date(2025, 3, 4)
    company = generate_company(seed, the_day)
    return generate(company, [the_day], seed, profile="day",
                    clean_per_day={"company": 30, "management": 20, "department": 55, "project": 30,
                                   "external": 10})


def month(year: int = 2025, month_no: int = 3, seed: int = 11) -> Activity:
    """A calendar month for the end-to-end suite: ≥ 20,000 messages, each case many times."""
    first = date(year, month_no, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    company = generate_company(seed, first)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return generate(company, days, seed, profile="month",
                    clean_per_day={"company": 34, "management": 25, "department": 60, "project": 36,
                                   "external": 12})
