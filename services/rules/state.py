"""The rules state: the facts the engine folds from events, behind one small repository interface.

The engine is pure: it reads and writes this state only through :class:`RulesState`. The worker
backs it with SQL tables (``models.py``) inside the record's transaction; the what-if replay and the
unit tests back it with :class:`MemoryState`. Both implement the same methods, so the same engine
code runs in production, in the sandbox and in tests.

Everything here is keyed by event time: windows hold (time, event id) pairs and timers a due time.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol


def evolve(record: Any, **changes: Any) -> Any:
    """A copy of a frozen record with ``changes`` (``dataclasses.replace`` without re-running
    ``__init__`` or ``copy.copy``'s generic protocol: the fold runs once per message, so this is on
    the hot path). Records are plain (non-slots) dataclasses."""
    new = object.__new__(type(record))
    fields = new.__dict__
    fields.update(record.__dict__)
    fields.update(changes)
    return new


@dataclass(frozen=True)
class Person:
    """An employee as the roster last described them (only what rules need)."""

    employee_id: str
    name: str
    department_id: str | None = None
    department: str | None = None
    level: str = "staff"
    status: str = "regular"
    manager_id: str | None = None
    hire_date: date | None = None
    leave_date: date | None = None
    handover_date: date | None = None
    old_department_id: str | None = None
    accounts: tuple[tuple[str, str], ...] = ()

    @property
    def is_leader(self) -> bool:
        return self.level in ("manager", "executive")


@dataclass(frozen=True)
class Department:
    department_id: str
    name: str
    head_id: str | None = None
    parent_id: str | None = None


@dataclass(frozen=True)
class GroupRecord:
    """A chat group as seen in chat events and the registry (``info`` set once registered)."""

    platform: str
    group_id: str
    name: str | None = None
    created_at: datetime | None = None
    creator_user_id: str | None = None
    created_event_id: str | None = None
    first_seen: datetime | None = None
    registered: bool = False
    category: str | None = None
    owner_employee_id: str | None = None
    admin_employee_ids: tuple[str, ...] = ()
    department_id: str | None = None
    lifetime: str = "permanent"
    end_date: date | None = None
    required: bool = False
    retired: bool = False
    dissolved: bool = False
    owner_user_id: str | None = None
    admin_user_ids: tuple[str, ...] = ()
    active_days: tuple[date, ...] = ()
    last_message_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.platform}:{self.group_id}"

    def evolve(self, **changes: Any) -> GroupRecord:
        return evolve(self, **changes)


@dataclass(frozen=True)
class Membership:
    platform: str
    group_id: str
    user_id: str
    nickname: str | None = None
    joined_at: datetime | None = None
    joined_event_id: str | None = None
    invited_by: str | None = None
    last_spoke_at: datetime | None = None
    role: str = "member"


@dataclass(frozen=True)
class Timer:
    """A deadline a rule waits for; fires when an event time or a clock tick passes ``due``."""

    rule_id: str
    key: str
    due: datetime
    data: dict[str, Any] = field(default_factory=dict)
    causing_event_ids: tuple[str, ...] = ()
    policy_id: str = ""
    policy_version: int = 0
    scope: str = ""
    fired: bool = False
    violation_ids: tuple[str, ...] = ()

    @property
    def ns(self) -> str:
        """The timer's namespace, ``{policy id}/{rule id}``: with ``key`` its identity in the state."""
        return f"{self.policy_id}/{self.rule_id}"

    @property
    def root(self) -> str:
        """Whose stream of events may fire it: the first part of its scope (a group ref such as
        ``wecom:sales``, or an employee id). See ``engine.evaluate``."""
        return root_of(self.scope or self.key)


def root_of(scope: str) -> str:
    return scope.split("|", 1)[0]


class Recent(NamedTuple):
    """One message in a recent-activity window (for flooding, back-and-forth, copies).

    A named tuple rather than a frozen dataclass like the other records: the fold builds one per
    message and the windows keep tens of thousands of them. A tuple is built without a generic
    ``__setattr__`` per field and reads its fields through C accessors. (It is still tracked by the
    garbage collector: CPython untracks only exact tuples, not subclasses.)"""

    time: datetime
    event_id: str
    user_id: str
    msg_type: str = "text"
    digest: str | None = None
    text: str | None = None


