"""Benchmark: import a 10,000-row HR roster CSV (Chinese headers) into the roster, then re-run it.

Run: ``python bench/roster_import.py [ROWS] [sqlite|postgres]`` (defaults: 10000, sqlite). Both use a
fresh database: a temporary SQLite file, or a throwaway ``qg_bench_*`` database on the local
PostgreSQL (``QG_BENCH_POSTGRES``, default postgres@127.0.0.1:5432), dropped afterwards.
The first run hires everyone (one EmployeeHired per row, projection + inbox + outbox in one
transaction); the second run must find every row unchanged and emit nothing. The issue asks for
under 10 s for 10,000 rows.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.common import outbox  # noqa: E402
from services.common.db import create_tables, make_engine, session_scope  # noqa: E402
from services.roster.importer import run_import  # noqa: E402
from services.roster.models import PROJECTION_TABLES  # noqa: E402

DEPARTMENTS = ["研发部", "市场部", "销售一部", "销售二部", "财务部", "人力资源部", "行政部", "客服中心"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛"]


def make_csv(rows: int) -> str:
    lines = ["工号,姓名,部门,职级,状态,入职日期,离职日期,上级工号,手机,QQ,钉钉,企业微信"]
    for i in range(rows):
        emp = f"E{100000 + i}"
        level = "高管" if i % 500 == 0 else ("经理" if i % 20 == 0 else "员工")
        status, leave = ("离职", f"2024-{i % 12 + 1:02d}-15") if i % 50 == 7 else (
            ("试用", "") if i % 10 == 3 else ("正式", ""))
        manager = "" if i < 20 else f"E{100000 + (i // 20) * 20 - 20}"
        lines.append(",".join([
            emp, SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)], DEPARTMENTS[i % len(DEPARTMENTS)], level,
            status, f"20{10 + i % 14:02d}-{i % 12 + 1:02d}-{i % 27 + 1:02d}", leave, manager,
            f"13{800000000 + i:09d}", str(100000 + i * 7), f"ding{i:06d}", f"wx_{emp.lower()}"]))
    return "\n".join(lines) + "\n"


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tempfile.mkdtemp()}/roster.db"
        return
    import psycopg

    server = os.environ.get("QG_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"qg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with database(sys.argv[2] if len(sys.argv) > 2 else "sqlite") as url:
        run(rows, url)


def run(rows: int, url: str) -> None:
    engine = make_engine(url)
    create_tables(engine, outbox.RUNTIME_TABLES + PROJECTION_TABLES)
    text = make_csv(rows)
    at = datetime(2025, 3, 3, 1, 0, tzinfo=timezone.utc)
    for label in ("first import", "re-import (unchanged)"):
        started = time.perf_counter()
        with session_scope(engine) as session:
            report = run_import(session, text, at)
        elapsed = time.perf_counter() - started
        assert report.ok, report.errors[:5]
        print(f"{label}: {rows} rows in {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s); "
              f"events {dict(report.events)}; unchanged {report.unchanged}  [{engine.dialect.name}]")
    engine.dispose()


if __name__ == "__main__":
    main()
