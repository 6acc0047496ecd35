"""The rules state held in memory by the worker, written through to SQL once per transaction.

Reading the state from SQL costs the engine about a dozen queries per message (who is the sender,
which group, which timers wait for them, the recent windows, …): 12 ms of CPU against the engine's
0.1 ms. So the worker keeps a :class:`MemoryState` loaded from the rules tables, evaluates against
it, and writes what changed back to SQL in the same transaction as the inbox and the outbox, once
per key at commit. SQL stays the truth: APIs, rebuilds and a restarted worker read it.

A process trusts its memory only while nobody else wrote the state. Every transaction that uses the
cache first bumps the single ``rules_state_version`` row (which also serialises such transactions
across processes) and compares the new number with the one it expects:

- the previous transaction of this process committed → the number is ours + 1 → memory is current;
- it rolled back (a handler failed, the database went away) → the bump was lost → reload;
- another process (a second replica, a rebuild) wrote in between → reload.

So two replicas stay correct, but they take turns; the rules worker scales up, not out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event, select, update
from sqlmodel import Session

from services.rules import models as m
from services.rules.state import Department, GroupRecord, Membership, MemoryState, Person, Recent, Timer
from services.rules.store import SqlState, _utc, decode, encode, encode_window

_INFO_KEY = "rules.state"
_PACKS_KEY = "rules.packs"


def load(session: Session) -> MemoryState:
    """The whole rules state read from SQL into memory."""
    st = MemoryState()
    for row in session.scalars(select(m.RulesPerson)):
        st.put_person(decode(Person, row.doc))
    for row in session.scalars(select(m.RulesDepartment)):
        st.put_department(decode(Department, row.doc))
    for row in session.scalars(select(m.RulesApproval)):
        st.add_approval(row.platform, row.group_id, row.user_id, row.kind)
    for row in session.scalars(select(m.RulesGroup)):
        st.put_group(decode(GroupRecord, row.doc))
    for row in session.scalars(select(m.RulesMember)):
        st.put_member(decode(Membership, row.doc))
    for row in session.scalars(select(m.RulesWindow)):
        st.put_window(row.key, [decode(Recent, d) for d in row.items])
    for row in session.scalars(select(m.RulesMemory)):
        if row.key.startswith("digest:"):  # SqlState keeps digests as counters under this prefix
            st.put_digest(row.key.removeprefix("digest:"), datetime.fromisoformat(row.value["t"]), row.value["e"])
        else:
            st.put_counter(row.key, row.value)
    for row in session.scalars(select(m.RulesTimer)):
        st.put_timer(decode(Timer, row.doc))
    for vid in session.scalars(select(m.RulesFlagged.violation_id)):
        st.mark_flagged(vid)
    return st


class StateCache:
    """One per worker process and database: the memory copy and the version it was last written at."""

    def __init__(self) -> None:
        self.memory: MemoryState | None = None
        self.version: int | None = None
        self.loads = 0  # how often the state was (re)loaded: tests and metrics read it

    def state(self, session: Session) -> CachedState:
        """The state for this transaction (the same object for every record of a batch)."""
        st = session.info.get(_INFO_KEY)
        if st is not None:
            return st
        version = _bump(session)
        if self.memory is None or self.version is None or version != self.version + 1:
            self.memory = load(session)
            self.loads += 1
        self.version = version
        st = session.info[_INFO_KEY] = CachedState(self.memory, SqlState(session))
        event.listen(session, "before_commit", lambda s: st.flush())
        return st


_CACHES: WeakKeyDictionary[Engine, StateCache] = WeakKeyDictionary()


def cached_state(session: Session) -> CachedState:
    """The transaction's state from the cache of its database (one per engine: tests and tools may
    open several databases in one process)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = StateCache()
    return cache.state(session)


def cache_of(engine: Engine) -> StateCache | None:
    return _CACHES.get(engine)


