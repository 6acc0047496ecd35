"""Clean group traffic: ordinary work talk that must trigger no rule of the default pack.

Placement rules (each one keeps a behaviour detector quiet): only 08:00–22:30 (quiet hours start at
23:30); one person posts at most once per group every three minutes (flooding needs 10 a minute,
image flooding 6 in ten minutes); no text repeats in a group (repeated content); scenario actors of
the day and HR-change people stay silent; windows a case blocks stay empty; and
:func:`break_pairs` puts a third voice into any run of messages that only two people wrote
(the point-to-point rule wants 8 in a row within 30 minutes).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.demo import texts
from services.demo.activity import (
    CLEAN_END,
    CLEAN_START,
    MIN_GAP_S,
    Builder,
    Event,
    at,
    text_key,
    working_days,
)
from services.demo.company import Group

P2P_MESSAGES, P2P_WINDOW_S = 8, 1800


def _times(b: Builder, d: date, n: int, working: bool) -> list[datetime]:
    rng, out = b.rng, []
    for _ in range(n):
        if working and rng.random() < 0.75:
            hh = rng.choice((9, 10, 11, 13, 14, 15, 16, 17))
        else:
            hh = rng.choice((8, 12, 18, 19, 20, 21)) if working else rng.randint(10, 20)
        t = at(d, hh, rng.randint(0, 59), rng.randint(0, 59))
        if CLEAN_START <= t.time() <= CLEAN_END:
            out.append(t)
    return sorted(out)


def _blocked(b: Builder, g: Group, t: datetime) -> bool:
    return any(s <= t <= e for s, e in b.blocked.get(g.ref, ()))


def _speaker(b: Builder, g: Group, d: date, t: datetime, available: list[str]) -> str | None:
    pool = [e for e in available
            if (last := b.last_spoke.get((g.ref, e))) is None or abs((t - last).total_seconds()) >= MIN_GAP_S]
    return b.rng.choice(pool) if pool else None


def _templates(b: Builder, g: Group, eid: str) -> tuple[str, ...]:
    if g.category == "external":
        return texts.SERVICE
    return texts.COMMON if b.people[eid].is_leader else texts.COMMON + texts.STAFF_ONLY


def clean_message(b: Builder, g: Group, d: date, t: datetime, available: list[str]) -> Event | None:
    if g.category == "external" and g.outsiders and b.rng.random() < 0.4:
        who = b.rng.choice(g.outsiders)
        text = b.unique_text(texts.CUSTOMER, g, d, None)
        b.seen_text.setdefault(g.ref, set()).add(text_key(text))
        return b.add(g, t, "message", who.user_id, native_ok=True, nickname=who.nickname, msg_type="text",
                     text=text, mentions=[], mention_all=False)
    eid = _speaker(b, g, d, t, available)
    if eid is None:
        return None
    roll = b.rng.random()
    if roll < 0.03:
        return b.say(g, eid, t, None, msg_type="image")
    if roll < 0.05 and g.category != "external":
        return b.say(g, eid, t, b.unique_text(texts.ALLOWED_LINKS, g, d, eid))
    return b.say(g, eid, t, b.unique_text(_templates(b, g, eid), g, d, eid))


def clean_day(b: Builder, d: date, per_day: dict[str, int] | None) -> None:
    per_day = per_day or {}
    working = bool(working_days(d, d))
    for g in b.company.groups:
        n = per_day.get(g.category, 20)
        n = n if working else max(1, n // 8)
        available = b.available(g, d, regular=False)
        for t in _times(b, d, n, working):
            if not _blocked(b, g, t):
                clean_message(b, g, d, t, available)


# -- the point-to-point guard ---------------------------------------------------------------

def _pair_run(msgs: list[Event], i: int) -> tuple[int, set[str]]:
    """The run the point-to-point detector would see ending at ``msgs[i]`` (same walk as the rule)."""
    cur = msgs[i]
    pair, length = {cur.body["user_id"]}, 1
    for j in range(i - 1, -1, -1):
        prev = msgs[j]
        if (cur.time - prev.time).total_seconds() > P2P_WINDOW_S:
            break
        if prev.body["user_id"] not in pair and len(pair) == 2:
            break
        pair.add(prev.body["user_id"])
        length += 1
    return length, pair


def pair_runs(msgs: list[Event]) -> list[int]:
    """Indexes of messages that complete a two-person run of exactly 8 within 30 minutes in which
    the speaker changes at least 4 times (the rule's back-and-forth: one person answering another
    with a burst of seven is flooding, not a conversation)."""
    out = []
    for i in range(len(msgs)):
        length, pair = _pair_run(msgs, i)
        if length != P2P_MESSAGES or len(pair) != 2:
            continue
        users = [m.body["user_id"] for m in msgs[i - length + 1:i + 1]]
        if sum(1 for a, b in zip(users, users[1:]) if a != b) >= P2P_MESSAGES // 2:
            out.append(i)
    return out


def break_pairs(b: Builder) -> None:
    """Insert a third member's clean message before any unintended two-person run completes."""
    import bisect

    for g in b.company.groups + b.extra_groups:
        msgs = sorted((e for e in b.events if e.body["group_id"] == g.group_id and e.body["type"] == "message"),
                      key=lambda e: (e.time, e.id))
        i = 0
        while i < len(msgs):
            length, pair = _pair_run(msgs, i)
            if length != P2P_MESSAGES or len(pair) != 2 or not any(m.clean for m in msgs[i - 7:i + 1]):
                i += 1
                continue
            t = msgs[i].time - timedelta(seconds=1)
            d = t.date()
            pool = [e for e in b.available(g, d, regular=False) if b.account(g, e) not in pair
                    and ((last := b.last_spoke.get((g.ref, e))) is None
                         or abs((t - last).total_seconds()) >= MIN_GAP_S)]
            if not pool:
                i += 1
                continue
            eid = b.rng.choice(pool)
            ev = b.say(g, eid, t, b.unique_text(texts.COMMON, g, d, eid))
            keys = [(m.time, m.id) for m in msgs]
            msgs.insert(bisect.bisect(keys, (ev.time, ev.id)), ev)
