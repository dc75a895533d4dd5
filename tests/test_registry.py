"""The registry API: ingest, sightings, first-seen, vault, verify, recovery."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from registry import ItemNotFound, NotARegistry, Registry, Submission, init_registry
from support.media import write_jpeg


@pytest.fixture
def reg(registry_path: Path) -> Registry:
    return init_registry(str(registry_path), actor="tester")


def test_open_requires_a_registry(tmp_path: Path) -> None:
    with pytest.raises(NotARegistry):
        Registry.open(str(tmp_path / "nothing"))
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "x").write_text("x")
    with pytest.raises(Exception, match="not empty"):
        init_registry(str(tmp_path / "stuff"))


def test_ingest_folder(reg: Registry, media: Path) -> None:
    results = reg.ingest([media], Submission(actor="alice", case="C1"))
    by_name = {Path(r.path).name: r for r in results}
    assert [by_name[n].status for n in ("a.jpg", "b.jpg", "clip.mp4")] == ["new"] * 3
    assert by_name["note.txt"].status == "error"
    assert by_name["note.txt"].error_code == "UnsupportedType"
    assert by_name["clip.mp4"].media_type == "video"
    item = reg.show(by_name["a.jpg"].sha256[:10])
    assert item["metadata"]["gps"]["lat"] == pytest.approx(50.4501, abs=1e-4)
    assert item["sightings"][0]["case"] == "C1"
    assert item["sightings"][0]["original_name"] == "a.jpg"
    assert item["first_seen"]["observed_by"] == "alice"
    new = [r.sha256 for r in results if r.status == "new"]
    assert [i["sha256"] for i in reg.list_items("C1")] == new  # as stored: input order
    assert [i["sha256"] for i in reg.list_items("C1", "sha256")] == sorted(new)


def test_same_bytes_twice_is_one_item_with_two_sightings(reg: Registry, tmp_path: Path) -> None:
    a = write_jpeg(tmp_path / "a.jpg", 1)
    copy = tmp_path / "other" / "renamed.jpg"
    copy.parent.mkdir()
    copy.write_bytes(a.read_bytes())
    first = reg.ingest(
        [a],
        Submission(
            actor="alice", posted_at="2022-03-16T12:00:00+02:00", source_url="https://t.me/x/10"
        ),
    )
    second = reg.ingest(
        [copy],
        Submission(
            actor="bob",
            posted_at="2022-03-16T09:00:00Z",
            source_url="https://t.me/y/3",
            forwarded_from="https://t.me/x/10",
        ),
    )
    assert (first[0].status, second[0].status) == ("new", "known")
    item = reg.show(first[0].sha256)
    assert len(item["sightings"]) == 2
    assert item["sightings"][1]["forwarded_from"] == "https://t.me/x/10"
    fs = item["first_seen"]
    assert fs["observed_by"] == "alice"  # received first
    assert fs["claimed_source_url"] == "https://t.me/y/3"  # claims the earlier posting
    assert fs["claimed_posted_at"] == "2022-03-16T09:00:00+00:00"
    assert len(list(reg.list_items())) == 1


def test_vault_copy_is_read_only_and_content_addressed(reg: Registry, tmp_path: Path) -> None:
    [res] = reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)])
    path = Path(reg.vault.path(res.sha256))
    assert path.read_bytes() == (tmp_path / "a.jpg").read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert path.parent.name == res.sha256[2:4] and path.parent.parent.name == res.sha256[:2]


def test_custody_events(reg: Registry, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    reg.ingest([write_jpeg(tmp_path / "a.jpg", 1), bad], Submission(actor="carol"))
    actions = [(e["action"], e["actor"]) for e in reg.custody()]
    assert actions == [
        ("registry.created", "tester"),
        ("item.stored", "carol"),
        ("metadata.extracted", "carol"),
        ("sighting.added", "carol"),
        ("ingest.failed", "carol"),
    ]
    failed = list(reg.custody())[-1]["details"]
    assert failed["error"]["code"] == "EmptyFile" and failed["path"].endswith("bad.jpg")


def test_verify_clean_and_logged(reg: Registry, media: Path) -> None:
    reg.ingest([media])
    report = reg.verify(actor="auditor")
    assert report.ok, [p.message for p in report.problems]
    assert report.vault_files == 3 and report.items == 3
    last = list(reg.custody())[-1]
    assert last["action"] == "verify.run" and last["details"]["ok"] is True


def test_verify_finds_a_changed_vault_file(reg: Registry, tmp_path: Path) -> None:
    [res] = reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)])
    path = reg.vault.path(res.sha256)
    os.chmod(path, 0o644)
    data = bytearray(Path(path).read_bytes())
    data[100] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    report = reg.verify()
    codes = sorted({p.code for p in report.problems})
    assert codes == ["HashMismatch"]
    assert {p.algorithm for p in report.problems} == {"sha256"}  # one problem per file


def test_verify_finds_missing_and_extra_files(reg: Registry, tmp_path: Path) -> None:
    [res] = reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)])
    os.unlink(reg.vault.path(res.sha256))
    stray = Path(reg.vault.root) / "00" / "00"
    stray.mkdir(parents=True)
    (stray / ("0" * 64)).write_bytes(b"planted")
    codes = sorted(p.code for p in reg.verify().problems)
    assert codes == ["ExtraFile", "MissingFile"]


def test_verify_finds_an_edited_entry_and_a_truncated_log(reg: Registry, tmp_path: Path) -> None:
    reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)], Submission(actor="alice"))
    log = Path(reg.log.path)
    lines = log.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"alice"', b'"mallory"')
    log.write_bytes(b"".join(lines))
    codes = {p.code for p in reg.verify().problems}
    assert codes == {"EditedEntry"}
    log.write_bytes(b"".join(lines[:2]))
    assert "TruncatedLog" in {p.code for p in Registry.open(reg.root).verify().problems}


def test_verify_finds_an_edited_catalogue_record(reg: Registry, tmp_path: Path) -> None:
    [res] = reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)])
    shard = Path(reg.catalog_path) / "shard-000000.json"
    data = json.loads(shard.read_text())
    data["items"][res.sha256]["metadata"]["captured_at"] = "1999-01-01T00:00:00"
    shard.write_text(json.dumps(data))
    problems = Registry.open(reg.root).verify().problems
    assert [(p.code, p.sha256, p.field) for p in problems] == [
        ("CatalogMismatch", res.sha256, "metadata")
    ]
    fresh = Registry.open(reg.root)
    fresh.rebuild()
    assert fresh.verify().ok
    assert fresh.show(res.sha256)["metadata"]["captured_at"] == "2022-03-16T10:41:07"


def test_recovery_after_crash_between_log_and_catalogue(reg: Registry, tmp_path: Path) -> None:
    index = Path(reg.catalog_path) / "index.json"
    saved = index.read_bytes()
    [res] = reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)])
    index.write_bytes(saved)  # the catalogue's index write never happened
    again = Registry.open(reg.root)
    with pytest.raises(ItemNotFound):
        again.show(res.sha256)  # readers see the last written catalogue
    report = again.verify()
    assert report.ok
    assert again.show(res.sha256)["sha256"] == res.sha256
    repairs = [e for e in again.custody() if e["action"] == "registry.recovered"]
    assert repairs and "catalogue caught up" in repairs[0]["details"]["repairs"][0]["repair"]


def test_recovery_finishes_a_staged_copy(reg: Registry, tmp_path: Path) -> None:
    [res] = reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)])
    vault_file = reg.vault.path(res.sha256)
    os.makedirs(reg.vault.staging, exist_ok=True)
    os.replace(vault_file, reg.vault.staged_path(res.sha256))  # crash before the move
    unlogged = Path(reg.vault.staging) / ("f" * 64)
    unlogged.write_bytes(b"copied but never logged")
    assert Registry.open(reg.root).verify().ok
    assert os.path.exists(vault_file) and not unlogged.exists()


def test_file_changed_after_hashing_is_rejected(reg: Registry, tmp_path: Path, monkeypatch) -> None:
    path = write_jpeg(tmp_path / "a.jpg", 1)
    from registry import ingesting

    real = ingesting.extract_all

    def tamper_after_extract(*args, **kwargs):
        for rec in real(*args, **kwargs):
            path.write_bytes(path.read_bytes() + b"appended")
            yield rec

    monkeypatch.setattr(ingesting, "extract_all", tamper_after_extract)
    [res] = reg.ingest([path])
    assert res.status == "error" and res.error_code == "FileChanged"
    assert list(reg.list_items()) == []
    assert reg.verify().ok
