"""The generator checks itself: clean traffic triggers nothing, behaviour cases trigger exactly once.

The word lists are the default pack's published trigger words (``services/rules/detectors/replies.py``
and ``behaviour.py`` defaults, which ``policies/company-default.yaml`` does not override), kept here as
the generator's own knowledge so a change to the pack that would make "clean" traffic dirty shows up
as a failing self-check rather than as a silent drop in precision. Lexicon terms are checked by the
unit tests with the rules service's own matcher.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import time

from services.demo.activity import CLEAN_END, CLEAN_START, Activity, Event, text_key

QUESTION = ("?", "？", "吗", "怎么", "什么时候", "请问", "多少", "为什么", "能否", "是否", "进度", "哪位")
TASK = ("请", "安排", "尽快", "落实", "负责", "跟进", "处理", "汇报", "报给我", "下班前", "马上", "务必", "抓紧")
ISSUE = ("问题", "故障", "投诉", "怎么办", "谁负责", "出错", "坏了", "异常")
NOTICE = ("【通知】", "通知：", "通知:", "【公告】", "公告：", "请回复收到", "请各位")
DEFLECT = ("不归我管", "不是我负责", "不关我事", "找别人", "别问我", "跟我没关系", "不是我们部门的事")
IDLE = ("哈哈哈", "红包", "斗地主", "王者荣耀", "吃鸡", "八卦", "追剧", "打麻将", "约饭", "喝酒", "表情包", "段子",
        "抢红包", "开黑", "明星")
LONG_DIGITS = re.compile(r"\d{8,}")
URL = re.compile(r"https?://([^/\s]+)")
FLOOD, FLOOD_S, IMAGES, IMAGES_S = 10, 60, 6, 600
REPEAT_CATEGORIES = ("project",)


def _words(text: str, words: tuple[str, ...]) -> list[str]:
    return [w for w in words if w in text]


def text_problems(text: str, *, leader: bool) -> list[str]:
    """Why ``text`` would not be clean (empty when it is), lexicons aside."""
    found = _words(text, QUESTION + ISSUE + NOTICE + DEFLECT + IDLE) + (_words(text, TASK) if leader else [])
    problems = [f"trigger word {w!r}" for w in found]
    if LONG_DIGITS.search(text):
        problems.append("long digit run (phone/ID/card-like)")
    if len(text) > 200:
        problems.append("over 200 characters")
    problems += [f"link to {h}" for h in URL.findall(text) if not (h == "tiangao.com" or h.endswith(".tiangao.com"))]
    return problems


def _burst_ends(times: list, limit: int, within: int) -> list[int]:
    """Indexes completing a burst, flagged once per burst (the flooding detector's greedy walk)."""
    flagged_at, out = -1, []
    for i, t in enumerate(times):
        count = sum(1 for j in range(flagged_at + 1, i + 1) if (t - times[j]).total_seconds() <= within)
        if count >= limit:
            flagged_at = i
            out.append(i)
    return out


def check(activity: Activity) -> list[str]:
    """Every reason the activity's clean traffic is not clean or its behaviour labels are off."""
    from services.demo.traffic import pair_runs

    problems: list[str] = []
    leaders = {acc for e in [*activity.company.employees, *activity.hires] if e.is_leader
               for acc in e.accounts.values()}
    labelled = {(lb.rule_id, lb.event_id) for lb in activity.labels}
    by_group: dict[str, list[Event]] = defaultdict(list)
    by_member: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for ev in activity.messages:
        by_group[ev.body["group_id"]].append(ev)
        by_member[(ev.body["group_id"], ev.body["user_id"])].append(ev)
        if not ev.clean:
            continue
        body = ev.body
        where = f"{ev.id} {body.get('group_name')}"
        problems += [f"{where}: {p}" for p in text_problems(body.get("text") or "", leader=body["user_id"] in leaders)]
        if not (CLEAN_START <= ev.time.time() <= CLEAN_END) and ev.time.time() > time(7, 30):
            problems.append(f"{where}: clean message outside 08:00–22:30")
        if body.get("mentions") or body.get("mention_all"):
            problems.append(f"{where}: clean message with mentions")
    for evs in by_member.values():
        evs.sort(key=lambda e: (e.time, e.id))
        for i in _burst_ends([e.time for e in evs], FLOOD, FLOOD_S):
            if ("content.flooding", evs[i].id) not in labelled:
                problems.append(f"{evs[i].id}: unlabelled flooding")
        imgs = [e for e in evs if e.body.get("msg_type") in ("image", "video")]
        for i in _burst_ends([e.time for e in imgs], IMAGES, IMAGES_S):
            if ("content.image_flooding", imgs[i].id) not in labelled:
                problems.append(f"{imgs[i].id}: unlabelled image flooding")
    for evs in by_group.values():
        evs.sort(key=lambda e: (e.time, e.id))
        runs = {evs[i].id for i in pair_runs(evs)}
        for ev_id in runs:
            if ("content.point_to_point", ev_id) not in labelled:
                problems.append(f"{ev_id}: unlabelled two-person run")
        problems += [f"{ev.id}: labelled two-person run that another message interrupts" for ev in evs
                     if ("content.point_to_point", ev.id) in labelled and ev.id not in runs]
    problems += _repeats(activity, by_group)
    return problems


def _repeats(activity: Activity, by_group: dict[str, list[Event]]) -> list[str]:
    categories = {g.group_id: g.category for g in activity.company.groups}
    out = []
    for group_id, evs in by_group.items():
        if categories.get(group_id, "project") not in REPEAT_CATEGORIES:
            continue
        seen: set[str] = set()
        for ev in evs:
            text = ev.body.get("text") or ""
            key = text_key(text)
            if len(text) >= 15 and key in seen:
                out.append(f"{ev.id}: repeated text in a project group")
            seen.add(key)
    return out
