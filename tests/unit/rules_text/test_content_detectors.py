"""Each text content rule of catalog section 3 fires on a realistic message and not on its near-miss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from contracts.chat import MessagePosted
from services.rules.detectors import content
from services.rules.detectors.base import ActiveRule, Finding, Input, Remember
from services.rules.policy.model import LexiconSpec, PolicyPack, RuleSpec
from services.rules.state import MemoryState

pytestmark = pytest.mark.unit

T0 = datetime(2024, 10, 9, 10, 30, tzinfo=timezone(timedelta(hours=8)))  # a Wednesday, 10:30


@dataclass
class FakeRuntime:
    """The two things content detectors use of the pack runtime, plus a fixed working-time answer."""

    pack: PolicyPack
    working: bool = True
    store: dict[str, Any] = field(default_factory=dict)

    def cached(self, key: str, factory: Callable[[], Any]) -> Any:
        if key not in self.store:
            self.store[key] = factory()
        return self.store[key]

    def is_working_time(self, t: datetime) -> bool:
        return self.working


def pack(**lexicons: LexiconSpec) -> PolicyPack:
    return PolicyPack(id="default", version=1, title="测试", effective_from=T0 - timedelta(days=30),
                      lexicons=lexicons, rules=[RuleSpec(id="content.porn", detector="lexicon", title="色情")])


DEFAULT_RUNTIME = FakeRuntime(pack())


def rule(rule_id: str, detector: str, params_model: type, **params: Any) -> ActiveRule:
    spec = RuleSpec(id=rule_id, detector=detector, title=rule_id, params=params)
    return ActiveRule(spec=spec, params=params_model.model_validate(params), policy_id="default", policy_version=1)


def message(text: str | None, n: int = 1, url: str | None = None, at: datetime = T0,
            runtime: FakeRuntime = DEFAULT_RUNTIME) -> Input:
    msg = MessagePosted(platform="wecom", group_id="g-sales", platform_event_id=f"m{n}", occurred_at=at,
                        message_id=f"m{n}", user_id="u-li", text=text, url=url,
                        msg_type="link" if url else "text")
    return Input(event=msg, event_id=f"e{n}", time=at, runtime=runtime, platform="wecom",
                 group_id="g-sales", user_id="u-li")


def findings(outputs: list[Any]) -> list[Finding]:
    return [o for o in outputs if isinstance(o, Finding)]


LEX = content.LexiconParams


# -- lexicon rules: one hit and one near-miss each ------------------------------------------------------

@pytest.mark.parametrize("rule_id, categories, hit, near_miss", [
    ("content.redline.content", ["politics", "religion", "porn", "violence"],
     "精品国产一级毛片大全，午夜福利", "这部电影的片尾毛毛雨场景拍得真好"),
    ("content.politics", ["politics"], "转一下：推 翻 政府的时候到了", "政府工作报告里提到了减税降费"),
    ("content.porn", ["porn"], "今晚裸\u200b聊加我", "今晚加班聊一下方案"),
    ("content.gambling", ["gambling"], "澳門賭場真人荷官，首充送彩金", "澳门出差的行程单发群里了"),
    ("content.violence", ["violence"], "再扣我工资我就弄死你", "这个bug我今天一定弄好"),
    ("content.insult", ["insult"], "你个傻*逼，懂不懂", "傻瓜相机的照片发我一下"),
    ("content.redline.speech", ["insult"], "河南人都是骗子，别信他", "河南分公司的报表已提交"),
    ("content.incitement", ["incitement"], "明天大家一起罢工，看老板怎么办", "明天大家一起加班，把版本发出去"),
])
def test_lexicon_rule_flags_the_hit_and_not_the_near_miss(rule_id: str, categories: list[str], hit: str,
                                                          near_miss: str) -> None:
    r = rule(rule_id, "lexicon", LEX, categories=categories)
    (found,) = findings(content.lexicon(r, message(hit), MemoryState()))
    ev = found.evidence
    assert ev.text == hit and ev.span is not None
    assert hit[ev.span[0]:ev.span[1]] == ev.matched and not found.needs_review
    assert content.lexicon(r, message(near_miss), MemoryState()) == []


@pytest.mark.parametrize("rule_id, categories, hit, near_miss", [
    ("content.rumor", ["rumor"], "紧急扩散！据说公司要裁员了", "据统计本月回款完成率 95%"),
    ("content.redline.screenshot", ["doctored"], "截图为证，大家评评理，他就是这么说的", "截图发一下报错信息"),
])
def test_weak_lexicon_rules_go_to_review(rule_id: str, categories: list[str], hit: str, near_miss: str) -> None:
    r = rule(rule_id, "lexicon", LEX, categories=categories, review=True)
    (found,) = findings(content.lexicon(r, message(hit), MemoryState()))
    assert found.needs_review
    assert content.lexicon(r, message(near_miss), MemoryState()) == []


def test_an_admin_restating_the_rules_goes_to_review_or_is_ignored() -> None:
    text = "群规：严禁在群内发布色情、赌博、病毒链接，一经发现严重警告"
    review = rule("content.porn", "lexicon", LEX, categories=["porn", "gambling"])
    (found,) = findings(content.lexicon(review, message(text), MemoryState()))
    assert found.needs_review and "禁止性语境" in found.evidence.summary
    ignore = rule("content.porn", "lexicon", LEX, categories=["porn"], prohibition_context="ignore")
    assert content.lexicon(ignore, message(text), MemoryState()) == []


def test_min_hits_requires_several_distinct_terms() -> None:
    r = rule("content.rumor", "lexicon", LEX, categories=["rumor"], min_hits=2)
    assert content.lexicon(r, message("据说下周放假"), MemoryState()) == []
    assert findings(content.lexicon(r, message("据说下周放假，紧急扩散"), MemoryState()))


def test_pack_lexicons_extend_the_shipped_ones() -> None:
    runtime = FakeRuntime(pack(confidential=LexiconSpec(terms=["天狼星项目"])))
    r = rule("content.confidential", "confidential", content.ConfidentialParams)
    (found,) = findings(content.confidential(r, message("天狼星项目的进度表", runtime=runtime), MemoryState()))
    assert found.evidence.term == "天狼星项目"


# -- links ------------------------------------------------------------------------------------------------

LINKS = content.LinkParams


def test_phishing_look_alike_link_is_malicious_and_an_ordinary_link_is_not() -> None:
    r = rule("content.malicious_link", "malicious_link", LINKS, allow=["weixin.qq.com"], deny=["bad-casino.cn"])
    text = "【企业微信】您的账号异常，请登录 weixln.qq.com/verify 验证"
    (found,) = findings(content.malicious_link(r, message(text), MemoryState()))
    assert found.evidence.matched == "weixln.qq.com/verify" and not found.needs_review
    assert text[found.evidence.span[0]:found.evidence.span[1]] == "weixln.qq.com/verify"  # type: ignore[index]
    assert content.malicious_link(r, message("需求文档见 https://weixin.qq.com/doc/123"), MemoryState()) == []


def test_denied_link_in_a_link_card_and_shortener_for_review() -> None:
    r = rule("content.malicious_link", "malicious_link", LINKS, deny=["bad-casino.cn"])
    (card,) = findings(content.malicious_link(r, message("好东西", url="https://m.bad-casino.cn/x"), MemoryState()))
    assert card.evidence.span is None and card.evidence.matched == "https://m.bad-casino.cn/x"
    (short,) = findings(content.malicious_link(r, message("点开 t.cn/A6x9ZbQ 领红包"), MemoryState()))
    assert short.needs_review


# -- ads -------------------------------------------------------------------------------------------------

ADS = content.AdsParams


def test_ads_are_flagged_and_a_work_message_about_agents_is_not() -> None:
    r = rule("content.ads", "ads", ADS)
    assert findings(content.ads(r, message("兼职刷单，日赚500，加Ｖ：abc888"), MemoryState()))
    assert content.ads(r, message("网络代理设置好了，大家可以访问内网"), MemoryState()) == []


def test_allow_once_tolerates_the_first_ad_and_flags_the_same_text_again() -> None:
    r = rule("content.ads", "ads", ADS, allow_once=True)
    state = MemoryState()
    first = content.ads(r, message("新品上市，扫码领取优惠券！", n=1), state)
    assert findings(first) == [] and isinstance(first[0], Remember)
    state.put_counter(r.memory_key(first[0].key), dict(first[0].value))
    # the same ad with spacing tricks is the same ad
    (again,) = findings(content.ads(r, message("新品上市，扫 码 领 取优惠券!!", n=2, at=T0 + timedelta(hours=1)), state))
    assert again.causing_event_ids == ("e1", "e2")
    assert "仅允许一次" in again.evidence.summary
    # reprocessing the first message does not turn it into a violation
    assert findings(content.ads(r, message("新品上市，扫码领取优惠券！", n=1), state)) == []


# -- confidential ------------------------------------------------------------------------------------------

CONF = content.ConfidentialParams


def test_confidential_document_with_amounts_is_flagged_with_the_amounts_as_evidence() -> None:
    r = rule("content.confidential", "confidential", CONF, require_amount=True)
    text = "【内部资料 请勿外传】A客户报价单：设备总价120万元，底价95万"
    (found,) = findings(content.confidential(r, message(text), MemoryState()))
    assert [a["yuan"] for a in found.evidence.details["amounts"]] == ["1200000", "950000"]
    assert content.confidential(r, message("内部资料已归档，见共享盘"), MemoryState()) == []


def test_a_notice_about_confidentiality_rules_is_not_a_leak() -> None:
    r = rule("content.confidential", "confidential", CONF)
    assert content.confidential(r, message("请大家签署保密协议，禁止在群里发客户名单"), MemoryState()) == []


# -- privacy -----------------------------------------------------------------------------------------------

PRIV = content.PrivacyParams


def test_a_colleagues_id_number_and_phone_are_privacy_findings_with_masked_summary() -> None:
    r = rule("content.privacy", "privacy", PRIV)
    text = "小王的身份证 11010519491231002X，手机 138 0013 8000，帮他订票"
    (found,) = findings(content.privacy(r, message(text), MemoryState()))
    assert found.evidence.term == "id_card" and "11010519491231002X" not in found.evidence.summary
    assert [i["kind"] for i in found.evidence.details["items"]] == ["id_card", "mobile"]


def test_order_numbers_and_the_published_hotline_are_not_privacy_findings() -> None:
    r = rule("content.privacy", "privacy", PRIV, allow_values=["13800138000"])
    assert content.privacy(r, message("订单号 2023113800138000 已发货，售后热线13800138000"), MemoryState()) == []


# -- non-work ----------------------------------------------------------------------------------------------

NW = content.NonWorkParams


def test_non_work_after_hours_only_flags_outside_working_time() -> None:
    r = rule("content.non_work", "non_work", NW, when="after_hours")
    evening = FakeRuntime(pack(), working=False)
    text = "今晚开黑吃鸡，谁来？"
    assert findings(content.non_work(r, message(text, runtime=evening), MemoryState()))
    assert content.non_work(r, message(text), MemoryState()) == []
    assert content.non_work(r, message("今晚上线，大家留意告警", runtime=evening), MemoryState()) == []


def test_non_work_always_flags_idle_chat_in_work_groups() -> None:
    r = rule("content.non_work", "non_work", NW)
    assert findings(content.non_work(r, message("帮我砍一刀，谢谢大家"), MemoryState()))
    assert content.non_work(r, message("帮我看一下这个合同"), MemoryState()) == []


def test_a_message_without_text_is_never_a_content_finding() -> None:
    r = rule("content.porn", "lexicon", LEX, categories=["porn"])
    assert content.lexicon(r, message(None), MemoryState()) == []
