"""Timers in SQL (SQLite and PostgreSQL): instants compare across time zones, and each pack keeps
its own timer for a shared rule id."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.common.db import create_tables, make_engine, session_scope
from services.rules.models import RulesTimer

TABLES = [RulesTimer.__table__]
from services.rules.state import Timer
from services.rules.store import SqlState

pytestmark = pytest.mark.integration
CST = ZoneInfo("Asia/Shanghai")


def a_timer(policy_id: str, due: datetime) -> Timer:
    return Timer(rule_id="reply.leader_task", key="wecom:sales|m1|liuyang", due=due, policy_id=policy_id,
                 policy_version=1, scope="wecom:sales|liuyang", data={"asked_at": due.isoformat()})


def test_a_utc_clock_tick_fires_a_deadline_written_in_china_time_at_the_right_instant(db_url):
    engine = make_engine(db_url)
    create_tables(engine, TABLES)
    due = datetime(2025, 3, 3, 10, 30, tzinfo=CST)  # 02:30 UTC
    with session_scope(engine) as s:
        SqlState(s).put_timer(a_timer("company-default", due))
    with session_scope(engine) as s:
        state = SqlState(s)
        assert state.due_timers(datetime(2025, 3, 3, 2, 29, tzinfo=UTC)) == []
        [t] = state.due_timers(datetime(2025, 3, 3, 2, 30, tzinfo=UTC))
        assert t.due == due


def test_two_packs_keep_separate_timers_for_the_same_rule_and_key(db_url):
    engine = make_engine(db_url)
    create_tables(engine, TABLES)
    due = datetime(2025, 3, 3, 10, 30, tzinfo=CST)
    with session_scope(engine) as s:
        state = SqlState(s)
        state.put_timer(a_timer("company-default", due))
        state.put_timer(a_timer("xy-qq-fines", due))
    with session_scope(engine) as s:
        state = SqlState(s)
        assert [t.policy_id for t in state.timers_in("company-default/reply.leader_task", "wecom:sales|liuyang")] == [
            "company-default"]
        assert sorted(t.policy_id for t in state.due_timers(due)) == ["company-default", "xy-qq-fines"]
        state.drop_timer("xy-qq-fines/reply.leader_task", "wecom:sales|m1|liuyang")
        assert [t.policy_id for t in state.due_timers(due)] == ["company-default"]


def test_sql_and_memory_agree_on_which_rules_wait_in_a_scope(db_url):
    """``namespaces_in`` is how one message learns whether any reply rule waits for its sender."""
    from services.rules.state import MemoryState

    engine = make_engine(db_url)
    create_tables(engine, TABLES)
    due = datetime(2025, 3, 3, 10, 30, tzinfo=CST)
    memory = MemoryState()
    with session_scope(engine) as s:
        for state in (SqlState(s), memory):
            state.put_timer(a_timer("company-default", due))
            state.put_timer(a_timer("xy-qq-fines", due))
            state.put_timer(Timer(rule_id="member.inactive", key="wecom:sales|liuyang", due=due,
                                  policy_id="company-default", scope="wecom:sales|liuyang"))
            state.drop_timer("xy-qq-fines/reply.leader_task", "wecom:sales|m1|liuyang")
    with session_scope(engine) as s:
        sql = SqlState(s)
        for state in (sql, memory):
            assert set(state.namespaces_in("wecom:sales|liuyang")) == {
                "company-default/reply.leader_task", "company-default/member.inactive"}
            assert set(state.namespaces_in("wecom:sales|wangfang")) == set()
        for state in (sql, memory):
            state.drop_timer("company-default/reply.leader_task", "wecom:sales|m1|liuyang")
            state.drop_timer("company-default/member.inactive", "wecom:sales|liuyang")
        s.flush()
        assert set(sql.namespaces_in("wecom:sales|liuyang")) == set() == set(memory.namespaces_in("wecom:sales|liuyang"))


def test_due_timers_of_one_root_are_its_group_and_its_members_only(db_url):
    """A message looks at its own group's deadlines only: the group's scope and ``group|user`` scopes,
    not a group whose id merely looks alike (``_`` is a LIKE wildcard; the filter must not use it)."""
    engine = make_engine(db_url)
    create_tables(engine, TABLES)
    due = datetime(2025, 3, 3, 10, 30, tzinfo=CST)

    def timer(key: str, scope: str) -> Timer:
        return Timer(rule_id="reply.leader_task", key=key, due=due, policy_id="company-default", policy_version=1,
                     scope=scope)

    with session_scope(engine) as s:
        for key, scope in [("a", "wecom:sa_es"), ("b", "wecom:sa_es|liuyang"), ("c", "wecom:saxes|liuyang"),
                           ("d", "wecom:sa_es2|liuyang"), ("e", "E0101")]:
            SqlState(s).put_timer(timer(key, scope))
    with session_scope(engine) as s:
        state = SqlState(s)
        assert [t.key for t in state.due_timers(due, "wecom:sa_es")] == ["a", "b"]
        assert [t.key for t in state.due_timers(due, "E0101")] == ["e"]
        assert [t.key for t in state.due_timers(due)] == ["a", "b", "c", "d", "e"]
