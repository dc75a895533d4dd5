"""End to end through the command line: ingest finds near-duplicates and logs them,
``match`` compares without ingesting, ``dupes`` clusters, ``show`` lists, ``reindex``
re-hashes, and the catalogue still agrees with the log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support.cli import run_cli
from support.media import write_jpeg
from support.transforms import by_name


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Originals ingested first, then re-posts of them (one ingest each)."""
    root = tmp_path_factory.mktemp("cli")
    originals = root / "originals"
    a = write_jpeg(originals / "a.jpg", 21, gps=(50.45, 30.52, 100.0))
    write_jpeg(originals / "b.jpg", 22, make="NIKON", model="D70")
    reposts = root / "reposts"
    reposts.mkdir()
    picture = Image.open(a).convert("RGB")
    by_name("crop 20 %").apply(picture, np.random.default_rng(0)).save(
        reposts / "crop.jpg", quality=70
    )
    by_name("mirror").apply(picture, np.random.default_rng(0)).save(
        reposts / "mirror.jpg", quality=60
    )
    reg = root / "reg"
    first = run_cli("ingest", str(originals), "--json", "--workers", "1", registry=reg, check=True)
    second = run_cli(
        "ingest",
        str(reposts),
        "--json",
        "--workers",
        "1",
        "--case",
        "UA-1",
        "--actor",
        "bob",
        registry=reg,
        check=True,
    )
    return {
        "root": root,
        "reg": reg,
        "a": a,
        "first": [json.loads(line) for line in first.stdout.splitlines()],
        "second": [json.loads(line) for line in second.stdout.splitlines()],
    }


def _sha(session: dict, name: str) -> str:
    lines = session["first"] + session["second"]
    return next(line["sha256"] for line in lines if line["path"].endswith(name))


def test_ingest_reports_near_duplicates_of_new_items(session: dict) -> None:
    assert all(line["near_duplicates"] == [] for line in session["first"])
    a = _sha(session, "a.jpg")
    by_name_ = {Path(line["path"]).name: line for line in session["second"]}
    for name, transform in (("crop.jpg", "crop"), ("mirror.jpg", "mirror")):
        line = by_name_[name]
        assert line["status"] == "new"
        match = next(m for m in line["near_duplicates"] if m["sha256"] == a)
        assert transform in match["transform"].split("+")
        assert 0.75 <= match["score"] <= 1
        assert {"sha256", "score", "distance", "method", "transform"} <= set(match)
    # The mirrored copy is also a near-duplicate of the crop, ingested just before it.
    mirror = by_name_["mirror.jpg"]["near_duplicates"]
    assert {m["sha256"] for m in mirror} == {a, _sha(session, "crop.jpg")}
    assert [m["score"] for m in mirror] == sorted((m["score"] for m in mirror), reverse=True)


def test_each_match_is_a_custody_entry(session: dict) -> None:
    proc = run_cli("custody", "--json", registry=session["reg"], check=True)
    found = [e for e in map(json.loads, proc.stdout.splitlines()) if e["action"] == "neardup.found"]
    a, crop, mirror = (_sha(session, n) for n in ("a.jpg", "crop.jpg", "mirror.jpg"))
    assert {(e["sha256"], e["details"]["match"]) for e in found} == {
        (crop, a),
        (mirror, a),
        (mirror, crop),
    }
    for e in found:
        assert e["actor"] == "bob"
        assert e["details"]["segments"] == []
        assert set(e["details"]) >= {"score", "distance", "method", "transform"}