class RulesState(Protocol):
    """Read and write access to the rules state. Implementations never commit on their own."""

    # people and departments
    def person(self, employee_id: str) -> Person | None: ...
    def person_by_account(self, platform: str, user_id: str) -> Person | None: ...
    def put_person(self, person: Person) -> None: ...
    def department(self, department_id: str) -> Department | None: ...
    def put_department(self, dept: Department) -> None: ...
    def approvals(self, platform: str, group_id: str, user_id: str) -> set[str]: ...
    def add_approval(self, platform: str, group_id: str, user_id: str, kind: str) -> None: ...
    # groups and members
    def group(self, platform: str, group_id: str) -> GroupRecord | None: ...
    def put_group(self, group: GroupRecord) -> None: ...
    def groups(self) -> list[GroupRecord]: ...
    def member(self, platform: str, group_id: str, user_id: str) -> Membership | None: ...
    def members(self, platform: str, group_id: str) -> list[Membership]: ...
    def groups_of(self, platform: str, user_id: str) -> list[Membership]: ...
    def put_member(self, m: Membership) -> None: ...
    def drop_member(self, platform: str, group_id: str, user_id: str) -> None: ...
    # recent activity
    def window(self, key: str) -> Sequence[Recent]:
        """The window in time order. Read-only: callers never mutate what they get."""
        ...
    def put_window(self, key: str, items: list[Recent]) -> None: ...
    def append_window(self, key: str, item: Recent, since: datetime, keep: int) -> None:
        """Append ``item`` and keep only items at or after ``since``, at most the last ``keep``."""
        ...
    def seen_digest(self, key: str) -> tuple[datetime, str] | None: ...
    def put_digest(self, key: str, time: datetime, event_id: str) -> None: ...
    def counter(self, key: str) -> dict[str, Any]: ...
    def put_counter(self, key: str, value: dict[str, Any]) -> None: ...
    # timers, addressed by namespace ``{policy id}/{rule id}`` (``Timer.ns``) and key
    def timer(self, ns: str, key: str) -> Timer | None: ...
    def put_timer(self, timer: Timer) -> None: ...
    def drop_timer(self, ns: str, key: str) -> None: ...
    def due_timers(self, until: datetime, root: str | None = None) -> list[Timer]:
        """Unfired timers due by ``until``, oldest first; only those of ``root`` when given."""
        ...
    def timers_in(self, ns: str, scope: str) -> list[Timer]:
        """Timers of a rule in a scope, fired ones included (a late answer may still retract them)."""
        ...
    def namespaces_in(self, scope: str) -> set[str]:
        """The namespaces (``{policy id}/{rule id}``) with at least one timer in ``scope``, fired ones
        included: one look-up tells a message whether any reply rule waits for its sender."""
        ...
    def prune_fired(self, before: datetime) -> None:
        """Forget fired timers due before ``before`` (too old for a late answer to matter)."""
        ...
    # published policy packs
    def packs(self) -> list[Any]: ...
    def put_pack(self, pack: Any) -> None: ...
    # violations already flagged (idempotency)
    def flagged(self, violation_id: str) -> bool: ...
    def mark_flagged(self, violation_id: str) -> None: ...


_NONE: frozenset[str] = frozenset()


