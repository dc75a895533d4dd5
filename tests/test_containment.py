"""Steps the parent process runs per file are contained like the workers' steps: when one
file's near-duplicate search, thumbnail or rendering fails, that file gets a named
warning (stored, logged, shown) and everything else goes on; the exit code says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import write_jpeg
from registry import Registry
from registry.cli import cli
from registry.similarity import NearDuplicates

real_matches = NearDuplicates.matches


def fail_for(name: str):
    """A near-duplicate search that raises (as OpenCV would) for the file ``name``."""

    def matches(self, rec, *args, **kwargs):
        if rec.name == name or (rec.path and Path(rec.path).name == name):
            raise RuntimeError("OpenCV(5.0.0) error: (-215:Assertion failed) in 'resize'")
        return real_matches(self, rec, *args, **kwargs)

    return matches


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_jpeg(tmp_path / "in" / "a.jpg", 1, size=(320, 240))
    write_jpeg(tmp_path / "in" / "bad.jpg", 2, size=(320, 240))
    write_jpeg(tmp_path / "in" / "c.jpg", 3, size=(320, 240))
    return tmp_path / "in"


def _run(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(cli, list(args))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines, result.stderr


def test_a_failing_search_costs_one_file_its_matches_not_the_batch(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NearDuplicates, "matches", fail_for("bad.jpg"))
    reg = tmp_path / "reg"
    code, results, stderr = _run("--registry", str(reg), "ingest", str(folder), "--json")
    assert code == 1, stderr  # the exit code says a step failed
    assert "3 new, 0 known, 0 failed, 1 stored with a failed step" in stderr
    by_name = {Path(r["path"]).name: r for r in results}
    assert [by_name[n]["status"] for n in ("a.jpg", "bad.jpg", "c.jpg")] == ["new"] * 3
    [warning] = [w for w in by_name["bad.jpg"]["warnings"] if w["code"] == "StepFailed"]
    assert warning["step"] == "near_duplicates"
    assert "RuntimeError: OpenCV(5.0.0)" in warning["message"]
    assert not any(w["code"] == "StepFailed" for w in by_name["a.jpg"]["warnings"])

    opened = Registry.open(str(reg))
    sha = by_name["bad.jpg"]["sha256"]
    assert any(w["code"] == "StepFailed" for w in opened.show(sha)["warnings"])
    [extracted] = [e for e in opened.custody(sha) if e["action"] == "metadata.extracted"]
    assert any(w["code"] == "StepFailed" for w in extracted["details"]["warnings"])
    assert opened.verify().ok

    shown = CliRunner().invoke(cli, ["--registry", str(reg), "show", sha[:12]])
    assert "StepFailed" in shown.stdout or "near_duplicates" in shown.stdout


def test_the_text_output_names_the_failed_step(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NearDuplicates, "matches", fail_for("bad.jpg"))
    result = CliRunner().invoke(cli, ["--registry", str(tmp_path / "r"), "ingest", str(folder)])
    assert result.exit_code == 1
    assert "step failed: near_duplicates: " in result.stdout


def test_match_reports_a_failing_file_and_goes_on(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = tmp_path / "reg"
    assert _run("--registry", str(reg), "ingest", str(folder), "--json")[0] == 0
    monkeypatch.setattr(NearDuplicates, "matches", fail_for("bad.jpg"))
    code, results, _ = _run("--registry", str(reg), "match", str(folder), "--json")
    assert code == 1
    by_name = {Path(r["path"]).name: r for r in results}
    assert by_name["bad.jpg"]["error_code"] == "StepFailed"
    assert by_name["a.jpg"]["exact"] and "error" not in by_name["a.jpg"]


def test_reindex_notes_a_failing_search_and_logs_the_rest(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    reg.ingest([folder])
    bad = next(
        i["sha256"] for i in reg.list_items() if i["sightings"][0]["original_name"] == "bad.jpg"
    )

    def stored_matches(self, doc, *args, **kwargs):
        if doc["sha256"] == bad:
            raise ValueError("broken stored hash")
        return []

    monkeypatch.setattr(NearDuplicates, "stored_matches", stored_matches)
    summary = reg.reindex(everything=True)
    assert summary["rehashed"] == 3
    assert [f["sha256"] for f in summary["failed"]] == [bad]
    assert "ValueError: broken stored hash" in summary["failed"][0]["error"]
    [run] = [e for e in reg.custody() if e["action"] == "reindex.run"]
    assert run["details"]["failed"] == summary["failed"]


def test_an_html_export_survives_a_thumbnail_that_fails(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = tmp_path / "reg"
    _run("--registry", str(reg), "ingest", str(folder), "--json")
    from registry.export import html

    real = html.thumbnail

    def thumbnail(path: str, *args, **kwargs):
        if Path(path).name.startswith(bad_sha):
            raise RuntimeError("decoder crashed")
        return real(path, *args, **kwargs)

    bad_sha = next(
        i["sha256"]
        for i in Registry.open(str(reg)).list_items()
        if i["sightings"][0]["original_name"] == "bad.jpg"
    )
    monkeypatch.setattr(html, "thumbnail", thumbnail)
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["--registry", str(reg), "export", "--format", "html", "--out", str(out), "--json"]
    )
    assert result.exit_code == 1
    assert f"warning: {bad_sha[:16]} thumbnail: RuntimeError: decoder crashed" in result.stderr
    report = (out / "report.html").read_text()
    assert report.count('<section class="item"') == 3  # every item is in the report
    [entry] = [e for e in Registry.open(str(reg)).custody() if e["action"] == "export"]
    assert entry["details"]["warnings"][0]["sha256"] == bad_sha
