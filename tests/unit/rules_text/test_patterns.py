"""Personal-data patterns fire on real numbers and stay quiet on look-alike digit strings."""

from __future__ import annotations

import pytest

from services.rules.text.patterns import (
    find_amounts,
    find_pii,
    id_checksum_ok,
    id_plausible,
    luhn_ok,
    mask,
)

pytestmark = pytest.mark.unit

VALID_ID = "11010519491231002X"  # the GB 11643 example number: checksum X
VALID_CARD = "6217000010000000003"  # UnionPay-like, Luhn-valid


def kinds(text: str, which: tuple[str, ...] = ("mobile", "id_card", "bank_card", "email")) -> list[tuple[str, str]]:
    return [(h.kind, h.matched) for h in find_pii(text, which)]


@pytest.mark.parametrize("text, matched", [
    ("王经理手机13800138000，有事找他", "13800138000"),
    ("电话 138 0013 8000 找我", "138 0013 8000"),
    ("客户号码+86 138-0013-8000", "+86 138-0013-8000"),
    ("联系0086 19912345678", "0086 19912345678"),
])
def test_mainland_mobile_numbers_are_found_in_usual_spellings(text: str, matched: str) -> None:
    assert kinds(text) == [("mobile", matched)]


@pytest.mark.parametrize("text", [
    "工号12345678901请登记",          # 11 digits starting with 12
    "订单号 2023113800138000 已发货",  # a mobile number inside a longer order number
    "座机 010-62345678",
    "第138001380001号文件",
])
def test_digit_strings_that_are_not_mobile_numbers_do_not_match(text: str) -> None:
    assert kinds(text, ("mobile",)) == []


def test_resident_id_needs_checksum_province_and_birth_date() -> None:
    assert id_checksum_ok(VALID_ID) and id_plausible(VALID_ID)
    assert kinds(f"张三身份证{VALID_ID}，帮他报名") == [("id_card", VALID_ID)]
    assert kinds("身份证110105194912310021") == []               # wrong check digit
    assert not id_plausible("991231194912310026")                 # no province 99
    assert not id_plausible("110105194902300013")                 # 30 February
    assert kinds(f"单号{VALID_ID}9") == []                        # part of a longer run


def test_bank_cards_need_luhn_a_card_prefix_and_no_order_context() -> None:
    grouped = " ".join([VALID_CARD[:4], VALID_CARD[4:8], VALID_CARD[8:12], VALID_CARD[12:16], VALID_CARD[16:]])
    assert kinds(f"工资卡 {grouped} 开户行工商银行") == [("bank_card", grouped)]
    assert luhn_ok("4111111111111111")
    assert kinds("卡号6217000010000000004") == []                 # Luhn fails
    assert kinds("订单号：4111111111111111") == []                # order number context
    assert kinds("流水 1111111111111117") == []                    # Luhn-valid but not a card prefix


def test_id_number_wins_over_a_mobile_or_card_reading_of_the_same_digits() -> None:
    assert [k for k, _ in kinds(f"{VALID_ID}")] == ["id_card"]


def test_email_addresses_are_found() -> None:
    assert kinds("简历发 zhang.san@example.com.cn 谢谢") == [("email", "zhang.san@example.com.cn")]


def test_amounts_are_read_in_yuan_and_counts_are_not_money() -> None:
    found = [(a.matched, a.value) for a in find_amounts("合同金额120万，底价3万元，定金¥1,200.50，另付800块")]
    assert found == [("120万", "1200000"), ("3万元", "30000"), ("¥1,200.50", "1200.5"), ("800块", "800")]
    assert find_amounts("今天走了3万步，有2亿人在看") == []
    assert find_amounts("第3季度完成了12个项目") == []


def test_masked_values_do_not_repeat_the_personal_data() -> None:
    (hit,) = find_pii("13800138000")
    assert mask(hit) == "138****8000"
