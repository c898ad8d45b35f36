"""The documentation keeps up with the code: every command has help text and is in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click

from gum.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def all_commands():
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        yield name, cmd
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                yield f"{name} {sub}", cmd.get_command(ctx, sub)


def test_every_command_has_help_text():
    missing = [name for name, cmd in all_commands() if not (cmd.help or "").strip()]
    assert missing == []


def test_every_top_level_command_is_documented_in_the_readme():
    ctx = click.Context(main)
    undocumented = [n for n in main.list_commands(ctx) if not re.search(rf"`gum {n}\b", README)]
    assert undocumented == []


def test_gum_help_lists_the_commands_without_loading_heavy_modules():
    import subprocess
    import sys

    probe = (
        "import sys; from gum.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('llama_cpp', 'PySide6', 'mss', 'pynput', 'pytesseract', 'mcp') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    assert "ingest" in out and "query" in out
    assert "HEAVY []" in out


def test_the_readme_names_the_two_set_up_commands_and_ci_runs_the_test_one():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    test_command = "bash packaging/install.sh --dev && python3 -m pytest -q -p no:cacheprovider"
    assert test_command in README and test_command in ci
    assert "bash packaging/install.sh && gum ingest" in README
