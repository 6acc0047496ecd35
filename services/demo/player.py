"""``qg demo``: load the sample company into a running system and play a compressed day of group chat.

Order matters, and it is the one a real roll-out follows: publish the policy packs (rules need a
policy in force before they set timers), provision people over SCIM, register the groups, post each
group's member snapshot, push the day's HR changes, then play the chat in event-time order through
``POST /v1/ingest/generic`` at ``speed`` simulated seconds per real second. The roster stamps HR
changes with the time they arrive, so they go in before the (earlier-dated) chat, never in the middle
of it. Finally a few messages are sent *now* through the platforms' own webhooks (OneBot, DingTalk,
Feishu), signed with the configured secrets, since those refuse deliveries outside their replay window.

Planning is pure (:func:`plan`, :func:`live_tail`, :func:`pace`); :class:`Player` does the HTTP.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.demo.activity import Activity, Event, HrChange, rfc3339
from services.demo.payloads import group_registrations, scim_users
from services.demo.platforms import Secrets, render

SERVICES = ("ingest", "roster", "rules", "penalties")
SCIM_TYPE = "application/scim+json"
Say = Callable[[str], None]


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which, in Chinese and English."""


@dataclass(frozen=True)
class Phases:
    setup: list[Event]        # snapshots and anything dated before the day (e.g. a group created earlier)
    chat: list[Event]


def plan(activity: Activity) -> Phases:
    """Split the events: snapshots and pre-day history first, then the day's chat in time order."""
    setup = [e for e in activity.events if e.body["type"] == "members_snapshot" or e.time < activity.start]
    ids = {e.id for e in setup}
    return Phases(setup, [e for e in activity.events if e.id not in ids])


def pace(events: list[Event], speed: float, batch: int = 200) -> Iterator[tuple[float, list[Event]]]:
    """Batches to send with the real seconds to wait before each: simulated time ÷ ``speed``.

    ``speed <= 0`` means as fast as possible. A batch never spans more than a simulated minute, so
    the picture builds up gradually."""
    current: list[Event] = []
    last_sent: datetime | None = None
    for ev in events:
        if current and (len(current) >= batch or (ev.time - current[0].time).total_seconds() > 60):
            wait = 0.0 if speed <= 0 or last_sent is None else (current[0].time - last_sent).total_seconds() / speed
            yield max(0.0, wait), current
            last_sent, current = current[0].time, []
        current.append(ev)
    if current:
        wait = 0.0 if speed <= 0 or last_sent is None else (current[0].time - last_sent).total_seconds() / speed
        yield max(0.0, wait), current


def live_tail(activity: Activity, now: datetime, per_platform: int = 3) -> list[tuple[Event, tuple[str, ...]]]:
    """A few of the day's native-capable messages again, happening now: one labelled case and some
    clean talk per platform, each with the rule ids it should trigger."""
    labelled: dict[str, tuple[str, ...]] = {}
    # Only groups where "the same text again" breaks no rule (content.ads_repeated covers project groups).
    steady = {g.group_id for g in activity.company.groups if g.category in ("company", "department")}
    for lb in activity.labels:
        labelled[lb.event_id] = labelled.get(lb.event_id, ()) + (lb.rule_id,)
    out: list[tuple[Event, tuple[str, ...]]] = []
    for native, platform in (("onebot", "qq"), ("dingtalk", "dingtalk"), ("feishu", "feishu")):
        msgs = [e for e in activity.messages if e.body["platform"] == platform and e.body.get("msg_type") == "text"
                and not e.body.get("mentions") and e.body.get("text") and e.body["group_id"] in steady]
        cases = [e for e in msgs if set(labelled.get(e.id, ())) & {"content.ads", "content.gambling", "content.porn",
                                                                   "content.malicious_link", "content.insult"}]
        clean = [e for e in msgs if e.clean][: per_platform - 1]
        for i, ev in enumerate(cases[:1] + clean):
            t = now + timedelta(seconds=i)
            body = {**ev.body, "id": f"live-{now:%Y%m%d%H%M%S}-{native}-{i}", "time": rfc3339(t)}
            out.append((Event(body, native, ev.clean), labelled.get(ev.id, ())))
    return out


def demo_day(today: date) -> date:
    """The last working day before today: a whole past day, so quiet hours and SLAs are real."""
    from services.common.calendar import WorkingCalendar

    cal, d = WorkingCalendar(), today - timedelta(days=1)
    while not cal.is_working_day(d):
        d -= timedelta(days=1)
    return d


