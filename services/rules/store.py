"""``SqlState``: the ``RulesState`` interface over the rules tables, inside the caller's transaction.

Never commits (the worker's unit of work does). Records are stored as JSON documents and decoded
back into the same records ``MemoryState`` holds (frozen dataclasses, the ``Recent`` named tuple),
so the engine cannot tell them apart.
Parsed packs are cached per (id, version, sha) in-process: a cache of immutable data, not state.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, or_, select
from sqlmodel import Session

from services.rules import models as m
from services.rules.policy.model import PolicyPack
from services.rules.state import (
    Department,
    GroupRecord,
    Membership,
    Person,
    Recent,
    Timer,
    trim,
)

_DATES = {"hire_date", "leave_date", "handover_date", "end_date"}
_TIMES = {"created_at", "first_seen", "last_message_at", "joined_at", "last_spoke_at", "time", "due"}
_PACKS: dict[tuple[str, int], PolicyPack] = {}


def _utc(t: datetime) -> datetime:
    """``t`` as UTC: SQLite stores a datetime without its offset, so every stored instant and every
    bound compared with it must be in the same zone (ticks come in UTC, deadlines in local time)."""
    return t.astimezone(UTC)


def _field_names(cls: type) -> tuple[str, ...]:
    """The record's fields: a frozen dataclass's, or a named tuple's (``Recent``)."""
    fields = getattr(cls, "_fields", None)
    return fields if fields is not None else tuple(f.name for f in dataclasses.fields(cls))


def encode(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _field_names(type(obj)):
        v = getattr(obj, name)
        if isinstance(v, (date, datetime)):
            v = v.isoformat()
        elif name == "active_days":
            v = [d.isoformat() for d in v]
        elif isinstance(v, tuple):
            v = [list(x) if isinstance(x, tuple) else x for x in v]
        out[name] = v
    return out


_ENCODED: dict[int, tuple[Recent, orjson.Fragment]] = {}
_ENCODED_MAX = 100_000  # items (≈ 30 MB); past it the cache starts again


def encode_window(items: Any) -> list[orjson.Fragment]:
    """A window's ``Recent`` items as JSON, each item serialised once for as long as it stays in windows.

    Every window a transaction touched is written back whole at its commit: a member's window of
    60 messages was encoded again each time they spoke (a tenth of the live rules worker). Each
    item's JSON is kept (``orjson.Fragment``, embedded as is by the JSON columns' serialiser), so a
    commit encodes only the new messages. Kept by the item's identity, with the item: hashing the
    item's fields for every look-up cost more than it saved in a rebuild, whose transactions are
    large enough that most items are written once anyway. The stored text is byte for byte what
    encoding the items' dicts gives."""
    cache = _ENCODED
    if len(cache) > _ENCODED_MAX:
        cache.clear()
    out = []
    for r in items:
        kept = cache.get(id(r))
        if kept is None or kept[0] is not r:
            doc = dict(zip(Recent._fields, r))
            doc["time"] = r.time.isoformat()  # the only field that is not already JSON
            kept = cache[id(r)] = (r, orjson.Fragment(orjson.dumps(doc)))
        out.append(kept[1])
    return out


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert_statement(table: Any, dialect: str) -> Any:
    """``INSERT … ON CONFLICT (key) DO UPDATE SET every other column``, built once per table: building
    it (its ``excluded`` columns) cost more than executing it for a batch's few rows."""
    stmt = _UPSERTS.get((dialect, table.name))
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table)
        keys = [c.name for c in table.primary_key.columns]
        others = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = (stmt.on_conflict_do_update(index_elements=keys, set_=others) if others
                else stmt.on_conflict_do_nothing(index_elements=keys))
        _UPSERTS[(dialect, table.name)] = stmt
    return stmt


