"""The README documents what users meet: every error code and every command."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from cairn.cli.main import app
from cairn.errors import ALL_CODES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_error_code_is_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\s*\| `([a-z_]+)` \|", README, flags=re.MULTILINE))
    assert documented == set(ALL_CODES)


def test_every_command_is_in_the_readme() -> None:
    root = get_command(app)
    names: list[str] = []
    for name, cmd in getattr(root, "commands", {}).items():
        subs = getattr(cmd, "commands", None)
        if subs:
            names.extend(f"cairn {name} {sub}" for sub in subs)
        else:
            names.append(f"cairn {name}")
    missing = [n for n in names if n not in README and n != "cairn version"]
    assert missing == []


def test_readme_starts_with_the_two_setup_commands() -> None:
    blocks = re.findall(r"```\n(.*?)\n```", README, flags=re.DOTALL)
    assert "cairn demo" in blocks[0] and "cairn scan" in blocks[0] and "pip install" in blocks[0]
    assert blocks[1].strip() == ".venv/bin/python -m pytest"
