"""The registry's side of ``evidence import``, with a source made for the test: documents
stored as evidence, sightings with provenance, missing and skipped references, recorded
hashes checked, nothing recorded twice, one bad reference or document costing only itself."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import write_jpeg
from ingest import sources
from ingest.sources import Document, MediaRef, Options
from registry import Registry, Submission


class FakeSource:
    """Reads ``posts.json``: ``[{"id", "file", "status"?, "sha256"?, "posted"?}]``."""

    kind = "fake"

    def find(self, path: str) -> list[Document]:
        found = []
        for folder, _, names in os.walk(path) if os.path.isdir(path) else []:
            if "posts.json" in names:
                doc = os.path.join(folder, "posts.json")
                found.append(Document(doc, "fake", "fake-json", "application/json", folder))
        return found

    def refs(self, document: Document, options: Options) -> Iterator[MediaRef]:
        with open(document.path, encoding="utf-8") as fh:
            posts = json.load(fh)
        for post in posts:
            if post == "BREAK":
                raise ValueError("the document ends in garbage")
            status = post.get("status", "ok")
            path = os.path.join(document.root, post["file"]) if post.get("file") else None
            yield MediaRef(
                document,
                str(post["id"]),
                status,
                path=path if status == "ok" else None,
                name=post.get("file", ""),
                original_path=post.get("file", ""),
                error={"code": "MissingMedia", "message": "not included"}
                if status == "missing"
                else {"code": "NotMedia", "message": "a voice message"}
                if status == "skipped"
                else None,
                expected_sha256=post.get("sha256"),
                sighting={
                    "source_kind": "fake",
                    "post_id": str(post["id"]),
                    "channel": "Example channel",
                    "source_url": f"https://example.org/c/{post['id']}",
                    "posted_at": post.get("posted", "2022-03-16T10:41:07+00:00"),
                    "text": post.get("text"),
                    "archived_at": post.get("archived"),
                },
            )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sources.SOURCES, "fake", FakeSource())


def make_export(folder: Path, posts: list[dict | str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "posts.json").write_text(json.dumps(posts), encoding="utf-8")
    return folder


@pytest.fixture
def export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    a = write_jpeg(folder / "photos" / "a.jpg", 1, size=(320, 240))
    write_jpeg(folder / "photos" / "b.jpg", 2, size=(320, 240))
    (folder / "photos" / "c.jpg").write_bytes(a.read_bytes())  # the same photo again
    write_jpeg(folder / "photos" / "d.jpg", 4, size=(320, 240))
    posts = [
        {"id": 1, "file": "photos/a.jpg", "text": "first"},
        {"id": 2, "file": "photos/b.jpg", "posted": "2022-03-16T10:50:00"},
        {"id": 3, "status": "missing"},
        {"id": 4, "status": "skipped", "file": "voice/1.ogg"},
        {"id": 5, "file": "photos/c.jpg"},  # a re-post of post 1's photo
        {"id": 6, "file": "photos/d.jpg", "sha256": "0" * 64},  # the tool recorded another
    ]
    return make_export(folder, posts)


def test_an_export_becomes_items_with_exact_sightings(fake: None, export: Path, tmp_path) -> None:
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    results = reg.import_([export], Submission(actor="alice", case="UA-1"), fmt="fake")
    by_post = {r.sighting.get("post_id"): r for r in results}
    assert [by_post[str(i)].status for i in range(1, 7)] == [
        "new",
        "new",
        "missing",
        "skipped",
        "known",
        "error",
    ]
    assert by_post["6"].error_code == "RecordedHashMismatch"
    doc_sha = hashlib.sha256((export / "posts.json").read_bytes()).hexdigest()
    assert by_post["1"].provenance == {"sha256": doc_sha, "record": "1"}
    assert by_post["1"].to_dict()["source_url"] == "https://example.org/c/1"

    document = reg.show(doc_sha)  # the export itself is evidence, write-once in the vault
    assert document["media_type"] == "document" and document["format"] == "fake-json"
    assert Path(reg.vault.path(doc_sha)).read_bytes() == (export / "posts.json").read_bytes()

    photo = reg.show(by_post["1"].sha256)
    posts = sorted(s["post_id"] for s in photo["sightings"])
    assert posts == ["1", "5"]  # post 5 re-posted the same bytes: a second sighting
    first = next(s for s in photo["sightings"] if s["post_id"] == "1")
    assert first["case"] == "UA-1" and first["channel"] == "Example channel"
    assert first["text"] == "first" and first["original_path"] == "photos/a.jpg"
    assert first["provenance"]["sha256"] == doc_sha

    missing = [e for e in reg.custody() if e["action"] == "sighting.missing"]
    assert len(missing) == 1 and missing[0]["details"]["post_id"] == "3"
    [run] = [e for e in reg.custody() if e["action"] == "import.run"]
    assert run["details"]["counts"] == {
        "new": 2,
        "missing": 1,
        "skipped": 1,
        "known": 1,
        "error": 1,
    }
    assert reg.verify().ok


def test_importing_again_records_nothing_twice(fake: None, export: Path, tmp_path) -> None:
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    reg.import_([export], fmt="fake")
    recorded = ("item.stored", "sighting.added", "sighting.missing")
    entries = sum(1 for e in reg.custody() if e["action"] in recorded)
    again = reg.import_([export], fmt="fake")
    assert {r.status for r in again} == {"known", "missing", "skipped", "error"}
    # Failed attempts are logged each time (ingest.failed); what was seen is not.
    assert sum(1 for e in reg.custody() if e["action"] in recorded) == entries

    newer = json.loads((export / "posts.json").read_text())
    write_jpeg(export / "photos" / "e.jpg", 5, size=(320, 240))
    newer.append({"id": 7, "file": "photos/e.jpg"})
    make_export(export, newer)  # a later export of the same channel: only post 7 is new
    latest = {r.sighting["post_id"]: r.status for r in reg.import_([export], fmt="fake")}
    assert latest["7"] == "new" and latest["1"] == "known"
    assert len([e for e in reg.custody() if e["action"] == "sighting.missing"]) == 1
    item = reg.show(next(r.sha256 for r in again if r.sighting["post_id"] == "1"))
    assert sorted(s["post_id"] for s in item["sightings"]) == ["1", "5"]
    assert reg.verify().ok


def test_a_document_that_breaks_midway_keeps_what_came_before(fake: None, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    write_jpeg(folder / "a.jpg", 1, size=(320, 240))
    make_export(folder, [{"id": 1, "file": "a.jpg"}, "BREAK"])
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    results = reg.import_([folder], fmt="fake")
    assert [r.status for r in results] == ["new", "error"]
    assert "the document ends in garbage" in (results[1].error or "")
    assert reg.verify().ok


def test_a_path_without_an_export_is_an_error_not_a_crash(fake: None, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    results = reg.import_([tmp_path / "empty", tmp_path / "absent"], fmt="fake")
    assert [(r.status, r.error_code) for r in results] == [("error", "UnreadableExport")] * 2
    assert "no fake export found" in (results[0].error or "")
    assert "no such file" in (results[1].error or "")


def test_the_timeline_orders_posted_archived_and_observed(
    fake: None, export: Path, tmp_path: Path
) -> None:
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    results = reg.import_([export], fmt="fake")
    b = reg.show(next(r.sha256 for r in results if r.sighting["post_id"] == "2"))
    kinds = [e["event"] for e in b["timeline"]]
    assert kinds == ["captured", "posted", "observed"]  # EXIF 10:41:07, posted 10:50
    posted = b["timeline"][1]
    assert posted["at"] == "2022-03-16T10:50:00"  # no offset: kept as it was, with a note
    assert "no UTC offset" in posted["note"] and posted["source_kind"] == "fake"
    assert posted["source_url"] == "https://example.org/c/2"


def test_dupes_and_the_html_report_give_a_cluster_its_timeline(fake: None, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "export"
    original = write_jpeg(folder / "a.jpg", 31, size=(480, 360))
    Image.open(original).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "b.jpg")
    make_export(
        folder,
        [
            {"id": 1, "file": "a.jpg", "posted": "2022-03-16T10:00:00+00:00"},
            {
                "id": 2,
                "file": "b.jpg",
                "posted": "2022-03-15T09:00:00+00:00",
                "archived": "2022-03-15T12:00:00+00:00",
            },
        ],
    )
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    results = reg.import_([folder], fmt="fake")
    [cluster] = reg.dupes()
    moments = [(e["event"], e["at"], e["sha256"]) for e in cluster["timeline"]][:3]
    mirror = results[1].sha256
    assert moments == [
        ("posted", "2022-03-15T09:00:00+00:00", mirror),  # the mirrored re-post came first
        ("archived", "2022-03-15T12:00:00+00:00", mirror),
        ("posted", "2022-03-16T10:00:00+00:00", results[0].sha256),
    ]
    assert cluster["first_seen"]["archived"]["at"] == "2022-03-15T12:00:00+00:00"
    from registry import export_items

    export_items(reg, "html", str(tmp_path / "report"), actor="tester")
    report = (tmp_path / "report" / "report.html").read_text()
    assert "<h4>Timeline</h4>" in report and "Timeline of every copy" in report
    cluster_part = report[report.index("Timeline of every copy") :]
    assert cluster_part.index("2022-03-15T09:00:00+00:00") < cluster_part.index(
        "2022-03-16T10:00:00+00:00"
    )


def test_a_source_that_crashes_on_a_path_costs_only_that_path(
    fake: None, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(FakeSource):
        kind = "broken"

        def find(self, path: str) -> list[Document]:
            raise RuntimeError("the parser fell over")

    monkeypatch.setitem(sources.SOURCES, "broken", Broken())
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    results = reg.import_([export])  # auto: every source looks, the broken one too
    errors = [r for r in results if r.error_code == "UnreadableExport"]
    assert len(errors) == 1 and "the parser fell over" in (errors[0].error or "")
    assert {r.status for r in results} >= {"new", "missing", "skipped", "known"}
