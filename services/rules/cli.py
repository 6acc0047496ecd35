"""Command line of the rules service: ``qg policy check``, ``qg replay``, ``qg rules schema``.

Mounted lazily by ``services.cli``: ``app`` as ``qg rules``, ``policy_app`` as ``qg policy`` and
``replay_cmd`` as ``qg replay``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="规则服务 / Rules service commands.")
policy_app = typer.Typer(no_args_is_help=True, help="策略包 / Policy packs (check, schema).")


@policy_app.command("check")
def check(files: Annotated[list[Path], typer.Argument(help="YAML policy packs", exists=True, dir_okay=False)]) -> None:
    """检查策略包，列出全部错误（路径与行号）/ Check packs; list every error with its path and line."""
    from services.rules.policy.loader import check_text

    failed = False
    for path in files:
        _, errors = check_text(path.read_text(encoding="utf-8"))
        if not errors:
            typer.echo(f"{path}: 通过 / OK")
            continue
        failed = True
        typer.echo(f"{path}: {len(errors)} 个错误 / error(s)")
        for error in errors:
            typer.echo(f"{path}:{error}")
    if failed:
        raise typer.Exit(1)


@policy_app.command("schema")
def schema(out: Annotated[Path, typer.Option(help="Where to write the JSON Schema")] = Path("policies/schema.json")
           ) -> None:
    """生成策略包 JSON Schema / Write the policy pack JSON Schema."""
    from services.rules.policy.schema import write_schema

    write_schema(out)
    typer.echo(f"wrote {out}")


app.add_typer(policy_app, name="policy")


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise typer.BadParameter("需要带时区的时间，如 2025-03-01T00:00:00+08:00 / needs a UTC offset")
    return parsed


def replay_cmd(
    pack: Annotated[Path, typer.Option("--pack", help="Candidate policy pack (YAML)", exists=True, dir_okay=False)],
    since: Annotated[str, typer.Option(help="Start of the range, RFC 3339")],
    until: Annotated[str, typer.Option(help="End of the range (exclusive), RFC 3339")],
    out: Annotated[Path | None, typer.Option(help="Write the report here instead of stdout")] = None,
) -> None:
    """假设回放：用候选策略重新评估历史事件 / What-if replay of a candidate pack over recorded events."""
    from services.common.db import make_engine
    from services.common.eventlog import open_log
    from services.common.outbox import applied_order
    from services.common.settings import get_settings
    from services.rules.handlers import CONSUMER
    from services.rules.policy.loader import PolicyInvalid, load_pack
    from services.rules.replay import canonical_json, replay_from_log

    try:
        candidate = load_pack(pack)
    except PolicyInvalid as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    settings = get_settings()
    log = open_log(settings)
    try:
        applied = applied_order(make_engine(settings.database_url("rules")), CONSUMER)
        report = canonical_json(replay_from_log(log, candidate, _when(since), _when(until), applied))
    finally:
        log.close()
    if out is None:
        sys.stdout.buffer.write(report)
    else:
        out.write_bytes(report)
        typer.echo(f"wrote {out}")


app.command("replay")(replay_cmd)
