"""The topic registry: every topic Qunguard writes, declared once.

Partition keys decide ordering: everything that must be seen in order by one consumer shares a key
(a chat group's events, one employee's violations and sanctions). Audit topics keep their data
forever (``retention_ms = -1``) because replay and the sanction audit trail read them years later.
"""

from __future__ import annotations

from dataclasses import dataclass

FOREVER = -1
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    retention_ms: int
    description: str


CHAT = Topic("qg.chat.v1", "group ref (platform:group_id)", 6, FOREVER,
             "Canonical chat events: messages, recalls, membership and group changes.")
RAW = Topic("qg.ingest.raw.v1", "group ref, or adapter name when none", 6, FOREVER,
            "Every platform payload as received (headers, body, signature result), for audit.")
ROSTER = Topic("qg.roster.v1", "employee id or group ref", 3, FOREVER,
               "HR facts (hires, transfers, departures, identities) and the group registry.")
POLICY = Topic("qg.policy.v1", "policy id", 1, FOREVER,
               "Published policy pack versions.")
CLOCK = Topic("qg.clock.v1", "'clock'", 1, FOREVER,
              "Ticks of wall-clock time: the only place it enters the system.")
VIOLATIONS = Topic("qg.violations.v1", "employee id (or platform user ref)", 6, FOREVER,
                   "Violations, dismissals and merits detected by the rules service.")
SANCTIONS = Topic("qg.sanctions.v1", "employee id (or platform user ref)", 6, FOREVER,
                  "Sanctions, reviews, appeals, reversals, reports and points.")
ENFORCEMENT = Topic("qg.enforcement.v1", "group ref", 3, FOREVER,
                    "Commands to act on a platform and their outcomes.")
DEADLETTER = Topic("qg.deadletter.v1", "original record key", 1, 90 * DAY_MS,
                   "Records a worker could not handle, with reason and origin.")

ALL: tuple[Topic, ...] = (CHAT, RAW, ROSTER, POLICY, CLOCK, VIOLATIONS, SANCTIONS, ENFORCEMENT, DEADLETTER)
BY_NAME: dict[str, Topic] = {t.name: t for t in ALL}