def _bump(session: Session) -> int:
    """Increment the state version (taking its row lock first) and return the new number."""
    t = m.RulesStateVersion
    if session.execute(update(t).where(t.id == 1).values(version=t.version + 1)).rowcount == 0:
        session.add(t(id=1, version=1))
        session.flush()
    return session.execute(select(t.version).where(t.id == 1)).scalar_one()


def forget_packs(session: Session) -> None:
    """A pack was stored in this transaction: the next evaluation re-reads the list."""
    session.info.pop(_PACKS_KEY, None)


class CachedState:
    """``RulesState`` reading memory and remembering what it changed; :meth:`flush` writes the final
    value of each changed key to SQL (at commit, once per key however often the batch changed it)."""

    def __init__(self, memory: MemoryState, sql: SqlState) -> None:
        self.mem, self.sql = memory, sql
        self._dirty: dict[tuple[str, Any], None] = {}  # insertion-ordered set

    # reads: memory
    def person(self, employee_id: str) -> Person | None:
        return self.mem.person(employee_id)

    def person_by_account(self, platform: str, user_id: str) -> Person | None:
        return self.mem.person_by_account(platform, user_id)

    def department(self, department_id: str) -> Department | None:
        return self.mem.department(department_id)

    def approvals(self, platform: str, group_id: str, user_id: str) -> set[str]:
        return self.mem.approvals(platform, group_id, user_id)

    def group(self, platform: str, group_id: str) -> GroupRecord | None:
        return self.mem.group(platform, group_id)

    def groups(self) -> list[GroupRecord]:
        return self.mem.groups()

    def member(self, platform: str, group_id: str, user_id: str) -> Membership | None:
        return self.mem.member(platform, group_id, user_id)

    def members(self, platform: str, group_id: str) -> list[Membership]:
        return self.mem.members(platform, group_id)

    def groups_of(self, platform: str, user_id: str) -> list[Membership]:
        return self.mem.groups_of(platform, user_id)

    def window(self, key: str):  # noqa: ANN201 - the Protocol's Sequence[Recent]
        return self.mem.window(key)

    def seen_digest(self, key: str) -> tuple[datetime, str] | None:
        return self.mem.seen_digest(key)

    def counter(self, key: str) -> dict[str, Any]:
        return self.mem.counter(key)

    def timer(self, ns: str, key: str) -> Timer | None:
        return self.mem.timer(ns, key)

    def due_timers(self, until: datetime, root: str | None = None) -> list[Timer]:
        return self.mem.due_timers(until, root)

    def timers_in(self, ns: str, scope: str) -> list[Timer]:
        return self.mem.timers_in(ns, scope)

    def namespaces_in(self, scope: str) -> set[str]:
        return self.mem.namespaces_in(scope)

    def flagged(self, violation_id: str) -> bool:
        return self.mem.flagged(violation_id)

    def packs(self) -> list[Any]:
        """Packs come from SQL (the API stores published packs itself), read once per transaction."""
        info = self.sql.s.info
        if _PACKS_KEY not in info:
            info[_PACKS_KEY] = self.sql.packs()
        return info[_PACKS_KEY]

    # writes: memory now, SQL at flush
    def put_person(self, person: Person) -> None:
        self.mem.put_person(person)
        self._dirty[("person", person.employee_id)] = None

    def put_department(self, dept: Department) -> None:
        self.mem.put_department(dept)
        self._dirty[("department", dept.department_id)] = None

    def add_approval(self, platform: str, group_id: str, user_id: str, kind: str) -> None:
        self.mem.add_approval(platform, group_id, user_id, kind)
        self._dirty[("approval", (platform, group_id, user_id, kind))] = None

    def put_group(self, group: GroupRecord) -> None:
        self.mem.put_group(group)
        self._dirty[("group", (group.platform, group.group_id))] = None

    def put_member(self, mem: Membership) -> None:
        self.mem.put_member(mem)
        self._dirty[("member", (mem.platform, mem.group_id, mem.user_id))] = None

    def drop_member(self, platform: str, group_id: str, user_id: str) -> None:
        self.mem.drop_member(platform, group_id, user_id)
        self._dirty[("member", (platform, group_id, user_id))] = None

    def put_window(self, key: str, items: list[Recent]) -> None:
        self.mem.put_window(key, items)
        self._dirty[("window", key)] = None

    def append_window(self, key: str, item: Recent, since: datetime, keep: int) -> None:
        self.mem.append_window(key, item, since, keep)
        self._dirty[("window", key)] = None

    def put_digest(self, key: str, time: datetime, event_id: str) -> None:
        self.mem.put_digest(key, time, event_id)
        self._dirty[("digest", key)] = None

    def put_counter(self, key: str, value: dict[str, Any]) -> None:
        self.mem.put_counter(key, value)
        self._dirty[("counter", key)] = None

    def put_timer(self, timer: Timer) -> None:
        self.mem.put_timer(timer)
        self._dirty[("timer", (timer.ns, timer.key))] = None

    def drop_timer(self, ns: str, key: str) -> None:
        self.mem.drop_timer(ns, key)
        self._dirty[("timer", (ns, key))] = None

    def prune_fired(self, before: datetime) -> None:
        self.mem.prune_fired(before)
        self.sql.prune_fired(before)  # one DELETE; a pruned key still dirty is dropped again at flush

    def put_pack(self, pack: Any) -> None:
        self.mem.put_pack(pack)  # stored in SQL by the PolicyPublished handler

    def mark_flagged(self, violation_id: str) -> None:
        self.mem.mark_flagged(violation_id)
        self._dirty[("flagged", violation_id)] = None

    def flush(self) -> None:
        """Write each changed key's current value (or its absence) to SQL: one upsert per table for
        all the keys of the transaction (people and approvals, rare, row by row)."""
        mem, sql = self.mem, self.sql
        puts: dict[type, list[dict[str, Any]]] = {}
        drops: dict[type, list[tuple[Any, ...]]] = {}

        def put(model: type, **row: Any) -> None:
            puts.setdefault(model, []).append(row)

        for kind, key in self._dirty:
            if kind == "person":
                sql.put_person(mem.person(key))  # people are never removed, only marked departed
            elif kind == "department":
                put(m.RulesDepartment, department_id=key, doc=encode(mem.department(key)))
            elif kind == "approval":
                sql.add_approval(*key)
            elif kind == "group":
                put(m.RulesGroup, platform=key[0], group_id=key[1], doc=encode(mem.group(*key)))
            elif kind == "member":
                found = mem.member(*key)
                if found is None:
                    drops.setdefault(m.RulesMember, []).append(key)
                else:
                    put(m.RulesMember, platform=key[0], group_id=key[1], user_id=key[2], doc=encode(found))
            elif kind == "window":
                put(m.RulesWindow, key=key, items=encode_window(mem.window(key)))
            elif kind == "digest":
                time, event_id = mem.seen_digest(key)
                put(m.RulesMemory, key=f"digest:{key}", value={"t": time.isoformat(), "e": event_id})
            elif kind == "counter":
                put(m.RulesMemory, key=key, value=dict(mem.counter(key)))
            elif kind == "timer":
                timer = mem.timer(*key)
                if timer is None:
                    drops.setdefault(m.RulesTimer, []).append(key)
                else:
                    put(m.RulesTimer, rule_id=timer.ns, key=timer.key, scope=timer.scope, due=_utc(timer.due),
                        fired=timer.fired, doc=encode(timer))
            elif kind == "flagged":
                put(m.RulesFlagged, violation_id=key)
        self.sql.s.flush()  # rows the ORM still holds (people, approvals) first, then the bulk writes
        for model, keys in drops.items():
            sql.delete_keys(model, keys)
        for model, rows in puts.items():
            sql.upsert(model, rows)
        self._dirty.clear()
