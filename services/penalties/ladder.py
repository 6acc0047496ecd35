"""Escalation ladders: the pure model a policy pack embeds under ``ladders:``, and the step decision.

A ladder says what happens on the 1st, 2nd, 3rd… offence *of the same ladder* within a window
(the calendar month, a rolling 12 months, forever, or N days). Each step is a set of sanction
items (a warning and a fine, a mute for a week…). After the last step, every later offence repeats
the last step unless the ladder says ``repeat_last: false`` (then later offences go to review,
because the sources say "serious cases go to the company").

An item with a range (``points: [-2000, -200]``, ``amount_cny: [100, 500]``) names a decider (董事长,
总经办): such a step cannot be applied by a machine and waits for a human decision.

Pack fragment (YAML)::

    ladders:
      content_002:
        title: 内容违规（002）
        window: forever
        steps:
          - items: [{kind: public_criticism}]
          - items: [{kind: performance_deduction, amount_cny: "50"}]

Everything here is pure: no IO, no wall clock; times are event times given by the caller.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.sanctions import SanctionItem, SanctionKind

DEFAULT_TZ = "Asia/Shanghai"

WindowName = Literal["calendar_month", "rolling_12_months", "forever"]


class DaysWindow(BaseModel):
    """A sliding window of N days ending at the offence (``{days: 30}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    days: int = Field(gt=0)


Window = WindowName | DaysWindow

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|秒|分钟|小时|天|周)\s*$")
_UNIT_S = {"s": 1, "秒": 1, "m": 60, "分钟": 60, "h": 3600, "小时": 3600, "d": 86400, "天": 86400,
           "w": 604800, "周": 604800}


def parse_duration(value: int | str) -> int:
    """Seconds from ``604800``, ``"7d"``, ``"1w"``, ``"30m"`` or ``"1周"``; raises ValueError."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError("duration must not be negative")
        return value
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"duration {value!r}: use seconds or N s|m|h|d|w")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


Money = Annotated[Decimal, Field(ge=0, decimal_places=2)]


class ItemSpec(BaseModel):
    """One sanction of a step, as the pack writes it.

    ``amount_cny`` / ``points`` are either a fixed value or a ``[low, high]`` range; a range needs
    ``decider`` (who fixes the amount) and makes the step wait for review.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: SanctionKind
    amount_cny: Money | tuple[Money, Money] | None = None
    percent: Decimal | None = Field(None, gt=0, le=100)
    whole_month: bool = False
    points: int | tuple[int, int] | None = None
    duration: int | str | None = Field(None, description="Mute length: seconds or '7d', '1w'.")
    decider: str | None = Field(None, description="Role that fixes a range (董事长, 总经办).")
    note: str | None = Field(None, description="Shown to people, e.g. 口头警告 / 书面警告.")

    @field_validator("duration")
    @classmethod
    def _duration_parses(cls, v: int | str | None) -> int | str | None:
        if v is not None:
            parse_duration(v)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ItemSpec":
        for name in ("amount_cny", "points"):
            value = getattr(self, name)
            if isinstance(value, tuple) and value[0] > value[1]:
                raise ValueError(f"{name} range must be [low, high]")
        if self.is_range and not self.decider:
            raise ValueError("a range needs a decider (who fixes the amount)")
        if self.kind == "fine" and self.amount_cny is None:
            raise ValueError("a fine needs amount_cny")
        if self.kind == "performance_deduction" and not (
                self.amount_cny is not None or self.percent is not None or self.whole_month):
            raise ValueError("a performance deduction needs amount_cny, percent or whole_month")
        if self.kind in ("performance_points", "programme_points") and self.points is None:
            raise ValueError(f"{self.kind} needs points")
        if self.kind == "mute" and self.duration is None:
            raise ValueError("a mute needs a duration")
        return self

    @property
    def is_range(self) -> bool:
        return isinstance(self.amount_cny, tuple) or isinstance(self.points, tuple)

    def to_item(self) -> SanctionItem:
        """The contract item; for a range, the bounds are carried for the reviewer."""
        amount = None if isinstance(self.amount_cny, tuple) or self.amount_cny is None \
            else self.amount_cny.quantize(Decimal("0.01"))
        points = None if isinstance(self.points, tuple) else self.points
        low = high = None
        if isinstance(self.amount_cny, tuple):
            low, high = self.amount_cny
        elif isinstance(self.points, tuple):
            low, high = (Decimal(self.points[0]), Decimal(self.points[1]))
        return SanctionItem(
            kind=self.kind, amount_cny=amount, percent=self.percent, whole_month=self.whole_month,
            points=points, duration_s=parse_duration(self.duration) if self.duration is not None else None,
            note=self.note, range_low=low, range_high=high, decider=self.decider)


