"""The calling convention every detector follows, and the registry from pack detector names to code.

A detector is a pure function ``fn(rule, inp, state) -> list[Output]``:

- ``rule`` (:class:`ActiveRule`): the rule of the pack in force at the event's time, with its
  ``params`` already validated by the detector's own pydantic model (so ``qg policy check`` reports a
  bad parameter with its path, e.g. ``rules[3].params.within``);
- ``inp`` (:class:`Input`): the event being evaluated plus the facts the engine resolved for it
  (the actor as an employee, the group as registered, the organisation settings, the pack runtime);
- ``state`` (:class:`StateView`): a read-only view of the rules state (recent-message windows, ad
  hashes, memberships…). Detectors never write state, never do IO and never read the wall clock:
  "now" is ``inp.time``, the event time.

It returns findings (:class:`Finding`, which become ``ViolationDetected`` or ``MeritDetected``) and,
for rules that are about something *not* happening in time (reply SLAs, removal deadlines), timer
requests (:class:`TimerSet`, :class:`TimerCancel`) that the engine stores and fires later, and notes to
itself (:class:`Remember`) that the engine stores in the rule's memory.

Register a detector with ``@detector("lexicon", on=(MessagePosted,), params=LexiconParams)``; the
name is what packs write in ``rules[].detector``.

Most rules have nothing to say about most messages (no lexicon hit, no digit, nobody waiting for an
answer). A detector may declare a *precondition* for messages, ``when=fn(inp, state) -> bool``: a cheap
test that must hold for the detector to return anything for that message. The engine evaluates each
distinct precondition once per message and pack (all thirteen lexicon rules share
``has_lexicon_hits``) and calls only the detectors whose precondition holds; timers and roster or
membership events always reach the detector. A precondition must never be false when the detector
would have found something: ``tests/unit/rules/test_preconditions.py`` checks each one against its
detector on a realistic stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from contracts.base import Payload
from contracts.chat import MessagePosted
from contracts.violations import Evidence, Severity

if TYPE_CHECKING:  # pragma: no cover - typing only, avoids an import cycle with the engine
    from services.rules.policy.model import Organisation, PolicyPack, RuleSpec, Scope
    from services.rules.state import (
        Department,
        GroupRecord,
        Membership,
        Person,
        Recent,
        Timer,
    )


class NoParams(BaseModel):
    """Params model of a detector that takes none: anything given is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Finding:
    """One rule broken (or, ``kind="merit"``, one merit earned) by one actor.

    ``causing_event_ids`` are the events that together break the rule; with ``rule_id`` they make the
    violation id, so reprocessing the same events yields the same violation once. ``dedupe`` adds
    parts to that id when one event can break one rule several times (e.g. one per departed member).
    """

    rule_id: str
    category: str
    severity: Severity
    evidence: Evidence
    platform: str
    occurred_at: datetime
    causing_event_ids: tuple[str, ...]
    group_id: str | None = None
    user_id: str | None = None
    employee_id: str | None = None
    liable_employee_ids: tuple[str, ...] = ()
    needs_review: bool = False
    dedupe: tuple[str, ...] = ()
    kind: Literal["violation", "merit"] = "violation"
    merit_kind: str | None = None


@dataclass(frozen=True)
class TimerSet:
    """Ask the engine to call the rule's detector again at ``due`` (event time) with ``data``.

    ``key`` identifies the timer within the rule (e.g. the question's message id); setting an
    existing key replaces it. ``scope`` indexes it for :meth:`StateView.timers_in` (e.g. the group
    ref, so a reply in that group finds the questions waiting for it). When the timer fires, the detector receives an ``Input`` whose
    ``event`` is a :class:`TimerFired`.
    """

    key: str
    due: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    causing_event_ids: tuple[str, ...] = ()
    scope: str = ""


@dataclass(frozen=True)
class TimerCancel:
    """Cancel the rule's timer ``key`` if the thing it waits for happened at ``at`` before it is due.

    The engine compares event times, not processing order: a reply processed after the deadline
    passed but posted before it still cancels the timer (and retracts nothing, since a fired timer
    whose cancel arrives later is only emitted once ``at`` is known to be after ``due``).
    """

    key: str
    at: datetime


