"""Every escalation ladder of the catalog: first, second, third offence, and window expiry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.penalties.ladder import LadderSpec, decide_step, listed_from, parse_ladders, repeat_count

pytestmark = pytest.mark.unit

CST = timezone(timedelta(hours=8))
LADDERS = parse_ladders(yaml.safe_load((Path(__file__).parent / "catalog_ladders.yaml").read_text("utf-8"))["ladders"])
T0 = datetime(2024, 3, 5, 10, 0, tzinfo=CST)


def kinds(ladder: str, nth: int, at: datetime = T0, gap: timedelta = timedelta(days=1)) -> list[str]:
    """The kinds of the step for the ``nth`` offence when the earlier ones came ``gap`` apart."""
    prior = [at - gap * i for i in range(1, nth)]
    return [item.kind for item in decide_step(LADDERS[ladder], prior, at).items]


def test_every_catalog_ladder_parses_from_yaml():
    assert len(LADDERS) >= 20
    assert LADDERS["qq_004"].steps[4].number == 5


def test_redline_first_offence_is_severe_warning_and_the_whole_months_performance_pay():
    step = decide_step(LADDERS["redline_002"], [], T0)
    assert [i.kind for i in step.items] == ["warning", "performance_deduction"]
    assert step.items[1].whole_month and step.items[0].note == "严重警告"
    assert not step.needs_review


def test_redline_second_offence_is_dismissal_and_a_police_referral_even_years_later():
    assert kinds("redline_002", 2, gap=timedelta(days=800)) == ["dismissal_recommendation", "referral"]
    assert kinds("redline_002", 3) == ["dismissal_recommendation", "referral"]


def test_content_ladder_criticises_first_then_deducts_50_yuan_every_later_time():
    assert kinds("content_002", 1) == ["public_criticism"]
    for nth in (2, 3, 7):
        step = decide_step(LADDERS["content_002"], [T0 - timedelta(hours=h) for h in range(1, nth)], T0)
        assert step.items[0].kind == "performance_deduction"
        assert step.items[0].amount_cny == Decimal("50")


def test_member_conduct_ladder_warns_with_apology_then_mutes_a_week_then_removes():
    assert kinds("conduct_004_template", 1) == ["warning", "warning_apology"]
    mute = decide_step(LADDERS["conduct_004_template"], [T0 - timedelta(days=3)], T0).items_out()[0]
    assert mute.kind == "mute" and mute.duration_s == 7 * 86400
    assert kinds("conduct_004_template", 3) == ["removal"]


def test_member_conduct_past_the_last_step_goes_to_the_company_for_review():
    step = decide_step(LADDERS["conduct_004_template"], [T0 - timedelta(days=d) for d in (1, 2, 3)], T0)
    assert step.needs_review and step.number == 3


def test_member_conduct_window_of_twelve_months_forgets_an_offence_a_year_and_a_day_old():
    old = T0 - timedelta(days=366)
    assert repeat_count(LADDERS["conduct_004_template"], [old], T0) == 1
    assert repeat_count(LADDERS["conduct_004_template"], [T0 - timedelta(days=300)], T0) == 2


def test_qq_ladder_runs_verbal_written_demerit_major_demerit_dismissal():
    notes = [decide_step(LADDERS["qq_004"], [T0 - timedelta(days=d) for d in range(1, n)], T0).items[0]
             for n in range(1, 7)]
    assert [(i.kind, i.note) for i in notes] == [
        ("warning", "口头警告"), ("warning", "书面警告"), ("demerit", "记过"), ("major_demerit", "记大过"),
        ("dismissal_recommendation", "辞退"), ("dismissal_recommendation", "辞退")]


def test_negative_ads_warn_once_then_remove():
    assert kinds("negative_ads_000", 1) == ["warning"]
    assert kinds("negative_ads_000", 2) == ["removal"]
    assert kinds("negative_ads_000", 3) == ["removal"]


def test_incitement_and_privacy_remove_on_the_first_offence():
    assert kinds("incitement_000", 1) == ["removal"]
    assert kinds("privacy_004", 1) == ["warning", "removal", "blacklist"]


def test_fines_per_month_count_again_from_one_in_a_new_beijing_month():
    ladder = LADDERS["reminder_then_fine"]
    assert kinds("reminder_then_fine", 1) == ["reminder"]
    assert kinds("reminder_then_fine", 2) == ["fine"]
    assert repeat_count(ladder, [T0 - timedelta(days=91)], T0) == 1
    month = LADDERS["fine_owner_50"]
    # 23:30 on 31 March in Beijing is still March there, though it is the 31st 15:30 UTC.
    late_march = datetime(2024, 3, 31, 23, 30, tzinfo=CST)
    early_april = datetime(2024, 4, 1, 0, 10, tzinfo=CST)
    assert repeat_count(month, [late_march - timedelta(days=2)], late_march) == 2
    assert repeat_count(month, [late_march], early_april) == 1


def test_calendar_month_uses_the_organisation_time_zone_not_utc():
    month = LADDERS["reply_sla_002"]
    prior = datetime(2024, 3, 31, 17, 0, tzinfo=timezone.utc)  # 1 April 01:00 in Beijing
    at = datetime(2024, 4, 2, 9, 0, tzinfo=CST)
    assert repeat_count(month, [prior], at) == 2
    assert repeat_count(month, [prior], at, tz="UTC") == 1


def test_fines_carry_decimal_yuan_amounts():
    for name, amount in (("fine_owner_50", "50"), ("fine_20_per_person", "20"), ("fine_10_per_person", "10"),
                         ("reply_fine_001", "100"), ("buck_passing_001", "50")):
        item = decide_step(LADDERS[name], [], T0).items_out()[0]
        assert item.kind == "fine" and item.amount_cny == Decimal(amount)


def test_flooding_mutes_an_hour_then_a_day_within_one_day_window():
    ladder = LADDERS["flooding_mute"]
    assert decide_step(ladder, [], T0).items_out()[0].duration_s == 3600
    assert decide_step(ladder, [T0 - timedelta(hours=2)], T0).items_out()[0].duration_s == 86400
    assert decide_step(ladder, [T0 - timedelta(hours=25)], T0).items_out()[0].duration_s == 3600


def test_performance_deduction_can_be_a_percent_and_demotion_a_later_step():
    first = decide_step(LADDERS["performance_percent"], [], T0).items_out()[0]
    assert first.percent == Decimal("10")
    assert kinds("performance_percent", 2) == ["performance_deduction", "demotion"]
    assert kinds("platform_ban", 1) == ["platform_ban"]


def test_points_programme_losses_are_ladders_of_programme_points():
    for name, points in (("points_profile_001", -10), ("points_missed_content_001", -2),
                         ("points_harmful_001", -5)):
        item = decide_step(LADDERS[name], [], T0).items_out()[0]
        assert (item.kind, item.points) == ("programme_points", points)


def test_leak_points_range_waits_for_the_chairman():
    step = decide_step(LADDERS["points_leak_001"], [], T0)
    assert step.needs_review
    item = step.items_out()[0]
    assert (item.range_low, item.range_high, item.decider) == (Decimal(-2000), Decimal(-200), "董事长")
    assert item.points is None


def test_not_joining_company_group_warns_then_costs_50_points_then_escalates():
    assert kinds("points_not_joined_001", 1) == ["warning"]
    assert decide_step(LADDERS["points_not_joined_001"], [T0 - timedelta(days=2)], T0).items[0].points == -50
    third = decide_step(LADDERS["points_not_joined_001"], [T0 - timedelta(days=d) for d in (1, 2)], T0)
    assert third.needs_review


def test_later_offences_do_not_count_towards_an_earlier_one():
    assert repeat_count(LADDERS["content_002"], [T0 + timedelta(minutes=1)], T0) == 1


@pytest.mark.parametrize("bad", [
    {"name": "x", "steps": []},
    {"name": "x", "steps": [{"items": [{"kind": "fine"}]}]},
    {"name": "x", "steps": [{"items": [{"kind": "programme_points", "points": [-200, -2000], "decider": "董事长"}]}]},
    {"name": "x", "steps": [{"items": [{"kind": "programme_points", "points": [-2000, -200]}]}]},
    {"name": "x", "steps": [{"items": [{"kind": "mute", "duration": "forever"}]}]},
    {"name": "x", "steps": [{"items": [{"kind": "fine", "amount_cny": "-5"}]}]},
    {"name": "x", "window": "fortnight", "steps": [{"items": [{"kind": "reminder"}]}]},
])
def test_malformed_ladders_are_rejected(bad):
    with pytest.raises(ValidationError):
        LadderSpec.model_validate(bad)


@pytest.mark.parametrize("window", ["forever", "calendar_month", "rolling_12_months", {"days": 1}, {"days": 90}])
@pytest.mark.parametrize("tz", ["Asia/Shanghai", "UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_offences_before_listed_from_never_count_and_on_forever_ladders_always_count(window, tz):
    """What a batch leaves unread must not change any decision at or after its earliest offence:
    before ``listed_from`` an offence counts towards none of them, or (forever) towards all."""
    import random

    ladder = LadderSpec.model_validate({"name": "l", "window": window, "steps": [{"items": [{"kind": "warning"}]}]})
    rnd = random.Random(f"{window}{tz}")
    edges = [datetime(2024, 2, 29, 23, 59, tzinfo=CST), datetime(2024, 3, 1, 0, 0, tzinfo=CST),
             datetime(2024, 12, 31, 16, 0, tzinfo=timezone.utc), datetime(2025, 3, 1, tzinfo=timezone.utc)]
    for _ in range(3000):
        since = rnd.choice(edges) + timedelta(seconds=rnd.randint(-40 * 86400, 40 * 86400))
        at = since + timedelta(seconds=rnd.choice([0, 1, rnd.randint(0, 86400), rnd.randint(0, 400 * 86400)]))
        bound = listed_from(ladder.window, since)
        if bound is None:
            prior = since - timedelta(seconds=rnd.randint(1, 800 * 86400))
            assert repeat_count(ladder, [prior], at, tz) == 2, (since, prior, at)
        else:
            prior = bound - timedelta(seconds=rnd.choice([1, rnd.randint(1, 400 * 86400)]))
            assert repeat_count(ladder, [prior], at, tz) == 1, (since, prior, at)


def test_earlier_offences_are_counted_without_being_listed():
    ladder = LADDERS["content_002"]
    assert repeat_count(ladder, [T0 - timedelta(days=1)], T0, earlier=3) == 5
    assert repeat_count(ladder, [], T0, earlier=0) == 1
