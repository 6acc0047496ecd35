"""The ladder follows the order offences happened in, not the order they arrived in.

The same person's violations in two groups are judged on different chat partitions, so the later
one may reach penalties first. The earlier one, arriving late, re-counts the later ones: the final
ledger is the same as if they had arrived in order, and the correction is on the record.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from services.penalties.models import LedgerEntry, Sanction
from tests.integration.penalties import scenario as sc
from tests.integration.penalties.api_support import MARCH, feed

pytestmark = pytest.mark.integration


def offences():
    return [sc.violation(f"o{i}", "content.offtopic", "E1001", MARCH + timedelta(hours=i), summary="闲聊")
            for i in range(3)]


def standing(engine) -> list[tuple[str, int, int, tuple[str, ...]]]:
    """(violation, repeat count, step, item kinds) of the sanctions that stand. A re-count that keeps
    the step (the 3rd offence, counted as the 2nd, is a fine either way) is left alone: no churn on
    the ledger for the same money."""
    with Session(engine) as s:
        rows = s.scalars(select(Sanction).where(Sanction.status == "imposed")).all()
        return sorted((r.violation_id, r.repeat_count, r.step, tuple(sorted(i["kind"] for i in r.items))) for r in rows)


def test_late_earlier_offences_recount_the_later_ones_to_the_in_order_result(engine, pen_db_url, tmp_path):
    first, second, third = offences()
    feed(engine, third, second, first)                      # newest first: the worst arrival order
    got = standing(engine)
    by_violation = {vid: kinds for vid, _, _, kinds in got}
    assert [by_violation[sc.derive_id("violation", f"o{i}")] for i in range(3)] == [
        ("reminder",), ("fine",), ("fine",)]   # reminder_then_fine: the 2nd and later are fines
    with Session(engine) as s:
        reversed_ = s.scalars(select(Sanction).where(Sanction.status == "reversed")).all()
        assert reversed_ and all("重新计次" in (r.reversal_reason or "") for r in reversed_)
        assert len(s.scalars(select(LedgerEntry)).all()) > 3  # the reversals are on the ledger too

    from services.common import outbox
    from services.common.db import create_tables, make_engine
    from services.penalties.models import ALL_TABLES

    in_order = make_engine(f"sqlite:///{tmp_path / 'in-order.db'}")
    create_tables(in_order, outbox.RUNTIME_TABLES + ALL_TABLES)
    feed(in_order, sc.policy_event(), *sc.roster_events(), first, second, third)
    assert [(v, st, k) for v, _, st, k in standing(in_order)] == [(v, st, k) for v, _, st, k in got]


def test_in_order_arrival_reverses_nothing(engine):
    feed(engine, *offences())
    with Session(engine) as s:
        assert s.scalars(select(Sanction).where(Sanction.status == "reversed")).all() == []
    assert sorted(c for _, c, _, _ in standing(engine)) == [1, 2, 3]
