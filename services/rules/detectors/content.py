"""Text content rules (catalog section 3): red lines, lexicon categories, links, ads, secrets, privacy.

Detectors (names as packs write them in ``rules[].detector``):

- ``lexicon``: any lexicon categories (content.redline.*, content.politics, content.porn,
  content.gambling, content.violence, content.insult, content.incitement, content.rumor…). Weak
  categories (rumour, doctored screenshots) set ``review: true`` so a human decides.
- ``malicious_link``: deny-listed, look-alike, IP-address and executable links; shorteners → review.
- ``ads``: the ads lexicon; with ``allow_once`` the first posting of a text in a group is tolerated
  and only a repeat of the same normalised text is flagged.
- ``confidential``: the confidential lexicon (内部资料, 报价单…), amounts attached as evidence.
- ``privacy``: mobile numbers, resident ID numbers (checksum), bank cards (Luhn), optionally e-mail.
- ``non_work``: the non-work lexicon, always or only outside working time.

A hit inside a prohibition clause ("严禁在群内发布色情、赌博") is most likely an admin restating the
rules: ``prohibition_context`` decides whether it is ignored, sent to review (default) or flagged.
All lexicons of a pack are compiled once per pack version into one matcher (``PackRuntime.cached``).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.chat import MessagePosted
from contracts.violations import Evidence
from services.rules.detectors.base import (
    ActiveRule,
    Finding,
    Input,
    Output,
    Remember,
    StateView,
    detector,
)
from services.rules.text.lexicon import Lexicon
from services.rules.text.links import LinkPolicy, Verdict, classify, extract_links
from services.rules.text.matcher import Hit, Matcher
from services.rules.text.normalize import normalize_text
from services.rules.text.patterns import (
    PII_KINDS,
    any_digit_or_at,
    find_amounts,
    find_pii,
    mask,
)

CATEGORY_ZH = {"politics": "不良政治", "religion": "宗教传播", "porn": "色情", "gambling": "赌博",
               "violence": "暴力", "insult": "辱骂歧视", "incitement": "煽动", "ads": "广告",
               "confidential": "机密", "rumor": "不实信息", "doctored": "截图误导", "non_work": "与工作无关"}
_MAX_LISTED = 10


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LexiconParams(_P):
    categories: list[str] = Field(min_length=1, description="Lexicon categories this rule looks for.")
    min_hits: int = Field(1, ge=1, description="Distinct terms needed before the rule fires.")
    review: bool = Field(False, description="Weak signal: every finding waits for a human decision.")
    prohibition_context: Literal["ignore", "review", "flag"] = "review"


def matcher_for(inp: Input) -> Matcher:
    """The pack's compiled lexicons: shipped defaults extended by the pack's ``lexicons:``."""
    pack = inp.runtime.pack
    return inp.runtime.cached(
        "text.matcher", lambda: Matcher.build(Lexicon.default().extended(pack.lexicons)))


def _label(category: str) -> str:
    return CATEGORY_ZH.get(category, category)


def _hits_evidence(text: str, hits: list[Hit], summary: str, **details: object) -> Evidence:
    first = hits[0]
    listed = [{"category": h.category, "term": h.term, "span": [h.start, h.end], "matched": h.matched,
               "negated": h.negated} for h in hits[:_MAX_LISTED]]
    return Evidence(summary=summary, text=text, span=(first.start, first.end), matched=first.matched,
                    term=first.term, details={"hits": listed, **details})


_SCAN = "text.hits_by_category"


def hits_by_category(inp: Input) -> dict[str, list[Hit]]:
    """The message's lexicon hits grouped by category: one scan per message and pack, shared by
    every lexicon rule of the pack (politics, porn, red lines, ads…) through ``inp.memo``. Empty for
    the great majority of messages, which then cost each lexicon rule one dict lookup."""
    index = inp.memo.get(_SCAN)
    if index is None:
        index = {}
        text = inp.text
        if text:
            for h in matcher_for(inp).find(text):
                index.setdefault(h.category, []).append(h)
        inp.memo[_SCAN] = index
    return index


def has_lexicon_hits(inp: Input, state: StateView) -> bool:
    """Precondition of every lexicon-based detector (lexicon, non_work, ads, confidential): the
    message has at least one hit in the pack's lexicons. One scan, shared by all of them."""
    return bool(hits_by_category(inp))


def may_hold_pii(inp: Input, state: StateView) -> bool:
    """Precondition of ``privacy``: no digit and no ``@`` means no phone, ID, card or e-mail."""
    return any_digit_or_at(inp.text)


