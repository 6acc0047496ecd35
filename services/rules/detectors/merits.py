"""Positive events of the points programme (catalog section 5, seed 001 鸡公山), as ``MeritDetected``.

- ``daily_share``: the first original share of a person's day in the share group (the day may end
  after midnight, e.g. 02:00); a text someone else already posted is a copy and earns nothing; the
  share on the N-th distinct day of a month also earns ``monthly_streak``.
- ``reshare``: a link to a company post (URL patterns), once per person and URL.
- ``admin_duty``: each week the group's admins (and the statistics clerk, if an admin) earn a merit.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

from contracts.chat import MessagePosted
from contracts.violations import Evidence
from services.rules.detectors._common import (
    HHMM,
    PositiveInt,
    digest,
    group_admin_employees,
    local_day,
    who,
)
from services.rules.detectors.base import (
    ActiveRule,
    Finding,
    Input,
    Output,
    Remember,
    StateView,
    TimerFired,
    TimerSet,
    detector,
)

_URL = re.compile(r"https?://\S+")


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShareParams(_P):
    day_ends_at: HHMM = "00:00"
    min_chars: PositiveInt = 10
    streak_days: PositiveInt = 27


def _merit(rule: ActiveRule, inp: Input, kind: str, summary: str, dedupe: tuple[str, ...], **details) -> Finding:
    return rule.finding(inp, Evidence(summary=summary, text=inp.text or None, details=details), kind="merit",
                        merit_kind=kind, dedupe=dedupe)


@detector("daily_share", on=(MessagePosted,), params=ShareParams)
def daily_share(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """分享群每日首条原创分享 +1；当月分享满 N 天再奖励 / first original share of the day; monthly streak."""
    msg, p = inp.message, rule.params
    text = (msg.text or "").strip()
    if len(text) < p.min_chars:
        return []
    h = digest(text)
    first = state.counter(rule.memory_key(f"d:{h}"))
    if first and first.get("user") != inp.user_id:
        return []  # a copy of someone else's text is not original
    out: list[Output] = [] if first else [Remember(f"d:{h}", {"user": inp.user_id, "e": inp.event_id})]
    day = local_day(inp, inp.time, p.day_ends_at)
    month_key = f"m:{inp.user_id}:{day:%Y-%m}"
    days = list(state.counter(rule.memory_key(month_key)).get("days", []))
    if day.isoformat() in days:
        return out
    days.append(day.isoformat())
    out.append(Remember(month_key, {"days": sorted(days)}))
    out.append(_merit(rule, inp, "daily_share", f"{who(inp.actor, inp.user_id)} {day} 原创分享 / original share of the day",
                      (day.isoformat(),), day=day.isoformat()))
    if len(days) == p.streak_days:
        out.append(_merit(rule, inp, "monthly_streak",
                          f"{who(inp.actor, inp.user_id)} {day:%Y-%m} 已分享 {p.streak_days} 天 / shared on "
                          f"{p.streak_days} days this month", (f"{day:%Y-%m}",), month=f"{day:%Y-%m}"))
    return out


class ReshareParams(_P):
    url_patterns: list[str] = Field(min_length=1)


@detector("reshare", on=(MessagePosted,), params=ReshareParams)
def reshare(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """转发公司发布的内容（每人每条链接一次）/ resharing a company post, once per person and URL."""
    msg = inp.message
    urls = ([msg.url] if msg.url else []) + _URL.findall(msg.text or "")
    url = next((u for u in urls if any(re.search(pat, u) for pat in rule.params.url_patterns)), None)
    if url is None:
        return []
    key = f"r:{inp.user_id}:{url}"
    if state.counter(rule.memory_key(key)):
        return []
    return [Remember(key, {"e": inp.event_id}),
            _merit(rule, inp, "reshare", f"{who(inp.actor, inp.user_id)} 转发公司内容 / reshared a company post",
                   (url,), url=url)]


def _next_monday(inp: Input, t: datetime) -> datetime:
    local = inp.runtime.local(t)  # type: ignore[attr-defined]
    monday = local.date() + timedelta(days=7 - local.weekday())
    return datetime.combine(monday, time(0), local.tzinfo)


@detector("admin_duty", on=(MessagePosted, TimerFired))
def admin_duty(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """群管理员每周值守奖励 / the group's admins earn a merit for each week on duty."""
    ev = inp.event
    if isinstance(ev, MessagePosted):
        ref = f"{inp.platform}:{inp.group_id}"
        return [TimerSet(key=f"duty:{ref}", due=_next_monday(inp, inp.time), scope=ref,
                         data={"platform": inp.platform, "group_id": inp.group_id})]
    g = state.group(ev.data["platform"], ev.data["group_id"])
    if g is None or g.dissolved or g.retired:
        return []
    week = (ev.due - timedelta(days=7)).astimezone(inp.runtime.tz).date()  # type: ignore[attr-defined]
    out: list[Output] = []
    for employee in group_admin_employees(state, g):
        person = state.person(employee)
        e = Evidence(summary=f"{who(person, employee)} 担任群「{g.name or g.group_id}」管理员（{week} 起一周）/ "
                             "a week as group admin", details={"week_of": week.isoformat()})
        out.append(Finding(rule_id=rule.id, category=rule.spec.category, severity=rule.spec.severity, evidence=e,
                           platform=g.platform, occurred_at=ev.due, causing_event_ids=tuple(ev.causing_event_ids),
                           group_id=g.group_id, employee_id=employee, kind="merit", merit_kind="admin_duty",
                           dedupe=(week.isoformat(), employee)))
    return out
