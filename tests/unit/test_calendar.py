"""The working calendar: statutory holidays, make-up workdays (调休), SLAs in working minutes, 2027+."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY

from services.common import calendar as wc
from services.common.calendar import WorkingCalendar

pytestmark = pytest.mark.unit

SH = ZoneInfo("Asia/Shanghai")
UNKNOWN_YEAR = 2027  # the first year chinesecalendar 1.11 has no data for


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def days(start: str, end: str) -> list[date]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def fallback_count(year: int) -> float:
    return REGISTRY.get_sample_value("qg_calendar_fallback_total", {"year": str(year)}) or 0.0


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.fixture(autouse=True)
def _fresh_fallback_notes():
    wc.reset_fallback_notes()
    yield
    wc.reset_fallback_notes()


def test_the_library_still_has_no_data_for_the_unknown_year_used_below():
    assert not wc.library_knows_year(UNKNOWN_YEAR), (
        f"chinesecalendar now knows {UNKNOWN_YEAR}: move the fallback tests to the next unknown year")


# -- statutory holidays and make-up working days ----------------------------------------------------

def test_spring_festival_2026_is_off_from_feb_15_to_23_with_make_up_saturdays_14_and_28(cal):
    assert not any(cal.is_working_day(d) for d in days("2026-02-15", "2026-02-23"))
    assert cal.is_working_day(date(2026, 2, 14))  # Saturday, 调休
    assert cal.is_working_day(date(2026, 2, 28))  # Saturday, 调休
    assert cal.is_working_day(date(2026, 2, 24))
    assert not cal.is_working_day(date(2026, 2, 21))  # an ordinary Saturday inside the holiday


def test_national_day_2026_is_off_oct_1_to_7_with_make_up_sunday_sep_20_and_saturday_oct_10(cal):
    assert not any(cal.is_working_day(d) for d in days("2026-10-01", "2026-10-07"))
    assert date(2026, 9, 20).weekday() == 6 and cal.is_working_day(date(2026, 9, 20))
    assert date(2026, 10, 10).weekday() == 5 and cal.is_working_day(date(2026, 10, 10))
    assert cal.is_working_day(date(2026, 10, 8))
    assert not cal.is_working_day(date(2026, 10, 11))  # the Sunday after is an ordinary weekend


def test_spring_festival_2025_is_off_jan_28_to_feb_4_with_make_up_sunday_jan_26_and_saturday_feb_8(cal):
    assert not any(cal.is_working_day(d) for d in days("2025-01-28", "2025-02-04"))
    assert cal.is_working_day(date(2025, 1, 26))
    assert cal.is_working_day(date(2025, 2, 8))
    assert cal.is_working_day(date(2025, 2, 5))


def test_adding_working_days_skips_the_national_day_week_and_counts_the_make_up_saturday(cal):
    # Wed 30 Sep + 1 → Thu 8 Oct; + 3 → Sat 10 Oct (调休), not Mon 12 Oct.
    assert cal.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert cal.add_working_days(date(2026, 10, 10), -3) == date(2026, 9, 30)
    assert cal.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)


def test_company_days_off_and_extra_workdays_override_the_statutory_calendar():
    annual_meeting, stocktake = date(2026, 1, 23), date(2026, 1, 25)  # a Friday off, a Sunday on
    cal = WorkingCalendar(extra_days_off={annual_meeting}, extra_workdays={stocktake})
    assert not cal.is_working_day(annual_meeting)
    assert cal.is_working_day(stocktake)


def test_a_date_both_off_and_on_is_a_configuration_error():
    with pytest.raises(ValueError):
        WorkingCalendar(extra_days_off={date(2026, 3, 2)}, extra_workdays={date(2026, 3, 2)})


# -- working minutes and SLA deadlines ---------------------------------------------------------------

def test_a_30_working_minute_sla_starting_friday_17_50_ends_monday_09_20(cal):
    start = at("2026-03-13T17:50")  # Friday
    assert cal.add_working_minutes(start, 30) == at("2026-03-16T09:20")
    assert cal.working_minutes_between(start, at("2026-03-16T09:20")) == 30


def test_an_sla_that_uses_up_friday_exactly_ends_at_18_00_not_monday(cal):
    assert cal.add_working_minutes(at("2026-03-13T17:50"), 10) == at("2026-03-13T18:00")


def test_the_lunch_break_does_not_count(cal):
    assert cal.add_working_minutes(at("2026-03-10T11:45"), 30) == at("2026-03-10T13:15")
    assert cal.working_minutes_between(at("2026-03-10T11:30"), at("2026-03-10T13:30")) == 60


def test_an_sla_spanning_national_day_resumes_on_the_first_working_day_after(cal):
    start = at("2026-09-30T17:00")  # Wednesday before the holiday: 60 minutes left that day
    assert cal.add_working_minutes(start, 120) == at("2026-10-08T10:00")
    assert cal.working_minutes_between(start, at("2026-10-08T10:00")) == 120


def test_a_sla_started_on_a_holiday_starts_counting_at_the_next_working_instant(cal):
    assert cal.next_working_instant(at("2026-10-03T15:00")) == at("2026-10-08T09:00")
    assert cal.next_working_instant(at("2026-10-08T12:30")) == at("2026-10-08T13:00")
    assert cal.next_working_instant(at("2026-10-08T10:17")) == at("2026-10-08T10:17")


def test_working_minutes_are_counted_in_shanghai_time_whatever_zone_the_instants_carry(cal):
    start_utc = datetime(2026, 3, 13, 9, 50, tzinfo=ZoneInfo("UTC"))  # 17:50 in Shanghai
    end_utc = datetime(2026, 3, 16, 1, 20, tzinfo=ZoneInfo("UTC"))  # Monday 09:20 in Shanghai
    assert cal.working_minutes_between(start_utc, end_utc) == 30
    assert cal.working_minutes_between(end_utc, start_utc) == 0


def test_a_second_short_of_the_sla_is_not_the_sla(cal):
    assert cal.working_minutes_between(at("2026-03-10T10:00"), at("2026-03-10T10:29:59")) < 30


def test_naive_datetimes_are_refused(cal):
    with pytest.raises(ValueError):
        cal.working_minutes_between(datetime(2026, 3, 10, 10), datetime(2026, 3, 10, 11))


def test_configurable_work_hours_replace_the_default_day():
    cal = WorkingCalendar(work_hours=[("08:30", "12:00"), ("13:30", "17:30")])
    assert cal.working_minutes_between(at("2026-03-10T00:00"), at("2026-03-11T00:00")) == 450
    with pytest.raises(ValueError):
        WorkingCalendar(work_hours=[("09:00", "12:00"), ("11:00", "18:00")])


# -- a year the library does not know ----------------------------------------------------------------

def test_an_unknown_year_without_a_company_list_falls_back_to_monday_to_friday_loudly(cal, caplog):
    before = fallback_count(UNKNOWN_YEAR)
    caplog.set_level(logging.WARNING, logger=wc.__name__)
    assert cal.is_working_day(date(2027, 10, 1))  # a Friday: National Day, but we cannot know it
    assert not cal.is_working_day(date(2027, 10, 2))  # Saturday
    assert cal.is_working_day(date(2027, 10, 4))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "2027" in r.getMessage()]
    assert len(warnings) == 1, "one warning per year per process, not per date"
    assert fallback_count(UNKNOWN_YEAR) == before + 3
    assert UNKNOWN_YEAR in wc.fallback_years()
    note = wc.readiness_note()
    assert note and "2027" in note and "周一至周五" in note and "Monday–Friday" in note


def test_an_unknown_year_with_a_company_list_uses_it_without_a_fallback(caplog):
    national_day_2027 = set(days("2027-10-01", "2027-10-07"))
    cal = WorkingCalendar(holidays_by_year={2027: national_day_2027}, extra_workdays={date(2027, 10, 9)})
    before = fallback_count(UNKNOWN_YEAR)
    caplog.set_level(logging.WARNING, logger=wc.__name__)
    assert not cal.is_working_day(date(2027, 10, 1))
    assert not cal.is_working_day(date(2027, 10, 4))
    assert cal.is_working_day(date(2027, 10, 9))  # the company's make-up Saturday
    assert cal.is_working_day(date(2027, 10, 8))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert fallback_count(UNKNOWN_YEAR) == before
    assert wc.fallback_years() == frozenset()


def test_readiness_warns_ahead_when_next_year_is_unknown_to_the_library():
    note = wc.readiness_note(today=date(2026, 12, 1))
    assert note and "2027" in note
    assert wc.readiness_note(today=date(2025, 6, 1)) is None


def test_an_sla_across_the_new_year_into_an_unknown_year_never_crashes(cal):
    deadline = cal.add_working_minutes(at("2026-12-31T17:30"), 60)
    # New Year's Day 2027 is a Friday the guess counts as working: wrong, but said out loud.
    assert deadline == at("2027-01-01T09:30")
    assert UNKNOWN_YEAR in wc.fallback_years()