def may_hold_link(inp: Input, state: StateView) -> bool:
    """Precondition of ``malicious_link``: no URL and no domain can be written without a dot."""
    msg = inp.message
    return msg is not None and ("." in inp.text or bool(msg.url))


def lexicon_finding(rule: ActiveRule, inp: Input, categories: list[str], min_hits: int, review: bool,
                    prohibition_context: str) -> Finding | None:
    """Shared core of every lexicon rule: look up its categories in the shared scan, decide review,
    build the evidence."""
    index = hits_by_category(inp)
    if not index:
        return None
    hits = [h for c in categories for h in index.get(c, ())]
    if prohibition_context == "ignore":
        hits = [h for h in hits if not h.negated]
    if not hits or len({h.term for h in hits}) < min_hits:
        return None
    hits.sort(key=lambda h: (h.negated, h.start, h.end, h.category, h.term))  # plain hits are better evidence
    only_negated = all(h.negated for h in hits)
    first = hits[0]
    summary = (f"命中{_label(first.category)}词「{first.term}」/ matched {first.category} term "
               f"'{first.term}'" + ("（禁止性语境，待复核 / in a prohibition, for review）" if only_negated else ""))
    needs_review = (rule.spec.needs_review or review
                    or (only_negated and prohibition_context == "review"))
    return rule.finding(inp, _hits_evidence(inp.text, hits, summary), needs_review=needs_review)


