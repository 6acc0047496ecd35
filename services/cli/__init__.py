"""``qg``: run, operate and inspect Qunguard from one command.

This module only wires typer commands to functions in ``up``, ``run`` and the service modules;
it imports nothing heavy at import time (FastAPI, uvicorn, service code load when a command runs).
Service sub-commands (``qg roster …``, ``qg policy …``) are mounted lazily by ``lazy.LazyGroup``.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from services.cli.lazy import LazyGroup
from services.cli.run import DEFAULT_PREFIX
from services.common.settings import SERVICES, get_settings

# No locals in tracebacks: they would print settings, and settings hold platform secrets.
app = typer.Typer(cls=LazyGroup, name="qg", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False, help="群规守卫 Qunguard：运行与运维 / run and operate Qunguard.")
topics_app = typer.Typer(no_args_is_help=True, help="事件主题 / Event-log topics.")
token_app = typer.Typer(no_args_is_help=True, help="访问令牌 / Bearer tokens.")
contracts_app = typer.Typer(no_args_is_help=True, help="契约 / Generated schemas, AsyncAPI, OpenAPI.")
app.add_typer(topics_app, name="topics")
app.add_typer(token_app, name="token")
app.add_typer(contracts_app, name="contracts")


def _service(name: str) -> str:
    if name not in SERVICES:
        raise typer.BadParameter(f"未知服务 / unknown service {name!r}; one of {', '.join(SERVICES)}")
    return name


Service = Annotated[str, typer.Argument(help="ingest | roster | rules | penalties", callback=_service)]
Prefix = Annotated[str, typer.Option("--module-prefix", envvar="QG_SERVICE_MODULE_PREFIX", hidden=True,
                                     help="Package holding the service modules (tests only).")]


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@app.command()
def up(
    kafka: Annotated[str | None, typer.Option(
        "--kafka", help="HOST:PORT of a Kafka cluster, or 'local' to start a Tansu broker")] = None,
    service: Annotated[list[str] | None, typer.Option(
        "--service", "-s", help="Only these services (repeatable); default all four")] = None,
    clock: Annotated[bool, typer.Option(help="Run the clock ticker too")] = True,
    grace: Annotated[float, typer.Option(help="Seconds children get to stop before SIGKILL")] = 10.0,
    backoff_max: Annotated[float, typer.Option(help="Longest wait before restarting a child")] = 30.0,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """一键启动全部服务 / Start every service (API + worker) and the clock on this machine."""
    from services.cli.supervisor import Backoff
    from services.cli.up import run_up

    services = [_service(s) for s in service] if service else list(SERVICES)
    run_up(get_settings(), services, kafka=kafka, prefix=prefix, clock=clock, grace_s=grace,
           backoff=Backoff(maximum_s=backoff_max), stop=_stop_on_signals(), say=typer.echo)


@app.command()
def serve(name: Service, prefix: Prefix = DEFAULT_PREFIX) -> None:
    """启动服务 API / Run one service's HTTP API (host and port from QG_* settings)."""
    from services.cli import run

    run.serve(name, get_settings(), prefix)


@app.command()
def work(name: Service, prefix: Prefix = DEFAULT_PREFIX) -> None:
    """启动服务消费者 / Run one service's worker until SIGTERM."""
    from services.cli import run

    run.work(name, get_settings(), prefix)


@app.command()
def clock() -> None:
    """时钟 / Append a ClockTicked to qg.clock.v1 every QG_CLOCK_INTERVAL_S seconds."""
    from services.cli import run
    from services.common import logs

    settings = get_settings()
    logs.configure_from(settings, "clock")
    run.run_clock(settings, _stop_on_signals())


@app.command()
def rebuild(name: Service, prefix: Prefix = DEFAULT_PREFIX) -> None:
    """重建投影 / Drop a service's projections and fold them again from the log (stop its worker first)."""
    from services.cli import run

    result = run.rebuild(name, get_settings(), prefix)
    typer.echo(f"{name} 已重建 / rebuilt: {result}")


@topics_app.command("create")
def topics_create() -> None:
    """创建缺失的主题 / Create every topic of contracts.topics that is missing."""
    from services.cli.run import open_event_log

    event_log = open_event_log(get_settings())
    try:
        created = event_log.create_topics()
    finally:
        event_log.close()
    typer.echo("已创建 / created: " + (", ".join(created) if created else "(无 / none)"))


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who holds it (shown in audit trails)")],
    role: Annotated[list[str], typer.Option(
        help="admin | compliance | hr | group-admin | ingest | auditor (repeatable)")],
    file: Annotated[Path | None, typer.Option(help="Tokens file; default QG_TOKENS_FILE or DATA_DIR/tokens")] = None,
) -> None:
    """新建令牌 / Create a token: prints it once and appends only its hash to the tokens file."""
    from services.cli.up import tokens_path
    from services.common.auth import TokenConfigError, create_token

    path = file or tokens_path(get_settings())
    try:
        token = create_token(name, role, path)
    except TokenConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(token)
    typer.echo(f"（只显示这一次 / shown once; hash appended to {path}）", err=True)


@contracts_app.command("generate")
def contracts_generate() -> None:
    """重新生成 / Regenerate contracts/schemas, asyncapi.yaml and openapi/ from the code."""
    from contracts import generate

    for note in generate.write_all():
        typer.echo(note)


@contracts_app.command("check")
def contracts_check() -> None:
    """检查是否过期 / Exit 1 when a generated contract file differs from what the code gives."""
    from contracts import generate

    stale = generate.stale_files()
    for path in stale:
        typer.echo(f"过期 / stale: {path}", err=True)
    if stale:
        typer.echo("运行 / run: qg contracts generate", err=True)
        raise typer.Exit(1)
    typer.echo("契约最新 / contracts up to date")
