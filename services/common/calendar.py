"""The working calendar: which days and minutes count as work, for SLAs and deadlines.

Pure and shared by rules (e.g. "answer within 30 working minutes") and penalties (e.g. "appeal within
3 working days"). It never reads the wall clock: every answer is a function of its arguments and the
calendar's configuration.

Where a day's status comes from, in order:
1. ``extra_days_off`` (company-specific days off, e.g. an annual-meeting day) → not a working day;
2. ``extra_workdays`` (company-specific working days) → a working day;
3. ``chinesecalendar`` for the years it knows: statutory holidays are off and make-up working days
   (调休, often a Saturday or Sunday) ARE working days. We ask ``is_workday`` per date, because
   ``get_workdays(include_weekends=False)`` drops the make-up weekend days;
4. for a year the library does not know (it raises ``NotImplementedError``): the company's configured
   holiday list for that year (``holidays_by_year``) on top of Monday–Friday, else plain Monday–Friday.
   The plain Monday–Friday case is a guess, so it is said loudly: a log warning (once per year per
   process), the ``qg_calendar_fallback_total{year=…}`` counter (once per distinct date answered,
   because answers are cached), and :func:`fallback_years` / :func:`readiness_note` for ``/readyz``.
   It never crashes and never guesses silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from services.common import metrics

log = logging.getLogger(__name__)

DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_WORK_HOURS: tuple[tuple[str, str], ...] = (("09:00", "12:00"), ("13:00", "18:00"))
# How far a search for the next working day may go before we call the configuration broken
# (a calendar with no working day in ten years cannot answer "add N working days").
_MAX_SCAN_DAYS = 3660

_fallback_lock = threading.Lock()
_fallback_years: set[int] = set()  # years answered by the Monday–Friday guess in this process


@lru_cache(maxsize=8192)
def statutory_workday(d: date) -> bool | None:
    """``chinesecalendar``'s answer for ``d``, or ``None`` when the library has no data for its year."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return None


def library_knows_year(year: int) -> bool:
    """Whether ``chinesecalendar`` has the State Council's holiday arrangement for ``year``."""
    return statutory_workday(date(year, 6, 1)) is not None


def fallback_years() -> frozenset[int]:
    """Years for which this process answered with the Monday–Friday guess (no statutory data, no list)."""
    with _fallback_lock:
        return frozenset(_fallback_years)


def readiness_note(today: date | None = None) -> str | None:
    """A note for ``/readyz`` details, or ``None`` when the calendar has nothing to warn about.

    Lists the years already answered by the guess; given ``today`` (the caller's clock, since this
    module has none) it also warns ahead of time when this year or next year is unknown to the library,
    so an operator can configure the company's holiday list before the first SLA is computed wrongly.
    """
    parts: list[str] = []
    guessed = sorted(fallback_years())
    if guessed:
        years = ", ".join(str(y) for y in guessed)
        parts.append(f"工作日历：{years} 年无法定节假日数据，按周一至周五计算 / "
                     f"working calendar: no statutory holiday data for {years}, assuming Monday–Friday")
    if today is not None:
        unknown = [y for y in (today.year, today.year + 1) if not library_knows_year(y) and y not in guessed]
        if unknown:
            years = ", ".join(str(y) for y in unknown)
            parts.append(f"工作日历：chinesecalendar 尚无 {years} 年数据，请升级或配置公司节假日 / "
                         f"working calendar: chinesecalendar has no data for {years}; upgrade it or "
                         f"configure the company holiday list")
    return "; ".join(parts) or None


def reset_fallback_notes() -> None:
    """Forget which years were reported (for tests: the warning is once per year per process)."""
    with _fallback_lock:
        _fallback_years.clear()


def _note_fallback(year: int) -> None:
    metrics.CALENDAR_FALLBACK.labels(year=str(year)).inc()
    with _fallback_lock:
        first = year not in _fallback_years
        _fallback_years.add(year)
    if first:
        log.warning("工作日历：%d 年无法定节假日数据且未配置公司节假日，按周一至周五计算 / working calendar: "
                    "no statutory holiday data and no company list for %d, assuming Monday–Friday "
                    "(upgrade chinesecalendar or configure holidays_by_year)", year, year, extra={"year": year})


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _parse_work_hours(work_hours: Iterable[tuple[str, str]]) -> tuple[tuple[time, time], ...]:
    """Parse and check ("HH:MM", "HH:MM") intervals: each non-empty, sorted, non-overlapping."""
    parsed = tuple(sorted((_parse_hhmm(a), _parse_hhmm(b)) for a, b in work_hours))
    for start, end in parsed:
        if start >= end:
            raise ValueError(f"working interval {start:%H:%M}–{end:%H:%M} is empty")
    for (_, end), (nxt, _) in zip(parsed, parsed[1:], strict=False):
        if nxt < end:
            raise ValueError(f"working intervals overlap at {nxt:%H:%M}")
    if not parsed:
        raise ValueError("at least one working interval is required")
    return parsed


