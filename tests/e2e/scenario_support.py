"""What the scenario suite does to a running system, and how it judges the outcome.

- :func:`load` plays a generated company (``services.demo``) into the system the way a roll-out
  does it: the default pack, people over SCIM, the group registry, member snapshots, HR changes,
  then the chat in event-time order — a share of it as the platforms' own signed webhooks
  (OneBot, DingTalk, Feishu), the rest through ``POST /v1/ingest/generic``.
- :func:`score` compares the violations the system reports with the generator's labels, per rule
  (precision and recall), as multisets of ``(rule, group, subject)``: a native delivery gets a
  different event id than its generic twin, so ids cannot be the key.
- :func:`expected_sanctions` computes the actor sanctions independently of the penalties
  service: from the pack YAML's ladders (steps, windows) and the labels' own counting.
- :func:`state_digest` is a digest of a service's tables (runtime inbox/outbox excluded), read
  straight from its database, so ``qg rebuild`` can be checked for every service alike.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from services.demo.activity import Activity, Event, HrChange, Label
from services.demo.platforms import Secrets, render
from services.demo.player import Player, plan

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PACK = REPO / "policies" / "company-default.yaml"
TZ = ZoneInfo("Asia/Shanghai")
Key = tuple[str, str | None, str | None]      # (rule id, group ref, subject)


# -- feeding ------------------------------------------------------------------------------------
def native_ok(ev: Event) -> bool:
    """Messages whose native rendering carries everything the generic body does: text only, and no
    @所有人 on DingTalk (the robot callback has no such field; ``platforms.dingtalk`` drops it)."""
    b = ev.body
    if ev.native is None or b.get("msg_type") != "text":
        return False
    return not (ev.native == "dingtalk" and b.get("mention_all"))


@dataclass
class Feed:
    """What was sent: how many through each door, and the native deliveries for the audit check."""

    generic: int = 0
    native: Counter[str] = field(default_factory=Counter)
    native_ids: dict[str, str] = field(default_factory=dict)   # generic id → native adapter


def names_of(activity: Activity) -> dict[str, str]:
    return {acc: e.name for e in [*activity.company.employees, *activity.hires] for acc in e.accounts.values()}


def send_chat(http: httpx.Client, urls: dict[str, str], events: list[Event], secrets: Secrets,
              names: dict[str, str], feed: Feed, *, batch: int = 500, native: bool = True, copies: int = 1,
              hr: list[HrChange] | None = None, player: Player | None = None) -> None:
    """Events in order: generic batches, each native-capable message as its platform's webhook.
    ``copies`` > 1 delivers every request that many times, as platforms retrying would. ``hr``
    changes (with ``player``) go in between at their own times, sent with that time."""
    pending: list[dict[str, Any]] = []
    hr = list(hr or [])

    def hr_until(t: datetime | None) -> None:
        while hr and (t is None or hr[0].at <= t):
            flush()
            player.hr_change(hr.pop(0), stamped=True)  # type: ignore[union-attr]

    def flush() -> None:
        if pending:
            for _ in range(copies):
                r = http.post(urls["ingest"] + "/v1/ingest/generic", json={"events": pending})
                assert r.status_code == 202, f"generic ingest answered {r.status_code}: {r.text[:300]}"
            feed.generic += len(pending)
            pending.clear()

    for ev in events:
        hr_until(ev.time)
        if native and native_ok(ev):
            flush()
            d = render(ev, names, secrets, now=datetime.now(UTC))
            for _ in range(copies):
                r = http.post(urls["ingest"] + d.path, content=d.body,
                              headers={**d.headers, "Content-Type": "application/json"})
                assert r.status_code in (200, 202), f"{ev.native} webhook answered {r.status_code}: {r.text[:300]}"
            feed.native[ev.native] += 1
            feed.native_ids[ev.id] = str(ev.native)
            continue
        pending.append(ev.body)
        if len(pending) >= batch:
            flush()
    flush()
    hr_until(None)


def setup(system: Any, activity: Activity, secrets: Secrets, *, hr: bool = True) -> Feed:
    """Everything before the chat: pack, people, registry, member snapshots, HR changes (unless
    ``hr`` is False: they are then played within the chat, at their own times)."""
    feed = Feed()
    with system.client() as http:
        player = Player(http, system.urls, lambda _: None, secrets)
        player.health()
        player.publish_packs([DEFAULT_PACK])
        player.load_roster(activity)
        player.register_groups(activity)
        system.wait_idle()
        setup_events = plan(activity).setup
        player.send_generic(setup_events)
        feed.generic += len(setup_events)
        system.wait_idle()
        if hr:
            player.hr_changes(activity)
    system.wait_idle()
    return feed


def finish(system: Any) -> None:
    """Drain, then the tick ``qg clock`` would append now (fires every deadline already due)."""
    system.wait_idle()
    system.tick(datetime.now(UTC).replace(second=0, microsecond=0))
    system.wait_idle()


def load(system: Any, activity: Activity, secrets: Secrets, *, native: bool = True,
         hr_in_time: bool = False) -> Feed:
    """The whole roll-out into ``system`` (a ``conftest.System``), waiting for idle between phases.

    HR changes go first, stamped on arrival, when the activity is just behind the wall clock (the
    day); ``hr_in_time`` plays them among the chat at their own times, stamped with those times
    (the month, played weeks later, like an HR system back-filling a month of changes)."""
    feed = setup(system, activity, secrets, hr=not hr_in_time)
    with system.client() as http:
        player = Player(http, system.urls, lambda _: None, secrets)
        send_chat(http, system.urls, plan(activity).chat, secrets, names_of(activity), feed, native=native,
                  hr=activity.hr_changes if hr_in_time else None, player=player)
    finish(system)
    return feed


# -- reading the system -------------------------------------------------------------------------
def fetch_all(http: httpx.Client, url: str, params: dict[str, Any] | None = None, page: int = 500) -> list[dict]:
    out: list[dict] = []
    while True:
        r = http.get(url, params={**(params or {}), "limit": page, "offset": len(out)})
        assert r.status_code == 200, f"GET {url} answered {r.status_code}: {r.text[:300]}"
        items = r.json()["items"]
        out += items
        if len(items) < page:
            return out


def violations(system: Any) -> list[dict]:
    with system.client() as http:
        return fetch_all(http, system.url("rules") + "/v1/violations")


def standing_violations(system: Any) -> list[dict]:
    """What compliance acts on: a deadline fired by a later message of another group and retracted
    when the earlier reply was read (rules-engine's ViolationDismissed) is not a finding."""
    with system.client() as http:
        return fetch_all(http, system.url("rules") + "/v1/violations", {"include_dismissed": "false"})


def sanctions(system: Any) -> list[dict]:
    with system.client() as http:
        return fetch_all(http, system.url("penalties") + "/v1/sanctions")


# -- precision and recall -------------------------------------------------------------------------
def label_key(label: Label) -> Key:
    return (label.rule_id, label.group_ref, label.subject)


def violation_keys(v: dict) -> list[Key]:
    """The keys a violation could match: its group, and its subject as account or as employee."""
    group = f"{v['platform']}:{v['group_id']}" if v.get("group_id") else None
    return [(v["rule_id"], group, s) for s in (v.get("user_id"), v.get("employee_id")) if s]


@dataclass
class RuleScore:
    expected: int = 0
    found: int = 0
    matched: int = 0

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0


@dataclass
class Score:
    rules: dict[str, RuleScore]
    missed: list[Label]
    unexpected: list[dict]

    @property
    def precision(self) -> float:
        found = sum(r.found for r in self.rules.values())
        return sum(r.matched for r in self.rules.values()) / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = sum(r.expected for r in self.rules.values())
        return sum(r.matched for r in self.rules.values()) / expected if expected else 1.0

    def table(self) -> str:
        lines = [f"{'rule':<36} {'expected':>8} {'found':>6} {'matched':>7} {'precision':>9} {'recall':>7}"]
        for rule, s in sorted(self.rules.items()):
            lines.append(f"{rule:<36} {s.expected:>8} {s.found:>6} {s.matched:>7} {s.precision:>9.3f} {s.recall:>7.3f}")
        lines.append(f"{'ALL':<36} {sum(s.expected for s in self.rules.values()):>8} "
                     f"{sum(s.found for s in self.rules.values()):>6} {sum(s.matched for s in self.rules.values()):>7} "
                     f"{self.precision:>9.3f} {self.recall:>7.3f}")
        return "\n".join(lines)

    def problems(self, limit: int = 40) -> str:
        out = [f"MISSED {lb.rule_id} event={lb.event_id} group={lb.group_ref} subject={lb.subject} at={lb.at:%Y-%m-%d %H:%M} "
               f"{lb.note}" for lb in self.missed[:limit]]
        out += [f"UNEXPECTED {v['rule_id']} group={v.get('group_id')} user={v.get('user_id')} employee={v.get('employee_id')} "
                f"at={v.get('occurred_at')} causes={v.get('causing_event_ids')} "
                f"evidence={json.dumps(v.get('evidence'), ensure_ascii=False)[:160]}" for v in self.unexpected[:limit]]
        return "\n".join(out)


def score(labels: Iterable[Label], found: Iterable[dict]) -> Score:
    """Multiset matching of labels and violations on ``(rule, group, subject)``."""
    rules: dict[str, RuleScore] = defaultdict(RuleScore)
    open_labels: dict[Key, list[Label]] = defaultdict(list)
    for lb in labels:
        rules[lb.rule_id].expected += 1
        open_labels[label_key(lb)].append(lb)
    unexpected = []
    for v in sorted(found, key=lambda x: (x.get("occurred_at") or "", x["violation_id"])):
        rules[v["rule_id"]].found += 1
        key = next((k for k in violation_keys(v) if open_labels.get(k)), None)
        if key is None:
            unexpected.append(v)
            continue
        open_labels[key].pop(0)
        rules[v["rule_id"]].matched += 1
    missed = sorted((lb for lbs in open_labels.values() for lb in lbs), key=lambda x: (x.rule_id, x.at))
    return Score(dict(rules), missed, unexpected)


# -- expected sanctions, from the pack's ladders ----------------------------------------------------
def load_pack(path: Path = DEFAULT_PACK) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _in_window(window: Any, prior: datetime, at: datetime) -> bool:
    """The pack's window vocabulary, read from the YAML: forever, calendar_month, {days: N}."""
    if window in (None, "forever"):
        return True
    if window == "calendar_month":
        a, b = prior.astimezone(TZ), at.astimezone(TZ)
        return (a.year, a.month) == (b.year, b.month)
    if window == "rolling_12_months":
        return at - prior < timedelta(days=365)
    if isinstance(window, dict) and "days" in window:
        return at - prior < timedelta(days=int(window["days"]))
    raise ValueError(f"window {window!r} not understood by the test")


def _reviewed(rule: dict, step: dict) -> bool:
    params = rule.get("params") or {}
    return bool(rule.get("needs_review") or params.get("review") or step.get("review")
                or any(isinstance(i, dict) and (i.get("decider") or i.get("range")) for i in step.get("items", [])))


def person_of(label: Label, accounts: dict[str, str]) -> str | None:
    """The person a sanction lands on: the employee behind the account, else ``platform:account``."""
    if label.subject is None:
        return None
    if label.subject in accounts:
        return accounts[label.subject]
    if label.subject in set(accounts.values()):
        return label.subject
    platform = (label.group_ref or "other:").split(":", 1)[0]
    return f"{platform}:{label.subject}"


SanctionKey = tuple[str, str, str, int, tuple[str, ...]]   # (person, rule, ladder, step, kinds)


def expected_sanctions(labels: list[Label], accounts: dict[str, str], pack: dict[str, Any]) -> Counter[SanctionKey]:
    """The actor sanctions the labels imply: for each label in time order, the offender's count of
    offences on the rule's ladder within the ladder's window gives the step (the last step repeats).
    Steps needing a human (review, ranges) are left out: they go to the review queue instead."""
    rules = {r["id"]: r for r in pack["rules"]}
    ladders = pack.get("ladders", {})
    history: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    out: Counter[SanctionKey] = Counter()
    for lb in sorted(labels, key=lambda x: (x.at, x.rule_id, x.event_id)):
        rule = rules[lb.rule_id]
        ladder_name = rule.get("ladder")
        person = person_of(lb, accounts)
        if not ladder_name or person is None:
            continue
        ladder = ladders[ladder_name]
        prior = history[(person, ladder_name)]
        count = 1 + sum(1 for t in prior if _in_window(ladder.get("window"), t, lb.at))
        prior.append(lb.at)
        steps = ladder["steps"]
        step = steps[min(count, len(steps)) - 1]
        if _reviewed(rule, step):
            continue
        kinds = tuple(sorted(i["kind"] for i in step["items"]))
        out[(person, lb.rule_id, ladder_name, min(count, len(steps)), kinds)] += 1
    return out


def actual_sanctions(rows: list[dict]) -> Counter[SanctionKey]:
    return Counter((r["employee_id"], r["rule_id"], r["ladder"], int(r["step"]),
                    tuple(sorted(i["kind"] for i in r["items"]))) for r in rows
                   if r.get("liability") == "actor" and r.get("status") == "imposed")


def accounts_of(activity: Activity) -> dict[str, str]:
    """platform account → employee id, hires included."""
    return {acc: e.employee_id for e in [*activity.company.employees, *activity.hires] for acc in e.accounts.values()}


# -- state digests for rebuild ------------------------------------------------------------------------
# Runtime bookkeeping, not state: the inbox and outbox, and the rules state version (it counts
# transactions, and a rebuild commits in other batches than the live worker did).
RUNTIME = {"qg_inbox", "qg_outbox", "rules_state_version"}


def state_digest(url: str, skip: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
    """sha256 over every table of a service database (rows sorted), runtime tables excluded.
    Returns the digest and, per table, the row count and a short digest (for the failure message)."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        h, counts = hashlib.sha256(), {}
        with engine.connect() as conn:
            for name in sorted(meta.tables):
                if name in RUNTIME or name in set(skip):
                    continue
                rows = sorted(json.dumps([_plain(x) for x in row], ensure_ascii=False, default=str)
                              for row in conn.execute(select(meta.tables[name])))
                table = hashlib.sha256()
                for row in rows:
                    table.update(row.encode())
                counts[name] = f"{len(rows)} rows {table.hexdigest()[:12]}"
                h.update(name.encode())
                h.update(table.digest())
        return h.hexdigest(), counts
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, (dict, list)):
        return json.loads(json.dumps(value, sort_keys=True, default=str))
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def the_day() -> date:
    """The demo's day: the last working day before today (HR changes are stamped on arrival, so the
    simulated day must be just behind the wall clock, exactly as for ``qg demo``)."""
    from services.demo.player import demo_day

    return demo_day(datetime.now(TZ).date())


def with_native_off(activity: Activity) -> Activity:
    return replace(activity, events=[replace(e, native=None) for e in activity.events])


# -- outcomes, for comparing a faulted run with a clean one ------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What a run ended with, keyed by content (not ids: HR events are stamped on arrival, so ids
    derived from them differ between two runs of the same day)."""

    violations: Counter[tuple]
    sanctions: Counter[tuple]
    ledger: Counter[tuple]

    def differences(self, other: Outcome) -> dict[str, tuple[list, list]]:
        out = {}
        for name in ("violations", "sanctions", "ledger"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out[name] = (sorted((mine - theirs).elements())[:20], sorted((theirs - mine).elements())[:20])
        return out


def outcome(system: Any) -> Outcome:
    """The standing outcome: violations not withdrawn, sanctions not reversed, and the ledger lines of
    those sanctions. (A violation flagged then withdrawn — e.g. an SLA timer fired by a later event
    of another partition before the acknowledgement was read — leaves a reversed pair behind whose
    presence depends on partition interleaving; it is reported by :func:`transient`, not compared.)"""
    v = Counter((x["rule_id"], x.get("group_id"), x.get("user_id"), x.get("employee_id"), utc(x.get("occurred_at")))
                for x in violations(system) if not x.get("dismissed"))
    s = Counter((x["employee_id"], x["rule_id"], x["ladder"], x["step"], x["liability"], utc(x["occurred_at"]))
                for x in sanctions(system) if x["status"] == "imposed")
    from sqlalchemy import create_engine, text

    engine = create_engine(system.settings().database_url("penalties"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT l.employee_id, l.kind, l.amount_cny, l.points, l.month, s.rule_id, "
                                     "s.occurred_at FROM pen_ledger l JOIN pen_sanction s "
                                     "ON s.sanction_id = l.sanction_id WHERE s.status = 'imposed'")).all()
    finally:
        engine.dispose()
    ledger = Counter((r[0], r[1], str(Decimal(str(r[2])).normalize()), r[3], r[4], r[5], utc(r[6])) for r in rows)
    return Outcome(v, s, ledger)


def utc(value: Any) -> str | None:
    """An instant as UTC ISO text, whatever the store gave (SQLite hands back naive UTC, PostgreSQL
    aware values), so outcomes of the two databases compare."""
    if value is None:
        return None
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def transient(system: Any) -> Counter[str]:
    """Withdrawn violations per rule (flagged, then dismissed by the system or a person)."""
    return Counter(x["rule_id"] for x in violations(system) if x.get("dismissed"))
