"""The auto-archiver importer: serialized ``Metadata`` as the json_enricher writes it
(``json.dump(to_dict(), indent=4, default=str)``), found by content whatever its name,
and its media looked up inside its folder as the local storage names them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ingest.errors import UnreadableExport
from ingest.sources import MAX_TEXT, Options
from ingest.sources.autoarchiver import AutoArchiverSource
from ingest.sources.fields import EARLIEST, LATEST, iso_time

SOURCE = AutoArchiverSource()
TMP = "/home/ana/auto-archiver/tmpk3v9z1ab"  # TemporaryDirectory(dir="./"), made absolute


def media(filename: str, **properties: Any) -> dict[str, Any]:
    """A serialized ``Media`` (``dataclass_json``: ``_stored`` is excluded)."""
    return {
        "filename": filename,
        "_key": properties.pop("_key", None),
        "urls": properties.pop("urls", []),
        "properties": properties,
        "_mimetype": properties.pop("_mimetype", None),
    }


def metadata(media_list: list[Any], **fields: Any) -> dict[str, Any]:
    meta = {
        "url": "https://t.me/kharkiv_today/1234",
        "_processed_at": datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "title": "Shelling of the market",
        "content": "Shelling of the market, 20.07. Filmed from the fourth floor.",
        "timestamp": datetime(2021, 7, 20, 10, 0, tzinfo=UTC),
        "total_bytes": 1234,
        "archive_duration_seconds": 12,
    }
    meta.update(fields)
    meta = {k: v for k, v in meta.items() if v is not None}
    return {"status": "telethon_extractor: success", "metadata": meta, "media": media_list}


def write_json(path: Path, doc: Any) -> Path:
    """Like the json_enricher: ``json.dump(..., indent=4, default=str, ensure_ascii=False)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=4, default=str, ensure_ascii=False), "utf-8")
    return path


def stored(folder: Path, data: bytes, ext: str, algorithm: str = "SHA-256") -> tuple[Path, str]:
    """A file as the local storage stores it by default: 24 hex digits of its hash."""
    digest = (hashlib.sha256 if algorithm == "SHA-256" else hashlib.sha3_512)(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:24]}{ext}"
    path.write_bytes(data)
    return path, f"{algorithm}:{digest}"


def jpeg_bytes(color: tuple[int, int, int]) -> bytes:
    import io

    out = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(out, "JPEG")
    return out.getvalue()


def refs_of(path: Path) -> list:
    docs = SOURCE.find(str(path))
    assert len(docs) == 1
    return list(SOURCE.refs(docs[0], Options()))


def by_record(refs: list) -> dict[str, Any]:
    return {r.record: r for r in refs}


@pytest.fixture
def archive(tmp_path: Path) -> dict[str, Any]:
    """A flat local_archive: a screenshot, a video with its thumbnails, the HTML page,
    a WACZ, a photo stored only remotely, all named by their hashes."""
    folder = tmp_path / "local_archive"
    shot_bytes = jpeg_bytes((200, 30, 30))
    shot, shot_hash = stored(folder, shot_bytes, ".jpg")
    video, video_hash = stored(folder, b"\x00\x00\x00\x18ftypmp42 video", ".mp4", "SHA3-512")
    thumb, _ = stored(folder, jpeg_bytes((10, 10, 10)), ".jpg")
    _, html_hash = stored(folder, b"<html></html>", ".html")
    _, wacz_hash = stored(folder, b"PK\x03\x04", ".wacz")
    doc = metadata(
        [
            media(f"{TMP}/screenshot.jpg", id="screenshot", hash=shot_hash),
            media(
                f"{TMP}/Shelling [1234].mp4",
                hash=video_hash,
                pdq_hash="f" * 64,
                duration=12.5,
                thumbnails=[
                    media(f"{TMP}/a1b2c3/out0.jpg", id="thumbnail_0", timestamp="4.167s"),
                    media(f"{TMP}/a1b2c3/out1.jpg", id="thumbnail_1", timestamp="8.333s"),
                ],
            ),
            media(f"{TMP}/formatted9f8e7d.html", hash=html_hash, _mimetype="text/html"),
            media("collections/c1/c1.wacz", id="browsertrix", hash=wacz_hash),
            media(
                f"{TMP}/photo.jpg",
                urls=["https://bucket.s3.eu-central-1.amazonaws.com/kharkiv/0123abcd.jpg"],
            ),
        ],
        id=1234,
        author="Kharkiv Today",
    )
    path = write_json(folder / f"{hashlib.sha256(b'json').hexdigest()[:24]}.json", doc)
    return {
        "folder": folder,
        "path": path,
        "shot": shot,
        "shot_sha256": hashlib.sha256(shot_bytes).hexdigest(),
        "video": video,
        "thumb": thumb,
    }