def test_match_compares_without_ingesting(session: dict) -> None:
    root = session["root"]
    picture = Image.open(session["a"]).convert("RGB")
    query = root / "query.png"
    by_name("pad 20 %").apply(picture, np.random.default_rng(1)).save(query)
    unrelated = write_jpeg(root / "other.jpg", 99)
    proc = run_cli(
        "match", str(query), str(unrelated), str(session["a"]), "--json", registry=session["reg"]
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [Path(r["path"]).name for r in results] == ["query.png", "other.jpg", "a.jpg"]
    padded, other, exact = results
    assert padded["exact"] is False
    by_sha = {m["sha256"]: m for m in padded["matches"]}
    assert "pad" in by_sha[_sha(session, "a.jpg")]["transform"].split("+")
    assert other["matches"] == [] and other["exact"] is False
    assert exact["exact"] is True
    assert {m["sha256"] for m in exact["matches"]} == {
        _sha(session, "crop.jpg"),
        _sha(session, "mirror.jpg"),
    }
    # Nothing was ingested.
    listed = run_cli("list", "--json", registry=session["reg"], check=True)
    assert len(listed.stdout.splitlines()) == 4
    # Thresholds on the command line: an impossible score finds nothing.
    strict = run_cli("match", str(query), "--json", "--min-score", "1", registry=session["reg"])
    assert json.loads(strict.stdout)["matches"] == []


def test_dupes_clusters_the_copies(session: dict) -> None:
    proc = run_cli("dupes", "--json", registry=session["reg"], check=True)
    (cluster,) = json.loads(proc.stdout)["clusters"]
    a = _sha(session, "a.jpg")
    assert set(cluster["members"]) == {a, _sha(session, "crop.jpg"), _sha(session, "mirror.jpg")}
    assert cluster["members"][0] == a  # seen first
    assert cluster["first_seen"]["observed"]["sha256"] == a
    assert cluster["most_metadata"] == a
    assert cluster["differences"]["gps_kept_by"] == [a]
    text = run_cli("dupes", registry=session["reg"], check=True).stdout
    assert "most metadata" in text and "GPS" in text
    assert json.loads(
        run_cli("dupes", "--json", "--case", "UA-1", registry=session["reg"], check=True).stdout
    )["clusters"]


def test_show_lists_near_duplicates(session: dict) -> None:
    a = _sha(session, "a.jpg")
    item = json.loads(run_cli("show", a[:12], "--json", registry=session["reg"], check=True).stdout)
    assert {p["sha256"] for p in item["near_duplicates"]} == {
        _sha(session, "crop.jpg"),
        _sha(session, "mirror.jpg"),
    }
    text = run_cli("show", a[:12], registry=session["reg"], check=True).stdout
    assert "near-duplicates 2" in text
    assert f"{_sha(session, 'mirror.jpg')[:16]} = mirror(this)" in text


def test_reindex_rebuild_and_verify(session: dict) -> None:
    reg = session["reg"]
    stale = json.loads(run_cli("reindex", "--json", registry=reg, check=True).stdout)
    assert stale["rehashed"] == 0  # everything was hashed by the current versions
    full = json.loads(run_cli("reindex", "--all", "--json", registry=reg, check=True).stdout)
    assert full["images"] == full["rehashed"] == 4
    assert full["updated"] == 0 and full["near_duplicates"] == 0  # nothing new to find
    log = [
        json.loads(line)
        for line in run_cli("custody", "--json", registry=reg, check=True).stdout.splitlines()
    ]
    assert [e["action"] for e in log].count("reindex.run") == 2
    run_cli("rebuild", registry=reg, check=True)
    run_cli("verify", registry=reg, check=True)
    a = _sha(session, "a.jpg")
    item = json.loads(run_cli("show", a, "--json", registry=reg, check=True).stdout)
    assert len(item["near_duplicates"]) == 2  # folded from the log again


def test_reindex_finds_pairs_missed_before(tmp_path: Path) -> None:
    """Items whose hashes predate the current hashers are re-hashed and matched."""
    reg = tmp_path / "reg"
    a = write_jpeg(tmp_path / "in" / "a.jpg", 31)
    by_name("crop 10 %").apply(Image.open(a).convert("RGB"), np.random.default_rng(0)).save(
        tmp_path / "in" / "b.jpg", quality=80
    )
    # Ingest with matching effectively off (no candidate is verified as a match).
    run_cli(
        "ingest",
        str(tmp_path / "in"),
        "--min-score",
        "1",
        "--max-distance",
        "0",
        registry=reg,
        check=True,
    )
    assert json.loads(run_cli("dupes", "--json", registry=reg, check=True).stdout)["clusters"] == []
    out = json.loads(run_cli("reindex", "--all", "--json", registry=reg, check=True).stdout)
    assert out["near_duplicates"] == 1
    assert (
        len(json.loads(run_cli("dupes", "--json", registry=reg, check=True).stdout)["clusters"])
        == 1
    )
    run_cli("verify", registry=reg, check=True)


def test_every_new_command_has_help_with_an_example() -> None:
    for command in ("match", "dupes", "reindex"):
        proc = run_cli(command, "--help", check=True)
        assert "Example:" in proc.stdout
