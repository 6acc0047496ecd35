"""Regressions in the generator's case bookkeeping: nobody shares an account, no case is dropped."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

import pytest

from services.demo import activity, hr, scenarios, texts
from services.demo.activity import Builder
from services.demo.company import generate_company

pytestmark = pytest.mark.unit
DAY = date(2025, 3, 4)


@pytest.fixture(scope="module")
def day() -> activity.Activity:
    return activity.day()


@pytest.fixture(scope="module")
def month() -> activity.Activity:
    return activity.month()


def _account_holders(a: activity.Activity) -> Counter:
    return Counter((platform, user) for e in [*a.company.employees, *a.hires] for platform, user in e.accounts.items())


def test_new_hires_get_accounts_nobody_else_holds_on_any_platform(day, month):
    for a in (day, month):
        assert a.hires, "the profile hires someone"
        shared = [acc for acc, n in _account_holders(a).items() if n > 1]
        assert shared == []


def test_the_first_demo_hire_no_longer_gets_the_general_managers_feishu_account(day):
    hired = next(h for h in day.hires if h.employee_id == "E0216")
    general_manager = day.company.employee("E0001")
    assert hired.accounts["feishu"] != general_manager.accounts["feishu"]
    assert hired.accounts["feishu"].startswith("ou_") and len(hired.accounts["feishu"]) == 35


def test_a_clashing_draw_is_drawn_again_rather_than_reused():
    company = generate_company(7, DAY)
    b = Builder(company, seed=7)
    first = hr.new_accounts(b, 900)
    b2 = Builder(company, seed=7)  # the same generator state: its first draws are exactly ``first``
    b2.people["E0900"] = replace(company.employees[-1], employee_id="E0900", accounts=first)
    second = hr.new_accounts(b2, 901)
    assert all(second[p] != first[p] for p in ("qq", "dingtalk", "feishu"))


def _labelled_texts(a: activity.Activity) -> dict[str, set[str]]:
    by_id = {e.id: e.body.get("text") or "" for e in a.messages}
    out: dict[str, set[str]] = {}
    for lb in a.labels:
        if lb.event_id in by_id:
            out.setdefault(by_id[lb.event_id], set()).add(lb.rule_id)
    return out


CASES = ([pytest.param(t, rules, id=f"plain:{rules[0]}:{t[:6]}") for t, _c, rules in texts.PLAIN]
         + [pytest.param(t, ("content.malicious_link",), id=f"link:{t[-12:]}") for t in texts.MALICIOUS_LINKS]
         + [pytest.param(t, texts.CATEGORY_RULES["ads"], id=f"ad:{t[:6]}") for t in texts.ADS]
         + [pytest.param(t, texts.CATEGORY_RULES[c], id=f"obfuscated:{c}:{t[:4]}") for t, c in texts.OBFUSCATED])


@pytest.mark.parametrize(("text", "rules"), CASES)
def test_every_content_case_kind_is_posted_and_labelled_on_the_demo_day(day, text, rules):
    """The insult 「你是不是脑残」 and the ``.exe`` link used to vanish when their random group had no
    free sender left; each case must be posted once and carry its rules' labels."""
    labelled = _labelled_texts(day)
    assert text in labelled, "case not emitted"
    assert set(rules) <= labelled[text]


def test_a_case_whose_group_has_no_free_sender_moves_to_another_group_of_the_same_category():
    company = generate_company(7, DAY)
    b = Builder(company, seed=7)
    d = DAY
    full = b.groups("department")[0]
    for eid in b.available(full, d, staff=True):
        b.reserved.add((full.ref, d, eid))
    scenarios._content(b, d, "你是不是脑残，这点事都做不好", ("content.insult",), g=full)
    posted = b.events[-1]
    assert posted.body["group_id"] != full.group_id
    assert company.group(f"{posted.body['platform']}:{posted.body['group_id']}").category == "department"
    assert b.labels[-1].rule_id == "content.insult" and b.labels[-1].event_id == posted.id


def test_a_case_with_no_free_sender_anywhere_fails_loudly():
    company = generate_company(7, DAY)
    b = Builder(company, seed=7)
    d = DAY
    for g in b.groups("company"):
        for eid in b.available(g, d, staff=True):
            b.reserved.add((g.ref, d, eid))
    with pytest.raises(RuntimeError, match=r"no eligible sender for the \('content\.insult',\) case"):
        scenarios._content(b, d, "你是不是脑残，这点事都做不好", ("content.insult",), g=b.groups("company")[0])