def test_a_local_archive_is_imported(archive: dict[str, Any]) -> None:
    docs = SOURCE.find(str(archive["folder"]))
    assert [(d.path, d.kind, d.format, d.mime, d.root) for d in docs] == [
        (
            str(archive["path"]),
            "auto-archiver",
            "auto-archiver-json",
            "application/json",
            str(archive["folder"]),
        )
    ]
    refs = list(SOURCE.refs(docs[0], Options()))
    assert [(r.record, r.status, r.name) for r in refs] == [
        ("screenshot", "ok", "screenshot.jpg"),
        (f"{TMP}/Shelling [1234].mp4", "ok", "Shelling [1234].mp4"),
        (f"{TMP}/Shelling [1234].mp4/thumbnail_0", "skipped", "out0.jpg"),
        (f"{TMP}/Shelling [1234].mp4/thumbnail_1", "skipped", "out1.jpg"),
        (f"{TMP}/formatted9f8e7d.html", "skipped", "formatted9f8e7d.html"),
        ("browsertrix", "skipped", "c1.wacz"),
        (f"{TMP}/photo.jpg", "missing", "photo.jpg"),
    ]
    shot, video, thumb, html, wacz, remote = (refs[i] for i in (0, 1, 2, 4, 5, 6))
    assert shot.path == str(archive["shot"].resolve())
    assert shot.original_path == archive["shot"].name
    assert shot.expected_sha256 == archive["shot_sha256"]
    assert shot.warnings == [] and shot.error is None
    assert shot.sighting == {
        "source_kind": "auto-archiver",
        "source_url": "https://t.me/kharkiv_today/1234",
        "post_id": "1234",
        "author": "Kharkiv Today",
        "posted_at": "2021-07-20T10:00:00+00:00",
        "archived_at": "2024-05-01T12:00:00.123456+00:00",
        "text": "Shelling of the market, 20.07. Filmed from the fourth floor.",
    }
    # SHA3-512: found by its static name, the hash kept as a warning, not checked.
    assert video.path == str(archive["video"].resolve()) and video.expected_sha256 is None
    assert [(w["step"], w["code"]) for w in video.warnings] == [
        ("expected_sha256", "UncheckedHash")
    ]
    assert "SHA3-512:" in video.warnings[0]["message"]
    assert thumb.error["code"] == "NotMedia" and "thumbnail" in thumb.error["message"]
    assert "text/html" in html.error["message"]
    assert "web-archive importer" in wacz.error["message"]
    assert remote.error["code"] == "MissingMedia" and "never fetched" in remote.error["message"]
    assert remote.path is None


def test_a_post_storage_dump_is_found_by_key_and_local_urls(tmp_path: Path) -> None:
    # Metadata serialized after the storages ran (api_db, a database): _key and urls set.
    folder = tmp_path / "local_archive" / "case-17"
    video, video_hash = stored(folder, b"video bytes", ".mp4")
    photo, _ = stored(folder / "sub", jpeg_bytes((1, 2, 3)), ".jpg")
    doc = metadata(
        [
            media(
                f"{TMP}/v.mp4",
                _key=f"./local_archive/case-17/{video.name}",
                urls=[f"./local_archive/case-17/{video.name}"],
                hash=video_hash,
            ),
            media(f"{TMP}/p.jpg", urls=[f"sub/{photo.name}"]),
        ]
    )
    write_json(folder / "metadata.json", doc)
    refs = refs_of(folder / "metadata.json")
    assert [(r.status, r.original_path) for r in refs] == [
        ("ok", video.name),
        ("ok", f"sub/{photo.name}"),
    ]
    assert refs[0].record == f"./local_archive/case-17/{video.name}"
    assert refs[0].expected_sha256 == video_hash.split(":")[1]


def test_a_tmp_folder_copy_is_found_by_file_name(tmp_path: Path) -> None:
    (tmp_path / "video.mp4").write_bytes(b"\x00")
    write_json(tmp_path / "metadata.json", metadata([media(f"{TMP}/video.mp4")]))
    [ref] = refs_of(tmp_path)
    assert (ref.status, ref.name, ref.original_path) == ("ok", "video.mp4", "video.mp4")
    assert ref.expected_sha256 is None and ref.warnings == []