@detector("lexicon", on=(MessagePosted,), params=LexiconParams, when=has_lexicon_hits)
def lexicon(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """消息命中词库类别（政治、色情、赌博、暴力、辱骂、煽动、谣言…）/ the message matches lexicon categories."""
    p = rule.params
    found = lexicon_finding(rule, inp, p.categories, p.min_hits, p.review, p.prohibition_context)
    return [found] if found else []


class NonWorkParams(LexiconParams):
    categories: list[str] = ["non_work"]
    when: Literal["always", "after_hours", "working_hours"] = "always"
    prohibition_context: Literal["ignore", "review", "flag"] = "ignore"


@detector("non_work", on=(MessagePosted,), params=NonWorkParams, when=has_lexicon_hits)
def non_work(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """工作群内闲聊、私事（可限定为下班后）/ idle chat in work groups, optionally only after hours."""
    p = rule.params
    found = lexicon_finding(rule, inp, p.categories, p.min_hits, p.review, p.prohibition_context)
    if found is None:
        return []
    if p.when != "always":
        working = inp.runtime.is_working_time(inp.time)  # type: ignore[attr-defined]
        if working != (p.when == "working_hours"):
            return []
    return [found]


class LinkParams(_P):
    deny: list[str] = Field([], description="Denied domains (subdomains included).")
    allow: list[str] = Field([], description="Company and trusted domains; look-alikes of these are flagged.")
    deny_patterns: list[str] = Field([], description="Regexes over the whole URL.")
    shorteners: list[str] | None = Field(None, description="Replaces the built-in shortener list.")
    flag: list[Verdict] = ["denied", "lookalike", "ip", "risky_file"]
    review: list[Verdict] = ["shortener"]


def _link_policy(rule: ActiveRule, inp: Input) -> LinkPolicy:
    p = rule.params
    return inp.runtime.cached(f"text.links/{rule.id}", lambda: LinkPolicy.of(
        p.deny, p.allow, p.shorteners, p.deny_patterns))


@detector("malicious_link", on=(MessagePosted,), params=LinkParams, when=may_hold_link)
def malicious_link(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """病毒、钓鱼、盗号链接：禁止名单、仿冒域名、IP 地址、可执行文件；短链接待复核 / malicious links."""
    msg, p = inp.message, rule.params
    if msg is None:
        return []
    text = msg.text or ""
    if "." not in text and not msg.url:
        return []  # no URL and no domain can be written without a dot
    links = extract_links(text) + ([l for l in extract_links(msg.url) if l.url] if msg.url else [])
    policy = _link_policy(rule, inp)
    verdicts = [v for v in (classify(link, policy) for link in links) if v.verdict in (*p.flag, *p.review)]
    if not verdicts:
        return []
    verdicts.sort(key=lambda v: v.verdict not in p.flag)
    top = verdicts[0]
    in_text = top.link.url in text and text[top.link.start:top.link.end] == top.link.url
    ev = Evidence(summary=f"可疑链接 {top.link.host}：{top.reason}", text=text or msg.url,
                  span=(top.link.start, top.link.end) if in_text else None, matched=top.link.url,
                  term=top.like or top.link.host,
                  details={"links": [{"url": v.link.url, "host": v.link.host, "verdict": v.verdict}
                                     for v in verdicts[:_MAX_LISTED]]})
    return [rule.finding(inp, ev, needs_review=rule.spec.needs_review or top.verdict not in p.flag)]


class AdsParams(LexiconParams):
    categories: list[str] = ["ads"]
    allow_once: bool = Field(False, description="Tolerate the first posting of a text in a group.")
    prohibition_context: Literal["ignore", "review", "flag"] = "ignore"


def ad_digest(text: str) -> str:
    """The identity of an ad for "only once": its normalised text (so spacing tricks do not count)."""
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()[:24]


@detector("ads", on=(MessagePosted,), params=AdsParams, when=has_lexicon_hits)
def ads(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """无关商业广告；allow_once 时同一内容每群只允许发一次 / commercial ads (optionally once per group)."""
    p = rule.params
    found = lexicon_finding(rule, inp, p.categories, p.min_hits, p.review, p.prohibition_context)
    if found is None or not p.allow_once:
        return [found] if found else []
    text = inp.text
    key = f"ad:{inp.platform}:{inp.group_id}:{ad_digest(text)}"
    first = state.counter(rule.memory_key(key))
    if not first or first.get("e") == inp.event_id or first.get("t", "") > inp.time.isoformat():
        return [Remember(key, {"t": inp.time.isoformat(), "e": inp.event_id})]
    ev = found.evidence.model_copy(update={
        "summary": "同一广告再次发布（每群仅允许一次）/ the same ad posted again (allowed once)",
        "details": {**found.evidence.details, "first_event_id": first["e"], "first_at": first["t"]}})
    return [replace(found, evidence=ev, causing_event_ids=(first["e"], inp.event_id))]


class ConfidentialParams(LexiconParams):
    categories: list[str] = ["confidential"]
    require_amount: bool = Field(False, description="Fire only when an amount accompanies the term.")
    min_amount: Decimal | None = Field(None, description="Amounts (CNY) below this do not count.")
    prohibition_context: Literal["ignore", "review", "flag"] = "ignore"


@detector("confidential", on=(MessagePosted,), params=ConfidentialParams, when=has_lexicon_hits)
def confidential(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """商业/技术/财务机密、客户资料、内部文件外传 / business secrets, customer data, internal documents."""
    p = rule.params
    found = lexicon_finding(rule, inp, p.categories, p.min_hits, p.review, p.prohibition_context)
    if found is None:
        return []
    amounts = [a for a in find_amounts(inp.text) if p.min_amount is None or Decimal(a.value) >= p.min_amount]
    if p.require_amount and not amounts:
        return []
    ev = found.evidence.model_copy(update={"details": {
        **found.evidence.details,
        "amounts": [{"matched": a.matched, "yuan": a.value, "span": [a.start, a.end]} for a in amounts]}})
    return [replace(found, evidence=ev)]


class PrivacyParams(_P):
    kinds: list[Literal["mobile", "id_card", "bank_card", "email"]] = ["mobile", "id_card", "bank_card"]
    allow_values: list[str] = Field([], description="Published numbers that may be shared (hotlines…).")
    min_hits: int = Field(1, ge=1)


_PII_ZH = {"mobile": "手机号", "id_card": "身份证号", "bank_card": "银行卡号", "email": "邮箱"}


@detector("privacy", on=(MessagePosted,), params=PrivacyParams, when=may_hold_pii)
def privacy(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """在群内泄露他人隐私：手机号、身份证号（校验位）、银行卡号（Luhn）/ personal data posted in a group."""
    msg, p = inp.message, rule.params
    if msg is None or not msg.text:
        return []
    hits = find_pii(msg.text, tuple(k for k in PII_KINDS if k in p.kinds))
    if not hits:
        return []
    allowed = {v.replace(" ", "").replace("-", "").lower() for v in p.allow_values}
    hits = [h for h in hits if h.value.lower() not in allowed]
    if len(hits) < p.min_hits:
        return []
    first = hits[0]
    ev = Evidence(summary=f"包含{_PII_ZH[first.kind]} {mask(first)} / contains a {first.kind.replace('_', ' ')}",
                  text=msg.text, span=(first.start, first.end), matched=first.matched, term=first.kind,
                  details={"items": [{"kind": h.kind, "masked": mask(h), "span": [h.start, h.end]}
                                     for h in hits[:_MAX_LISTED]]})
    return [rule.finding(inp, ev)]


__all__ = ["CATEGORY_ZH", "ad_digest", "ads", "confidential", "has_lexicon_hits", "hits_by_category", "lexicon",
           "lexicon_finding", "malicious_link", "matcher_for", "may_hold_link", "may_hold_pii", "non_work", "privacy"]