@dataclass(frozen=True)
class Remember:
    """Ask the engine to store ``value`` under the rule's own memory ``key`` (read it back with
    ``state.counter(rule.memory_key(key))``): "already reminded tonight", "days shared this month"."""

    key: str
    value: Mapping[str, Any]


Output = Finding | TimerSet | TimerCancel | Remember


@dataclass(frozen=True)
class TimerFired:
    """The synthetic event a detector receives when one of its timers comes due (built by the engine
    from its own stored timer, so a plain record: nothing to validate, and it is built per firing)."""

    rule_id: str
    key: str
    due: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    causing_event_ids: tuple[str, ...] = ()


class StateView(Protocol):
    """What detectors may read of the rules state (see ``services.rules.state``)."""

    def person_by_account(self, platform: str, user_id: str) -> Person | None: ...
    def person(self, employee_id: str) -> Person | None: ...
    def group(self, platform: str, group_id: str) -> GroupRecord | None: ...
    def groups(self) -> list[GroupRecord]: ...
    def department(self, department_id: str) -> Department | None: ...
    def member(self, platform: str, group_id: str, user_id: str) -> Membership | None: ...
    def members(self, platform: str, group_id: str) -> list[Membership]: ...
    def groups_of(self, platform: str, user_id: str) -> list[Membership]: ...
    def approvals(self, platform: str, group_id: str, user_id: str) -> set[str]: ...
    def window(self, key: str) -> Sequence[Recent]: ...
    def seen_digest(self, key: str) -> tuple[datetime, str] | None: ...
    def counter(self, key: str) -> dict[str, Any]: ...
    def timers_in(self, ns: str, scope: str) -> list[Timer]: ...
    def namespaces_in(self, scope: str) -> set[str]: ...
    def timer(self, ns: str, key: str) -> Timer | None: ...


