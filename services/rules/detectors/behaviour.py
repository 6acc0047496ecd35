"""Behaviour in a group: flooding, image flooding, repeated ads, too long, quiet hours, after-hours
idle chat, point-to-point back-and-forth, @all misuse. Catalog section 3 (the non-lexicon part).

Each detector reads the recent-message windows the engine folds (``g:{ref}`` per group, ``u:{ref}|{user}``
per member, both *before* the current message) and decides from event times only.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from contracts.chat import MessagePosted, MsgType
from contracts.violations import Evidence
from services.rules.detectors._common import (
    HHMM,
    PositiveInt,
    Seconds,
    digest,
    in_range,
    roles_of,
    who,
)
from services.rules.detectors.base import (
    ActiveRule,
    Input,
    Output,
    Remember,
    StateView,
    detector,
)
from services.rules.policy.runtime import hhmm_of
from services.rules.state import Recent

if TYPE_CHECKING:  # pragma: no cover - typing only
    from services.rules.policy.model import Organisation
    from services.rules.policy.runtime import PackRuntime


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FloodingParams(_P):
    max_messages: PositiveInt = 10
    within: Seconds = 60.0
    msg_types: list[MsgType] = []


class ImageFloodingParams(FloodingParams):
    max_messages: PositiveInt = 5
    within: Seconds = 600.0
    msg_types: list[MsgType] = ["image", "video"]


def _bursts(items: list[Recent], max_messages: int, within: float) -> int | None:
    """Greedy, deterministic burst detection: the index flagged last, counting only messages after the
    previous flagged burst, so one burst is flagged once however long it lasts.

    Item i is flagged when at least ``max_messages`` items after the last flag lie within ``within``
    seconds before it. Windows arrive in time order, so the items counted for i are a suffix ending at
    i and one pointer walks forward: linear in the window, where counting afresh for each item was
    quadratic (a member flooding at 2 messages/s made every message of theirs walk 1,800 pairs). A
    window out of time order (a late delivery) is counted afresh, with the same answer.
    """
    ts = [item.time.timestamp() for item in items]
    flagged_at, last = -1, None
    if any(b < a for a, b in pairwise(ts)):
        for i, t in enumerate(ts):
            since = t - within
            if sum(1 for j in range(flagged_at + 1, i + 1) if ts[j] >= since) >= max_messages:
                flagged_at, last = i, i
        return last
    lo = 0
    for i, t in enumerate(ts):
        since = t - within
        if lo <= flagged_at:
            lo = flagged_at + 1
        while ts[lo] < since:
            lo += 1
        if i - lo + 1 >= max_messages:
            flagged_at, last = i, i
    return last


def _flooding(rule: ActiveRule, inp: Input, state: StateView, label: str) -> list[Output]:
    msg, p = inp.message, rule.params
    if msg is None or (p.msg_types and msg.msg_type not in p.msg_types):
        return []
    window = state.window("u:" + inp.member_ref)
    if len(window) + 1 < p.max_messages:
        return []  # not enough messages from this member in the whole window (most members)
    horizon = inp.time - timedelta(seconds=2 * p.within)
    items: list[Recent] = []
    for r in reversed(window):
        if r.time < horizon:
            break
        if not p.msg_types or r.msg_type in p.msg_types:
            items.append(r)
    if len(items) + 1 < p.max_messages:
        return []
    items.reverse()
    items.append(Recent(inp.time, inp.event_id, msg.user_id, msg.msg_type))
    if _bursts(items, p.max_messages, p.within) != len(items) - 1:
        return []
    burst = [r for r in items if r.time.timestamp() >= inp.time.timestamp() - p.within][-p.max_messages:]
    ev = Evidence(summary=f"{who(inp.actor, inp.user_id)} 在 {int(p.within)} 秒内发送 {len(burst)} 条{label} / "
                          f"{len(burst)} {label and 'image '}messages within {int(p.within)} s",
                  details={"count": len(burst), "within_s": p.within, "first_at": burst[0].time.isoformat()})
    return [rule.finding(inp, ev, causing_event_ids=tuple(r.event_id for r in burst))]


@detector("flooding", on=(MessagePosted,), params=FloodingParams)
def flooding(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """刷屏：同一人在 T 内发送 N 条消息 / one member posts N messages within T."""
    return _flooding(rule, inp, state, "消息")


def is_flooding_media(inp: Input, state: StateView) -> bool:
    """Precondition of ``image_flooding``: the message has one of the media types the pack's
    image-flooding rules count (a rule counting every type lets every message through)."""
    types = inp.runtime.derived(_media_types)
    return types is None or (inp.message is not None and inp.message.msg_type in types)


def _media_types(rt: PackRuntime) -> frozenset[str] | None:
    """The media types any image-flooding rule of the pack counts (None: one of them counts all)."""
    rules = rt.rules_with(is_flooding_media)
    if any(not r.params.msg_types for r in rules):
        return None
    return frozenset(t for r in rules for t in r.params.msg_types)


@detector("image_flooding", on=(MessagePosted,), params=ImageFloodingParams, when=is_flooding_media)
def image_flooding(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """图片刷屏：同一人在 T 内发送 N 张图片/视频 / N pictures or videos within T."""
    return _flooding(rule, inp, state, "图片")


class RepeatedParams(_P):
    min_chars: PositiveInt = 10
    within: Seconds = 30 * 86400.0
    per_user: bool = False


@detector("repeated_content", on=(MessagePosted,), params=RepeatedParams)
def repeated_content(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """同一内容（广告）只能发一次：归一化后相同的文本再次出现 / the same (normalised) text posted again."""
    msg, p = inp.message, rule.params
    if msg is None or len(msg.text or "") < p.min_chars:
        return []
    h = digest(msg.text or "")
    key = f"{inp.platform}:{inp.group_id}|{inp.user_id if p.per_user else '*'}|{h}"
    seen = state.counter(rule.memory_key(key))
    remember = Remember(key, {"t": inp.time.isoformat(), "e": inp.event_id})
    if not seen or inp.time.timestamp() - _ts(seen["t"]) > p.within:
        return [remember]
    ev = Evidence(summary="重复发布相同内容（仅允许一次）/ the same content posted again (allowed once)",
                  text=msg.text, details={"first_event_id": seen["e"], "first_at": seen["t"], "digest": h})
    return [rule.finding(inp, ev, causing_event_ids=(seen["e"], inp.event_id))]


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


class TooLongParams(_P):
    max_chars: PositiveInt = 200


def may_be_too_long(inp: Input, state: StateView) -> bool:
    """Precondition of ``too_long``: longer than the smallest limit of the pack's too-long rules."""
    return len(inp.text) > inp.runtime.derived(_smallest_limit)


