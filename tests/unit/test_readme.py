"""The README stays true: every setting is in its table and the quick-start commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.common.settings import Settings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text("utf-8")


def test_every_setting_is_documented_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\| `(QG_[A-Z0-9_]+)` \|", README, re.M))
    assert {f"QG_{n.upper()}" for n in Settings.model_fields} - documented == set()


def test_the_readme_documents_no_setting_that_does_not_exist() -> None:
    documented = set(re.findall(r"^\| `(QG_[A-Z0-9_]+)` \|", README, re.M))
    assert documented - {f"QG_{n.upper()}" for n in Settings.model_fields} == set()


def test_quick_start_has_exactly_two_commands_and_both_exist() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = quick.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["scripts/run.sh", "scripts/test.sh"]
    for command in commands:
        assert (ROOT / command).is_file()


def test_ci_runs_the_readme_test_command() -> None:
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text("utf-8")
