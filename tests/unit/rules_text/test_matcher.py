"""The matcher finds lexicon terms through obfuscation and reports spans of what people wrote."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.rules.text.lexicon import Lexicon, parse_terms
from services.rules.text.matcher import Matcher

pytestmark = pytest.mark.unit

SEED_003_SPAM = "精品国产一级毛片大全,毛片一级在线,毛片免费观看的视频在线,午夜毛片福利"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.build(Lexicon.default())


def test_porn_site_spam_from_seed_003_is_porn(matcher: Matcher) -> None:
    hits = matcher.find(SEED_003_SPAM)
    assert {h.category for h in hits} == {"porn"}
    assert hits[0].matched == "一级毛片" and hits[0].start == 4


@pytest.mark.parametrize("text, matched", [
    ("周末一起去澳門賭 場玩玩", "澳門賭 場"),
    ("有没有人玩网\u200b赌的", "网\u200b赌"),
    ("百-家-乐 真人荷官在线", "百-家-乐"),
    ("今晚六合彩开奖，下注找我", "六合彩"),
])
def test_obfuscated_gambling_spam_is_found_with_the_original_spelling(matcher: Matcher, text: str, matched: str) -> None:
    hits = [h for h in matcher.find(text) if h.category == "gambling"]
    assert hits and hits[0].matched == matched
    assert text[hits[0].start:hits[0].end] == matched


def test_allow_term_suppresses_the_overlapping_hit(matcher: Matcher) -> None:
    assert matcher.find("本周社区开展反赌博宣传，请大家转发") == ()
    assert matcher.find("垃圾分类从我做起，垃圾桶在楼下") == ()
    assert [h.term for h in matcher.find("你就是个垃圾")] == ["垃圾"]


def test_latin_terms_need_word_boundaries_in_the_original(matcher: Matcher) -> None:
    assert matcher.find("我们用 Java 和 Python 开发") == ()
    assert matcher.find("这个需求的 ASBD 文档在哪") == ()
    assert [h.term for h in matcher.find("你个SB")] == ["sb"]
    assert [h.matched for h in matcher.find("有事加ＶＸ聊") if h.term == "vx"] == ["ＶＸ"]


def test_restating_the_group_rules_marks_the_hits_as_in_a_prohibition(matcher: Matcher) -> None:
    hits = matcher.find("严禁在群内发布色情、赌博、病毒链接，一经发现严重警告")
    assert {(h.category, h.negated) for h in hits} == {("porn", True), ("gambling", True)}
    spam = matcher.find("不要错过！澳门赌场今晚上线")
    assert spam and not any(h.negated for h in spam)


def test_a_term_in_two_categories_yields_one_hit_per_category() -> None:
    m = Matcher.build(Lexicon.from_terms({"porn": ["裸聊"], "ads": ["裸聊"]}))
    assert sorted(h.category for h in m.find("裸聊加我")) == ["ads", "porn"]


def test_clean_work_chat_has_no_hits(matcher: Matcher) -> None:
    for text in ["@张三 明天上午9点开会，请准备季度总结", "收到，马上执行", "好的👍", "旗下分公司的报销流程已更新"]:
        assert matcher.find(text) == ()


def test_pack_extension_adds_removes_and_adds_patterns() -> None:
    spec = SimpleNamespace
    lex = Lexicon.default().extended({
        "confidential": spec(terms=["天狼星项目"], remove=["底价"], patterns=[r"合同编号\d{6}"], replace=False),
        "allow": spec(terms=["垃圾"], remove=[], patterns=[], replace=False),
    })
    m = Matcher.build(lex)
    assert [h.term for h in m.find("天狼星项目进度")] == ["天狼星项目"]
    assert m.find("这个底价不能再低了") == ()
    pattern_hits = m.find("合同编号 123456 的附件")
    assert [(h.source, h.matched) for h in pattern_hits] == [("pattern", "合同编号 123456")]
    assert m.find("你就是个垃圾") == ()


def test_replace_drops_the_shipped_terms_of_that_category() -> None:
    spec = SimpleNamespace(terms=["斗地主"], remove=[], patterns=[], replace=True)
    m = Matcher.build(Lexicon.default().extended({"gambling": spec}))
    assert m.find("去赌场") == ()
    assert [h.term for h in m.find("晚上斗地主")] == ["斗地主"]


def test_lexicon_files_skip_comments_blank_lines_and_duplicates() -> None:
    assert parse_terms("# 注释\n赌博\n\n赌场  # 行尾注释\n赌博\n") == ["赌博", "赌场"]


def test_shipped_lexicons_cover_every_catalog_category() -> None:
    lex = Lexicon.default()
    for category in ("politics", "porn", "gambling", "violence", "insult", "incitement", "ads",
                     "confidential", "rumor", "non_work"):
        assert len(lex.terms(category)) >= 9, category
    assert "垃圾分类" in lex.allow