def decode(cls: type, doc: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for name in _field_names(cls):
        if name not in doc:
            continue
        v = doc[name]
        if v is not None and name in _DATES:
            v = date.fromisoformat(v)
        elif v is not None and name in _TIMES:
            v = datetime.fromisoformat(v)
        elif name == "active_days":
            v = tuple(date.fromisoformat(d) for d in v)
        elif isinstance(v, list):
            v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
        values[name] = v
    return cls(**values)


class SqlState:
    """The rules state in SQL. One instance per transaction."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # people
    def person(self, employee_id: str) -> Person | None:
        row = self.s.get(m.RulesPerson, employee_id)
        return decode(Person, row.doc) if row else None

    def person_by_account(self, platform: str, user_id: str) -> Person | None:
        acc = self.s.get(m.RulesAccount, (platform, user_id))
        return self.person(acc.employee_id) if acc else None

    def put_person(self, person: Person) -> None:
        self.s.execute(delete(m.RulesAccount).where(m.RulesAccount.employee_id == person.employee_id))
        self.s.merge(m.RulesPerson(employee_id=person.employee_id, doc=encode(person)))
        for platform, user in person.accounts:
            self.s.merge(m.RulesAccount(platform=platform, user_id=user, employee_id=person.employee_id))
        self.s.flush()

    def department(self, department_id: str) -> Department | None:
        row = self.s.get(m.RulesDepartment, department_id)
        return decode(Department, row.doc) if row else None

    def put_department(self, dept: Department) -> None:
        self.s.merge(m.RulesDepartment(department_id=dept.department_id, doc=encode(dept)))

    def approvals(self, platform: str, group_id: str, user_id: str) -> set[str]:
        q = select(m.RulesApproval.kind).where(m.RulesApproval.platform == platform,
                                               m.RulesApproval.group_id == group_id, m.RulesApproval.user_id == user_id)
        return set(self.s.scalars(q))

    def add_approval(self, platform: str, group_id: str, user_id: str, kind: str) -> None:
        self.s.merge(m.RulesApproval(platform=platform, group_id=group_id, user_id=user_id, kind=kind))

    # groups and members
    def group(self, platform: str, group_id: str) -> GroupRecord | None:
        row = self.s.get(m.RulesGroup, (platform, group_id))
        return decode(GroupRecord, row.doc) if row else None

    def put_group(self, group: GroupRecord) -> None:
        self.s.merge(m.RulesGroup(platform=group.platform, group_id=group.group_id, doc=encode(group)))

    def groups(self) -> list[GroupRecord]:
        q = select(m.RulesGroup).order_by(m.RulesGroup.platform, m.RulesGroup.group_id)
        return [decode(GroupRecord, r.doc) for r in self.s.scalars(q)]

    def member(self, platform: str, group_id: str, user_id: str) -> Membership | None:
        row = self.s.get(m.RulesMember, (platform, group_id, user_id))
        return decode(Membership, row.doc) if row else None

    def members(self, platform: str, group_id: str) -> list[Membership]:
        q = select(m.RulesMember).where(m.RulesMember.platform == platform, m.RulesMember.group_id == group_id
                                        ).order_by(m.RulesMember.user_id)
        return [decode(Membership, r.doc) for r in self.s.scalars(q)]

    def groups_of(self, platform: str, user_id: str) -> list[Membership]:
        q = select(m.RulesMember).where(m.RulesMember.platform == platform, m.RulesMember.user_id == user_id
                                        ).order_by(m.RulesMember.group_id)
        return [decode(Membership, r.doc) for r in self.s.scalars(q)]

    def put_member(self, mem: Membership) -> None:
        self.s.merge(m.RulesMember(platform=mem.platform, group_id=mem.group_id, user_id=mem.user_id, doc=encode(mem)))

    def drop_member(self, platform: str, group_id: str, user_id: str) -> None:
        row = self.s.get(m.RulesMember, (platform, group_id, user_id))
        if row is not None:
            self.s.delete(row)

    # windows and memory
    def window(self, key: str) -> list[Recent]:
        row = self.s.get(m.RulesWindow, key)
        return [decode(Recent, d) for d in row.items] if row else []

    def put_window(self, key: str, items: list[Recent]) -> None:
        self.s.merge(m.RulesWindow(key=key, items=[encode(r) for r in items]))

    def append_window(self, key: str, item: Recent, since: datetime, keep: int) -> None:
        self.put_window(key, trim([*self.window(key), item], since, keep))

    def seen_digest(self, key: str) -> tuple[datetime, str] | None:
        v = self.counter(f"digest:{key}")
        return (datetime.fromisoformat(v["t"]), v["e"]) if v else None

    def put_digest(self, key: str, time: datetime, event_id: str) -> None:
        self.put_counter(f"digest:{key}", {"t": time.isoformat(), "e": event_id})

    def counter(self, key: str) -> dict[str, Any]:
        row = self.s.get(m.RulesMemory, key)
        return dict(row.value) if row else {}

    def put_counter(self, key: str, value: dict[str, Any]) -> None:
        self.s.merge(m.RulesMemory(key=key, value=dict(value)))

    # timers: the ``rule_id`` column holds the timer's namespace ``{policy id}/{rule id}``
    # (``Timer.ns``); ``due`` is stored in UTC so SQLite, which keeps no offset, compares instants.
    def _timer(self, row: m.RulesTimer) -> Timer:
        return decode(Timer, row.doc)

    def timer(self, ns: str, key: str) -> Timer | None:
        row = self.s.get(m.RulesTimer, (ns, key))
        return self._timer(row) if row else None

    def put_timer(self, timer: Timer) -> None:
        self.s.merge(m.RulesTimer(rule_id=timer.ns, key=timer.key, scope=timer.scope, due=_utc(timer.due),
                                  fired=timer.fired, doc=encode(timer)))
        self.s.flush()

    def drop_timer(self, ns: str, key: str) -> None:
        row = self.s.get(m.RulesTimer, (ns, key))
        if row is not None:
            self.s.delete(row)
            self.s.flush()

    def due_timers(self, until: datetime, root: str | None = None) -> list[Timer]:
        q = select(m.RulesTimer).where(m.RulesTimer.due <= _utc(until), m.RulesTimer.fired.is_(False))
        if root is not None:  # the scope is the root or starts with "root|" (no LIKE: ids contain "_")
            q = q.where(or_(m.RulesTimer.scope == root,
                            func.substr(m.RulesTimer.scope, 1, len(root) + 1) == f"{root}|"))
        timers = []
        for row in self.s.scalars(q):
            t = self._timer(row)
            if row.rule_id != t.ns:  # written before timers were namespaced by policy: move it
                self.s.delete(row)
                self.s.flush()
                self.put_timer(t)
            timers.append(t)
        return sorted(timers, key=lambda t: (t.due, t.rule_id, t.key, t.policy_id))

    def timers_in(self, ns: str, scope: str) -> list[Timer]:
        q = select(m.RulesTimer).where(m.RulesTimer.rule_id == ns, m.RulesTimer.scope == scope
                                       ).order_by(m.RulesTimer.key)
        return [self._timer(r) for r in self.s.scalars(q)]

    def namespaces_in(self, scope: str) -> set[str]:
        return set(self.s.scalars(select(m.RulesTimer.rule_id).where(m.RulesTimer.scope == scope).distinct()))

    def prune_fired(self, before: datetime) -> None:
        self.s.execute(delete(m.RulesTimer).where(m.RulesTimer.fired.is_(True), m.RulesTimer.due < _utc(before)))

    # bulk write-through (the worker's in-memory state, ``cache.CachedState.flush``)
    def upsert(self, model: type, rows: list[dict[str, Any]]) -> None:
        """Insert or replace ``rows`` of ``model`` by primary key, a few statements for all of them.

        ``merge`` per key first SELECTs the row it replaces: two round trips and an ORM object per
        changed key, 40 % of the rules worker's CPU at commit. One ``INSERT … ON CONFLICT DO UPDATE``
        (SQLite ≥ 3.24 and PostgreSQL both have it) per 500 rows writes the same values.
        """
        if not rows:
            return
        stmt = _upsert_statement(model.__table__, self.s.get_bind().dialect.name)  # type: ignore[attr-defined]
        for start in range(0, len(rows), 500):
            self.s.execute(stmt, rows[start:start + 500])

    def delete_keys(self, model: type, keys: list[tuple[Any, ...]]) -> None:
        """Delete rows of ``model`` by primary key (no ORM load first)."""
        if not keys:
            return
        table = model.__table__  # type: ignore[attr-defined]
        columns = list(table.primary_key.columns)
        for key in keys:
            self.s.execute(delete(table).where(*(c == v for c, v in zip(columns, key, strict=True))))

    # idempotency and packs
    def flagged(self, violation_id: str) -> bool:
        return self.s.get(m.RulesFlagged, violation_id) is not None

    def mark_flagged(self, violation_id: str) -> None:
        self.s.merge(m.RulesFlagged(violation_id=violation_id))

    def packs(self) -> list[PolicyPack]:
        rows = self.s.execute(select(m.PolicyVersion.policy_id, m.PolicyVersion.version, m.PolicyVersion.sha256)
                              .order_by(m.PolicyVersion.policy_id, m.PolicyVersion.version)).all()
        out = []
        for policy_id, version, sha in rows:
            pack = _PACKS.get((policy_id, version, sha))  # type: ignore[call-overload]
            if pack is None:
                row = self.s.get(m.PolicyVersion, (policy_id, version))
                pack = _PACKS[(policy_id, version, sha)] = PolicyPack.model_validate(row.doc)  # type: ignore[index]
            out.append(pack)
        return out

    def put_pack(self, pack: Any) -> None:
        """Packs are stored by the PolicyPublished handler with their publication metadata."""
