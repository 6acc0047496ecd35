"""``qg penalties …`` and ``qg audit verify``: operator commands of the penalties service."""

from __future__ import annotations

import typer
from sqlmodel import Session

from services.common.db import make_engine
from services.common.settings import get_settings

app = typer.Typer(help="处罚与台账 / Sanctions and the ledger.", no_args_is_help=True)
audit_app = typer.Typer(help="审计 / Audit.", no_args_is_help=True)


@audit_app.callback()
def _audit() -> None:
    """Keeps ``verify`` a sub-command (typer collapses one-command apps otherwise)."""


@audit_app.command("verify")
def verify(database_url: str = typer.Option(None, help="Default: the penalties database of the settings.")) -> None:
    """检查每个人台账的哈希链 / Verify every person's ledger hash chain; exit 1 on the first break."""
    from services.penalties.store import verify_all

    engine = make_engine(database_url or get_settings().database_url("penalties"))
    with Session(engine) as session:
        count, broken = verify_all(session)
    for b in broken:
        typer.echo(f"断链 / BROKEN employee={b.employee_id} seq={b.seq} entry={b.entry_id}: {b.reason}", err=True)
    if broken:
        raise typer.Exit(1)
    typer.echo(f"台账完整 / OK: {count} entries verified")


@app.command("rebuild")
def rebuild_cmd() -> None:
    """从事件日志重建投影 / Rebuild the projections from the log and compare the ledger digest."""
    from services.penalties.worker import rebuild

    before, after, count = rebuild(get_settings())
    typer.echo(f"records={count} before={before} after={after} {'identical' if before == after else 'DIFFERENT'}")
    if before != after:
        raise typer.Exit(1)


@app.command("digest")
def digest_cmd() -> None:
    """台账摘要 / Print the ledger digest."""
    from services.penalties.store import ledger_digest

    engine = make_engine(get_settings().database_url("penalties"))
    with Session(engine) as session:
        typer.echo(ledger_digest(session))


app.add_typer(audit_app, name="audit")
