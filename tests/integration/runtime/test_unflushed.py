"""``db.add_new`` / ``db.get_unflushed``: look-ups inside a batch's transaction without a flush each."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from services.common.db import UnitOfWork, add_new, create_tables, get_unflushed, hold, make_engine, session_scope
from tests.integration.runtime.toy_service import ToyCount

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'unflushed.db'}")
    create_tables(engine, [ToyCount.__table__])
    with session_scope(engine) as session:
        session.add(ToyCount(event_id="已在库中", applied=1))
    yield engine
    engine.dispose()


def test_a_row_added_in_the_transaction_is_found_without_flushing_it(engine):
    with session_scope(engine) as session:
        row = ToyCount(event_id="新消息-1")
        add_new(session, row, "新消息-1")
        assert get_unflushed(session, ToyCount, "新消息-1") is row
        assert row in session.new  # still pending: the look-up did not flush it
        stored = get_unflushed(session, ToyCount, "已在库中")
        assert stored is not None and stored.applied == 1
        assert get_unflushed(session, ToyCount, "从未出现") is None
        assert row in session.new
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ToyCount)) == 2


def test_rows_added_before_a_rollback_are_forgotten(engine):
    session = UnitOfWork(engine, expire_on_commit=False)
    try:
        add_new(session, ToyCount(event_id="回滚的消息"), "回滚的消息")
        session.rollback()
        assert get_unflushed(session, ToyCount, "回滚的消息") is None
    finally:
        session.close()


def test_what_a_batch_query_found_or_did_not_is_answered_without_sql(engine):
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with session_scope(engine) as session:
        found = {row.event_id: row for row in session.scalars(select(ToyCount).where(
            ToyCount.event_id.in_(["已在库中", "批内新消息"])))}
        hold(session, ToyCount, ["已在库中", "批内新消息"], found)
        before = len(statements)
        assert get_unflushed(session, ToyCount, "已在库中") is found["已在库中"]
        assert get_unflushed(session, ToyCount, "批内新消息") is None
        assert len(statements) == before
        row = ToyCount(event_id="批内新消息")
        add_new(session, row, "批内新消息")
        assert get_unflushed(session, ToyCount, "批内新消息") is row