# --- path safety -------------------------------------------------------------------------


@pytest.mark.parametrize("recorded", ["../../etc/shadow.jpg", "a/../../x.jpg"])
def test_paths_climbing_out_are_unsafe(tmp_path: Path, recorded: str) -> None:
    root = tmp_path / "export" / "inner"
    (tmp_path / "export" / "x.jpg").parent.mkdir(parents=True)
    (tmp_path / "export" / "x.jpg").write_bytes(jpeg_bytes((0, 0, 0)))
    write_json(root / "metadata.json", metadata([media(recorded)]))
    [ref] = refs_of(root)
    assert (ref.status, ref.path, ref.error["code"]) == ("error", None, "UnsafeReference")


def test_a_stored_file_linking_out_is_unsafe_and_never_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(jpeg_bytes((9, 9, 9)))
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    root = tmp_path / "export"
    root.mkdir()
    (root / f"{digest[:24]}.jpg").symlink_to(secret)
    doc = metadata([media(f"{TMP}/secret.jpg", hash=f"SHA-256:{digest}")])
    write_json(root / "metadata.json", doc)
    [ref] = refs_of(root)
    assert (ref.status, ref.path, ref.error["code"]) == ("error", None, "UnsafeReference")


def test_an_absolute_path_is_looked_up_by_name_inside_only(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "real.jpg").write_bytes(b"\xff\xd8\xff")
    root = tmp_path / "export"
    write_json(root / "metadata.json", metadata([media(str(outside / "real.jpg"))]))
    [ref] = refs_of(root)
    assert (ref.status, ref.path) == ("missing", None)  # never taken from outside


# --- recognising documents ---------------------------------------------------------------


def test_find_recognises_metadata_by_content_whatever_the_name(tmp_path: Path) -> None:
    a = write_json(tmp_path / "0f3a9c2be1d4a7f6c5e8b9d0.json", metadata([]))
    b = write_json(tmp_path / "sub" / "metadata.json", metadata([]))
    write_json(tmp_path / "result.json", {"name": "Chat", "type": "public_channel", "id": 1})
    write_json(tmp_path / "v.info.json", {"id": "x", "_type": "video", "epoch": 1})
    write_json(tmp_path / "partial.json", {"status": "x", "metadata": {}})
    write_json(tmp_path / "typed.json", {"status": 1, "metadata": {}, "media": []})
    write_json(tmp_path / "later.json", {"other": 1, "status": "", "metadata": {}, "media": []})
    (tmp_path / "garbage.json").write_bytes(b"\x00\x01 not json")
    (tmp_path / "metadata.txt").write_text(json.dumps(metadata([]), default=str))
    assert [d.path for d in SOURCE.find(str(tmp_path))] == [str(a), str(b)]
    assert SOURCE.find(str(tmp_path / "garbage.json")) == []
    assert len(SOURCE.find(str(tmp_path / "metadata.txt"))) == 1  # named explicitly


def test_older_metadata_with_extra_fields_is_recognised(tmp_path: Path) -> None:
    doc = {**metadata([]), "rearchivable": True}  # auto-archiver < 0.6
    write_json(tmp_path / "metadata.json", doc)
    assert refs_of(tmp_path) == []


def test_a_cut_metadata_is_found_and_unreadable(tmp_path: Path) -> None:
    text = json.dumps(metadata([media(f"{TMP}/a.jpg")]), indent=4, default=str)
    (tmp_path / "metadata.json").write_text(text[: text.index('"media"') + 20])
    [doc] = SOURCE.find(str(tmp_path))
    with pytest.raises(UnreadableExport):
        list(SOURCE.refs(doc, Options()))


def test_malformed_media_items_are_error_references(tmp_path: Path) -> None:
    (tmp_path / "ok.jpg").write_bytes(b"\xff\xd8\xff")
    items = ["junk", {"filename": None, "properties": {}}, media("ok.jpg"), media("ok.jpg")]
    write_json(tmp_path / "metadata.json", metadata(items))
    refs = refs_of(tmp_path)
    assert [(r.record, r.status) for r in refs] == [
        ("media[0]", "error"),
        ("media[1]", "error"),
        ("ok.jpg", "ok"),
        ("ok.jpg#2", "ok"),
    ]
    assert {r.error["code"] for r in refs[:2]} == {"MalformedRecord"}


