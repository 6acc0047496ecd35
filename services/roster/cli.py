"""``qg roster …``: operator commands of the roster service (CSV import, rebuild)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import orjson
import typer

from services.common import outbox
from services.common.db import create_tables, make_engine, session_scope
from services.common.settings import get_settings

app = typer.Typer(help="花名册与群登记 / Roster and group registry.", no_args_is_help=True)


@app.command("import")
def import_cmd(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV 文件（UTF-8 或 GBK）"),
               database_url: str = typer.Option(None, help="Default: the roster database of the settings."),
               as_json: bool = typer.Option(False, "--json", help="Print the whole report as JSON.")) -> None:
    """导入花名册 CSV（全部成功或全部不导入）/ Import an HR roster CSV, all rows or none.

    The events go to the roster database's outbox; the roster worker's relay publishes them.
    """
    from services.roster.csv_rows import decode
    from services.roster.importer import run_import
    from services.roster.models import PROJECTION_TABLES

    engine = make_engine(database_url or get_settings().database_url("roster"))
    create_tables(engine, outbox.RUNTIME_TABLES + PROJECTION_TABLES)
    with session_scope(engine) as session:
        report = run_import(session, decode(file.read_bytes()), datetime.now(timezone.utc))
    if as_json:
        typer.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
    for error in report.errors:
        typer.echo(f"第 {error.row} 行 / row {error.row}" + (f" [{error.column}]" if error.column else "")
                   + f": {error.message}", err=True)
    if not report.ok:
        typer.echo(f"导入失败，未写入任何数据 / import failed, nothing written: {len(report.errors)} errors", err=True)
        raise typer.Exit(1)
    if report.ignored_columns:
        typer.echo(f"忽略的列 / ignored columns: {', '.join(report.ignored_columns)}")
    typer.echo(f"导入完成 / imported: {report.rows} rows, {report.unchanged} unchanged, "
               f"events {dict(sorted(report.events.items()))}")


@app.command("rebuild")
def rebuild_cmd() -> None:
    """从事件日志重建花名册投影 / Rebuild the roster projections from the log (stop the worker first)."""
    from services.roster.worker import build_worker

    count = build_worker(get_settings()).rebuild()
    typer.echo(f"records={count}")
