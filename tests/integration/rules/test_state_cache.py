"""The rules state held in memory and written through to SQL (``services.rules.cache``), on SQLite and
PostgreSQL: it must leave exactly the rows the plain SQL state leaves, and never trust a stale copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from contracts.envelope import CloudEvent
from contracts.policy import PolicyPublished
from services.common.db import create_tables, make_engine, session_scope
from services.rules import models as m
from services.rules.cache import cache_of, cached_state
from services.rules.engine import PolicyBook, evaluate
from services.rules.store import SqlState
from tests.unit.rules.conftest import staff
from tests.unit.rules.test_replay import Recorder
from tests.unit.rules.world import at

pytestmark = pytest.mark.integration


def a_week_of_events() -> list[CloudEvent]:
    """Roster, registrations, chat that opens and answers reply SLAs, floods, quiet hours, ticks."""
    world = Recorder()
    staff(world)
    for day in (3, 4, 5):
        for i in range(12):
            world.say("all", "liuyang", f"冲冲冲{i}", at(day, 10) + timedelta(seconds=3 * i))
        world.say("sales", "zhangzong", "@刘洋 合同今天下班前发我", at(day, 14), mentions=["liuyang"])
        if day != 4:
            world.say("sales", "liuyang", "好的，马上发", at(day, 14, 10))
        world.say("all", "chenchen", "还有人没睡吗", at(day, 23, 50))
        world.tick(at(day + 1, 9))
    return [r.event for r in world.recorded]  # the pack's PolicyPublished first


def feed(engine, events: list[CloudEvent], state_of, batch: int) -> list[str]:
    """Evaluate ``events`` in transactions of ``batch`` events; returns what was emitted (ids, in order)."""
    book, out = PolicyBook(), []
    for start in range(0, len(events), batch):
        with session_scope(engine) as s:
            for ev in events[start:start + batch]:
                p = ev.payload()
                if isinstance(p, PolicyPublished):
                    s.add(m.PolicyVersion(policy_id=p.policy_id, version=p.version, effective_from=p.effective_from,
                                          sha256=p.sha256, published_by="test", published_at=ev.time,
                                          event_id=ev.id, doc=p.pack))
                    s.flush()
                    s.info.pop("rules.packs", None)
                    continue
                out += [f"{type(e.payload).__name__} {e.id}" for e in evaluate(state_of(s), ev, book, p)]
    return out


def dump(engine) -> dict[str, list[Any]]:
    """Every state table's rows, canonically (JSON with sorted keys, rows sorted; instants in UTC,
    as PostgreSQL returns them and SQLite, which stores no offset, does not)."""
    def row(r) -> str:
        values = {k: v.replace(tzinfo=v.tzinfo or UTC).astimezone(UTC) if isinstance(v, datetime) else v
                  for k, v in r.model_dump().items()}
        return orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode()

    tables = [t for t in m.STATE_TABLES if t is not m.RulesStateVersion]
    with session_scope(engine) as s:
        return {t.__tablename__: sorted(row(r) for r in s.scalars(select(t))) for t in tables}


def fresh(url: str):
    engine = make_engine(url)
    create_tables(engine, m.ALL_TABLES)
    return engine


def test_the_cache_leaves_the_same_rows_and_emits_the_same_events_as_the_sql_state(db_url, tmp_path):
    events = a_week_of_events()
    cached, plain = fresh(db_url), fresh(f"sqlite:///{tmp_path / 'plain.db'}")
    got = feed(cached, events, cached_state, batch=7)
    want = feed(plain, events, SqlState, batch=1)
    assert got == want and any(e.startswith("ViolationDetected") for e in want)
    mine, theirs = dump(cached), dump(plain)
    for table in theirs:
        assert mine[table] == theirs[table], (table, sorted(set(mine[table]) ^ set(theirs[table])))
    assert cache_of(cached).loads == 1  # loaded once, then trusted: nobody else wrote


def test_a_rolled_back_transaction_makes_the_next_one_reload(db_url):
    engine = fresh(db_url)
    with session_scope(engine) as s:
        cached_state(s).put_counter("k", {"n": 1})
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        cached_state(s).put_counter("k", {"n": 2})
        raise RuntimeError("a handler failed")
    with session_scope(engine) as s:
        assert cached_state(s).counter("k") == {"n": 1}
    assert cache_of(engine).loads == 2


def test_a_write_by_another_process_is_seen(db_url):
    one, two = fresh(db_url), make_engine(db_url)  # two engines: two processes' caches
    with session_scope(one) as s:
        cached_state(s).put_counter("k", {"n": 1})
    with session_scope(two) as s:
        st = cached_state(s)
        assert st.counter("k") == {"n": 1}
        st.put_counter("k", {"n": 2})
    with session_scope(one) as s:
        assert cached_state(s).counter("k") == {"n": 2}
