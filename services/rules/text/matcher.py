"""Aho-Corasick matching of a lexicon over normalised text, with spans in the ORIGINAL text.

``Matcher.build(lexicon)`` compiles every term (normalised the same way as messages) into one
pyahocorasick automaton; ``matcher.find(text)`` scans a message once for all categories and returns
:class:`Hit` objects whose ``start``/``end`` index the original message, so the evidence shows
exactly what the person wrote ("賭 博"), not our folded form ("赌博").

Per-message cost is one ``str.translate`` plus one automaton pass; everything else (allow-list
suppression, Latin word boundaries, prohibition context, index map) runs only when something hit,
which is rare in real group chat. Results are memoised per text because several rules (politics,
porn, red lines…) ask about the same message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from services.rules.text.lexicon import Lexicon
from services.rules.text.normalize import normalize, normalize_char, normalize_text

#: Words that put a following term in a prohibition or warning ("严禁在群内发布色情、赌博").
PROHIBITION_CUES = ("禁止", "严禁", "不得", "不准", "不许", "不要", "请勿", "切勿", "勿发", "杜绝", "拒绝",
                    "远离", "打击", "抵制", "举报", "反对", "谨防", "防范", "警惕", "严厉", "取缔")
# A prohibition cue only counts inside the same clause, at most this many characters before the hit.
_CLAUSE_END = re.compile(r"[。！？!?；;，,\n]")
_CUE_WINDOW = 14


@dataclass(frozen=True, slots=True)
class Hit:
    """One lexicon match. ``start``/``end`` index the original text; ``matched`` is that slice.

    ``negated`` marks a hit inside a prohibition clause (禁止/严禁/不得… before it in the same
    clause): typically an admin restating the group rules, which detectors treat as weak.
    ``source`` is ``"term"`` or ``"pattern"`` (a pack regex, whose text is in ``term``).
    """

    category: str
    term: str
    start: int
    end: int
    matched: str
    negated: bool = False
    source: str = "term"


@dataclass(frozen=True, slots=True)
class _Entry:
    allow: bool
    targets: tuple[tuple[str, str], ...]  # (category, term as written)
    latin_start: bool
    latin_end: bool


def _is_latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


class Matcher:
    """A compiled lexicon. Immutable after :meth:`build`; safe to share between threads."""

    def __init__(self, automaton: ahocorasick.Automaton | None, patterns: dict[str, list[re.Pattern[str]]],
                 cues: tuple[str, ...], lexicon: Lexicon) -> None:
        self._automaton = automaton
        self._patterns = patterns
        self._cues = cues
        self.lexicon = lexicon
        self._cached = lru_cache(maxsize=512)(self._find)

    @classmethod
    def build(cls, lexicon: Lexicon, prohibition_cues: Iterable[str] = PROHIBITION_CUES) -> Matcher:
        """Compile ``lexicon``. Terms that normalise to nothing (only punctuation) are skipped."""
        grouped: dict[str, tuple[bool, list[tuple[str, str]]]] = {}
        for category, terms in lexicon.categories.items():
            for term in terms:
                key = normalize_text(term)
                if key:
                    allow, targets = grouped.setdefault(key, (False, []))
                    targets.append((category, term))
        for term in lexicon.allow:
            key = normalize_text(term)
            if key:
                grouped[key] = (True, grouped.get(key, (False, []))[1])
        automaton = None
        if grouped:
            automaton = ahocorasick.Automaton()
            for key, (allow, targets) in grouped.items():
                automaton.add_word(key, (len(key), _Entry(allow, tuple(targets), _is_latin(key[0]),
                                                          _is_latin(key[-1]))))
            automaton.make_automaton()
        patterns = {c: [re.compile(p) for p in ps] for c, ps in lexicon.patterns.items()}
        cues = tuple(normalize_text(c) for c in prohibition_cues)
        return cls(automaton, patterns, cues, lexicon)

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(self.lexicon.categories) | frozenset(self._patterns)

    def find(self, text: str) -> tuple[Hit, ...]:
        """Every hit in ``text`` for every category, ordered by (start, end, category, term).

        Overlapping hits are all reported ("赌博" and "网络赌博"); a term listed in two categories
        yields one hit per category. Memoised per text (the last 512 texts).
        """
        return self._cached(text)

    def _find(self, text: str) -> tuple[Hit, ...]:
        if not text:
            return ()
        norm_text = normalize_text(text)
        raw = list(self._automaton.iter(norm_text)) if self._automaton is not None else []
        pattern_hits = [(c, p.pattern, m.start(), m.end()) for c, ps in self._patterns.items()
                        for p in ps for m in p.finditer(norm_text) if m.end() > m.start()
                        ] if self._patterns else []
        if not raw and not pattern_hits:
            return ()
        norm = normalize(text)
        allowed = [(end + 1 - n, end + 1) for end, (n, e) in raw if e.allow]
        found: list[tuple[str, str, int, int, str]] = []
        for end, (n, entry) in raw:
            start, stop = end + 1 - n, end + 1
            if entry.allow or any(s < stop and start < e for s, e in allowed):
                continue
            o_start, o_end = norm.span(start, stop)
            if (entry.latin_start and o_start > 0 and _is_latin(normalize_char(text[o_start - 1])[-1:] or " ")) or (
                    entry.latin_end and o_end < len(text) and _is_latin(normalize_char(text[o_end])[:1] or " ")):
                continue  # "av" inside "java": Latin terms need word boundaries in the original
            found.extend((cat, term, o_start, o_end, "term") for cat, term in entry.targets)
        for cat, pattern, start, stop in pattern_hits:
            if not any(s < stop and start < e for s, e in allowed):
                found.append((cat, pattern, *norm.span(start, stop), "pattern"))
        hits = {Hit(cat, term, s, e, text[s:e], self._negated(text, s), src) for cat, term, s, e, src in found}
        return tuple(sorted(hits, key=lambda h: (h.start, h.end, h.category, h.term)))

    def _negated(self, text: str, start: int) -> bool:
        """Whether a prohibition cue precedes ``start`` within the same clause."""
        window = text[max(0, start - _CUE_WINDOW):start]
        clause = _CLAUSE_END.split(window)[-1]
        folded = normalize_text(clause)
        return any(cue in folded for cue in self._cues)

    def find_in(self, text: str, categories: Iterable[str]) -> list[Hit]:
        """Hits of the given categories only."""
        wanted = set(categories)
        return [h for h in self.find(text) if h.category in wanted]


__all__ = ["PROHIBITION_CUES", "Hit", "Matcher"]