class PackRuntime(Protocol):
    """Per pack version: the pack and a cache for compiled resources (matchers, regexes)."""

    @property
    def pack(self) -> PolicyPack: ...
    def cached(self, key: str, factory: Callable[[], Any]) -> Any: ...
    def derived(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(runtime)`` computed once per pack version, keyed by ``fn`` (the hot preconditions)."""
        ...


class Input:
    """The event under evaluation with the facts the engine resolved for it.

    Treat it as read-only. A plain class rather than a frozen dataclass because one is built per
    event and pack (a frozen ``__init__`` costs a generic ``object.__setattr__`` per field) and the
    per-message facts every rule asks for (the message, its text, the local time) are computed once
    here instead of through ``cached_property`` (which takes a lock on Python 3.11).
    """

    __slots__ = (
        "_local",
        "actor",
        "event",
        "event_id",
        "group",
        "group_id",
        "member_ref",
        "memo",
        "message",
        "platform",
        "ref",
        "runtime",
        "text",
        "time",
        "user_id",
    )

    def __init__(self, event: Payload | TimerFired, event_id: str, time: datetime, runtime: PackRuntime,
                 platform: str | None = None, group_id: str | None = None, user_id: str | None = None,
                 actor: Person | None = None, group: GroupRecord | None = None) -> None:
        self.event = event
        self.event_id = event_id
        self.time = time
        self.runtime = runtime
        self.platform = platform
        self.group_id = group_id
        self.user_id = user_id
        self.actor = actor
        self.group = group
        #: Work shared by the rules evaluating this event under this pack (e.g. the lexicon scan,
        #: computed once and read by every lexicon rule). Detectors key it by what they store.
        self.memo: dict[str, Any] = {}
        #: The event as a message, or None.
        self.message: MessagePosted | None = event if isinstance(event, MessagePosted) else None
        #: The message's text ("" for other events and text-less messages).
        self.text: str = (event.text or "") if self.message is not None else ""  # type: ignore[union-attr]
        self._local: datetime | None = None
        #: ``{platform}:{group_id}``, the group's ref: the key of its window, its timers' scope and
        #: root. Built once here because nearly every rule that sees a message asks for it.
        self.ref = ref = f"{platform}:{group_id}"
        #: ``{ref}|{user_id}``: the sender's membership, the key of their window and of the timers
        #: waiting for them.
        self.member_ref = f"{ref}|{user_id}"

    def __repr__(self) -> str:
        return f"Input({type(self.event).__name__}, {self.event_id!r}, {self.time.isoformat()})"

    @property
    def org(self) -> Organisation:
        return self.runtime.pack.organisation

    @property
    def local(self) -> datetime:
        """The event time in the organisation's zone (computed once: quiet hours, days, shares ask)."""
        local = self._local
        if local is None:
            local = self._local = self.time.astimezone(self.runtime.tz)  # type: ignore[attr-defined]
        return local

    @property
    def hhmm(self) -> str:
        """``HH:MM`` of :attr:`local` (the runtime remembers it per minute)."""
        return self.runtime.hhmm(self.time)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ActiveRule:
    """A rule of the pack in force, with its validated params and the pack's identity."""

    spec: RuleSpec
    params: Any
    policy_id: str
    policy_version: int
    pack_scope: Scope | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @cached_property
    def timer_ns(self) -> str:
        """Where this rule's timers live: ``{policy id}/{rule id}``. Rule ids are unique within a
        pack only; two packs in force may both define ``member.departed_not_removed``, and each must
        keep (and fire) its own deadlines."""
        return f"{self.policy_id}/{self.spec.id}"

    def covers(self, g: GroupRecord) -> bool:
        """Whether the pack's scope and the rule's scope both include group ``g`` (for detectors that
        pick groups themselves, e.g. every group of a departed employee)."""
        category = g.category if g.registered else None
        if self.pack_scope is not None and not self.pack_scope.covers(category, g.platform, g.ref):
            return False
        return self.spec.scope.covers(category, g.platform, g.ref)

    def memory_key(self, key: str) -> str:
        """Where :class:`Remember` stores ``key`` for this rule (per policy id and rule id)."""
        return f"{self.policy_id}/{self.spec.id}/{key}"

    def finding(self, inp: Input, evidence: Evidence, **overrides: Any) -> Finding:
        """A finding of this rule about ``inp``'s actor, group and event; override any field."""
        values: dict[str, Any] = {
            "rule_id": self.spec.id, "category": self.spec.category, "severity": self.spec.severity,
            "evidence": evidence, "platform": inp.platform or "other", "occurred_at": inp.time,
            "causing_event_ids": (inp.event_id,), "group_id": inp.group_id, "user_id": inp.user_id,
            "employee_id": inp.actor.employee_id if inp.actor else None,
            "needs_review": self.spec.needs_review,
        }
        values.update(overrides)
        return Finding(**values)


DetectorFn = Callable[[ActiveRule, Input, StateView], list[Output]]
#: A detector's precondition for messages: false means "this detector would return nothing".
Precondition = Callable[[Input, StateView], bool]


@dataclass(frozen=True)
class DetectorDef:
    name: str
    fn: DetectorFn
    on: tuple[type, ...]
    params: type[BaseModel]
    doc: str
    when: Precondition | None = None


REGISTRY: dict[str, DetectorDef] = {}


def detector(name: str, *, on: tuple[type, ...], params: type[BaseModel] = NoParams,
             when: Precondition | None = None) -> Callable[[DetectorFn], DetectorFn]:
    """Register ``fn`` as the detector packs call ``name``; ``on`` lists the payload types it sees.

    Include :class:`TimerFired` in ``on`` when the detector sets timers. ``when`` is its precondition
    for messages (see the module docstring); share one function between detectors that need the same
    thing, so the engine evaluates it once per message.
    """

    def register(fn: DetectorFn) -> DetectorFn:
        if name in REGISTRY and REGISTRY[name].fn is not fn:
            raise TypeError(f"duplicate detector {name!r}")
        REGISTRY[name] = DetectorDef(name, fn, tuple(on), params, (fn.__doc__ or "").strip(), when)
        return fn

    return register


def load_all() -> dict[str, DetectorDef]:
    """Import every detector module so the registry is complete; returns it."""
    import importlib
    import pkgutil

    import services.rules.detectors as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name != "base":
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return REGISTRY
