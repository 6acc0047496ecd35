"""What penalties reads from a published policy pack: ladders, rules, notices, the points programme.

The pack arrives whole in ``PolicyPublished.pack`` (the rules service validates it); this view
reads it leniently, so penalties does not break on sections it does not use. The points programme
lives under ``points:``::

    points:
      merits: {daily_share: 1, monthly_streak: 20, best_post: 5, reshare: 2, admin_duty: 5}
      report_reward: 5
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.penalties.ladder import DEFAULT_TZ, LadderSpec, parse_ladders

DEFAULT_MERITS = {"daily_share": 1, "monthly_streak": 20, "best_post": 5, "reshare": 2, "admin_duty": 5}


class PointsProgramme(BaseModel):
    """积分 programme [001 鸡公山]: points per merit kind and the reward for an upheld report."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    merits: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_MERITS))
    report_reward: int = Field(5, ge=0)


class PackView:
    """Read-only accessors over one pack version's dict."""

    def __init__(self, pack: dict[str, Any]) -> None:
        self.pack = pack

    @cached_property
    def ladders(self) -> dict[str, LadderSpec]:
        return parse_ladders(self.pack.get("ladders"))

    @cached_property
    def programme(self) -> PointsProgramme:
        return PointsProgramme.model_validate(self.pack.get("points") or {})

    @property
    def timezone(self) -> str:
        return (self.pack.get("organisation") or {}).get("timezone") or DEFAULT_TZ

    def rule(self, rule_id: str) -> dict[str, Any]:
        rules = self.pack.get("rules") or []
        if isinstance(rules, dict):
            return rules.get(rule_id) or {}
        return next((r for r in rules if r.get("id") == rule_id), {})

    def rule_title(self, rule_id: str) -> str:
        return self.rule(rule_id).get("title") or rule_id

    def ladder_for(self, rule_id: str, named: str | None) -> LadderSpec | None:
        """The violation's ladder if it names one, else the rule's; None when neither exists."""
        name = named or self.rule(rule_id).get("ladder")
        return self.ladders.get(name) if name else None

    def notice_template(self, name: str) -> str | None:
        return (self.pack.get("notices") or {}).get(name)