class MemoryState:
    """The in-memory implementation: unit tests, the replay sandbox and benchmarks."""

    def __init__(self) -> None:
        self._people: dict[str, Person] = {}
        self._accounts: dict[tuple[str, str], str] = {}
        self._depts: dict[str, Department] = {}
        self._approvals: dict[tuple[str, str, str], set[str]] = {}
        self._groups: dict[tuple[str, str], GroupRecord] = {}
        self._members: dict[tuple[str, str], dict[str, Membership]] = {}
        self._windows: dict[str, list[Recent]] = {}
        self._digests: dict[str, tuple[datetime, str]] = {}
        self._counters: dict[str, dict[str, Any]] = {}
        self._timers: dict[tuple[str, str], Timer] = {}
        self._scoped: dict[tuple[str, str], set[str]] = {}
        self._ns_in: dict[str, set[str]] = {}  # scope -> namespaces with a timer there (from _scoped)
        self._flagged: set[str] = set()
        self._packs: dict[tuple[str, int], Any] = {}
        self._pack_list: list[Any] = []
        self._heaps: dict[str, list[tuple[datetime, str, str]]] = {}  # per root (Timer.root)
        self._fired: list[tuple[datetime, str, str]] = []

    def person(self, employee_id: str) -> Person | None:
        return self._people.get(employee_id)

    def person_by_account(self, platform: str, user_id: str) -> Person | None:
        eid = self._accounts.get((platform, user_id))
        return self._people.get(eid) if eid else None

    def put_person(self, person: Person) -> None:
        old = self._people.get(person.employee_id)
        if old:
            for acc in old.accounts:
                self._accounts.pop(acc, None)
        self._people[person.employee_id] = person
        for acc in person.accounts:
            self._accounts[acc] = person.employee_id

    def department(self, department_id: str) -> Department | None:
        return self._depts.get(department_id)

    def put_department(self, dept: Department) -> None:
        self._depts[dept.department_id] = dept

    def approvals(self, platform: str, group_id: str, user_id: str) -> set[str]:
        return set(self._approvals.get((platform, group_id, user_id), set()))

    def add_approval(self, platform: str, group_id: str, user_id: str, kind: str) -> None:
        self._approvals.setdefault((platform, group_id, user_id), set()).add(kind)

    def group(self, platform: str, group_id: str) -> GroupRecord | None:
        return self._groups.get((platform, group_id))

    def put_group(self, group: GroupRecord) -> None:
        self._groups[(group.platform, group.group_id)] = group

    def groups(self) -> list[GroupRecord]:
        return [self._groups[k] for k in sorted(self._groups)]

    def member(self, platform: str, group_id: str, user_id: str) -> Membership | None:
        found = self._members.get((platform, group_id))
        return found.get(user_id) if found is not None else None

    def members(self, platform: str, group_id: str) -> list[Membership]:
        found = self._members.get((platform, group_id), {})
        return [found[u] for u in sorted(found)]

    def groups_of(self, platform: str, user_id: str) -> list[Membership]:
        out = [ms[user_id] for (p, _), ms in self._members.items() if p == platform and user_id in ms]
        return sorted(out, key=lambda m: m.group_id)

    def put_member(self, m: Membership) -> None:
        self._members.setdefault((m.platform, m.group_id), {})[m.user_id] = m

    def drop_member(self, platform: str, group_id: str, user_id: str) -> None:
        self._members.get((platform, group_id), {}).pop(user_id, None)

    def window(self, key: str) -> Sequence[Recent]:
        return self._windows.get(key, ())

    def put_window(self, key: str, items: list[Recent]) -> None:
        self._windows[key] = list(items)

    def append_window(self, key: str, item: Recent, since: datetime, keep: int) -> None:
        items = self._windows.get(key)
        if items is None:
            self._windows[key] = [item]
            return
        items.append(item)
        n = len(items)
        if n <= keep and items[0].time >= since:
            return  # nothing to trim
        if n == keep + 1 and items[1].time >= since:
            del items[0]  # a full window drops its oldest item (most messages in a busy group)
            return
        start = 0
        while start < len(items) and items[start].time < since:
            start += 1
        start = max(start, len(items) - keep)
        if start:
            del items[:start]

    def seen_digest(self, key: str) -> tuple[datetime, str] | None:
        return self._digests.get(key)

    def put_digest(self, key: str, time: datetime, event_id: str) -> None:
        self._digests[key] = (time, event_id)

    def counter(self, key: str) -> dict[str, Any]:
        return dict(self._counters.get(key, {}))

    def put_counter(self, key: str, value: dict[str, Any]) -> None:
        self._counters[key] = dict(value)

    def timer(self, ns: str, key: str) -> Timer | None:
        return self._timers.get((ns, key))

    def put_timer(self, timer: Timer) -> None:
        ns = timer.ns  # a property: built once here
        ident = (ns, timer.key)
        old = self._timers.get(ident)
        self._timers[ident] = timer
        if not timer.fired and (old is None or old.due != timer.due or old.fired):
            heapq.heappush(self._heaps.setdefault(timer.root, []), (timer.due, ns, timer.key))
        elif timer.fired and (old is None or not old.fired):
            heapq.heappush(self._fired, (timer.due, ns, timer.key))
        keys = self._scoped.get((ns, timer.scope))
        if keys is None:
            keys = self._scoped[(ns, timer.scope)] = set()
            self._ns_in.setdefault(timer.scope, set()).add(ns)
        keys.add(timer.key)

    def drop_timer(self, ns: str, key: str) -> None:
        old = self._timers.pop((ns, key), None)
        if old is not None:
            keys = self._scoped.get((ns, old.scope))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._scoped[(ns, old.scope)]
                    namespaces = self._ns_in[old.scope]
                    namespaces.discard(ns)
                    if not namespaces:
                        del self._ns_in[old.scope]

    def due_timers(self, until: datetime, root: str | None = None) -> list[Timer]:
        """Unfired timers due by ``until``, oldest first: a heap per root with lazy deletion keeps
        this O(log n), and an event looks at its own root's heap only (usually nothing is due: one
        look at the top of the heap)."""
        if root is not None:
            heap = self._heaps.get(root)
            if heap is None:
                return []
            if heap and heap[0][0] > until:
                return []
        found: dict[tuple[str, str], Timer] = {}
        roots = [root] if root is not None else list(self._heaps)
        for r in roots:
            heap = self._heaps.get(r)
            while heap and heap[0][0] <= until:
                _, ns, key = heapq.heappop(heap)
                t = self._timers.get((ns, key))
                if t is not None and not t.fired and t.due <= until:
                    found[(ns, key)] = t
            if heap is not None and not heap:
                del self._heaps[r]
        return sorted(found.values(), key=lambda t: (t.due, t.rule_id, t.key, t.policy_id))

    def timers_in(self, ns: str, scope: str) -> list[Timer]:
        keys = self._scoped.get((ns, scope))
        if not keys:  # the common case: nobody is waiting on this sender or group
            return []
        return [self._timers[(ns, k)] for k in sorted(keys) if (ns, k) in self._timers]

    def namespaces_in(self, scope: str) -> set[str]:
        return self._ns_in.get(scope, _NONE)

    def prune_fired(self, before: datetime) -> None:
        heap = self._fired
        while heap and heap[0][0] < before:
            _, ns, key = heapq.heappop(heap)
            t = self._timers.get((ns, key))
            if t is not None and t.fired and t.due < before:
                self.drop_timer(ns, key)

    def packs(self) -> list[Any]:
        """The same list object until a pack is added (never mutated in place: the engine's cache of
        packs in force compares it by identity first)."""
        return self._pack_list

    def put_pack(self, pack: Any) -> None:
        self._packs[(pack.id, pack.version)] = pack
        self._pack_list = [self._packs[k] for k in sorted(self._packs)]

    def flagged(self, violation_id: str) -> bool:
        return violation_id in self._flagged

    def mark_flagged(self, violation_id: str) -> None:
        self._flagged.add(violation_id)


def trim(items: list[Recent], since: datetime, keep: int | None = None) -> list[Recent]:
    """Items at or after ``since`` (and at most the last ``keep``), in time order."""
    start = 0
    while start < len(items) and items[start].time < since:  # windows are in time order: trim the front
        start += 1
    if keep and len(items) - start > keep:
        start = len(items) - keep
    return items[start:] if start else items


__all__ = ["Department", "GroupRecord", "Membership", "MemoryState", "Person", "Recent", "RulesState",
           "Timer", "root_of", "trim"]
