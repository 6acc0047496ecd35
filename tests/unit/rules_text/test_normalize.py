"""The normaliser folds obfuscations away and every normalised character knows where it came from."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.rules.text.lexicon import Lexicon
from services.rules.text.matcher import Matcher
from services.rules.text.normalize import (
    build_index,
    normalize,
    normalize_char,
    normalize_text,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("written", [
    "赌博", "赌 博", "賭-博", "赌*博", "賭\u200b博", "赌\u2060博", "赌\ufeff博", "赌😀博", "赌 　博",
    "赌.博", "『赌』【博】", "赌\u0336博", "賭️博",
])
def test_obfuscated_spellings_of_gambling_all_normalise_to_the_same_word(written: str) -> None:
    assert normalize_text(written) == "赌博"


def test_full_width_latin_with_ideographic_space_becomes_plain_lower_case() -> None:
    assert normalize_text("ｆａ　ｌｕｎ") == "falun"
    assert normalize_text("加ＶＸ：ABC123") == "加vxabc123"


def test_traditional_is_converted_character_by_character_keeping_the_length() -> None:
    # OpenCC's phrase table would turn some Traditional phrases into a different number of characters;
    # converting per character keeps one output character per input character.
    original = "微信與釘釘群管理制度，嚴禁發佈廣告"
    norm = normalize(original)
    assert norm.text == "微信与钉钉群管理制度严禁发布广告"
    assert [original[i] for i in norm.index][:5] == list("微信與釘釘")


def test_expanding_compatibility_characters_map_every_output_char_to_their_source() -> None:
    norm = normalize("重5㎏")
    assert norm.text == "重5kg"
    assert list(norm.index) == [0, 1, 2, 2]
    assert norm.span(2, 4) == (2, 3)


def test_span_of_a_normalised_range_covers_the_separators_inside_it() -> None:
    text = "快来 賭 - 博 吧"
    norm = normalize(text)
    start = norm.text.index("赌博")
    s, e = norm.span(start, start + 2)
    assert text[s:e] == "賭 - 博"


def test_span_outside_the_normalised_text_is_refused() -> None:
    with pytest.raises(ValueError):
        normalize("赌博").span(1, 3)


_PIECES = st.sampled_from(list("赌博賭毛片色情加微信威ｖＸvx代理刷单發財内部资料机密傻逼好的收到明天开会㎏Ａ1２")
                          + [" ", "\u3000", "-", "*", "，", "。", "\u200b", "\u200d", "\ufeff", "😀", "👍", "\u0336",
                             "️", "(", "【", "】", "~", "!"])
_TEXTS = st.lists(_PIECES, max_size=40).map("".join)
_LEXICON = Lexicon.from_terms({"gambling": ["赌博"], "porn": ["毛片", "色情"], "ads": ["加微信", "vx", "代理", "刷单"],
                               "confidential": ["内部资料", "机密"], "insult": ["傻逼"], "units": ["kg", "5k"]})
_MATCHER = Matcher.build(_LEXICON)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_every_reported_span_when_normalised_contains_its_term(text: str) -> None:
    for hit in _MATCHER.find(text):
        assert hit.matched == text[hit.start:hit.end]
        assert normalize_text(hit.term) in normalize_text(hit.matched)
        # the span starts and ends on characters that survive normalisation (no stray separators)
        assert normalize_char(text[hit.start]) and normalize_char(text[hit.end - 1])


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_the_index_map_points_each_normalised_char_at_the_original_char_producing_it(text: str) -> None:
    norm_text = normalize_text(text)
    index = build_index(text)
    assert len(index) == len(norm_text)
    assert index == sorted(index)
    for i, ch in enumerate(norm_text):
        assert ch in normalize_char(text[index[i]])