class Player:
    """The HTTP side of the demo against ``urls`` (service name → base URL) with an admin token."""

    def __init__(self, client: httpx.Client, urls: dict[str, str], say: Say, secrets: Secrets,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.http, self.urls, self.say, self.secrets, self.sleep = client, urls, say, secrets, sleep
        self.stats: dict[str, int] = {}

    def _url(self, service: str, path: str) -> str:
        return self.urls[service].rstrip("/") + path

    def _count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def _check(self, r: httpx.Response, what: str, ok: tuple[int, ...] = (200, 201, 202)) -> httpx.Response:
        if r.status_code not in ok:
            raise DemoError(f"{what} 失败 / failed: HTTP {r.status_code} {r.text[:300]}")
        return r

    def health(self) -> None:
        for service in SERVICES:
            try:
                r = self.http.get(self._url(service, "/healthz"), timeout=3)
            except httpx.HTTPError as exc:
                raise DemoError(f"{service} 未运行，请先执行 `qg up` / {service} is not reachable at "
                                f"{self.urls[service]} ({exc}); start it with `qg up`") from exc
            self._check(r, f"{service} /healthz")

    def publish_packs(self, paths: list[Path]) -> None:
        for path in paths:
            r = self.http.post(self._url("rules", "/v1/policies"), json={"yaml": path.read_text(encoding="utf-8")})
            if r.status_code == 409:
                self.say(f"  策略包已发布 / already published: {path.name}")
                continue
            self._check(r, f"发布策略包 / publishing {path.name}")
            self._count("packs")

    def _scim(self, method: str, path: str, body: dict[str, Any], at: datetime | None = None) -> httpx.Response:
        headers = {"Content-Type": SCIM_TYPE}
        if at is not None:  # a change loaded after the fact keeps its own time (see roster's SCIM routes)
            headers["X-Qunguard-Occurred-At"] = at.isoformat()
        return self.http.request(method, self._url("roster", path), json=body, headers=headers)

    def load_roster(self, activity: Activity) -> None:
        for body in scim_users(activity.company):
            r = self._scim("POST", "/scim/v2/Users", body)
            self._count("users" if r.status_code == 201 else "users_existing")
            self._check(r, f"SCIM 用户 / SCIM user {body['externalId']}", (201, 409))

    def register_groups(self, activity: Activity) -> None:
        for body in group_registrations(activity.company):
            r = self.http.post(self._url("roster", "/v1/groups"), json=body)
            self._count("groups" if r.status_code == 201 else "groups_existing")
            self._check(r, f"登记群 / registering {body['name']}", (201, 409))

    def _scim_id(self, employee_id: str) -> str:
        r = self._check(self.http.get(self._url("roster", "/scim/v2/Users"),
                                      params={"filter": f'externalId eq "{employee_id}"'}), "SCIM 查询 / lookup")
        found = r.json().get("Resources") or []
        if not found:
            raise DemoError(f"找不到员工 / no SCIM user for {employee_id}")
        return found[0]["id"]

    def hr_changes(self, activity: Activity) -> None:
        for change in activity.hr_changes:
            self.hr_change(change)

    def hr_change(self, change: HrChange, *, stamped: bool = False) -> None:
        """One HR change over SCIM; ``stamped`` sends it with its own time instead of "now"."""
        at = change.at if stamped else None
        if change.method == "POST":
            self._check(self._scim("POST", "/scim/v2/Users", change.document, at), change.id, (201, 409))
        else:
            self._check(self._scim("PUT", f"/scim/v2/Users/{self._scim_id(change.employee_id)}",
                                   change.document, at), change.id)
        self._count(f"hr_{change.kind}")

    def send_generic(self, events: list[Event]) -> None:
        r = self.http.post(self._url("ingest", "/v1/ingest/generic"), json={"events": [e.body for e in events]})
        self._check(r, "推送事件 / posting events")
        self._count("events", len(events))

    def play(self, events: list[Event], speed: float, progress_every: int = 2000) -> None:
        sent = 0
        for wait, batch in pace(events, speed):
            if wait:
                self.sleep(min(wait, 5.0))
            self.send_generic(batch)
            before, sent = sent, sent + len(batch)
            if sent // progress_every != before // progress_every or sent == len(events):
                self.say(f"  {batch[-1].time:%H:%M} 已播放 {sent}/{len(events)} 条 / played {sent}/{len(events)}")

    def send_live(self, tail: list[tuple[Event, tuple[str, ...]]], names: dict[str, str]) -> None:
        for ev, rules in tail:
            d = render(ev, names, self.secrets, now=ev.time)
            r = self.http.post(self._url("ingest", d.path), content=d.body,
                               headers={**d.headers, "Content-Type": "application/json"})
            if r.status_code == 401:
                self.say(f"  {ev.native} 未配置签名密钥，改走通用接口 / {ev.native} secret not configured, "
                         "sent through the generic endpoint instead")
                self.send_generic([dataclasses.replace(ev, native=None)])
                continue
            self._check(r, f"{ev.native} webhook")
            self._count(f"live_{ev.native}")
            if rules:
                self.say(f"  实时 / live {ev.native}: 「{ev.body.get('text')}」→ {', '.join(rules)}")


def urls_to_visit(urls: dict[str, str], the_day: date, sample_sanction: str | None) -> list[tuple[str, str]]:
    """(中文 / English label, URL) pairs printed at the end."""
    month = f"{the_day:%Y-%m}"
    out = [("违规记录 / violations", f"{urls['rules']}/v1/violations"),
           ("处罚 / sanctions", f"{urls['penalties']}/v1/sanctions"),
           ("待复核 / review queue", f"{urls['penalties']}/v1/reviews"),
           ("积分排行 / leaderboard", f"{urls['penalties']}/v1/leaderboard?month={month}"),
           ("月度结算 / monthly statement", f"{urls['penalties']}/v1/statements/{month}"),
           ("群登记与成员 / groups and members", f"{urls['roster']}/v1/groups"),
           ("策略版本 / policies in force", f"{urls['rules']}/v1/policies/active")]
    if sample_sanction:
        out.insert(2, ("审计链样例 / sample audit chain", f"{urls['penalties']}/v1/sanctions/{sample_sanction}/audit"))
    out += [(f"{s} 接口文档 / API docs", f"{urls[s]}/docs") for s in SERVICES]
    return out


def sample_sanction(client: httpx.Client, urls: dict[str, str]) -> str | None:
    try:
        r = client.get(f"{urls['penalties']}/v1/sanctions", params={"limit": 1})
        if r.status_code != 200:
            return None
        data = r.json()
        items = data.get("items") or data.get("sanctions") or (data if isinstance(data, list) else [])
        return items[0].get("sanction_id") or items[0].get("id") if items else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


def now_utc() -> datetime:
    return datetime.now(UTC)
