"""Normalise chat text for lexicon matching, keeping a map back to the original characters.

Why: people defeat naive keyword filters with Traditional characters (賭博), full-width letters
(ｆａｌｕｎ), case (VX), zero-width characters and separators inserted between characters (赌 博,
賭-博, 赌*博, 赌😀博). We fold all of these away before matching, and because a compliance
officer must see *what* in the original message matched, every character of the normalised text
remembers the index of the original character it came from.

How: one character-level table maps each code point to its normalised string ('' to drop it):
NFKC (full-width → half-width, compatibility forms) → case folding → Traditional → Simplified
(OpenCC ``t2s``, applied per character so the length never changes behind our back; OpenCC's phrase
conversions are deliberately not used) → drop separators (whitespace, punctuation, symbols incl.
emoji, format characters such as U+200B–U+200F, U+2060, U+FEFF, combining marks, controls).
Letters and digits are kept. The table is built once per process, lazily (about 0.3 s), and the
text is converted with ``str.translate`` (C speed); the index map is only built when asked for,
because it is only needed for messages that have a hit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

# Code point ranges the table covers: the BMP, the Supplementary Multilingual Plane (emoji,
# mathematical alphanumerics), tags (flag emoji) and variation selectors supplement.
_RANGES = ((0, 0x20000), (0xE0000, 0xE0080), (0xE0100, 0xE01F0))
# Unicode general categories that separate rather than carry meaning for matching.
_DROP_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn", "Cs", "Mn", "Mc", "Me",
                              "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"})
_CJK_BLOCKS = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp < hi for lo, hi in _CJK_BLOCKS)


def _t2s_per_char(chars: list[str]) -> dict[str, str]:
    """Traditional → Simplified for each character on its own (never phrase-level)."""
    import opencc  # imported lazily: building the converter costs a few milliseconds

    converter = opencc.OpenCC("t2s")
    # One call over newline-separated characters: OpenCC cannot build a phrase across '\n'.
    converted = converter.convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # pragma: no cover - defensive: fall back to one call per char
        converted = [converter.convert(c) for c in chars]
    return {src: dst for src, dst in zip(chars, converted, strict=True) if dst != src}


def _fold(char: str) -> str:
    """NFKC then case folding, then drop every separator the result contains."""
    folded = unicodedata.normalize("NFKC", char).casefold()
    return "".join(c for c in folded if unicodedata.category(c) not in _DROP_CATEGORIES)


@cache
def translation_table() -> dict[int, str]:
    """Code point → normalised string for every character that changes ('' = dropped)."""
    table: dict[int, str] = {}
    for lo, hi in _RANGES:
        for cp in range(lo, hi):
            if 0xD800 <= cp < 0xE000:
                continue  # surrogates never occur in a valid str
            char = chr(cp)
            if char.isascii() and (char.isalnum()):
                if "A" <= char <= "Z":
                    table[cp] = char.lower()
                continue
            out = _fold(char)
            if out != char:
                table[cp] = out
    cjk = [chr(cp) for lo, hi in _CJK_BLOCKS for cp in range(lo, hi)]
    for src, dst in _t2s_per_char(cjk).items():
        table[ord(src)] = _fold(dst) if ord(src) not in table else table[ord(src)]
    # A compatibility ideograph (U+F900…) may fold to a Traditional one: convert the result as well.
    for cp, out in list(table.items()):
        if len(out) == 1 and _is_cjk(ord(out)) and ord(out) in table:
            table[cp] = table[ord(out)]
    return table


def normalize_char(char: str) -> str:
    """The normalised form of one character ('' if it is a separator)."""
    return translation_table().get(ord(char), char)


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text plus, for each of its characters, the index of the original character.

    ``index`` is computed on first access (most messages have no hit and never need it). When a
    character expands (NFKC: '㎏' → 'kg'), all its output characters map to the same original index.
    """

    text: str
    original: str
    _index: list[int] = field(default_factory=list, repr=False, compare=False)

    @property
    def index(self) -> Sequence[int]:
        if len(self._index) != len(self.text):
            self._index[:] = build_index(self.original)
        return self._index

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The [start, end) span of the original text that produced normalised [start, end)."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span {start}:{end} outside normalised text of length {len(self.text)}")
        idx = self.index
        return idx[start], idx[end - 1] + 1


def build_index(original: str) -> list[int]:
    """For each character of ``normalize(original).text``, its index in ``original``."""
    table = translation_table()
    index: list[int] = []
    append = index.append
    for i, char in enumerate(original):
        out = table.get(ord(char))
        if out is None:
            append(i)
        else:
            index.extend([i] * len(out))
    return index


def normalize_text(text: str) -> str:
    """Only the normalised string (the hot path of matching)."""
    return text.translate(translation_table())


def normalize(text: str) -> Normalized:
    """Normalise ``text`` for matching; see the module docstring for what is folded away."""
    return Normalized(text.translate(translation_table()), text)


__all__ = ["Normalized", "build_index", "normalize", "normalize_char", "normalize_text",
           "translation_table"]
