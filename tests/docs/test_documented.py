"""Documentation that cannot go stale: every command and setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "src" / "popreg" / "web" / "settings.py"


def _our_commands() -> list[str]:
    return sorted(name for name, app in get_commands().items() if app.startswith("popreg"))


@pytest.mark.parametrize("command", _our_commands())
def test_every_command_is_in_cli_doc(command):
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert re.search(rf"^## `popreg {command}\b", text, re.M), f"docs/cli.md lacks a section for {command}"


def test_every_setting_is_documented():
    names = set(re.findall(r'"((?:POPREG|DATABASE)_[A-Z_]+)"', SETTINGS.read_text(encoding="utf-8")))
    assert names, "settings.py reads no environment variable?"
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, f"docs/settings.md lacks {missing}"


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
