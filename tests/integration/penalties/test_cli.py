"""``qg audit verify``: exit 0 on intact chains, 1 naming the first broken entry after an edit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from services.common import outbox
from services.common.db import create_tables, make_engine, session_scope
from services.penalties.cli import audit_app
from services.penalties.models import ALL_TABLES
from tests.integration.penalties import scenario as sc
from tests.integration.penalties.test_api_flows import feed

pytestmark = pytest.mark.integration


def test_audit_verify_reports_the_first_broken_entry(pen_db_url):
    engine = make_engine(pen_db_url)
    create_tables(engine, outbox.RUNTIME_TABLES + ALL_TABLES)
    at = datetime(2024, 5, 6, 9, 30, tzinfo=sc.CST)
    feed(engine, sc.policy_event(), *sc.roster_events(),
         *[sc.violation(f"cli{i}", "content.ads", "E2002", at + timedelta(days=i)) for i in range(4)])
    runner = CliRunner()
    ok = runner.invoke(audit_app, ["verify", "--database-url", pen_db_url])
    assert ok.exit_code == 0 and "4 entries" in ok.output
    with session_scope(engine) as s:
        s.execute(text("UPDATE pen_ledger SET note = '已改' WHERE employee_id = 'E2002' AND seq = 3"))
    bad = runner.invoke(audit_app, ["verify", "--database-url", pen_db_url])
    assert bad.exit_code == 1 and "employee=E2002 seq=3" in bad.output
    engine.dispose()