class WorkingCalendar:
    """Working days and working minutes in one time zone, with the company's own exceptions.

    ``work_hours`` are local wall-clock intervals (default 09:00–12:00 and 13:00–18:00: the lunch break
    does not count). ``holidays_by_year`` is only consulted for years ``chinesecalendar`` does not know.
    Instances are immutable in use and safe to share between threads; per-date answers are cached.
    """

    def __init__(
        self,
        tz: str = DEFAULT_TZ,
        work_hours: Iterable[tuple[str, str]] = DEFAULT_WORK_HOURS,
        extra_days_off: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        holidays_by_year: Mapping[int, Iterable[date]] | None = None,
    ) -> None:
        self.tz = ZoneInfo(tz)
        self.work_hours = _parse_work_hours(work_hours)
        self.extra_days_off = frozenset(extra_days_off)
        self.extra_workdays = frozenset(extra_workdays)
        both = self.extra_days_off & self.extra_workdays
        if both:
            raise ValueError(f"dates both extra day off and extra workday: {sorted(both)}")
        self.holidays_by_year = {int(y): frozenset(ds) for y, ds in (holidays_by_year or {}).items()}
        self._is_working_day = lru_cache(maxsize=4096)(self._decide_working_day)

    # -- days ---------------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` (a local date in the calendar's zone) is a working day. Cached per date."""
        return self._is_working_day(d)

    def _decide_working_day(self, d: date) -> bool:
        if d in self.extra_days_off:
            return False
        if d in self.extra_workdays:
            return True
        statutory = statutory_workday(d)
        if statutory is not None:
            return statutory
        company = self.holidays_by_year.get(d.year)
        if company is not None:
            return d.weekday() < 5 and d not in company
        _note_fallback(d.year)
        return d.weekday() < 5

    def add_working_days(self, d: date, n: int) -> date:
        """The date ``n`` working days after ``d`` (before, if ``n`` < 0); ``d`` itself never counts.

        ``add_working_days(friday, 1)`` is the next working Monday; ``n == 0`` returns ``d`` unchanged.
        """
        step = timedelta(days=1 if n >= 0 else -1)
        remaining, current, scanned = abs(n), d, 0
        while remaining:
            current += step
            scanned += 1
            if scanned > _MAX_SCAN_DAYS + abs(n) * 7:
                raise ValueError("no working day found: check the calendar configuration")
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open range (``start``, ``end``]: 0 when ``end`` <= ``start``."""
        return sum(1 for i in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(days=i)))

    # -- minutes ------------------------------------------------------------------------------------

    def _intervals(self, d: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of local date ``d`` as aware datetimes (none on a day off)."""
        if not self.is_working_day(d):
            return []
        return [(datetime.combine(d, a, self.tz), datetime.combine(d, b, self.tz)) for a, b in self.work_hours]

    def _local(self, t: datetime) -> datetime:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError("the working calendar needs aware datetimes (with a UTC offset)")
        return t.astimezone(self.tz)

    def working_seconds_between(self, a: datetime, b: datetime) -> int:
        """Whole working seconds in [``a``, ``b``): 0 when ``b`` <= ``a``."""
        a, b = self._local(a), self._local(b)
        total = timedelta()
        day = a.date()
        while day <= b.date():
            for start, end in self._intervals(day):
                lo, hi = max(start, a), min(end, b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return int(total.total_seconds())

    def working_minutes_between(self, a: datetime, b: datetime) -> float:
        """Working minutes in [``a``, ``b``) counting only working intervals of working days.

        A float so that an SLA check like ``>= 30`` is exact to the second (29 min 59 s is not 30).
        """
        return self.working_seconds_between(a, b) / 60

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant at which ``minutes`` working minutes have elapsed since ``start`` (an SLA deadline).

        The answer is in the calendar's zone. A deadline that uses up an interval exactly ends at that
        interval's end (Friday 17:50 + 10 min is Friday 18:00, not Monday 09:00).
        """
        if minutes < 0:
            raise ValueError("minutes must be >= 0")
        remaining = timedelta(minutes=minutes)
        cursor = self.next_working_instant(start)
        day = cursor.date()
        for _ in range(_MAX_SCAN_DAYS + int(minutes) + 1):
            for s, e in self._intervals(day):
                lo = max(s, cursor)
                if e <= lo:
                    continue
                if lo + remaining <= e:
                    return lo + remaining
                remaining -= e - lo
            day += timedelta(days=1)
        raise ValueError("no working time found: check the calendar configuration")

    def next_working_instant(self, t: datetime) -> datetime:
        """``t`` itself if it lies in a working interval, else the start of the next one (calendar zone)."""
        t = self._local(t)
        day = t.date()
        for _ in range(_MAX_SCAN_DAYS):
            for start, end in self._intervals(day):
                if t < end:
                    return max(start, t)
            day += timedelta(days=1)
        raise ValueError("no working time found: check the calendar configuration")
