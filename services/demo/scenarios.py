"""The injected cases, each with the labels the default pack must produce for it.

Each case picks its actors from the group's current members, reserves them for the day (so clean
traffic cannot accidentally answer a question or extend a run), emits its events and labels the
ones that break a rule. Expected rule ids per case follow ``policies/company-default.yaml``:
a porn term, for example, breaks both ``content.porn`` and red line one (``content.redline.political``).

Timing is chosen with margins so no label depends on a calendar subtlety: leaders' tasks and notices
are posted inside a morning or afternoon working block with room for their 30 / 60 working minutes,
on working days only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.demo import hr, texts
from services.demo.activity import Builder, at, working_days
from services.demo.company import Group


def _slot(b: Builder, d: date) -> datetime:
    """A time in 09:05–10:30 or 13:35–16:00: room for 60 working minutes before the block ends."""
    if b.rng.random() < 0.5:
        return at(d, 9, 5) + timedelta(minutes=b.rng.randint(0, 85))
    return at(d, 13, 35) + timedelta(minutes=b.rng.randint(0, 145))


def _mention_text(b: Builder, template: str, g: Group, d: date, speaker: str, mentioned: list[str]) -> str:
    mention = "".join(f"@{b.people[m].name} " for m in mentioned)
    return b.fill(template.replace("{mention}", mention), g, d, speaker)


def _dept_group(b: Builder, d: date, min_free: int = 6) -> Group:
    pool = [g for g in b.groups("department") if len(b.available(g, d, staff=True)) >= min_free]
    return b.rng.choice(pool)


# -- reply SLAs --------------------------------------------------------------------------------

def leader_task(b: Builder, d: date, outcome: str) -> None:
    """A leader @-mentions staff with a task; ``outcome``: on_time | late | none."""
    g = _dept_group(b, d)
    leader = g.owner_id
    mentioned = b.pick(g, d, b.rng.choice((1, 2)), staff=True)
    t = _slot(b, d)
    task = b.say(g, leader, t, _mention_text(b, b.rng.choice(texts.TASKS), g, d, leader, mentioned),
                 clean=False, mentions=mentioned)
    for i, m in enumerate(mentioned):
        late = outcome == "late" and i == 0 or outcome == "none"
        if outcome == "none" and i == 0:
            b.label("reply.leader_task", task.id, g, b.account(g, m), t + timedelta(minutes=30), "未回复 / no answer")
            continue
        delay = b.rng.randint(45, 80) if late else b.rng.randint(3, 20)
        b.say(g, m, t + timedelta(minutes=delay, seconds=b.rng.randint(0, 59)), b.rng.choice(texts.TASK_REPLIES),
              clean=False)
        if late:
            b.label("reply.leader_task", task.id, g, b.account(g, m), t + timedelta(minutes=30), "回复超时 / late")


def notice(b: Builder, d: date, outcome: str) -> None:
    """A staff admin posts a 【通知】 @-mentioning members; ``outcome``: all_ack | late | missing."""
    g = b.rng.choice(b.groups("department") + b.groups("company"))
    admin = g.admin_ids[0]
    if b.people[admin].is_leader or admin in b.busy:
        return
    mentioned = b.pick(g, d, b.rng.randint(3, 5), staff=True)
    b.reserved.add((g.ref, d, admin))
    t = _slot(b, d)
    ev = b.say(g, admin, t, _mention_text(b, b.rng.choice(texts.NOTICES), g, d, admin, mentioned),
               clean=False, mentions=mentioned)
    for i, m in enumerate(mentioned):
        if i == 0 and outcome == "missing":
            b.label("reply.notice_ack", ev.id, g, b.account(g, m), t + timedelta(minutes=60), "未确认 / no ack")
            continue
        late = i == 0 and outcome == "late"
        delay = b.rng.randint(75, 100) if late else b.rng.randint(2, 40)
        b.say(g, m, t + timedelta(minutes=delay, seconds=b.rng.randint(0, 59)), b.rng.choice(texts.ACKS),
              clean=False)
        if late:
            b.label("reply.notice_ack", ev.id, g, b.account(g, m), t + timedelta(minutes=60), "确认超时 / late ack")


# -- content -------------------------------------------------------------------------------------

def pick_sender(b: Builder, g: Group, d: date, case: object) -> tuple[Group, str]:
    """A free staff member of ``g`` for a case on ``d``, reserved for the day.

    When everyone eligible in ``g`` is already taken that day, the case moves to the first group of
    the same category (by ref, no random draw: the rest of the run stays as it was) that still has
    one; the category keeps the rule's scope (non_work only applies in department groups). A case is
    never dropped silently: with no eligible sender anywhere, generation fails."""
    who = b.pick(g, d, staff=True)
    if who:
        return g, who[0]
    for other in sorted(b.groups(g.category), key=lambda x: x.ref):
        free = b.available(other, d, staff=True)
        if free:
            b.reserved.add((other.ref, d, free[0]))
            return other, free[0]
    raise RuntimeError(f"no eligible sender for the {case} case on {d} ({g.category} groups) / 没有可用的发送人")


def _content(b: Builder, d: date, text: str, rules: tuple[str, ...], *, g: Group | None = None,
             t: datetime | None = None, note: str = "") -> None:
    g, sender = pick_sender(b, g or b.rng.choice(b.groups("department", "company")), d, rules)
    t = t or at(d, 9, 30) + timedelta(minutes=b.rng.randint(0, 480))
    ev = b.say(g, sender, t, text, clean=False)
    for rule in rules:
        b.label(rule, ev.id, g, b.account(g, sender), t, note)


def content_cases(b: Builder, d: date, every: bool) -> None:
    rng = b.rng
    ads = texts.ADS if every else (rng.choice(texts.ADS),)
    for text in ads:
        _content(b, d, text, texts.CATEGORY_RULES["ads"], note="广告 / ad")
    obf = texts.OBFUSCATED if every else (rng.choice(texts.OBFUSCATED),)
    for text, category in obf:
        _content(b, d, text, texts.CATEGORY_RULES[category], note="变形违禁词 / obfuscated")
    plain = texts.PLAIN if every else rng.sample(texts.PLAIN, 2)
    for text, _category, rules in plain:
        _content(b, d, text, rules)
    links = texts.MALICIOUS_LINKS if every else (rng.choice(texts.MALICIOUS_LINKS),)
    for text in links:
        _content(b, d, text, ("content.malicious_link",), note="恶意链接 / malicious link")
    g = rng.choice(b.groups("department"))
    victim = rng.choice(sorted(b.members[g.ref]))
    _content(b, d, privacy_text(b, victim), ("content.privacy",), g=g, note="手机号 / mobile number")


def privacy_text(b: Builder, victim: str) -> str:
    return texts.PRIVACY.format(colleague=b.people[victim].name, mobile=b.people[victim].mobile)


def behaviour_cases(b: Builder, d: date) -> None:
    """Non-work chat, after-hours idle chat, flooding, image flooding, quiet hours, too long, pair
    talk, @all misuse — one each."""
    rng = b.rng
    _content(b, d, rng.choice(texts.NON_WORK), ("content.non_work",), g=rng.choice(b.groups("department")),
             t=at(d, 10, rng.randint(0, 59)))
    _content(b, d, rng.choice(texts.AFTER_HOURS), ("content.after_hours_non_work",), g=b.groups("company")[0],
             t=at(d, 20, rng.randint(0, 40)))
    g = _dept_group(b, d)
    who = b.pick(g, d, staff=True)[0]
    t0 = at(d, 15, rng.randint(0, 40))
    burst = [b.say(g, who, t0 + timedelta(seconds=5 * i), rng.choice(texts.FLOOD), clean=False) for i in range(10)]
    b.label("content.flooding", burst[-1].id, g, b.account(g, who), burst[-1].time, "50 秒 10 条 / 10 in 50 s")
    g = _dept_group(b, d)
    who = b.pick(g, d, staff=True)[0]
    t0 = at(d, 11, rng.randint(0, 20))
    shots = [b.say(g, who, t0 + timedelta(seconds=80 * i), None, clean=False, msg_type="image") for i in range(6)]
    b.label("content.image_flooding", shots[-1].id, g, b.account(g, who), shots[-1].time, "6 张图片 / 6 images")
    g = _dept_group(b, d)
    who = b.pick(g, d, staff=True)[0]
    late = b.say(g, who, at(d, 23, 35 + rng.randint(0, 5)), b.unique_text(texts.STAFF_ONLY, g, d, who), clean=False)
    b.label("content.quiet_hours", late.id, g, b.account(g, who), late.time, "23:30 后 / after 23:30")
    b.say(g, who, late.time + timedelta(minutes=8), "早点休息，明天继续", clean=False)  # same night: no second label
    g = _dept_group(b, d)
    long_text = "".join(rng.sample(texts.LONG_PARTS, len(texts.LONG_PARTS)))
    _content(b, d, long_text[:230], ("content.too_long",), g=g, t=at(d, 16, rng.randint(0, 50)))
    pair_talk(b, d)
    g = _dept_group(b, d)
    who = b.pick(g, d, staff=True)[0]
    t = at(d, 14, rng.randint(0, 50))
    ev = b.say(g, who, t, "@所有人 " + b.unique_text(texts.COMMON, g, d, who), clean=False, mention_all=True)
    b.label("content.at_all_misuse", ev.id, g, b.account(g, who), t, "普通员工 @所有人 / staff used @all")


def pair_talk(b: Builder, d: date) -> None:
    """Two colleagues trade 8 messages in 20 minutes; clean traffic keeps out for 31 minutes before."""
    g = _dept_group(b, d)
    a, c = b.pick(g, d, 2, staff=True)
    t0 = at(d, 16, b.rng.randint(5, 30))
    # a case placed earlier in this group (a long text at 16:xx) would be a third voice in the run
    taken = [e.time for e in b.events if e.body["group_id"] == g.group_id and e.body["type"] == "message"]
    slots = [t0, *(at(d, 16, 5) + timedelta(minutes=k) for k in range(0, 80)),
             *(at(d, 9, 40) + timedelta(minutes=k) for k in range(0, 360))]
    t0 = next((t for t in slots if not any(t - timedelta(minutes=31) <= x <= t + timedelta(minutes=20)
                                           for x in taken)), t0)
    b.block(g, t0 - timedelta(minutes=31), t0 + timedelta(minutes=20))
    msgs = [b.say(g, (a, c)[i % 2], t0 + timedelta(minutes=2 * i, seconds=b.rng.randint(0, 50)), texts.P2P[i],
                  clean=False) for i in range(8)]
    b.label("content.point_to_point", msgs[-1].id, g, b.account(g, c), msgs[-1].time, "两人连续 8 条 / 8 in a row")


def run(b: Builder, days: list[date], profile: str) -> None:
    """All cases: every kind on the demo day; in a month, several per working day and HR spread out."""
    work = set(working_days(days[0], days[-1]))
    hr.setup(b, days, profile)
    for i, d in enumerate(days):
        if d not in work:
            continue
        every = profile == "day" or i % 7 == 0
        for outcome in ("on_time", "late", "none") if every else (b.rng.choice(("on_time", "on_time", "late", "none")),):
            leader_task(b, d, outcome)
        for outcome in ("all_ack", "late", "missing") if every else (b.rng.choice(("all_ack", "late", "missing")),):
            notice(b, d, outcome)
        content_cases(b, d, every)
        behaviour_cases(b, d)
        hr.membership_cases(b, d)
