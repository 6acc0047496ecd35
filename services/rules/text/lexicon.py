"""Lexicons: the terms of each content category, plus the allow-list that suppresses false hits.

A :class:`Lexicon` is plain data (category → terms, allow-terms, per-category regexes over the
normalised text). The shipped defaults live in ``services/rules/lexicons/<category>.txt`` (UTF-8,
one term per line, ``#`` starts a comment) and are loaded with :mod:`importlib.resources`, so they
travel inside the wheel. A policy pack extends or replaces them per category through its
``lexicons:`` section (``terms``, ``remove``, ``patterns``, ``replace``; see
``services.rules.policy.model.LexiconSpec``); the pseudo-category ``allow`` holds the exceptions.

Allow-terms: a lexicon hit is dropped when it overlaps a match of an allow-term, e.g. "赌博" inside
"反赌博宣传" or "垃圾" inside "垃圾分类". Overlap (not containment) is deliberate: it also resolves
readings that straddle a word boundary ("去赌博物馆" with allow-term "博物馆").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Protocol

ALLOW = "allow"
#: Categories the product knows; packs may add their own (any lower-case identifier).
CATEGORIES = ("politics", "religion", "porn", "gambling", "violence", "insult", "incitement", "ads",
              "confidential", "rumor", "doctored", "non_work")


class LexiconSpecLike(Protocol):
    """What :meth:`Lexicon.extended` reads of a pack's ``LexiconSpec`` (kept structural on purpose)."""

    terms: list[str]
    remove: list[str]
    patterns: list[str]
    replace: bool


def parse_terms(text: str) -> list[str]:
    """Terms of a lexicon file: one per line, blank lines and ``#`` comments ignored, order kept."""
    terms: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        term = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if term and term not in seen:
            seen.add(term)
            terms.append(term)
    return terms


@dataclass(frozen=True)
class Lexicon:
    """Terms per category, allow-terms, and regexes over normalised text per category."""

    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    allow: tuple[str, ...] = ()
    patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def default(cls) -> Lexicon:
        """The lexicons shipped in ``services/rules/lexicons/``."""
        return _default_lexicon()

    @classmethod
    def from_terms(cls, categories: Mapping[str, Iterable[str]], allow: Iterable[str] = ()) -> Lexicon:
        return cls({c: tuple(dict.fromkeys(ts)) for c, ts in categories.items()}, tuple(dict.fromkeys(allow)))

    def terms(self, category: str) -> tuple[str, ...]:
        return self.allow if category == ALLOW else self.categories.get(category, ())

    def extended(self, specs: Mapping[str, LexiconSpecLike]) -> Lexicon:
        """This lexicon with a pack's per-category changes applied (``allow`` edits the allow-list)."""
        cats = dict(self.categories)
        cats[ALLOW] = self.allow
        patterns = dict(self.patterns)
        for category, spec in specs.items():
            base = () if spec.replace else cats.get(category, ())
            removed = set(spec.remove)
            cats[category] = tuple(t for t in dict.fromkeys([*base, *spec.terms]) if t not in removed)
            base_patterns = () if spec.replace else patterns.get(category, ())
            patterns[category] = tuple(dict.fromkeys([*base_patterns, *spec.patterns]))
        allow = cats.pop(ALLOW)
        return Lexicon({c: ts for c, ts in cats.items() if ts},
                       allow, {c: ps for c, ps in patterns.items() if ps and c != ALLOW})

    def size(self) -> int:
        return sum(len(ts) for ts in self.categories.values())


@cache
def _default_lexicon() -> Lexicon:
    folder = resources.files("services.rules.lexicons")
    categories: dict[str, tuple[str, ...]] = {}
    allow: tuple[str, ...] = ()
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".txt"):
            continue
        category = entry.name[:-4]
        terms = tuple(parse_terms(entry.read_text(encoding="utf-8")))
        if category == ALLOW:
            allow = terms
        else:
            categories[category] = terms
    return Lexicon(categories, allow)


__all__ = ["ALLOW", "CATEGORIES", "Lexicon", "LexiconSpecLike", "parse_terms"]
