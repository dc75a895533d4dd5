"""The ``evidence`` command line end to end, in subprocesses as a user runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry.cli import cli
from support.cli import ROOT, run_cli
from support.media import write_jpeg


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_ingest_json_contract_and_exit_code(media: Path, registry_path: Path) -> None:
    proc = run_cli(
        "ingest", str(media), "--case", "C1", "--actor", "alice", "--json", registry=registry_path
    )
    assert proc.returncode == 1, proc.stderr  # note.txt is not media
    rows = _jsonl(proc.stdout)
    assert len(rows) == 4
    for row in rows:
        assert {"path", "status", "sha256", "media_type", "error"} <= set(row)
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["note.txt"]["status"] == "error" and by_name["note.txt"]["media_type"] is None
    assert "not a supported" in by_name["note.txt"]["error"]
    assert by_name["a.jpg"]["status"] == "new" and by_name["a.jpg"]["media_type"] == "image"
    assert by_name["clip.mp4"]["media_type"] == "video"
    assert "Traceback" not in proc.stderr

    again = run_cli("ingest", str(media / "a.jpg"), "--json", registry=registry_path)
    assert again.returncode == 0
    assert _jsonl(again.stdout)[0]["status"] == "known"


def test_show_list_custody_verify(media: Path, registry_path: Path) -> None:
    run_cli(
        "ingest",
        str(media / "a.jpg"),
        str(media / "clip.mp4"),
        "--case",
        "C9",
        "--source-url",
        "https://t.me/chan/77",
        "--posted-at",
        "2022-03-16T11:00:00+02:00",
        registry=registry_path,
        check=True,
    )
    items = _jsonl(run_cli("list", "--json", registry=registry_path, check=True).stdout)
    assert len(items) == 2
    by_sha = _jsonl(
        run_cli("list", "--sort", "sha256", "--json", registry=registry_path, check=True).stdout
    )
    assert [i["sha256"] for i in by_sha] == sorted(i["sha256"] for i in items)
    photo = next(i for i in items if i["media_type"] == "image")
    shown = json.loads(
        run_cli("show", photo["sha256"][:8], "--json", registry=registry_path, check=True).stdout
    )
    for key in (
        "sha256",
        "sha1",
        "md5",
        "size",
        "media_type",
        "mime",
        "width",
        "height",
        "duration_s",
        "metadata",
        "exif",
        "sightings",
        "first_seen",
    ):
        assert key in shown
    assert shown["metadata"]["captured_at"] == "2022-03-16T10:41:07+02:00"
    assert shown["first_seen"]["claimed_source_url"] == "https://t.me/chan/77"
    assert shown["first_seen"]["claimed_posted_at"] == "2022-03-16T11:00:00+02:00"
    assert all(isinstance(v, str) for v in shown["exif"].values())
    human = run_cli("show", photo["sha256"][:8], registry=registry_path, check=True).stdout
    assert "Canon EOS 80D" in human and "50.4501" in human

    entries = _jsonl(
        run_cli("custody", photo["sha256"], "--json", registry=registry_path, check=True).stdout
    )
    assert [e["action"] for e in entries] == ["item.stored", "metadata.extracted", "sighting.added"]
    verify = run_cli("verify", "--json", registry=registry_path)
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"] is True

    vault_file = (
        registry_path / "vault" / photo["sha256"][:2] / photo["sha256"][2:4] / photo["sha256"]
    )
    vault_file.chmod(0o644)
    vault_file.write_bytes(b"replaced")
    bad = run_cli("verify", registry=registry_path)
    assert bad.returncode == 1 and "HashMismatch" in bad.stdout


def test_errors_are_one_line_messages(registry_path: Path, tmp_path: Path) -> None:
    proc = run_cli("show", "abc", registry=registry_path)
    assert proc.returncode == 1 and proc.stderr.startswith("error: Folder is not an evidence")
    run_cli("init", registry=registry_path, check=True)
    missing = run_cli("show", "abcdef", registry=registry_path)
    assert missing.returncode == 1 and "No item matches" in missing.stderr
    usage = run_cli("ingest", str(tmp_path), "--posted-at", "yesterday", registry=registry_path)
    assert usage.returncode == 2
    assert run_cli("frobnicate", registry=registry_path).returncode == 2


def test_env_var_names_the_registry(tmp_path: Path) -> None:
    reg = tmp_path / "viaenv"
    photo = write_jpeg(tmp_path / "a.jpg", 4)
    run_cli("ingest", str(photo), env={"EVIDENCE_REGISTRY": str(reg)}, check=True)
    assert (reg / "custody.jsonl").exists()


def test_python_dash_m_and_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and "evidence" in proc.stdout


def _commands() -> list[str]:
    return sorted(cli.commands)


@pytest.mark.parametrize("name", _commands())
def test_every_command_has_help_with_an_example_and_is_in_the_readme(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output, name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"evidence (--registry \S+ )?{name}\b", readme), name
