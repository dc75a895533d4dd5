"""The yt-dlp importer: ``.info.json`` sidecars as yt-dlp writes them (clean by default,
``--no-clean-info-json``, playlists, audio-only, photos), paired with the media of the
same stem, safely inside their folder; the JSON reader that keeps memory bounded."""

from __future__ import annotations

import io
import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ingest.errors import UnreadableExport
from ingest.sources import MAX_TEXT, Options
from ingest.sources.fields import EARLIEST, LATEST, compact_date, cut_text, unix_time
from ingest.sources.jsonstream import iter_array, keep_all, read_object
from ingest.sources.ytdlp import YtdlpSource

SOURCE = YtdlpSource()
VIDEO_ID = "dQw4w9WgXcQ"
STEM = f"Shelling of the market, 20.07 [{VIDEO_ID}]"  # the default "%(title)s [%(id)s]"


def youtube_info(**changes: Any) -> dict[str, Any]:
    """An info dict as ``--write-info-json`` writes it (``--clean-info-json``: no
    ``_filename``, ``requested_*``, ``original_url``, nor None values)."""
    info: dict[str, Any] = {
        "id": VIDEO_ID,
        "title": "Shelling of the market, 20.07",
        "formats": [
            {"format_id": "sb0", "ext": "mhtml", "protocol": "mhtml", "vcodec": "none"},
            {"format_id": "137", "ext": "mp4", "vcodec": "avc1.640028", "acodec": "none"},
            {"format_id": "140", "ext": "m4a", "vcodec": "none", "acodec": "mp4a.40.2"},
        ],
        "thumbnails": [{"url": "https://i.ytimg.com/vi/x/maxresdefault.jpg", "id": "0"}],
        "thumbnail": "https://i.ytimg.com/vi_webp/x/maxresdefault.webp",
        "description": "Filmed by a resident from the fourth floor.",
        "channel_id": "UCxxxxxxxxxxxxxxxxxxxxxx",
        "channel_url": "https://www.youtube.com/channel/UCxxxxxxxxxxxxxxxxxxxxxx",
        "duration": 212,
        "view_count": 1042,
        "webpage_url": f"https://www.youtube.com/watch?v={VIDEO_ID}",
        "categories": ["News & Politics"],
        "live_status": "not_live",
        "automatic_captions": {"uk": [{"ext": "vtt", "url": "https://www.youtube.com/api"}]},
        "subtitles": {},
        "channel": "Kharkiv Today",
        "uploader": "Kharkiv Today (uploader)",
        "uploader_id": "@kharkivtoday",
        "uploader_url": "https://www.youtube.com/@kharkivtoday",
        "upload_date": "20210720",
        "timestamp": 1626775200,
        "availability": "public",
        "webpage_url_basename": "watch",
        "webpage_url_domain": "youtube.com",
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "display_id": VIDEO_ID,
        "fulltitle": "Shelling of the market, 20.07",
        "epoch": 1700000000,
        "format": "137 - 1920x1080 (1080p)+140 - audio only (medium)",
        "format_id": "137+140",
        "ext": "mp4",
        "vcodec": "avc1.640028",
        "acodec": "mp4a.40.2",
        "_type": "video",
        "_version": {"version": "2024.08.06", "repository": "yt-dlp/yt-dlp"},
    }
    info.update(changes)
    return {k: v for k, v in info.items() if v is not None}


