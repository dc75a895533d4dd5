"""Content Credentials through the registry: three copies of one signed photo (the
signed original, one whose pixels were changed after signing, a re-encoded one that lost
its manifest) ingested by ``evidence``; ``show``, ``dupes`` and every export say which
copy still carries valid credentials and which no longer matches its manifest; and
``reindex`` reads the credentials of items stored before they were read."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from conftest import run_cli, scene
from registry.core import Registry, init_registry
from support.credentials import alter_pixels, make_signer, sign_jpeg

pytest.importorskip("c2pa")


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("copies")
    buf = io.BytesIO()
    scene(11).save(buf, "JPEG", quality=92)
    signed, _ = sign_jpeg(buf.getvalue(), make_signer(), title="capture.jpg")
    out = {"signed": folder / "signed.jpg", "altered": folder / "altered.jpg"}
    out["signed"].write_bytes(signed)
    out["altered"].write_bytes(alter_pixels(signed))
    out["stripped"] = folder / "stripped.jpg"
    Image.open(io.BytesIO(signed)).save(out["stripped"], "JPEG", quality=75)
    return out


@pytest.fixture(scope="module")
def registry(copies: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    reg = tmp_path_factory.mktemp("reg") / "reg"
    folder = copies["signed"].parent
    proc = run_cli("ingest", str(folder), "--workers", "2", "--json", registry=reg, check=True)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["status"] for r in results] == ["new"] * 3
    assert all(r["warnings"] == [] for r in results)
    return reg


def _sha(registry: Path, name: str) -> str:
    for line in run_cli("list", "--json", registry=registry, check=True).stdout.splitlines():
        item = json.loads(line)
        if item["sightings"][0]["original_name"] == name:
            return item["sha256"]
    raise AssertionError(name)


def test_show_states_the_credentials(registry: Path) -> None:
    signed = run_cli("show", _sha(registry, "signed.jpg"), registry=registry, check=True).stdout
    assert "content credentials  valid (signingCredential.untrusted)" in signed
    assert "signer                Evidence Test Lab (Evidence Test Camera)" in signed
    assert "actions               c2pa.created" in signed
    altered = run_cli("show", _sha(registry, "altered.jpg"), registry=registry).stdout
    assert "content credentials  invalid: the content no longer matches its manifest" in altered
    assert "assertion.dataHash.mismatch" in altered
    stripped = run_cli("show", _sha(registry, "stripped.jpg"), registry=registry).stdout
    assert "content credentials  none" in stripped


def test_show_json_has_the_summary_and_the_manifest_store(registry: Path) -> None:
    item = json.loads(
        run_cli("show", _sha(registry, "signed.jpg"), "--json", registry=registry).stdout
    )
    c2pa = item["metadata"]["c2pa"]
    assert (c2pa["state"], c2pa["manifests"], c2pa["signer"]["issuer"]) == (
        "valid",
        1,
        "Evidence Test Lab",
    )
    assert item["manifest_store"]["active_manifest"] == c2pa["active_manifest"]
    assert item["manifest_store"]["validation_state"] == "Valid"
    stripped = json.loads(
        run_cli("show", _sha(registry, "stripped.jpg"), "--json", registry=registry).stdout
    )
    assert stripped["manifest_store"] is None
    assert stripped["metadata"]["c2pa"] == {"present": False, "state": "absent"}


def test_dupes_points_out_the_valid_altered_and_stripped_copies(registry: Path) -> None:
    signed, altered, stripped = (
        _sha(registry, n) for n in ("signed.jpg", "altered.jpg", "stripped.jpg")
    )
    found = json.loads(run_cli("dupes", "--json", registry=registry, check=True).stdout)
    (cluster,) = found["clusters"]
    assert sorted(cluster["members"]) == sorted([signed, altered, stripped])
    assert cluster["credentials"] == {
        "valid": [signed],
        "altered": [altered],
        "invalid": [],
        "remote": [],
        "lost_by": [stripped],
    }
    text = run_cli("dupes", registry=registry, check=True).stdout
    assert f"content credentials valid in {signed[:12]}" in text
    assert f"content credentials no longer match the content of {altered[:12]}" in text
    assert f"content credentials lost by {stripped[:12]}" in text
    marks = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    assert "C2PA valid" in marks[signed[:16]]
    assert "C2PA altered" in marks[altered[:16]]
    assert "C2PA lost" in marks[stripped[:16]]


def test_exports_carry_the_credentials(registry: Path, tmp_path: Path) -> None:
    signed, altered = _sha(registry, "signed.jpg"), _sha(registry, "altered.jpg")
    for fmt in ("jsonl", "csv", "html", "case", "bagit"):
        run_cli(
            "export", "--format", fmt, "--out", str(tmp_path / fmt), registry=registry, check=True
        )
    items = [json.loads(x) for x in (tmp_path / "jsonl" / "items.jsonl").read_text().splitlines()]
    by_sha = {i["sha256"]: i for i in items}
    assert by_sha[signed]["manifest_store"]["active_manifest"]
    with open(tmp_path / "csv" / "items.csv", encoding="utf-8-sig", newline="") as fh:
        rows = {r["sha256"]: r for r in csv.DictReader(fh)}
    assert rows[signed]["c2pa_state"] == "valid"
    assert rows[altered]["c2pa_state"] == "invalid"
    assert "assertion.dataHash.mismatch" in rows[altered]["c2pa_codes"]
    assert rows[signed]["c2pa_signer"] == "Evidence Test Lab"
    html = (tmp_path / "html" / "report.html").read_text()
    assert "<h4>Content Credentials (C2PA)</h4>" in html
    assert "Content Credentials (C2PA) of every copy" in html
    assert "invalid: the content no longer matches its manifest" in html
    graph = json.loads((tmp_path / "case" / "case.jsonld").read_text())["@graph"]
    notes = [n for n in graph if n["@type"] == "uco-core:Annotation"]
    assert sorted(n["uco-core:tag"][0] for n in notes) == ["c2pa:invalid", "c2pa:valid"]
    assert any("content altered after signing: yes" in n["uco-core:statement"] for n in notes)
    bag_item = json.loads((tmp_path / "bagit" / "data" / "items" / f"{altered}.json").read_text())
    assert bag_item["metadata"]["c2pa"]["altered"] is True


def _items(registry: Path) -> dict[str, dict]:
    lines = run_cli("list", "--json", registry=registry, check=True).stdout.splitlines()
    return {i["sha256"]: i for i in map(json.loads, lines)}


def test_rebuild_folds_the_same_credentials(registry: Path) -> None:
    before = _items(registry)
    run_cli("rebuild", registry=registry, check=True)
    after = _items(registry)
    assert after == before
    assert run_cli("verify", registry=registry).returncode == 0


def test_reindex_reads_the_credentials_of_items_stored_before(
    copies: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Items stored by a version that did not read Content Credentials.
    with monkeypatch.context() as old:
        old.setattr("ingest.extraction._read_credentials", lambda rec, data, path: None)
        reg = init_registry(str(tmp_path / "reg"))
        reg.ingest([copies["signed"].parent], workers=1)
    assert all("c2pa" not in item["metadata"] for item in reg.list_items())
    summary = reg.reindex(actor="carol", find=False)
    assert summary["credentials"] == {
        "read": 3,
        "updated": 3,
        "states": {"absent": 1, "invalid": 1, "valid": 1},
    }
    assert summary["failed"] == []
    reads = [e for e in reg.custody() if e["action"] == "credentials.read"]
    assert len(reads) == 3 and {e["actor"] for e in reads} == {"carol"}
    states = {i["sightings"][0]["original_name"]: i["metadata"]["c2pa"] for i in reg.list_items()}
    assert states["signed.jpg"]["state"] == "valid"
    assert states["altered.jpg"]["altered"] is True
    signed = next(i for i in reg.list_items() if i["metadata"]["c2pa"]["state"] == "valid")
    assert (
        signed["manifest_store"]["active_manifest"] == signed["metadata"]["c2pa"]["active_manifest"]
    )
    # Read once: a second run reads nothing; --all reads again and records no change.
    assert reg.reindex(actor="carol", find=False)["credentials"]["read"] == 0
    again = reg.reindex(actor="carol", find=False, everything=True)["credentials"]
    assert (again["read"], again["updated"]) == (3, 0)
    reg.rebuild()
    reopened = Registry.open(str(tmp_path / "reg"))
    assert {
        i["sightings"][0]["original_name"]: i["metadata"]["c2pa"] for i in reopened.list_items()
    } == states
    assert reopened.verify().ok


def test_reindex_cli_says_what_it_read(copies: dict[str, Path], tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    run_cli("ingest", str(copies["signed"]), registry=reg, check=True)
    out = run_cli("reindex", "--all", "--no-match", registry=reg, check=True).stdout
    assert "Content Credentials read for 1 item(s) (1 valid), 0 recorded" in out