def test_a_bad_hash_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff")
    write_json(tmp_path / "metadata.json", metadata([media("a.jpg", hash="SHA-256:abc")]))
    [ref] = refs_of(tmp_path)
    assert ref.status == "ok" and ref.expected_sha256 is None
    assert [(w["step"], w["code"]) for w in ref.warnings] == [
        ("expected_sha256", "MalformedRecord")
    ]


# --- sighting facts ----------------------------------------------------------------------


def test_a_timestamp_without_offset_is_kept_bare_with_a_warning(tmp_path: Path) -> None:
    doc = metadata([media("a.jpg")], timestamp="2021-07-20 13:00:00")
    write_json(tmp_path / "metadata.json", doc)
    [ref] = refs_of(tmp_path)
    assert ref.sighting["posted_at"] == "2021-07-20T13:00:00"
    assert [(w["step"], w["code"]) for w in ref.warnings] == [("posted_at", "TimeWithoutOffset")]


def test_offsets_are_kept_for_posted_at_and_made_utc_for_archived_at(tmp_path: Path) -> None:
    doc = metadata(
        [media("a.jpg")],
        timestamp="2021-07-20T13:00:00+03:00",
        _processed_at="2024-05-01 14:00:00+02:00",
    )
    write_json(tmp_path / "metadata.json", doc)
    [ref] = refs_of(tmp_path)
    assert ref.sighting["posted_at"] == "2021-07-20T13:00:00+03:00"
    assert ref.sighting["archived_at"] == "2024-05-01T12:00:00+00:00"


def test_a_unix_timestamp_and_upload_date_fallback(tmp_path: Path) -> None:
    # dataclass_json's to_json writes datetimes as Unix times.
    write_json(tmp_path / "a" / "m.json", metadata([media("a.jpg")], timestamp=1626775200.0))
    [ref] = refs_of(tmp_path / "a")
    assert ref.sighting["posted_at"] == "2021-07-20T10:00:00+00:00"
    doc = metadata(
        [media("a.jpg")],
        timestamp=None,
        upload_date=datetime(2021, 7, 20, tzinfo=UTC),  # generic_extractor's yt-dlp date
    )
    write_json(tmp_path / "b" / "m.json", doc)
    [ref] = refs_of(tmp_path / "b")
    assert ref.sighting["posted_at"] == "2021-07-20"


@pytest.mark.parametrize("timestamp", ["0001-01-01 00:00:00+00:00", "yesterday", 0, -5, [1]])
def test_absurd_timestamps_are_warned_and_not_used(tmp_path: Path, timestamp: Any) -> None:
    doc = metadata([media("a.jpg")], timestamp=timestamp, _processed_at="2024-05-01 12:00:00")
    write_json(tmp_path / "metadata.json", doc)
    [ref] = refs_of(tmp_path)
    assert "posted_at" not in ref.sighting and "archived_at" not in ref.sighting
    assert {(w["step"], w["code"]) for w in ref.warnings} == {
        ("posted_at", "MalformedRecord"),
        ("archived_at", "MalformedRecord"),  # no offset: an archive time must be UTC
    }


def test_long_content_is_cut_and_title_is_the_fallback(tmp_path: Path) -> None:
    write_json(tmp_path / "a" / "m.json", metadata([media("a.jpg")], content="€" * MAX_TEXT))
    [ref] = refs_of(tmp_path / "a")
    assert len(ref.sighting["text"].encode()) == MAX_TEXT - MAX_TEXT % 3
    assert ("text", "TextTruncated") in {(w["step"], w["code"]) for w in ref.warnings}
    write_json(tmp_path / "b" / "m.json", metadata([media("a.jpg")], content=None))
    [ref] = refs_of(tmp_path / "b")
    assert ref.sighting["text"] == "Shelling of the market"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.text(max_size=40),
        st.datetimes(timezones=st.none() | st.timezones()).map(str),
        st.datetimes().map(lambda d: d.isoformat()),
        st.floats(),
        st.integers(),
    ),
    st.booleans(),
)
def test_any_timestamp_gives_an_iso_date_or_a_warning(value: Any, utc: bool) -> None:
    warnings: list = []
    result = iso_time(value, "posted_at", warnings, utc=utc)
    if result is None:
        assert value in (None, "") or warnings
        return
    if len(result) == 10:
        return  # a date alone, as the source wrote it
    parsed = datetime.fromisoformat(result)
    bounded = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    assert EARLIEST <= bounded < LATEST
    if utc:
        assert result.endswith("+00:00")
    if parsed.tzinfo is None:
        assert [w["code"] for w in warnings] == ["TimeWithoutOffset"]
