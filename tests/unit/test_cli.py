"""The `qg` command line: wiring, token creation, lazily mounted service commands, the clock."""

from __future__ import annotations

import sys
import threading
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import services.cli as cli
from contracts.envelope import decode
from services.cli import lazy, run
from services.cli.supervisor import Backoff
from services.cli.up import ensure_admin_token, plan
from services.common.auth import hash_token
from services.common.settings import Settings

pytestmark = pytest.mark.unit
runner = CliRunner()


def test_help_lists_core_and_service_commands_without_importing_services() -> None:
    before = {m for m in sys.modules if m.endswith(".cli") and m.startswith("services.")}
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for name in ("up", "serve", "work", "clock", "rebuild", "topics", "token", "contracts",
                 "roster", "policy", "replay", "audit"):
        assert name in result.output
    after = {m for m in sys.modules if m.endswith(".cli") and m.startswith("services.")}
    assert after == before


def test_token_create_prints_the_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    result = runner.invoke(cli.app, ["token", "create", "--name", "人事同步", "--role", "hr",
                                     "--role", "compliance", "--file", str(file)])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("qg_")
    assert file.read_text(encoding="utf-8") == f"{hash_token(token)}:compliance+hr:人事同步\n"


def test_token_create_refuses_an_unknown_role(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["token", "create", "--name", "x", "--role", "boss",
                                     "--file", str(tmp_path / "tokens")])
    assert result.exit_code == 2
    assert not (tmp_path / "tokens").exists()


def test_serve_refuses_an_unknown_service() -> None:
    result = runner.invoke(cli.app, ["serve", "payroll"])
    assert result.exit_code == 2


def test_contracts_check_fails_on_stale_files(monkeypatch: pytest.MonkeyPatch) -> None:
    from contracts import generate

    monkeypatch.setattr(generate, "stale_files", lambda: ["schemas/qunguard.chat.message_posted.v1.json"])
    result = runner.invoke(cli.app, ["contracts", "check"])
    assert result.exit_code == 1 and "message_posted" in result.output


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: object) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_service_sub_app_is_mounted_under_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    sub = typer.Typer()

    @sub.command("import")
    def import_csv(path: str) -> None:
        typer.echo(f"导入 {path}")

    @sub.command("show")
    def show() -> None:
        typer.echo("show")

    _fake_module(monkeypatch, "qgfake_roster_cli", app=sub)
    monkeypatch.setitem(lazy.MOUNTS, "roster", lazy.Mount("roster", "app", ("qgfake_roster_cli",), "roster"))
    result = runner.invoke(cli.app, ["roster", "import", "花名册.csv"])
    assert result.exit_code == 0 and "导入 花名册.csv" in result.output


def test_alias_is_found_in_whichever_service_module_defines_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def replay(policy: str) -> None:
        typer.echo(f"replaying {policy}")

    _fake_module(monkeypatch, "qgfake_a", app=typer.Typer())
    _fake_module(monkeypatch, "qgfake_b", replay_cmd=replay)
    monkeypatch.setitem(lazy.MOUNTS, "replay", lazy.Mount("replay", "replay_cmd",
                                                          ("qgfake_missing", "qgfake_a", "qgfake_b"), "r"))
    result = runner.invoke(cli.app, ["replay", "candidate.yaml"])
    assert result.exit_code == 0 and "replaying candidate.yaml" in result.output


def test_broken_service_module_fails_only_its_own_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "qgfake_broken.py").write_text("raise RuntimeError('half-written module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(lazy.MOUNTS, "rules", lazy.Mount("rules", "app", ("qgfake_broken",), "rules"))
    result = runner.invoke(cli.app, ["rules", "anything", "--flag"])
    assert result.exit_code == 2
    assert "half-written module" in result.output
    assert runner.invoke(cli.app, ["token", "--help"]).exit_code == 0


def test_up_plans_an_api_and_a_worker_per_service_and_one_clock() -> None:
    names = [spec.name for spec in plan(["ingest", "roster", "rules", "penalties"])]
    assert names == ["ingest-api", "ingest-worker", "roster-api", "roster-worker", "rules-api",
                     "rules-worker", "penalties-api", "penalties-worker", "clock"]
    assert plan(["roster"], clock=False)[0].argv[-2:] == ["serve", "roster"]


def test_backoff_doubles_up_to_the_maximum() -> None:
    backoff = Backoff(initial_s=0.5, maximum_s=4)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]


def test_ticks_fall_on_the_interval_grid_so_duplicates_share_an_id() -> None:
    at = run.tick_time(datetime(2024, 3, 4, 15, 0, 59, 900000, tzinfo=UTC), 60)
    assert at == datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    same = run.tick_time(datetime(2024, 3, 4, 23, 0, 1, tzinfo=UTC) + timedelta(hours=-8), 60)
    assert run.tick_event(at).id == run.tick_event(same).id


class _FakeLog:
    """An in-memory event log: records what the clock publishes and stops it after ``limit`` flushes."""

    def __init__(self, stop: threading.Event, limit: int) -> None:
        self.records: list[tuple[str, bytes | None, bytes]] = []
        self.stop, self.limit, self.fail_next = stop, limit, 1

    def producer(self) -> _FakeLog:
        return self

    def publish(self, topic: str, key: bytes | None, value: bytes, headers: object = ()) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("broker restarting")
        self.records.append((topic, key, value))

    def flush(self, timeout_s: float = 30.0) -> None:
        if len(self.records) >= self.limit:
            self.stop.set()

    def close(self) -> None:
        pass


def test_clock_publishes_deterministic_ticks_and_survives_a_log_hiccup() -> None:
    stop = threading.Event()
    fake = _FakeLog(stop, limit=3)
    times = iter(datetime(2024, 3, 4, 7, 0, tzinfo=UTC) + timedelta(seconds=0.25 * i) for i in range(10_000))
    sent = run.run_clock(Settings(clock_interval_s=0.5), stop, event_log=fake, wall=lambda: next(times))
    assert sent == 3
    events = [decode(value) for _, _, value in fake.records]
    assert all(topic == "qg.clock.v1" and key == b"clock" for topic, key, _ in fake.records)
    assert [e.time for e in events] == sorted({e.time for e in events})
    assert events[0].type == "qunguard.clock.ticked.v1" and events[0].source == "qunguard/clock"
    assert events[0].id == run.tick_event(events[0].time).id


def test_first_admin_token_is_created_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "tokens"
    token = ensure_admin_token(path)
    assert token and hash_token(token) in path.read_text()
    assert ensure_admin_token(path) is None
    assert path.read_text().count(":admin:") == 1
