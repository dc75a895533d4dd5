"""The custody and export commands, run as a user runs them."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry.cli import cli
from support.cli import run_cli
from support.media import write_jpeg

NEW_COMMANDS = [
    ["key"],
    ["key", "create"],
    ["key", "list"],
    ["note"],
    ["checkpoint"],
    ["prove"],
    ["export"],
]


@pytest.mark.parametrize("command", NEW_COMMANDS, ids=" ".join)
def test_every_new_command_has_help_with_an_example(command: list[str]):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def verifier(bag: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", "-S", str(bag / "verify_bag.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_custody_session(tmp_path: Path, registry_path: Path):
    def cli_(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_cli(*args, registry=registry_path, check=check)

    write_jpeg(tmp_path / "in" / "a.jpg", 1, size=(200, 150))
    write_jpeg(tmp_path / "in" / "b.jpg", 2, size=(200, 150))
    cli_("init", "--actor", "alice")
    made = json.loads(cli_("key", "create", "--actor", "alice", "--json").stdout)
    key_file = registry_path / made["private_key_file"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (registry_path / "keys" / "public" / f"{made['key_id']}.pem").exists()
    again = cli_("key", "create", "--actor", "alice", check=False)
    assert again.returncode == 1 and "already has a key" in again.stderr

    cli_("ingest", str(tmp_path / "in"), "--case", "UA-1", "--actor", "alice", "--workers", "1")
    sha = json.loads(cli_("list", "--json").stdout.splitlines()[0])["sha256"]
    cli_("note", sha[:10], "bridge in frame", "--actor", "bob")
    shown = json.loads(cli_("show", sha, "--json").stdout)
    assert [n["text"] for n in shown["notes"]] == ["bridge in frame"]

    no_cp = cli_("prove", sha, check=False)
    assert no_cp.returncode == 1 and "checkpoint" in no_cp.stderr
    assert cli_("prove", check=False).returncode == 2

    first = json.loads(cli_("checkpoint", "--json").stdout)
    text = cli_("checkpoint").stdout
    assert "root" in text and len(text.split("root")[1].split()[0]) == 64
    keys = [json.loads(line) for line in cli_("key", "list", "--json").stdout.splitlines()]
    assert {k["actor"] for k in keys} == {"installation", "alice"}
    assert all(k["published"] and k["private_key_here"] for k in keys)

    proof = tmp_path / "proof.json"
    proof.write_text(cli_("prove", sha, "--json").stdout)
    consistency = tmp_path / "consistency.json"
    consistency.write_text(
        cli_("prove", "--consistency", str(first["size"]), "latest", "--json").stdout
    )

    bag = tmp_path / "bag"
    out = json.loads(
        cli_(
            "export",
            "--format",
            "bagit",
            "--out",
            str(bag),
            "--case",
            "UA-1",
            "--actor",
            "carol",
            "--json",
        ).stdout
    )
    assert len(out["items"]) == 2 and out["checkpoint"]["size"] > first["size"]
    validate = subprocess.run(
        [str(Path(sys.executable).parent / "bagit.py"), "--validate", str(bag)],
        capture_output=True,
        text=True,
    )
    assert validate.returncode == 0, validate.stderr
    assert verifier(bag).returncode == 0
    checked = verifier(
        bag, "--proof", str(proof), "--root", json.loads(proof.read_text())["checkpoint"]["root"]
    )
    assert checked.returncode == 0, checked.stdout
    assert verifier(bag, "--consistency", str(consistency), "--root", first["root"]).returncode == 0

    cli_("export", "--format", "html", "--out", str(tmp_path / "html"), sha[:12])
    html = (tmp_path / "html" / "report.html").read_text()
    assert sha in html
    full = cli_("export", "--format", "csv", "--out", str(tmp_path / "html"), check=False)
    assert full.returncode == 1 and "not empty" in full.stderr
    bad = cli_("export", "--format", "pdf", "--out", str(tmp_path / "x"), check=False)
    assert bad.returncode == 2

    entries = [json.loads(line) for line in cli_("custody", "--json").stdout.splitlines()]
    actions = [e["action"] for e in entries]
    for action in (
        "registry.created",
        "key.created",
        "item.stored",
        "metadata.extracted",
        "sighting.added",
        "note.added",
        "checkpoint",
        "export",
    ):
        assert action in actions
    note = next(e for e in entries if e["action"] == "note.added")
    assert note["args"] == [
        "--registry",
        str(registry_path),
        "note",
        sha[:10],
        "bridge in frame",
        "--actor",
        "bob",
    ]
    export_entry = next(e for e in entries if e["action"] == "export")
    assert export_entry["args"][2:4] == ["export", "--format"]
    assert export_entry["actor"] == "carol"

    report = json.loads(cli_("verify", "--json").stdout)
    assert report["ok"], report
    assert [c["status"] for c in report["checkpoints"]] == ["ok"] * len(report["checkpoints"])
