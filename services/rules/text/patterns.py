"""Personal data and confidential-amount patterns, each with a validator so near-misses do not fire.

A regex alone flags every order number. Each finder here pairs a permissive regex over the ORIGINAL
text (so the span is exact and separators like "138 0013 8000" are allowed) with a validator:

- mobile: mainland numbers 1[3-9]x + 8 digits, optional +86/0086, spaces or dashes between groups;
  never part of a longer digit run;
- id_card: 18-character resident ID: a real province code, a valid birth date (1900–2099) and the
  ISO 7064 MOD 11-2 check character;
- bank_card: 16–19 digits (optionally in groups), a card-like prefix and the Luhn checksum, and not
  right after words like 订单/单号/运单 (order and tracking numbers pass Luhn one time in ten);
- email: an ordinary address;
- amount: money with 元/块/万/万元/亿/亿元 or ¥/￥ (a signal for the confidential rule, not PII).

Overlaps are resolved by strength: an ID beats a bank card beats a mobile number on the same digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

PatternKind = Literal["mobile", "id_card", "bank_card", "email", "amount"]
PII_KINDS: tuple[PatternKind, ...] = ("mobile", "id_card", "bank_card", "email")

_SEP = r"[ \-\u00a0\u3000]"
_MOBILE = re.compile(
    rf"(?<![\d])(?<!\d{_SEP})(?:(?:\+|00)86{_SEP}?)?(1[3-9]\d(?:{_SEP}?\d){{8}})(?!\d)(?!{_SEP}\d)")
_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[0-9Xx])(?![0-9A-Za-z])")
_CARD = re.compile(rf"(?<![\d])(?<!\d{_SEP})(\d(?:{_SEP}?\d){{15,18}})(?!\d)(?!{_SEP}\d)")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_AMOUNT = re.compile(
    r"(?P<cur>[¥￥]\s?)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?"
    r"(?P<unit>万元|亿元|万|亿|元|块钱|块|rmb|RMB)?")
_NOT_A_CARD_CONTEXT = re.compile(r"(订单|单号|运单|快递|物流|工单|流水号|编号|序列号|no\.?|NO\.?|#)[:：\s]*$")
_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45,
                        46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_CARD_PREFIXES = ("62", "4", "5", "3", "60", "9")
_UNIT_FACTOR = {"万": Decimal(10_000), "万元": Decimal(10_000), "亿": Decimal(100_000_000),
                "亿元": Decimal(100_000_000)}
_ANY_DIGIT_OR_AT = re.compile(r"[\d@]")  # no digit and no @: no personal data of any kind (most chat)
_STRENGTH = {"id_card": 3, "bank_card": 2, "mobile": 1, "email": 1, "amount": 0}


@dataclass(frozen=True, slots=True)
class PatternHit:
    """A validated match; ``value`` is the canonical form (digits only, or the amount in yuan)."""

    kind: PatternKind
    start: int
    end: int
    matched: str
    value: str


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit() or c in "Xx").upper()


def id_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 check character of an 18-character resident ID."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def id_plausible(number: str) -> bool:
    """Province code, birth date and checksum of an 18-character resident ID all valid."""
    if not id_checksum_ok(number) or int(number[:2]) not in _PROVINCES:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2099


def luhn_ok(number: str) -> bool:
    """The Luhn (mod 10) checksum used by bank card numbers."""
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_mobiles(text: str) -> list[PatternHit]:
    return [PatternHit("mobile", m.start(), m.end(), m.group(0), _digits(m.group(1)))
            for m in _MOBILE.finditer(text)]


def find_id_cards(text: str) -> list[PatternHit]:
    return [PatternHit("id_card", m.start(1), m.end(1), m.group(1), m.group(1).upper())
            for m in _ID.finditer(text) if id_plausible(m.group(1))]


def find_bank_cards(text: str) -> list[PatternHit]:
    hits = []
    for m in _CARD.finditer(text):
        digits = _digits(m.group(1))
        if not (16 <= len(digits) <= 19 and digits.startswith(_CARD_PREFIXES) and luhn_ok(digits)):
            continue
        if _NOT_A_CARD_CONTEXT.search(text[max(0, m.start() - 8):m.start()]):
            continue
        hits.append(PatternHit("bank_card", m.start(1), m.end(1), m.group(1), digits))
    return hits


def find_emails(text: str) -> list[PatternHit]:
    return [PatternHit("email", m.start(), m.end(), m.group(0), m.group(0).lower())
            for m in _EMAIL.finditer(text)]


def find_amounts(text: str) -> list[PatternHit]:
    """Money amounts (value in yuan, as a Decimal string). A bare number is not an amount."""
    hits = []
    for m in _AMOUNT.finditer(text):
        unit, cur = m.group("unit"), m.group("cur")
        if not unit and not cur:
            continue
        if unit in ("万", "亿") and _followed_by_noun(text, m.end()):
            continue  # "3万步", "2亿人": a count, not money
        try:
            value = Decimal(m.group("num").replace(",", "")) * _UNIT_FACTOR.get(unit or "", Decimal(1))
        except InvalidOperation:  # pragma: no cover - the regex only admits numbers
            continue
        hits.append(PatternHit("amount", m.start(), m.end(), m.group(0).strip(), format(value.normalize(), "f")))
    return hits


def _followed_by_noun(text: str, pos: int) -> bool:
    nxt = text[pos:pos + 1]
    return bool(nxt) and "\u4e00" <= nxt <= "\u9fff" and nxt not in "的左右多余元块"


def any_digit_or_at(text: str) -> bool:
    """Whether ``text`` could hold personal data of any kind (it has a digit or an ``@``)."""
    return _ANY_DIGIT_OR_AT.search(text) is not None


def find_pii(text: str, kinds: tuple[str, ...] = PII_KINDS) -> list[PatternHit]:
    """Personal data in ``text`` of the given kinds; a weaker hit overlapping a stronger one is dropped."""
    if not text or not _ANY_DIGIT_OR_AT.search(text):
        return []
    finders = {"mobile": find_mobiles, "id_card": find_id_cards, "bank_card": find_bank_cards,
               "email": find_emails, "amount": find_amounts}
    candidates = [h for kind in kinds for h in finders[kind](text)]
    candidates.sort(key=lambda h: (-_STRENGTH[h.kind], h.start))
    kept: list[PatternHit] = []
    for hit in candidates:
        if not any(k.start < hit.end and hit.start < k.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, h.kind))


def mask(hit: PatternHit) -> str:
    """A display form for notices that does not repeat the personal data (138****8000)."""
    v = hit.value
    if hit.kind == "email":
        name, _, domain = v.partition("@")
        return f"{name[:1]}***@{domain}"
    return v[:3] + "*" * max(0, len(v) - 7) + v[-4:] if len(v) > 7 else v


__all__ = ["PII_KINDS", "PatternHit", "any_digit_or_at", "find_amounts", "find_bank_cards", "find_emails", "find_id_cards",
           "find_mobiles", "find_pii", "id_checksum_ok", "id_plausible", "luhn_ok", "mask"]
