"""Service sub-commands, imported only when used.

Why lazy: ``qg --help`` and ``qg up`` must start fast and must keep working while one service's CLI
module is missing or broken (written by another team, mid-refactor). A mounted name is listed with a
one-line help; only running it imports ``services.<svc>.cli``. If the import fails, that one command
prints the reason and exits 2; every other command is unaffected.

Mounts: each ``services.<svc>.cli:app`` as ``qg <svc>``; and top-level aliases the design names, taken
from whichever service CLI module defines the attribute: ``policy_app`` → ``qg policy``,
``replay_cmd`` → ``qg replay``, ``audit_app`` → ``qg audit``, ``demo_cmd`` → ``qg demo``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from services.common.settings import SERVICES


@dataclass(frozen=True)
class Mount:
    name: str
    attr: str
    modules: tuple[str, ...]
    help: str


def _cli_module(service: str) -> str:
    return f"services.{service}.cli"


ALL_CLI_MODULES = tuple(_cli_module(s) for s in SERVICES)
MOUNTS: dict[str, Mount] = {
    **{s: Mount(s, "app", (_cli_module(s),), f"{s} 服务命令 / {s} service commands") for s in SERVICES},
    "policy": Mount("policy", "policy_app", ALL_CLI_MODULES, "策略包 / Policy packs (check, publish)"),
    "replay": Mount("replay", "replay_cmd", ALL_CLI_MODULES, "假设回放 / What-if replay of a policy"),
    "audit": Mount("audit", "audit_app", ALL_CLI_MODULES, "审计 / Audit trail (verify ledgers)"),
    "demo": Mount("demo", "demo_cmd", ("services.demo.cli",) + ALL_CLI_MODULES, "演示 / Feed a realistic sample day"),
}


class Unavailable(Exception):
    pass


# Typer vendors its own click; commands must be of its classes, not the ``click`` package's.
Command = TyperCommand.__mro__[1]


def _as_click(obj: Any, name: str) -> Any:
    if isinstance(obj, Command):
        return obj
    if isinstance(obj, typer.Typer):
        command = typer.main.get_command(obj)
    elif callable(obj):
        holder = typer.Typer()
        holder.command(name)(obj)
        command = typer.main.get_command(holder)
    else:
        raise Unavailable(f"{name}: {type(obj).__name__} is not a command")
    command.name = name
    return command


def load(mount: Mount) -> Any:
    """Import the modules in order and return the first ``attr`` found, as a click command."""
    reasons: list[str] = []
    for module_name in mount.modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                reasons.append(f"{module_name} 不存在 / missing")
                continue
            reasons.append(f"{module_name}: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - a broken module must not break the whole CLI
            reasons.append(f"{module_name}: {type(exc).__name__}: {exc}")
            continue
        if hasattr(module, mount.attr):
            return _as_click(getattr(module, mount.attr), mount.name)
        reasons.append(f"{module_name} 无 / has no {mount.attr}")
    raise Unavailable("; ".join(reasons))


def _unavailable(name: str, reason: str) -> Any:
    def fail() -> None:
        typer.echo(f"命令 `qg {name}` 不可用 / not available: {reason}", err=True)
        raise typer.Exit(2)

    return TyperCommand(name, callback=fail, help=f"(不可用 / unavailable) {reason}", add_help_option=False,
                        context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


class LazyGroup(TyperGroup):
    """The top-level group: defined commands first, then the lazily mounted ones."""

    def list_commands(self, ctx: Any) -> list[str]:
        defined = super().list_commands(ctx)
        return defined + [name for name in MOUNTS if name not in defined]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in MOUNTS:
            return command
        # Listing for help: a placeholder, so `qg --help` imports nothing.
        return TyperCommand(cmd_name, help=MOUNTS[cmd_name].help, callback=None)

    def resolve_command(self, ctx: Any, args: Sequence[str]) -> tuple[str | None, Any, list[str]]:
        name = args[0] if args else None
        if name in MOUNTS and super().get_command(ctx, name) is None:
            try:
                command = load(MOUNTS[name])
            except Unavailable as exc:
                command = _unavailable(name, str(exc))
            return name, command, list(args[1:])
        return super().resolve_command(ctx, list(args))