class Step(BaseModel):
    """What one repeat count brings. ``number`` is set by the ladder (1-based)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    number: int = 0
    items: list[ItemSpec] = Field(min_length=1)
    review: bool = Field(False, description="A human decides even without ranges (serious cases).")
    notice: str | None = Field(None, description="Notice template name; default: the ladder's.")

    @property
    def needs_review(self) -> bool:
        return self.review or any(item.is_range for item in self.items)

    def items_out(self) -> list[SanctionItem]:
        return [item.to_item() for item in self.items]


class LadderSpec(BaseModel):
    """An escalation ladder. ``steps[i]`` applies to the (i+1)-th offence within ``window``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    title: str | None = None
    window: Window = "forever"
    steps: list[Step] = Field(min_length=1)
    repeat_last: bool = Field(True, description="Offences past the last step repeat it ('and every later').")
    notice: str | None = Field(None, description="Default notice template for its steps.")

    @model_validator(mode="before")
    @classmethod
    def _number_steps(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            steps = []
            for i, step in enumerate(data["steps"], start=1):
                if isinstance(step, dict):
                    step = {**step, "number": i}
                elif isinstance(step, Step):
                    step = step.model_copy(update={"number": i})
                steps.append(step)
            data = {**data, "steps": steps}
        return data

    def step_for(self, repeat_count: int) -> Step:
        """The step for the ``repeat_count``-th offence (1-based)."""
        if repeat_count < 1:
            raise ValueError("repeat_count starts at 1")
        if repeat_count <= len(self.steps):
            return self.steps[repeat_count - 1]
        last = self.steps[-1]
        if self.repeat_last:
            return last
        # Past the end of a ladder that does not repeat: the company decides (review).
        return last.model_copy(update={"review": True})


def _year_earlier(at: datetime) -> datetime:
    try:
        return at.replace(year=at.year - 1)
    except ValueError:  # 29 February
        return at.replace(year=at.year - 1, day=28)


def in_window(window: Window, prior: datetime, at: datetime, tz: str = DEFAULT_TZ) -> bool:
    """Whether an offence at ``prior`` counts towards one at ``at`` (``prior`` not after ``at``).

    The calendar month is the month of the organisation's time zone, not UTC: an offence at
    23:30 Beijing time on 31 March belongs to March.
    """
    if prior > at:
        return False
    if window == "forever":
        return True
    if window == "calendar_month":
        zone = ZoneInfo(tz)
        a, p = at.astimezone(zone), prior.astimezone(zone)
        return (a.year, a.month) == (p.year, p.month)
    if window == "rolling_12_months":
        return prior > _year_earlier(at)
    assert isinstance(window, DaysWindow)
    return prior > at - timedelta(days=window.days)


def repeat_count(ladder: LadderSpec, prior_offences: list[datetime], at: datetime,
                 tz: str = DEFAULT_TZ, *, earlier: int = 0) -> int:
    """1 + ``earlier`` + the offences of ``prior_offences`` that fall in the ladder's window ending at ``at``.

    The caller passes only offences that still stand (not reversed, not dismissed) and not the
    current one. ``earlier`` counts offences the caller knows fall in the window without listing
    them (see :func:`listed_from`).
    """
    return 1 + earlier + sum(1 for t in prior_offences if in_window(ladder.window, t, at, tz))


class Prior(NamedTuple):
    """A person's standing offences on one ladder, as a decision needs them: ``earlier`` offences
    known to count without being listed, and the ``times`` of the others."""

    earlier: int
    times: list[datetime]


def listed_from(window: Window, since: datetime) -> datetime | None:
    """From when a person's offences must be listed one by one to decide offences at or after ``since``.

    Before it, an offence either never counts towards such an offence (a window ends before it
    could reach ``since``: it need not be read at all), or, on a ``forever`` ladder, always counts
    (it need only be counted: ``None`` is returned and the caller counts those before ``since``).
    A habitual offender's decision then reads the window, not every offence of their past. The
    bound is a day wide of the exact edge on every side (a calendar month in any zone starts less
    than 32 days before a moment in it), so no zone or leap day can put a counting offence
    before it.
    """
    if window == "forever":
        return None
    if window == "calendar_month":
        return since - timedelta(days=32)
    if window == "rolling_12_months":
        return _year_earlier(since) - timedelta(days=1)
    assert isinstance(window, DaysWindow)
    return since - timedelta(days=window.days + 1)


def decide_step(ladder: LadderSpec, prior_offences: list[datetime], at: datetime,
                tz: str = DEFAULT_TZ) -> Step:
    """The step that applies to an offence at ``at`` given the earlier standing offences."""
    return ladder.step_for(repeat_count(ladder, prior_offences, at, tz))


def parse_ladders(section: Any) -> dict[str, LadderSpec]:
    """The pack's ``ladders:`` section (a mapping name → spec, or a list of specs with names)."""
    if not section:
        return {}
    if isinstance(section, dict):
        specs = [LadderSpec.model_validate({"name": name, **body}) for name, body in section.items()]
    else:
        specs = [LadderSpec.model_validate(body) for body in section]
    return {spec.name: spec for spec in specs}
