"""Every command and sub-command of ``evidence`` (walked recursively from the Click group):
``--help`` works and shows an ``Example:``, and the command is documented in README.md."""

from __future__ import annotations

import importlib
import re
import tomllib

import click
import pytest
from click.testing import CliRunner

from registry.cli import cli, main
from support.cli import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of the group's commands and, recursively, of their sub-commands."""
    ctx = click.Context(group, info_name=" ".join(("evidence", *path)))
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found.append((*path, name))
        if isinstance(command, click.Group):
            found += _walk(command, (*path, name))
    return found


COMMANDS = _walk(cli)


def test_the_walk_finds_commands_of_every_module_and_sub_commands() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {"init", "ingest", "match", "custody", "key", "key create", "key list"} <= names
    assert {"export", "prove", "reindex", "dupes"} <= names


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(("evidence", *p)))
def test_help_works_and_shows_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="evidence")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(('evidence', *path))} ")
    assert "Example: evidence " in result.output


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_command_is_documented_in_the_readme(path: tuple[str, ...]) -> None:
    command = re.escape(" ".join(path))
    assert re.search(rf"evidence (--registry \S+ )?{command}(?![\w-])", README), (
        f"`evidence {' '.join(path)}` is not in README.md"
    )


def test_console_script_is_main() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    module, _, attr = pyproject["project"]["scripts"]["evidence"].partition(":")
    assert getattr(importlib.import_module(module), attr) is main
