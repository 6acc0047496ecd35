"""docker-compose.yml, the Dockerfile and .env.example are valid and agree with the code.

``tests/data/compose-spec.json`` is the Compose Specification schema as shipped in the
``docker-compose`` 1.29.2 wheel on PyPI (``compose/config/compose_spec.json``, Apache-2.0),
vendored because tests cannot download.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml

import services.cli as cli
from services.common.settings import DEFAULT_PORTS, SERVICES, Settings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
SCHEMA = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text("utf-8"))


def _qg_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in COMPOSE["services"].items() if s.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


def test_compose_file_matches_the_compose_specification_schema() -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft201909Validator(SCHEMA).iter_errors(COMPOSE)]
    assert errors == []


def _resolve(argv: list[str]) -> None:
    """Walk the typer command tree like the shell would; raise if a command does not exist."""
    group = typer.main.get_command(cli.app)
    ctx = group.make_context("qg", list(argv), resilient_parsing=True)
    command, args = group, list(argv)
    while hasattr(command, "get_command") and args:
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"`qg {' '.join(argv)}`: no command {args[0]!r}"
        command, args = sub, args[1:]
    if args:
        params = [p for p in command.params if p.param_type_name == "argument"]
        assert len(params) >= len(args), f"`qg {' '.join(argv)}`: too many arguments"
        for param, value in zip(params, args):
            if param.name == "name":
                assert value in SERVICES, f"`qg {' '.join(argv)}`: unknown service {value}"


def test_every_qg_command_the_compose_file_runs_exists() -> None:
    commands = [s["command"] for s in _qg_services().values()]
    assert ["topics", "create"] in commands and ["clock"] in commands
    for argv in commands:
        _resolve(argv)
    with pytest.raises(AssertionError):
        _resolve(["serve", "payroll"])
    with pytest.raises(AssertionError):
        _resolve(["topics", "delete"])


def test_each_service_runs_an_api_with_healthcheck_on_its_port_and_a_worker() -> None:
    services = _qg_services()
    for name in SERVICES:
        api, worker = services[f"{name}-api"], services[f"{name}-worker"]
        assert api["command"] == ["serve", name] and worker["command"] == ["work", name]
        port = DEFAULT_PORTS[name]
        assert api["ports"][0].endswith(f":{port}")
        assert f"127.0.0.1:{port}/healthz" in " ".join(api["healthcheck"]["test"])
        assert api["restart"] == worker["restart"] == "unless-stopped"
        url = api["environment"][f"QG_{name.upper()}_DATABASE_URL"]
        assert url.endswith(f"@postgres:5432/qg_{name}")
        assert f"CREATE DATABASE qg_{name};" in (ROOT / "deploy" / "postgres-init.sql").read_text()


def test_dependencies_wait_for_health_and_the_topics_job() -> None:
    for name, service in _qg_services().items():
        depends = service["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        if name != "topics":
            assert depends["postgres"]["condition"] == "service_healthy"
            assert depends["topics"]["condition"] == "service_completed_successfully"
    for name in ("kafka", "postgres"):
        assert COMPOSE["services"][name]["healthcheck"]["test"]


def test_kafka_runs_kraft_on_a_persistent_volume_and_postgres_16() -> None:
    kafka = COMPOSE["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert any(v.startswith("kafka-data:") for v in kafka["volumes"])
    assert COMPOSE["services"]["postgres"]["image"] == "postgres:16"
    assert set(COMPOSE["volumes"]) == {"kafka-data", "pg-data"}


def test_every_qg_variable_is_a_setting_and_every_setting_is_in_env_example() -> None:
    fields = {f"QG_{name.upper()}" for name in Settings.model_fields}
    example = (ROOT / ".env.example").read_text("utf-8")
    listed = set(re.findall(r"^# (QG_[A-Z0-9_]+)=", example, re.M))
    assert fields - listed == set(), "add these to .env.example (commented, with their default)"
    assert listed - fields == set()
    used = set(re.findall(r"QG_[A-Z0-9_]+", (ROOT / "docker-compose.yml").read_text("utf-8")))
    assert used <= fields


def test_env_example_holds_no_secret_values() -> None:
    for line in (ROOT / ".env.example").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert value == "", f"{key} must be left empty in .env.example"


def test_image_is_python_311_slim_non_root_and_installs_the_package() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text("utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "pip install ." in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT \["qg"\]$', dockerfile, re.M)