def write_sidecar(folder: Path, stem: str, info: Any) -> Path:
    """Like ``yt_dlp.utils.write_json_file``: ``json.dump(..., ensure_ascii=False)``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.info.json"
    path.write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return path


def write_photo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 12), (180, 40, 30)).save(path, "JPEG")


def refs_of(path: Path) -> list:
    docs = SOURCE.find(str(path))
    assert len(docs) == 1
    return list(SOURCE.refs(docs[0], Options()))


def summary(refs: list) -> list[tuple[str, str, str]]:
    return [(r.record, r.status, r.name) for r in refs]


# --- finding sidecars --------------------------------------------------------------------


def test_a_clean_sidecar_pairs_with_the_video_of_its_stem(tmp_path: Path) -> None:
    sidecar = write_sidecar(tmp_path, STEM, youtube_info())
    (tmp_path / f"{STEM}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (tmp_path / f"{STEM}.webp").write_bytes(b"RIFF0000WEBP")  # --write-thumbnail
    (tmp_path / f"{STEM}.uk.vtt").write_text("WEBVTT\n")  # --write-auto-subs
    (tmp_path / f"{STEM}.description").write_text("Filmed by a resident")

    docs = SOURCE.find(str(tmp_path))
    assert [(d.path, d.kind, d.format, d.mime, d.root) for d in docs] == [
        (str(sidecar), "ytdlp", "ytdlp-info-json", "application/json", str(tmp_path))
    ]
    [ref] = SOURCE.refs(docs[0], Options())
    assert (ref.record, ref.status, ref.name) == (VIDEO_ID, "ok", f"{STEM}.mp4")
    assert ref.path == str((tmp_path / f"{STEM}.mp4").resolve())
    assert ref.original_path == f"{STEM}.mp4"
    assert ref.document == docs[0] and ref.error is None and ref.warnings == []
    assert ref.sighting == {
        "source_kind": "ytdlp",
        "source_url": f"https://www.youtube.com/watch?v={VIDEO_ID}",
        "post_id": VIDEO_ID,
        "channel": "Kharkiv Today",
        "author": "Kharkiv Today (uploader)",
        "posted_at": "2021-07-20T10:00:00+00:00",
        "archived_at": "2023-11-14T22:13:20+00:00",
        "text": "Filmed by a resident from the fourth floor.",
    }


def test_find_searches_folders_recursively_and_takes_a_single_sidecar(tmp_path: Path) -> None:
    a = write_sidecar(tmp_path / "b" / "deep", "a [1]", youtube_info(id="1"))
    b = write_sidecar(tmp_path, "b [2]", youtube_info(id="2"))
    (tmp_path / "notes.json").write_text(json.dumps(youtube_info()))  # not a sidecar name
    (tmp_path / "other.info.json").write_text('{"name": "not yt-dlp", "messages": []}')
    (tmp_path / "list.info.json").write_text("[1, 2]")
    assert [d.path for d in SOURCE.find(str(tmp_path))] == [str(b), str(a)]
    assert [d.root for d in SOURCE.find(str(a))] == [str(a.parent)]
    assert SOURCE.find(str(tmp_path / "notes.json")) == []
    assert SOURCE.find(str(tmp_path / "absent")) == []
    assert next(SOURCE.iter_find(str(tmp_path))).path == str(b)  # streamed lazily


def test_symlinked_sidecars_and_folders_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_sidecar(outside, "x [1]", youtube_info())
    root = tmp_path / "root"
    root.mkdir()
    (root / "x [1].info.json").symlink_to(outside / "x [1].info.json")
    (root / "dir").symlink_to(outside, target_is_directory=True)
    assert SOURCE.find(str(root)) == []


# --- pairing -------------------------------------------------------------------------------


def test_a_remuxed_or_merged_video_is_found_whatever_its_container(tmp_path: Path) -> None:
    # The sidecar is written before post-processing: "ext" says mp4, --remux-video made mkv.
    write_sidecar(tmp_path, STEM, youtube_info())
    (tmp_path / f"{STEM}.mkv").write_bytes(b"\x1a\x45\xdf\xa3")
    (tmp_path / f"{STEM}.jpg").write_bytes(b"\xff\xd8\xff")  # the thumbnail, as jpg
    assert summary(refs_of(tmp_path)) == [(VIDEO_ID, "ok", f"{STEM}.mkv")]


def test_a_photo_download_is_a_reference(tmp_path: Path) -> None:
    stem = "Name - 3 photos #2 [1417000000000000002]"
    info = youtube_info(
        id="1417000000000000002", ext="jpg", vcodec="none", acodec="none", format_id="orig"
    )
    write_sidecar(tmp_path, stem, info)
    write_photo(tmp_path / f"{stem}.jpg")
    [ref] = refs_of(tmp_path)
    assert (ref.status, ref.name) == ("ok", f"{stem}.jpg")
    assert Path(ref.path).read_bytes()[:3] == b"\xff\xd8\xff"


def test_an_image_with_nothing_else_and_no_ext_is_the_download(tmp_path: Path) -> None:
    write_sidecar(tmp_path, "p [9]", youtube_info(id="9", ext=None, format_id=None))
    write_photo(tmp_path / "p [9].png")
    assert summary(refs_of(tmp_path)) == [("9", "ok", "p [9].png")]


def test_missing_media_is_a_missing_reference(tmp_path: Path) -> None:
    write_sidecar(tmp_path, STEM, youtube_info())
    (tmp_path / f"{STEM}.webp").write_bytes(b"RIFF")  # only the thumbnail made it
    (tmp_path / f"{STEM}.mp4.part").write_bytes(b"\x00")
    [ref] = refs_of(tmp_path)
    assert (ref.status, ref.name, ref.path) == ("missing", f"{STEM}.mp4", None)
    assert ref.error["code"] == "MissingMedia"
    assert ".part" in ref.error["message"]
    assert ref.sighting["post_id"] == VIDEO_ID  # the post existed


def test_audio_only_downloads_are_skipped_not_media(tmp_path: Path) -> None:
    # yt-dlp -x --audio-format mp3: the format was audio-only webm, converted to mp3.
    audio = youtube_info(ext="webm", vcodec="none", acodec="opus", format_id="251")
    write_sidecar(tmp_path / "x", STEM, audio)
    (tmp_path / "x" / f"{STEM}.mp3").write_bytes(b"ID3")
    [ref] = refs_of(tmp_path / "x")
    assert (ref.status, ref.name) == ("skipped", f"{STEM}.mp3")
    assert ref.error["code"] == "NotMedia"
    # -x -k keeps the audio-only webm too: it has the info dict's ext and no video.
    (tmp_path / "x" / f"{STEM}.webm").write_bytes(b"\x1a\x45\xdf\xa3")
    got = summary(refs_of(tmp_path / "x"))
    assert got == [
        (f"{VIDEO_ID}:{STEM}.webm", "skipped", f"{STEM}.webm"),
        (f"{VIDEO_ID}:{STEM}.mp3", "skipped", f"{STEM}.mp3"),
    ]
    # -f bestaudio: an m4a.
    write_sidecar(tmp_path / "y", "a [b]", youtube_info(id="b", ext="m4a", vcodec="none"))
    (tmp_path / "y" / "a [b].m4a").write_bytes(b"\x00")
    assert summary(refs_of(tmp_path / "y")) == [("b", "skipped", "a [b].m4a")]


def test_unclean_sidecars_use_the_recorded_file_names(tmp_path: Path) -> None:
    # --no-clean-info-json -P /home/ana/dl: _filename is absolute, on the machine that ran.
    info = youtube_info(
        _filename=f"/home/ana/dl/{STEM}.mkv",
        original_url=f"https://youtu.be/{VIDEO_ID}",
        webpage_url=None,
    )
    write_sidecar(tmp_path, STEM, info)
    (tmp_path / f"{STEM}.mkv").write_bytes(b"\x1a\x45\xdf\xa3")
    (tmp_path / f"{STEM}.mp4").write_bytes(b"\x00")  # a stray file of the same stem
    [ref] = refs_of(tmp_path)
    assert (ref.status, ref.name, ref.original_path) == ("ok", f"{STEM}.mkv", f"{STEM}.mkv")
    assert ref.sighting["source_url"] == f"https://youtu.be/{VIDEO_ID}"


def test_a_recorded_relative_path_is_taken_inside_the_folder(tmp_path: Path) -> None:
    info = youtube_info(_filename="clips/v.mp4")
    write_sidecar(tmp_path, "v", info)
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "v.mp4").write_bytes(b"\x00")
    [ref] = refs_of(tmp_path / "v.info.json")
    assert (ref.status, ref.original_path) == ("ok", "clips/v.mp4")


def test_separate_downloads_are_one_reference_each(tmp_path: Path) -> None:
    # -f "bv,ba" --no-clean-info-json: requested_downloads has one entry per file.
    downloads = [
        {"format_id": "137", "ext": "mp4", "filepath": f"{STEM}.f137.mp4", "vcodec": "avc1"},
        {"format_id": "140", "ext": "m4a", "filepath": f"{STEM}.f140.m4a", "vcodec": "none"},
        {"format_id": "999", "ext": "mp4", "filepath": f"{STEM}.f999.mp4"},
    ]
    write_sidecar(tmp_path, STEM, youtube_info(requested_downloads=downloads))
    (tmp_path / f"{STEM}.f137.mp4").write_bytes(b"\x00")
    (tmp_path / f"{STEM}.f140.m4a").write_bytes(b"\x00")
    assert summary(refs_of(tmp_path)) == [
        (f"{VIDEO_ID}:{STEM}.f137.mp4", "ok", f"{STEM}.f137.mp4"),
        (f"{VIDEO_ID}:{STEM}.f140.m4a", "skipped", f"{STEM}.f140.m4a"),
        (f"{VIDEO_ID}:{STEM}.f999.mp4", "missing", f"{STEM}.f999.mp4"),
    ]


def test_recorded_paths_not_in_the_folder_fall_back_to_the_stem(tmp_path: Path) -> None:
    write_sidecar(tmp_path, STEM, youtube_info(_filename=f"/tmp/work/{STEM}.temp.mp4"))
    (tmp_path / f"{STEM}.mp4").write_bytes(b"\x00")
    assert summary(refs_of(tmp_path)) == [(VIDEO_ID, "ok", f"{STEM}.mp4")]


# --- path safety -------------------------------------------------------------------------


@pytest.mark.parametrize("recorded", ["../../etc/passwd.mp4", "a/../../x.mp4", "..\\..\\x.mp4"])
def test_recorded_paths_climbing_out_are_unsafe_and_never_opened(
    tmp_path: Path, recorded: str
) -> None:
    root = tmp_path / "export" / "inner"
    (tmp_path / "export" / "x.mp4").parent.mkdir(parents=True)
    (tmp_path / "export" / "x.mp4").write_bytes(b"\x00")
    write_sidecar(root, STEM, youtube_info(_filename=recorded))
    (root / f"{STEM}.mp4").write_bytes(b"\x00")
    [ref] = refs_of(root)  # a Windows path (backslashes) climbing out is refused too
    assert (ref.status, ref.path) == ("error", None)
    assert ref.error["code"] == "UnsafeReference"


def test_a_media_file_that_links_out_of_the_folder_is_unsafe(tmp_path: Path) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"\x00")
    root = tmp_path / "export"
    write_sidecar(root, STEM, youtube_info())
    (root / f"{STEM}.mp4").symlink_to(secret)
    [ref] = refs_of(root)
    assert (ref.status, ref.path, ref.error["code"]) == ("error", None, "UnsafeReference")


def test_a_link_inside_the_folder_is_followed(tmp_path: Path) -> None:
    write_sidecar(tmp_path, STEM, youtube_info())
    (tmp_path / "real.mp4").write_bytes(b"\x00")
    (tmp_path / f"{STEM}.mp4").symlink_to(tmp_path / "real.mp4")
    [ref] = refs_of(tmp_path)
    assert (ref.status, ref.path) == ("ok", str((tmp_path / "real.mp4").resolve()))


# --- playlists -----------------------------------------------------------------------------


def x_post(tmp_path: Path, *, clean: bool = True, own_sidecars: bool = True) -> None:
    """An X post with two videos: a playlist (its own sidecar) and one entry per video,
    named "%(title)s [%(id)s]" with the media ids and "#1", "#2" in the titles."""
    post = "1416000000000000000"
    common = {
        "description": "Two videos of the strike",
        "uploader": "Oleh",
        "uploader_id": "oleh_ua",
        "timestamp": 1626775200,
        "extractor": "twitter",
        "extractor_key": "Twitter",
        "webpage_url": f"https://x.com/oleh_ua/status/{post}",
        "epoch": 1700000000,
    }
    entries = []
    for n in (1, 2):
        media_id = f"141600000000000010{n}"
        stem = f"Oleh - Two videos of the strike #{n} [{media_id}]"
        entry = {
            "id": media_id,
            "title": f"Oleh - Two videos of the strike #{n}",
            "display_id": post,
            "ext": "mp4",
            "_type": "video",
            **common,
        }
        if own_sidecars:
            write_sidecar(tmp_path, stem, entry)
        (tmp_path / f"{stem}.mp4").write_bytes(b"\x00")
        if not clean:
            entry["requested_downloads"] = [{"filepath": f"{stem}.mp4", "ext": "mp4"}]
            entry["infojson_filename"] = f"{stem}.info.json"
        entries.append(entry)
    playlist = {"id": post, "title": "Oleh - Two videos", "_type": "playlist", **common}
    if not clean:
        playlist["entries"] = entries
    write_sidecar(tmp_path, f"Oleh - Two videos [{post}]", playlist)


def test_a_playlist_sidecar_is_found_but_its_entries_are_their_own_documents(
    tmp_path: Path,
) -> None:
    x_post(tmp_path)
    docs = SOURCE.find(str(tmp_path))
    assert len(docs) == 3
    by_name = {Path(d.path).name: list(SOURCE.refs(d, Options())) for d in docs}
    assert by_name["Oleh - Two videos [1416000000000000000].info.json"] == []
    entry = by_name["Oleh - Two videos of the strike #2 [1416000000000000102].info.json"]
    assert summary(entry) == [
        (
            "1416000000000000102",
            "ok",
            "Oleh - Two videos of the strike #2 [1416000000000000102].mp4",
        )
    ]
    assert entry[0].sighting["source_url"] == "https://x.com/oleh_ua/status/1416000000000000000"
    assert entry[0].sighting["channel"] == "Oleh"


def test_unclean_playlist_entries_are_not_counted_twice(tmp_path: Path) -> None:
    x_post(tmp_path, clean=False)
    docs = {Path(d.path).name: d for d in SOURCE.find(str(tmp_path))}
    playlist = docs["Oleh - Two videos [1416000000000000000].info.json"]
    assert list(SOURCE.refs(playlist, Options())) == []


def test_unclean_playlist_entries_without_sidecars_are_its_references(tmp_path: Path) -> None:
    x_post(tmp_path, clean=False, own_sidecars=False)  # -o "infojson:" -o "pl_infojson:..."
    refs = refs_of(tmp_path)
    assert [(r.record, r.status) for r in refs] == [
        ("1416000000000000101", "ok"),
        ("1416000000000000102", "ok"),
    ]
    assert refs[0].sighting["text"] == "Two videos of the strike"


# --- malformed sidecars and values ------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b'{"id": "abc", "title": "cut sh', b"\xff\xfe garbage", b'{"id": 1} x']
)
def test_a_malformed_sidecar_is_found_and_unreadable(tmp_path: Path, content: bytes) -> None:
    (tmp_path / f"{STEM}.info.json").write_bytes(content)
    (tmp_path / f"{STEM}.mp4").write_bytes(b"\x00")
    [doc] = SOURCE.find(str(tmp_path))
    with pytest.raises(UnreadableExport):
        list(SOURCE.refs(doc, Options()))


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = write_sidecar(tmp_path, STEM, youtube_info())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (tmp_path / f"{STEM}.mp4").write_bytes(b"\x00")
    assert summary(refs_of(tmp_path)) == [(VIDEO_ID, "ok", f"{STEM}.mp4")]


def test_upload_date_alone_gives_the_date(tmp_path: Path) -> None:
    write_sidecar(tmp_path, STEM, youtube_info(timestamp=None))
    [ref] = refs_of(tmp_path)
    assert ref.sighting["posted_at"] == "2021-07-20"
    assert ref.warnings == []


@pytest.mark.parametrize("timestamp", [0, -86400, 1626775200000, 4102444800, "1626775200", True])
def test_absurd_timestamps_are_warned_and_not_used(tmp_path: Path, timestamp: Any) -> None:
    write_sidecar(tmp_path, STEM, youtube_info(timestamp=timestamp, upload_date=None, epoch=0))
    [ref] = refs_of(tmp_path)
    assert "posted_at" not in ref.sighting and "archived_at" not in ref.sighting
    assert {(w["step"], w["code"]) for w in ref.warnings} == {
        ("posted_at", "MalformedRecord"),
        ("archived_at", "MalformedRecord"),
    }


def test_an_absurd_timestamp_falls_back_to_upload_date(tmp_path: Path) -> None:
    write_sidecar(tmp_path, STEM, youtube_info(timestamp=0))
    [ref] = refs_of(tmp_path)
    assert ref.sighting["posted_at"] == "2021-07-20"
    assert [w["step"] for w in ref.warnings] == ["posted_at"]


def test_fallbacks_for_channel_and_text(tmp_path: Path) -> None:
    info = youtube_info(channel=None, uploader=None, description="", title="Only a title")
    write_sidecar(tmp_path, STEM, info)
    [ref] = refs_of(tmp_path)
    assert ref.sighting["channel"] == "@kharkivtoday"
    assert "author" not in ref.sighting
    assert ref.sighting["text"] == "Only a title"


def test_values_of_the_wrong_type_are_warned_and_ignored(tmp_path: Path) -> None:
    write_sidecar(tmp_path, STEM, youtube_info(channel={"name": "x"}, id=12345))
    [ref] = refs_of(tmp_path)
    assert ref.sighting["post_id"] == "12345"
    assert ref.sighting["channel"] == "Kharkiv Today (uploader)"
    assert [(w["step"], w["code"]) for w in ref.warnings] == [("channel", "MalformedRecord")]


def test_a_long_description_is_cut_on_a_character_boundary(tmp_path: Path) -> None:
    text = "a" + "ж" * MAX_TEXT  # 2 bytes each: the cut falls inside a character
    write_sidecar(tmp_path, STEM, youtube_info(description=text))
    [ref] = refs_of(tmp_path)
    cut = ref.sighting["text"].encode("utf-8")
    assert len(cut) == MAX_TEXT - 1 and text.startswith(ref.sighting["text"])
    assert [(w["step"], w["code"]) for w in ref.warnings] == [("text", "TextTruncated")]


# --- the readers underneath ----------------------------------------------------------------


def test_read_object_builds_only_the_members_asked_for() -> None:
    doc = {"id": "a", "formats": [{"url": "x" * 1000}] * 100, "requested_downloads": [
        {"filepath": "a.mp4", "formats": [1, 2, 3], "ext": "mp4"}
    ]}  # fmt: skip

    def keep(path: tuple[str, ...]) -> bool:
        return path in (("id",), ("requested_downloads",), ("requested_downloads", "*", "ext"))

    got = read_object(io.BytesIO(json.dumps(doc).encode()), keep)
    assert got == {"id": "a", "requested_downloads": [{"ext": "mp4"}]}


def test_iter_array_streams_the_items_of_one_member() -> None:
    doc = {"title": "p", "entries": [{"id": 1}, {"id": 2}, None], "after": [9]}
    items = iter_array(io.BytesIO(json.dumps(doc).encode()), "entries", keep_all)
    assert next(items) == {"id": 1}
    assert list(items) == [{"id": 2}, None]
    assert list(iter_array(io.BytesIO(b'{"entries": 3}'), "entries", keep_all)) == []


def test_deeply_nested_values_do_not_exhaust_the_stack() -> None:
    deep = b'{"id": "a", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert read_object(io.BytesIO(deep), lambda p: p == ("id",)) == {"id": "a"}
    assert read_object(io.BytesIO(deep), keep_all)["id"] == "a"


def test_cut_text_keeps_short_text_and_replaces_lone_surrogates() -> None:
    warnings: list = []
    assert cut_text("short", warnings) == "short" and warnings == []
    assert cut_text("a\ud800b", warnings) == "a?b"


def _valid_or_warned(value: Any, result: str | None, warnings: list) -> None:
    if result is None:
        assert value is None or warnings
        return
    parsed = date.fromisoformat(result) if len(result) == 10 else datetime.fromisoformat(result)
    day = parsed if isinstance(parsed, date) and not isinstance(parsed, datetime) else None
    if day is not None:
        assert EARLIEST.date() <= day < LATEST.date()
    else:
        assert parsed.utcoffset() is not None and EARLIEST <= parsed < LATEST


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
    )
)
def test_any_unix_time_gives_a_plausible_utc_instant_or_a_warning(value: Any) -> None:
    warnings: list = []
    result = unix_time(value, "posted_at", warnings)
    _valid_or_warned(value, result, warnings)
    if result is not None:
        assert result.endswith("+00:00")
        assert math.isclose(datetime.fromisoformat(result).timestamp(), value)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(alphabet="0123456789", min_size=0, max_size=10),
        st.from_regex(r"(19|20|21)[0-9]{2}(0[0-9]|1[0-4])[0-3][0-9]", fullmatch=True),
        st.text(max_size=12),
    )
)
def test_any_upload_date_gives_a_plausible_date_or_a_warning(value: Any) -> None:
    warnings: list = []
    result = compact_date(value, "posted_at", warnings)
    _valid_or_warned(value, result, warnings)
    if result is not None:
        assert result.replace("-", "") == value


@settings(max_examples=40, deadline=None)
@given(
    timestamp=st.one_of(st.none(), st.integers(-(2**40), 2**40), st.floats()),
    upload_date=st.one_of(st.none(), st.text(max_size=10), st.integers()),
)
def test_any_dates_in_a_sidecar_never_break_the_import(
    tmp_path_factory: pytest.TempPathFactory, timestamp: Any, upload_date: Any
) -> None:
    folder = tmp_path_factory.mktemp("sidecar")
    info = youtube_info(timestamp=timestamp, upload_date=upload_date)
    text = json.dumps(info, ensure_ascii=False, allow_nan=False) if _finite(timestamp) else None
    if text is None:
        return  # yt-dlp's json.dump would write NaN, which is not JSON; covered above
    (folder / f"{STEM}.info.json").write_text(text)
    [ref] = refs_of(folder)
    _valid_or_warned(
        timestamp if timestamp is not None else upload_date,
        ref.sighting.get("posted_at"),
        ref.warnings,
    )


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