def _smallest_limit(rt: PackRuntime) -> int:
    return min((r.params.max_chars for r in rt.rules_with(may_be_too_long)), default=0)


@detector("too_long", on=(MessagePosted,), params=TooLongParams, when=may_be_too_long)
def too_long(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """超过 N 字的分享应改为链接 / shares over N characters without a link should be a link."""
    msg = inp.message
    text = (msg.text or "") if msg else ""
    if msg is None or len(text) <= rule.params.max_chars or msg.url or "http" in text:
        return []
    ev = Evidence(summary=f"消息 {len(text)} 字，超过 {rule.params.max_chars} 字且无链接 / "
                          f"{len(text)} characters without a link", text=text, details={"chars": len(text)})
    return [rule.finding(inp, ev)]


class QuietParams(_P):
    start: HHMM | None = None
    end: HHMM | None = None
    once_per_night: bool = True


def _quiet_window(rule: ActiveRule, org: Organisation) -> tuple[str | None, str | None]:
    p = rule.params
    return (p.start or (org.quiet_hours.start if org.quiet_hours else None),
            p.end or (org.quiet_hours.end if org.quiet_hours else None))


def _quiet_windows(rt: PackRuntime) -> list[tuple[str, str]]:
    """The quiet windows of the pack's quiet-hours rules (those with both ends)."""
    org = rt.pack.organisation
    return [w for w in (_quiet_window(r, org) for r in rt.rules_with(in_quiet_hours)) if w[0] and w[1]]


def in_quiet_hours(inp: Input, state: StateView) -> bool:
    """Precondition of ``quiet_hours``: the local time lies in the quiet window of one of the pack's
    quiet-hours rules (daytime chat, nearly all of it, skips the detector)."""
    windows = inp.runtime.derived(_quiet_windows)
    if not windows:
        return False
    hhmm = inp.hhmm
    for start, end in windows:
        if in_range(hhmm, start, end):
            return True
    return False


@detector("quiet_hours", on=(MessagePosted,), params=QuietParams, when=in_quiet_hours)
def quiet_hours(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """休息时段（如 23:30–07:30）禁止群聊 / no group chat during quiet hours."""
    p = rule.params
    start, end = _quiet_window(rule, inp.org)
    if not start or not end or inp.message is None:
        return []
    rt = inp.runtime
    hhmm = inp.hhmm
    if not in_range(hhmm, start, end):
        return []
    if p.once_per_night:
        for r in reversed(state.window("u:" + inp.member_ref)):
            gap = (inp.time - r.time).total_seconds()
            if gap > 86400:
                break
            if in_range(hhmm_of(rt.local(r.time)), start, end) and gap < 12 * 3600:  # type: ignore[attr-defined]
                return []
    ev = Evidence(summary=f"{hhmm} 在休息时段 {start}–{end} 发言 / message during quiet hours {start}–{end}",
                  text=inp.text, details={"local_time": hhmm})
    return [rule.finding(inp, ev)]


DEFAULT_IDLE_WORDS = ["哈哈哈", "红包", "斗地主", "王者荣耀", "吃鸡", "八卦", "追剧", "打麻将", "约饭", "喝酒",
                      "表情包", "段子", "抢红包", "开黑", "明星"]


class AfterHoursParams(_P):
    keywords: list[str] = DEFAULT_IDLE_WORDS
    msg_types: list[MsgType] = []


@detector("after_hours_non_work", on=(MessagePosted,), params=AfterHoursParams)
def after_hours_non_work(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """下班后在公司群发与工作无关的内容 / non-work content in company groups outside working time."""
    msg = inp.message
    if msg is None or inp.runtime.is_working_time(inp.time):  # type: ignore[attr-defined]
        return []
    text = msg.text or ""
    word = next((w for w in rule.params.keywords if w in text), None)
    if word is None and msg.msg_type not in rule.params.msg_types:
        return []
    start = text.find(word) if word else -1
    ev = Evidence(summary="非工作时间发布与工作无关的内容 / non-work content outside working time", text=text,
                  span=(start, start + len(word)) if word else None, matched=word, term=word)
    return [rule.finding(inp, ev)]


class PointToPointParams(_P):
    min_messages: PositiveInt = 8
    within: Seconds = 1800.0


@detector("point_to_point", on=(MessagePosted,), params=PointToPointParams)
def point_to_point(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """两人在群里长时间一问一答，应转私聊 / a long back-and-forth between two people belongs in private."""
    msg, p = inp.message, rule.params
    if msg is None:
        return []
    window = state.window("g:" + inp.ref)
    if len(window) < p.min_messages - 1:
        return []
    if p.min_messages > 2 and len(window) >= 2:
        last, before = window[-1].user_id, window[-2].user_id
        if last != msg.user_id and before != msg.user_id and last != before:
            return []  # three people among the last three messages: no back-and-forth (nearly always)
    # walk back from this message while only two people speak (usually a third one shows up at once)
    users = [msg.user_id]
    earlier: list[Recent] = []
    pair = {msg.user_id}
    horizon = inp.time - timedelta(seconds=p.within)
    for r in reversed(window):
        if r.time < horizon or (r.user_id not in pair and len(pair) == 2) or len(users) > p.min_messages:
            break
        pair.add(r.user_id)
        users.append(r.user_id)
        earlier.append(r)
    if len(pair) != 2 or len(users) != p.min_messages:
        return []
    run = [Recent(inp.time, inp.event_id, msg.user_id), *earlier]
    turns = sum(1 for a, b in pairwise(users) if a != b)
    if turns < p.min_messages // 2:
        return []
    other = next(u for u in pair if u != msg.user_id)
    other_person = state.person_by_account(inp.platform or "", other)
    ev = Evidence(summary=f"两人连续对话 {len(run)} 条，建议转私聊 / {len(run)} messages between two people",
                  text=inp.text, details={"with_user_id": other, "turns": turns})
    liable = (other_person.employee_id,) if other_person else ()
    return [rule.finding(inp, ev, causing_event_ids=tuple(r.event_id for r in run), liable_employee_ids=liable)]


class AtAllParams(_P):
    allowed_roles: list[str] = ["owner", "admin", "manager", "executive"]


def mentions_all(inp: Input, state: StateView) -> bool:
    """Precondition of ``at_all_misuse``: the message @-mentions everyone."""
    return inp.message is not None and inp.message.mention_all


@detector("at_all_misuse", on=(MessagePosted,), params=AtAllParams, when=mentions_all)
def at_all_misuse(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """只有群主、管理员和领导可以 @所有人 / only owners, admins and leaders may @all."""
    msg = inp.message
    if msg is None or not msg.mention_all or roles_of(state, inp) & set(rule.params.allowed_roles):
        return []
    ev = Evidence(summary="无权限使用 @所有人 / @all used without the right to", text=inp.text)
    return [rule.finding(inp, ev)]
