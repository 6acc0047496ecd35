"""The policy pack: what a compliance officer writes in YAML, as a pydantic model.

A pack is data, not code: every number of the source policies (deadlines, thresholds, quiet hours,
templates) is a field here, and every rule names a built-in detector (``detector:``) whose own
params model checks ``params:``. ``schema.py`` generates ``policies/schema.json`` from this module;
``loader.py`` turns YAML into a pack and reports every error with its path and line.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.base import AwareDatetime
from contracts.chat import Platform
from contracts.roster import GroupCategory
from contracts.violations import Severity

ExemptRole = Literal["owner", "admin", "manager", "executive"]

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
RULE_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("时间格式应为 HH:MM / time must be HH:MM (00:00–23:59)")
    return value


class TimeRange(Strict):
    """A local wall-clock interval; ``start`` after ``end`` wraps past midnight (quiet hours)."""

    start: str
    end: str

    _check = field_validator("start", "end")(lambda cls, v: _hhmm(v))

    @model_validator(mode="after")
    def _not_empty(self) -> TimeRange:
        if self.start == self.end:
            raise ValueError("开始与结束相同 / start equals end")
        return self


class Organisation(Strict):
    """Company-wide settings the detectors and the working calendar need."""

    name: str | None = None
    timezone: str = "Asia/Shanghai"
    working_hours: list[TimeRange] = Field(
        default_factory=lambda: [TimeRange(start="09:00", end="12:00"), TimeRange(start="13:00", end="18:00")])
    quiet_hours: TimeRange | None = None
    nickname_template: str | None = Field(
        None, description="e.g. '{department}-{name}'; fields: department, name, company, city, phone.")
    nickname_exempt_levels: list[Literal["manager", "executive"]] = ["executive"]
    company_abbreviations: list[str] = []
    extra_days_off: list[date] = []
    extra_workdays: list[date] = []
    holidays_by_year: dict[int, list[date]] = {}
    admin_centre_head: str | None = Field(None, description="Employee id answering public questions.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception as exc:
            raise ValueError(f"未知时区 / unknown time zone {value!r}") from exc
        return value

    @field_validator("nickname_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        fields = set(re.findall(r"\{(\w+)\}", value))
        unknown = fields - {"department", "name", "company", "city", "phone"}
        if unknown or "name" not in fields:
            raise ValueError("昵称模板须含 {name}，可用 {department} {company} {city} {phone} / "
                             "template needs {name}; allowed fields: department, company, city, phone")
        return value


class Scope(Strict):
    """Where a pack or a rule applies; empty lists mean everywhere."""

    categories: list[GroupCategory | Literal["unregistered"]] = []
    platforms: list[Platform] = []
    groups: list[str] = Field([], description="Group refs 'platform:group_id'.")

    def covers(self, category: str | None, platform: str | None, ref: str | None) -> bool:
        if self.platforms and platform not in self.platforms:
            return False
        if self.groups and ref not in self.groups:
            return False
        return not (self.categories and (category or "unregistered") not in self.categories)


class Exemptions(Strict):
    roles: list[ExemptRole] = []
    groups: list[str] = Field([], description="Group refs 'platform:group_id'.")
    users: list[str] = Field([], description="Employee ids or account refs 'platform:user_id'.")


class LexiconSpec(Strict):
    """Extends (or, with ``replace: true``, replaces) the shipped lexicon of one category."""

    terms: list[str] = []
    remove: list[str] = []
    patterns: list[str] = Field([], description="Regular expressions over the normalised text.")
    replace: bool = False

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"正则无效 / invalid regex {value!r}: {exc}") from exc
        return values


class RuleSpec(Strict):
    """One rule: a detector with its parameters, where it applies, and what follows (ladder)."""

    id: str = Field(pattern=RULE_ID)
    detector: str
    title: str = Field(min_length=1, description="Chinese, shown in notices and reports.")
    description: str | None = None
    category: str = ""
    severity: Severity = "medium"
    ladder: str | None = None
    params: dict[str, Any] = {}
    scope: Scope = Scope()
    exemptions: Exemptions = Exemptions()
    needs_review: bool = False
    enabled: bool = True
    notice: str | None = Field(None, description="Key of a notice template.")
    source: str | None = Field(None, description="Where the rule comes from, e.g. '[002]'.")

    @model_validator(mode="after")
    def _default_category(self) -> RuleSpec:
        if not self.category:
            object.__setattr__(self, "category", self.id.split(".")[0])
        return self


class PolicyPack(Strict):
    """A whole versioned pack (``policies/*.yaml``)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    effective_from: AwareDatetime
    extends: str | None = Field(None, description="Informational: the pack this one builds on.")
    scope: Scope = Scope()
    organisation: Organisation = Organisation()
    lexicons: dict[str, LexiconSpec] = {}
    rules: list[RuleSpec] = Field(min_length=1)
    ladders: dict[str, dict[str, Any]] = {}
    notices: dict[str, str] = {}
    points: dict[str, Any] = Field({}, description="Points programme settings read by penalties (merits → points).")

    @model_validator(mode="after")
    def _unique_rules(self) -> PolicyPack:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"规则编号重复 / duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return self

    def rule(self, rule_id: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def effective_at(packs: list[PolicyPack], at: datetime) -> PolicyPack | None:
    """The pack version in force at ``at``: the latest ``effective_from`` not after it (then version)."""
    eligible = [p for p in packs if p.effective_from <= at]
    return max(eligible, key=lambda p: (p.effective_from, p.version), default=None)
