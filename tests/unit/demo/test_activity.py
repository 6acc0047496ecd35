"""The generated activity: deterministic, big enough, clean where it says so, labelled with real rule ids."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from services.demo import activity, selfcheck, texts
from services.demo.platforms import Secrets, render
from services.ingest.adapters import dingtalk as dt
from services.ingest.adapters import feishu as lark
from services.ingest.adapters import generic, onebot
from services.rules.text.lexicon import Lexicon
from services.rules.text.matcher import Matcher

pytestmark = pytest.mark.unit
PACK = Path(__file__).resolve().parents[3] / "policies" / "company-default.yaml"


@pytest.fixture(scope="module")
def month() -> activity.Activity:
    return activity.month()


@pytest.fixture(scope="module")
def day() -> activity.Activity:
    return activity.day()


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    pack = yaml.safe_load(PACK.read_text(encoding="utf-8"))
    from services.rules.policy.loader import check_data

    parsed, errors = check_data(pack)
    assert parsed is not None, errors
    return Matcher.build(Lexicon.default().extended(parsed.lexicons))


def _dump(a: activity.Activity) -> bytes:
    return orjson.dumps([e.body for e in a.events]) + orjson.dumps([lb.__dict__ for lb in a.labels], default=str)


def test_the_same_seed_generates_byte_identical_activity(day):
    assert _dump(activity.day()) == _dump(day)
    assert _dump(activity.day(seed=8)) != _dump(day)


def test_a_month_has_twenty_thousand_messages():
    a = activity.month(seed=3)
    assert len(a.messages) >= 20_000
    assert len({e.body["group_id"] for e in a.messages}) >= 20
    assert {e.body["platform"] for e in a.messages} >= {"qq", "dingtalk", "wecom", "feishu"}


def test_every_label_is_a_rule_of_the_default_pack(day, month):
    rule_ids = {r["id"] for r in yaml.safe_load(PACK.read_text(encoding="utf-8"))["rules"]}
    for a in (day, month):
        assert {lb.rule_id for lb in a.labels} <= rule_ids


def test_the_demo_day_injects_every_kind_of_case(day):
    counts = day.label_counts()
    for rule in ("reply.leader_task", "reply.notice_ack", "content.ads", "content.gambling", "content.porn",
                 "content.malicious_link", "content.flooding", "content.quiet_hours", "content.point_to_point",
                 "member.external", "member.self_exit", "member.nickname_format", "member.departed_not_removed",
                 "member.transferred_not_removed", "member.new_hire_not_added", "group.unregistered",
                 "group.temp_not_dissolved"):
        assert counts.get(rule, 0) >= 1, rule
    assert {h.kind for h in day.hr_changes} == {"hire", "transfer", "depart"}
    kinds = {e.body["type"] for e in day.events}
    assert kinds >= {"message", "member_joined", "member_left", "member_removed", "nickname_changed",
                     "group_created", "members_snapshot"}


def test_clean_traffic_passes_the_generators_self_check(day, month):
    assert selfcheck.check(day) == []
    assert selfcheck.check(month) == []


def test_self_check_catches_a_question_word_and_an_unlabelled_flood(day):
    assert selfcheck.text_problems("周报什么时候交？", leader=False)
    assert selfcheck.text_problems("大家尽快提交", leader=True) and not selfcheck.text_problems("大家尽快提交", leader=False)
    flooded = activity.Activity(day.company, day.start, day.end, day.events,
                                [lb for lb in day.labels if lb.rule_id != "content.flooding"], day.hr_changes)
    assert any("unlabelled flooding" in p for p in selfcheck.check(flooded))


def test_clean_messages_have_no_lexicon_hit(day, month, matcher):
    for a in (day, month):
        dirty = [(e.id, e.body["text"], [h.term for h in matcher.find(e.body["text"])])
                 for e in a.messages if e.clean and e.body.get("text") and matcher.find(e.body["text"])]
        assert dirty == []


@pytest.mark.parametrize("text,category", texts.OBFUSCATED + tuple((t, c) for t, c, _ in texts.PLAIN)
                         + tuple((t, "ads") for t in texts.ADS))
def test_each_injected_text_hits_exactly_its_lexicon_category(text, category, matcher):
    assert {h.category for h in matcher.find(text)} == {category}


def test_every_generic_event_is_accepted_by_the_ingest_generic_adapter(day):
    parsed = generic.parse(orjson.dumps({"events": [e.body for e in day.events]}))
    assert len(parsed.events) == len(day.events)


def test_native_renderings_parse_back_to_the_same_message(day):
    names = {acc: e.name for e in day.company.employees for acc in e.accounts.values()}
    secrets = Secrets(onebot="napcat-token", dingtalk="app-secret", feishu_token="v-token")
    natives = [e for e in day.messages if e.native and e.body.get("msg_type") == "text"]
    assert {e.native for e in natives} == {"onebot", "dingtalk", "feishu"}
    for ev in natives:
        d = render(ev, names, secrets, now=ev.time)
        if ev.native == "onebot":
            onebot.verify(d.body, d.headers, "napcat-token")
            msg = onebot.parse(d.body, now=ev.time).events[0]
        elif ev.native == "dingtalk":
            dt.verify_robot(d.headers, "app-secret", ev.time)
            msg = dt.parse_robot(d.body).events[0]
        else:
            msg = lark.parse(orjson.loads(d.body)).events[0]
        assert (msg.group_id, msg.user_id, msg.occurred_at) == (ev.body["group_id"], ev.body["user_id"], ev.time)
        assert msg.mentions == ev.body["mentions"]
        if ev.native != "onebot":
            assert msg.text == ev.body["text"]
