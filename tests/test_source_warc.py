"""Web archives (``ingest.sources.warc``): WARCs built here with warcio's ``WARCWriter``
as crawlers write them (request and response pairs, chunked and gzip-encoded bodies,
``resource`` and ``revisit`` records, tracking pixels, errors and noise), cut and damaged
ones, and WACZ packages with right and wrong manifests and a member that climbs out."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import random
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.errors import UnreadableExport
from ingest.sources.model import Document, MediaRef, Options
from ingest.sources.warc import WarcSource, recognise
from ingest.sources.warc_fields import NO_NAME, digest_key, uri_name, warc_date
from ingest.sources.warc_resync import CHUNK, resync


@pytest.fixture(autouse=True)
def same_bytes_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """warcio names records with random UUIDs and dates them now: the archives the tests
    write would differ from run to run, and so would where a cut or a damaged byte
    falls. Numbered ids and one date make every run write the same bytes."""
    import itertools
    import uuid

    from warcio.recordbuilder import RecordBuilder

    numbers = itertools.count(1)
    monkeypatch.setattr(
        RecordBuilder,
        "_make_warc_id",
        classmethod(lambda cls: f"<urn:uuid:{uuid.UUID(int=next(numbers))}>"),
    )
    monkeypatch.setattr(
        RecordBuilder,
        "_make_warc_date",
        classmethod(lambda cls, use_micros=False: "2022-03-16T09:00:00Z"),
    )


PAGE = "https://news.example.org/2024/03/strike.html"
PHOTO = "https://cdn.example.org/img/photo%201.jpg?w=800"
LIED = "https://cdn.example.org/img/lied"
VIDEO = "https://news.example.org/media/clip.mp4"
PIXEL = "https://track.example.org/p.gif?id=7"
GONE = "https://cdn.example.org/img/gone.jpg"
ELSEWHERE = "https://cdn.example.org/img/elsewhere.jpg"
DATE = "2024-03-01T10:00:00Z"
LATER = "2024-03-02T11:30:00.250Z"
SOURCE = WarcSource()


# --- payloads ---------------------------------------------------------------------------


def jpeg(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    image.putdata([(rng.randrange(256), rng.randrange(256), 80) for _ in range(size[0] * size[1])])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def gif_pixel() -> bytes:
    out = io.BytesIO()
    Image.new("P", (1, 1)).save(out, "GIF")
    return out.getvalue()


def mp4(extra: int = 4096) -> bytes:
    """A minimal ISO BMFF file (``ftyp`` then ``mdat``) that ``ingest.sniff`` calls MP4."""
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    mdat = (8 + extra).to_bytes(4, "big") + b"mdat" + bytes(range(256)) * (extra // 256)
    return ftyp + mdat


def chunked(data: bytes, size: int = 700) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size])
        for i in range(0, len(data), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


# --- WARC building --------------------------------------------------------------------------


class Crawl:
    """A WARC being written, with the facts the tests check."""

    def __init__(self, out: Any, gz: bool) -> None:
        self.writer = WARCWriter(out, gzip=gz)
        self.ids: dict[str, str] = {}
        self.digest = ""
        self.before_last = 0

    def response(
        self,
        key: str,
        uri: str,
        body: bytes,
        headers: list[tuple[str, str]],
        *,
        status: str = "200 OK",
        date: str = DATE,
        referer: str | None = None,
        warc: dict[str, str] | None = None,
    ) -> None:
        http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
        record = self.writer.create_warc_record(
            uri,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date, **(warc or {})},
        )
        self.ids[key] = record.rec_headers.get_header("WARC-Record-ID")
        request_headers = [("Host", "example.org"), ("User-Agent", "crawler")]
        if referer:
            request_headers.append(("Referer", referer))
        request = self.writer.create_warc_record(
            uri,
            "request",
            http_headers=StatusAndHeaders("GET / HTTP/1.1", request_headers, is_http_request=True),
        )
        self.writer.write_request_response_pair(request, record)
        self.digest = record.rec_headers.get_header("WARC-Payload-Digest")

    def resource(self, key: str, uri: str, body: bytes, mime: str) -> None:
        record = self.writer.create_warc_record(
            uri,
            "resource",
            payload=io.BytesIO(body),
            length=len(body),
            warc_content_type=mime,
            warc_headers_dict={"WARC-Date": DATE},
        )
        self.ids[key] = record.rec_headers.get_header("WARC-Record-ID")
        self.writer.write_record(record)

    def revisit(self, key: str, uri: str, digest: str, refers_uri: str, refers_date: str) -> None:
        http = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
        record = self.writer.create_revisit_record(
            uri,
            digest,
            refers_uri,
            refers_date,
            http_headers=http,
            warc_headers_dict={"WARC-Date": LATER},
        )
        self.ids[key] = record.rec_headers.get_header("WARC-Record-ID")
        self.writer.write_record(record)


PHOTO_JPEG = jpeg(1)
LIED_JPEG = jpeg(2, (64, 80))
VIDEO_MP4 = mp4()
LAST_JPEG = jpeg(3, (128, 128))


def write_crawl(out: Any, gz: bool, *, last: bool = True) -> Crawl:
    """Every kind of record a crawl has; media: PHOTO (chunked, gzip), LIED (an image
    served as text/html), VIDEO (a resource), a revisit of PHOTO, and LAST at the end."""
    crawl = Crawl(out, gz)
    crawl.writer.write_record(crawl.writer.create_warcinfo_record("crawl.warc", {"software": "t"}))
    html = b"<html><body><img src='photo%201.jpg'></body></html>"
    crawl.response("page", PAGE, html, [("Content-Type", "text/html")])
    body = chunked(gzip.compress(PHOTO_JPEG))
    photo_headers = [
        ("Content-Type", "image/jpeg"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
    ]
    crawl.response("photo", PHOTO, body, photo_headers, referer=PAGE)
    photo_digest = crawl.digest
    crawl.response(
        "js",
        "https://news.example.org/app.js",
        b"var x = 1;\n" * 50,
        [("Content-Type", "application/javascript")],
        referer=PAGE,
    )
    crawl.response(
        "css",
        "https://news.example.org/site.css",
        b"body{color:red}",
        [("Content-Type", "text/css")],
        referer=PAGE,
    )
    crawl.response("pixel", PIXEL, gif_pixel(), [("Content-Type", "image/gif")], referer=PAGE)
    crawl.response("gone", GONE, jpeg(9), [("Content-Type", "image/jpeg")], status="404 Not Found")
    crawl.response(
        "fakepng",
        "https://cdn.example.org/x.png",
        b"<html>error</html>",
        [("Content-Type", "image/png")],
    )
    crawl.response("lied", LIED, LIED_JPEG, [("Content-Type", "text/html")], referer=PAGE)
    crawl.resource("video", VIDEO, VIDEO_MP4, "video/mp4")
    crawl.revisit("revisit", PHOTO, photo_digest, PHOTO, DATE)
    crawl.revisit("lost", ELSEWHERE, "sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH", ELSEWHERE, DATE)
    crawl.before_last = out.tell()
    if last:
        crawl.response(
            "last",
            "https://cdn.example.org/last.jpg",
            LAST_JPEG,
            [("Content-Type", "image/jpeg")],
            referer=PAGE,
        )
    return crawl


def refs_of(
    path: Path, spool: Path, *, on_ref: Callable[[MediaRef], None] | None = None
) -> list[MediaRef]:
    (document,) = SOURCE.find(str(path))
    found = []
    for ref in SOURCE.refs(document, Options(spool=str(spool))):
        if on_ref:
            on_ref(ref)
        found.append(ref)
    return found


def by_record(refs: list[MediaRef], crawl: Crawl) -> dict[str, MediaRef]:
    names = {v: k for k, v in crawl.ids.items()}
    return {names.get(r.record, r.record): r for r in refs}


def spool_files(spool: Path) -> set[str]:
    return {str(p) for p in spool.rglob("*") if p.is_file()}


# --- finding ------------------------------------------------------------------------------


def test_find_recognises_content_not_names(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    (folder / "sub").mkdir(parents=True)
    with open(folder / "sub" / "capture.bin", "wb") as out:
        write_crawl(out, gz=True)
    with open(folder / "plain.dat", "wb") as out:
        write_crawl(out, gz=False)
    (folder / "notes.warc").write_text("not a web archive\n")
    (folder / "other.warc.gz").write_bytes(gzip.compress(b"HTTP/1.1 200 OK\r\n\r\n"))
    with zipfile.ZipFile(folder / "plain.zip", "w") as zf:
        zf.writestr("readme.txt", "a zip without a manifest")
    build_wacz(folder / "pkg.zip", warc_bytes(gz=True))
    outside = tmp_path / "outside.warc"
    with open(outside, "wb") as out:
        write_crawl(out, gz=False)
    (folder / "link.warc").symlink_to(outside)
    os.mkfifo(folder / "fifo.warc")

    found = SOURCE.find(str(folder))

    assert [(Path(d.path).name, d.format, d.mime) for d in found] == [
        ("pkg.zip", "wacz", "application/wacz"),
        ("plain.dat", "warc", "application/warc"),
        ("capture.bin", "warc.gz", "application/warc"),
    ]
    assert {d.kind for d in found} == {"warc"} and {d.root for d in found} == {str(folder)}
    single = SOURCE.find(str(folder / "sub" / "capture.bin"))
    assert single == [
        Document(
            str(folder / "sub" / "capture.bin"),
            "warc",
            "warc.gz",
            "application/warc",
            str(folder / "sub"),
        )
    ]
    assert (
        SOURCE.find(str(folder / "notes.warc")) == []
        and SOURCE.find(str(tmp_path / "absent")) == []
    )
    assert recognise(str(folder / "other.warc.gz")) is None


# --- one crawl ----------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_crawl_yields_media_only(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    with open(path, "wb") as out:
        crawl = write_crawl(out, gz)
    spool = tmp_path / "spool"

    refs = refs_of(path, spool)
    got = by_record(refs, crawl)

    assert list(got) == ["photo", "pixel", "lied", "video", "revisit", "lost", "last"]
    photo = got["photo"]
    assert photo.status == "ok" and photo.spooled
    assert Path(photo.path).read_bytes() == PHOTO_JPEG  # de-chunked and gunzipped
    assert Path(photo.path).parent == spool
    assert photo.name == "photo 1.jpg"
    assert photo.original_path == f"{path.name}#{crawl.ids['photo']}"
    assert photo.record.startswith("<urn:uuid:")
    assert photo.sighting == {
        "source_kind": "warc",
        "source_url": PHOTO,
        "archived_at": "2024-03-01T10:00:00+00:00",
    }
    assert photo.warnings == []
    assert Path(got["lied"].path).read_bytes() == LIED_JPEG  # sniffed, not by Content-Type
    assert got["lied"].name == "lied"
    assert Path(got["video"].path).read_bytes() == VIDEO_MP4
    assert got["video"].name == "clip.mp4"
    assert got["pixel"].status == "skipped" and got["pixel"].path is None
    assert got["pixel"].error == {"code": "NotMedia", "message": got["pixel"].error["message"]}
    assert "tracking pixel" in got["pixel"].error["message"]

    revisit = got["revisit"]
    assert revisit.status == "ok" and revisit.spooled and revisit.path != photo.path
    assert Path(revisit.path).read_bytes() == PHOTO_JPEG
    assert revisit.sighting["archived_at"] == "2024-03-02T11:30:00.250000+00:00"
    assert revisit.original_path == f"{path.name}#{crawl.ids['revisit']}"
    lost = got["lost"]
    assert lost.status == "missing" and lost.path is None and lost.error["code"] == "MissingMedia"
    # Every ok reference owns one spool file; nothing else is left (pixels, private links).
    oks = {r.path for r in refs if r.status == "ok"}
    assert len(oks) == 5 and spool_files(spool) == oks


def test_warc_gzipped_as_one_stream(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"  # ``gzip crawl.warc``: one member, not one a record
    path.write_bytes(gzip.compress(warc_bytes(gz=False)))
    refs = refs_of(path, tmp_path / "spool")
    assert [r.status for r in refs] == ["ok", "skipped", "ok", "ok", "ok", "missing", "ok"]
    assert Path(refs[0].path).read_bytes() == PHOTO_JPEG
    assert len({r.record for r in refs}) == 7


def test_revisit_survives_the_original_being_deleted(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    with open(path, "wb") as out:
        crawl = write_crawl(out, gz=True)

    def registry_like(ref: MediaRef) -> None:  # stores, then deletes the spooled copy
        if ref.spooled:
            ref.sighting["bytes"] = Path(ref.path).read_bytes()
            os.remove(ref.path)

    got = by_record(refs_of(path, tmp_path / "spool", on_ref=registry_like), crawl)

    assert got["revisit"].sighting["bytes"] == PHOTO_JPEG
    assert spool_files(tmp_path / "spool") == set()


def test_revisit_of_a_tracking_pixel_is_skipped_too(tmp_path: Path) -> None:
    path = tmp_path / "pixels.warc"
    with open(path, "wb") as out:
        crawl = Crawl(out, gz=False)
        crawl.response("pixel", PIXEL, gif_pixel(), [("Content-Type", "image/gif")])
        crawl.revisit("again", PIXEL, crawl.digest, PIXEL, DATE)
    got = by_record(refs_of(path, tmp_path / "spool"), crawl)
    assert [r.status for r in got.values()] == ["skipped", "skipped"]


def test_browsertrix_style_records(tmp_path: Path) -> None:
    """Request before response, revisits by WARC-Refers-To and server-not-modified, and
    SHA-256 hex digests, as Browsertrix writes them."""
    path = tmp_path / "btrix.warc.gz"
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        digest = sha256(PHOTO_JPEG)
        http = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
        response = writer.create_warc_record(
            PHOTO,
            "response",
            payload=io.BytesIO(PHOTO_JPEG),
            length=len(PHOTO_JPEG),
            http_headers=http,
            warc_headers_dict={"WARC-Date": DATE, "WARC-Payload-Digest": digest},
        )
        photo_id = response.rec_headers.get_header("WARC-Record-ID")
        request = writer.create_warc_record(
            PHOTO,
            "request",
            http_headers=StatusAndHeaders(
                "GET /img HTTP/1.1", [("Referer", PAGE)], is_http_request=True
            ),
            warc_headers_dict={"WARC-Date": DATE, "WARC-Concurrent-To": photo_id},
        )
        writer.write_record(request)
        writer.write_record(response)
        by_id = writer.create_warc_record(
            "https://mirror.example.org/same.jpg",
            "revisit",
            http_headers=http,
            warc_headers_dict={
                "WARC-Date": LATER,
                "WARC-Refers-To": photo_id,
                "WARC-Payload-Digest": digest.upper().replace("SHA256", "sha256"),
                "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
            },
        )
        writer.write_record(by_id)
        not_modified = writer.create_warc_record(
            PHOTO,
            "revisit",
            http_headers=StatusAndHeaders("304 Not Modified", [], protocol="HTTP/1.1"),
            warc_headers_dict={
                "WARC-Date": LATER,
                "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
            },
        )
        writer.write_record(not_modified)
    warc = path.read_bytes()
    wacz = tmp_path / "btrix.wacz"
    build_wacz(wacz, warc, pages=PAGES)

    refs = refs_of(wacz, tmp_path / "spool")

    assert [r.status for r in refs] == ["ok", "ok", "ok"]
    assert all(Path(r.path).read_bytes() == PHOTO_JPEG for r in refs)
    assert len({r.path for r in refs}) == 3
    assert refs[0].record == photo_id and refs[0].sighting["page_url"] == PAGE
    assert refs[0].warnings == []
    assert refs[1].name == "same.jpg" and refs[1].sighting["archived_at"].endswith("+00:00")


def test_digest_mismatch_and_bad_dates_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "odd.warc"
    with open(path, "wb") as out:
        crawl = Crawl(out, gz=False)
        wrong = {"WARC-Payload-Digest": "sha1:" + "A" * 32}
        crawl.response("tampered", PHOTO, PHOTO_JPEG, [("Content-Type", "image/jpeg")], warc=wrong)
        crawl.response("undated", LIED, LIED_JPEG, [], date="the day after")
    got = by_record(refs_of(path, tmp_path / "spool"), crawl)

    assert got["tampered"].status == "ok"
    assert [w["code"] for w in got["tampered"].warnings] == ["ArchiveHashMismatch"]
    assert got["undated"].status == "ok" and "archived_at" not in got["undated"].sighting
    assert [w["code"] for w in got["undated"].warnings] == ["MalformedRecord"]
    assert "the day after" in got["undated"].warnings[0]["message"]


def test_partial_content_is_skipped_unless_whole(tmp_path: Path) -> None:
    path = tmp_path / "ranges.warc"
    video = mp4(8192)
    with open(path, "wb") as out:
        crawl = Crawl(out, gz=False)
        part = [("Content-Type", "video/mp4"), ("Content-Range", f"bytes 0-1023/{len(video)}")]
        crawl.response("part", VIDEO, video[:1024], part, status="206 Partial Content")
        whole = [("Content-Range", f"bytes 0-{len(video) - 1}/{len(video)}")]
        crawl.response("whole", VIDEO, video, whole, status="206 Partial Content")
        crawl.response("moved", VIDEO, video, [("Location", "/x.mp4")], status="301 Moved")
    got = by_record(refs_of(path, tmp_path / "spool"), crawl)
    assert {k: r.status for k, r in got.items()} == {"part": "skipped", "whole": "ok"}
    assert "206" in got["part"].error["message"]


# --- damaged archives ---------------------------------------------------------------------


def warc_bytes(gz: bool, **kwargs: Any) -> bytes:
    return cut_crawl(gz, **kwargs)[0]


def cut_crawl(gz: bool, **kwargs: Any) -> tuple[bytes, int]:
    """A crawl, and where its last response (then its request) starts."""
    out = io.BytesIO()
    crawl = write_crawl(out, gz, **kwargs)
    return out.getvalue(), crawl.before_last


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_archive_cut_midway(tmp_path: Path, gz: bool) -> None:
    whole, before = cut_crawl(gz)
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(whole[: before + (len(whole) - before) // 3])  # inside the last JPEG
    spool = tmp_path / "spool"

    refs = refs_of(path, spool)

    assert [r.status for r in refs] == ["ok", "skipped", "ok", "ok", "ok", "missing", "error"]
    cut = refs[-1]
    assert cut.error["code"] == "MalformedRecord" and "truncated" in cut.error["message"]
    assert cut.record.startswith("<urn:uuid:") and cut.sighting["source_url"].endswith("last.jpg")
    assert spool_files(spool) == {r.path for r in refs if r.status == "ok"}


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_cut_anywhere_never_crashes(tmp_path: Path, gz: bool) -> None:
    whole, before = cut_crawl(gz)
    path = tmp_path / "cut.warc"
    for end in range(before + 1, len(whole), max(1, (len(whole) - before) // 40)):
        path.write_bytes(whole[:end])
        refs = refs_of(path, tmp_path / f"spool{end}")
        assert [r.status for r in refs[:6]] == ["ok", "skipped", "ok", "ok", "ok", "missing"]
        # The cut is always reported: in the last response, or in its request after it;
        # unless it falls exactly between two records (the gzip member or the record
        # after it starts where the file ends): then the archive is whole, one record
        # shorter, and nothing in its bytes can tell.
        at_boundary = whole[end:].startswith((b"\x1f\x8b", b"WARC/1."))
        expected = (
            (["error"], ["ok", "error"], ["ok"]) if at_boundary else (["error"], ["ok", "error"])
        )
        assert [r.status for r in refs[6:]] in expected


def three_photos(gz: bool) -> tuple[bytes, list[int], list[str]]:
    """Three photo responses (each with its request); where each pair starts; their ids.
    The middle one spans several of warcio's 16 KiB reads (damage early in a gzip member
    and damage after its first read take different paths in warcio)."""
    out = io.BytesIO()
    crawl = Crawl(out, gz)
    starts = []
    for n in range(3):
        starts.append(out.tell())
        uri = f"https://cdn.example.org/{n}.jpg"
        body = jpeg(20 + n, (240, 240) if n == 1 else (96, 64))
        crawl.response(str(n), uri, body, [("Content-Type", "image/jpeg")])
    return out.getvalue(), starts, [crawl.ids[str(n)] for n in range(3)]


@pytest.mark.parametrize("where", [0.005, 0.1, 0.5, 0.9])
def test_bad_gzip_member_costs_only_its_record(tmp_path: Path, where: float) -> None:
    data, starts, ids = three_photos(gz=True)
    data = bytearray(data)
    at = starts[1] + int((starts[2] - starts[1]) * where)
    data[at : at + 16] = bytes(16)  # the middle response's member is broken
    path = tmp_path / "bad.warc.gz"
    path.write_bytes(bytes(data))

    refs = refs_of(path, tmp_path / "spool")

    assert (refs[0].record, refs[0].status) == (ids[0], "ok")
    assert (refs[-1].record, refs[-1].status) == (ids[2], "ok")  # read on after the damage
    assert Path(refs[-1].path).read_bytes() == jpeg(22)
    broken = refs[1:-1]
    assert broken and {r.status for r in broken} == {"error"}
    assert {r.error["code"] for r in broken} <= {"MalformedRecord", "UnreadableExport"}


def test_resync_finds_the_next_record_across_reads() -> None:
    member = gzip.compress(b"WARC/1.0\r\nWARC-Type: resource\r\n\r\n")
    noise = b"\x1f\x8b\x08 is no gzip, nor is WARC/1.0\r\n in mid-line"
    for at in (100, CHUNK - 2, CHUNK + 5):
        data = noise + bytes(at - len(noise)) + member
        assert resync(io.BytesIO(data), 1) == at
    plain = b"x" * (CHUNK - 3) + b"\nWARC/1.1\r\n"
    assert resync(io.BytesIO(plain), 1) == CHUNK - 2
    assert resync(io.BytesIO(plain), CHUNK) is None
    assert resync(io.BytesIO(noise * 1000), 0) is None


def test_content_length_too_large_swallows_nothing(tmp_path: Path) -> None:
    data, starts, ids = three_photos(gz=False)
    header_end = data.index(b"\r\n\r\n", starts[1])
    length_at = data.index(b"Content-Length: ", starts[1], header_end) + len(b"Content-Length: ")
    end = data.index(b"\r\n", length_at)
    data = data[:length_at] + str(10 * len(data)).encode() + data[end:]
    path = tmp_path / "long.warc"
    path.write_bytes(data)

    refs = refs_of(path, tmp_path / "spool")

    assert [(r.record, r.status) for r in refs] == [
        (ids[0], "ok"),
        (ids[1], "error"),
        (ids[2], "ok"),
    ]
    assert "truncated" in refs[1].error["message"]


def test_no_content_length_is_an_error_reference(tmp_path: Path) -> None:
    good = warc_bytes(gz=False, last=False)
    broken = b"WARC/1.0\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:x>\r\n\r\n"
    path = tmp_path / "nolength.warc"
    path.write_bytes(good + broken + good)
    refs = refs_of(path, tmp_path / "spool")
    statuses = ["ok", "skipped", "ok", "ok", "ok", "missing"]
    assert [r.status for r in refs] == [*statuses, "error", *statuses]  # read on after it
    assert refs[6].record == "<urn:uuid:x>" and "Content-Length" in refs[6].error["message"]


@pytest.mark.parametrize("seed", range(12))
def test_damaged_bytes_never_crash(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    data = bytearray(warc_bytes(gz=seed % 2 == 0))
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(len(data))
        data[at : at + 8] = rng.randbytes(8)
    path = tmp_path / "damaged.warc"
    path.write_bytes(bytes(data))
    document = Document(str(path), "warc", "warc", "application/warc", str(tmp_path))
    spool = tmp_path / "spool"
    try:
        refs = list(SOURCE.refs(document, Options(spool=str(spool))))
    except UnreadableExport:  # the first record itself was hit
        refs = []
    assert spool_files(spool) == {r.path for r in refs if r.status == "ok"}


def test_garbage_after_a_record_is_an_error_reference(tmp_path: Path) -> None:
    path = tmp_path / "tail.warc"
    path.write_bytes(warc_bytes(gz=False, last=False) + b"\r\nnot a record at all\r\n\r\n")
    refs = refs_of(path, tmp_path / "spool")
    assert refs[-1].status == "error" and refs[-1].error["code"] == "UnreadableExport"
    assert refs[-1].record.startswith("offset:")


def test_unreadable_document_raises(tmp_path: Path) -> None:
    path = tmp_path / "junk.warc"
    path.write_bytes(b"\x00\x01junk" * 100)
    document = Document(str(path), "warc", "warc", "application/warc", str(tmp_path))
    with pytest.raises(UnreadableExport):
        list(SOURCE.refs(document, Options(spool=str(tmp_path / "spool"))))
    gone = Document(str(tmp_path / "gone.warc"), "warc", "warc", "application/warc", str(tmp_path))
    with pytest.raises(UnreadableExport):
        list(SOURCE.refs(gone, Options(spool=str(tmp_path / "spool"))))
    with pytest.raises(ValueError):
        list(SOURCE.refs(document, Options()))


# --- WACZ ----------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_wacz(
    path: Path,
    warc: bytes,
    *,
    pages: list[dict[str, Any]] | None = None,
    wrong: str = "",
    extra: dict[str, bytes] | None = None,
    listed_only: tuple[str, ...] = (),
    digest_wrong: bool = False,
) -> None:
    """A WACZ as Browsertrix writes it; ``wrong`` names a member whose hash is wrong."""
    pages = (
        pages if pages is not None else [{"id": "p1", "url": PAGE, "ts": DATE, "title": "Strike"}]
    )
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}, *pages]
    members = {
        "archive/data.warc.gz": warc,
        "pages/pages.jsonl": "".join(json.dumps(p) + "\n" for p in lines).encode(),
        "indexes/index.cdx": b"org,example)/ 20240301100000 {}\n",
    }
    resources = [
        {
            "name": os.path.basename(name),
            "path": name,
            "hash": sha256(data + (b"x" if name == wrong else b"")),
            "bytes": len(data),
        }
        for name, data in members.items()
    ]
    resources += [{"name": n, "path": n, "hash": sha256(b""), "bytes": 0} for n in listed_only]
    manifest = json.dumps({"profile": "wacz", "resources": resources}).encode()
    digest = {
        "path": "datapackage.json",
        "hash": sha256(manifest + (b"x" if digest_wrong else b"")),
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in {**members, **(extra or {})}.items():
            compress = zipfile.ZIP_STORED if name.startswith("archive/") else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compress)
        zf.writestr("datapackage.json", manifest)
        zf.writestr("datapackage-digest.json", json.dumps(digest))


def page_warc(gz: bool = True) -> tuple[bytes, Crawl]:
    """Captures whose page is known four ways: Referer (after the response, paired by
    WARC-Concurrent-To), WARC-Page-ID, the capture being a page itself, and none."""
    out = io.BytesIO()
    crawl = Crawl(out, gz)
    crawl.response("page", PAGE, b"<html></html>", [("Content-Type", "text/html")])
    crawl.response("by-referer", PHOTO, PHOTO_JPEG, [("Content-Type", "image/jpeg")], referer=PAGE)
    photo_digest = crawl.digest
    crawl.response("by-page-id", LIED, LIED_JPEG, [], warc={"WARC-Page-ID": "p2"})
    direct = "https://cdn.example.org/direct.jpg"
    crawl.response("is-page", direct, jpeg(4), [("Content-Type", "image/jpeg")])
    other = "https://elsewhere.example.net/unrelated"
    crawl.response("no-page", "https://cdn.example.org/n.jpg", jpeg(5), [], referer=other)
    crawl.revisit("revisit", PHOTO, photo_digest, PHOTO, DATE)
    return out.getvalue(), crawl


PAGES = [
    {"id": "p1", "url": PAGE, "ts": DATE},
    {"id": "p2", "url": "https://news.example.org/2024/03/other.html", "ts": DATE},
    {"id": "p3", "url": "https://cdn.example.org/direct.jpg#top", "ts": DATE},
]


def test_wacz_maps_captures_to_pages(tmp_path: Path) -> None:
    warc, crawl = page_warc()
    path = tmp_path / "crawl.wacz"
    build_wacz(path, warc, pages=PAGES)
    spool = tmp_path / "spool"

    refs = refs_of(path, spool)
    got = by_record(refs, crawl)

    assert list(got) == ["by-referer", "by-page-id", "is-page", "no-page", "revisit"]
    assert all(r.status == "ok" and r.warnings == [] for r in refs)
    pages = {k: r.sighting.get("page_url") for k, r in got.items()}
    assert pages == {
        "by-referer": PAGE,
        "by-page-id": "https://news.example.org/2024/03/other.html",
        "is-page": "https://cdn.example.org/direct.jpg",
        "no-page": None,
        "revisit": None,
    }
    photo = got["by-referer"]
    assert photo.original_path == f"crawl.wacz/archive/data.warc.gz#{crawl.ids['by-referer']}"
    assert Path(photo.path).read_bytes() == PHOTO_JPEG
    assert Path(got["revisit"].path).read_bytes() == PHOTO_JPEG
    assert photo.document.format == "wacz" and photo.document.mime == "application/wacz"


def test_wacz_with_one_page_maps_everything_to_it(tmp_path: Path) -> None:
    warc, _ = page_warc()
    path = tmp_path / "single.wacz"
    build_wacz(path, warc)
    refs = refs_of(path, tmp_path / "spool")
    assert {r.sighting["page_url"] for r in refs} == {PAGE}


def test_wacz_hash_mismatch(tmp_path: Path) -> None:
    warc, _ = page_warc()
    path = tmp_path / "tampered.wacz"
    build_wacz(path, warc, pages=PAGES, wrong="archive/data.warc.gz")

    refs = refs_of(path, tmp_path / "spool")

    first = refs[0]
    assert (first.record, first.status, first.error["code"]) == (
        "archive/data.warc.gz",
        "error",
        "ArchiveHashMismatch",
    )
    assert first.original_path == "tampered.wacz/archive/data.warc.gz"
    assert sha256(warc) in first.error["message"]
    media = refs[1:]
    assert len(media) == 5 and all(r.status == "ok" for r in media)
    assert all([w["code"] for w in r.warnings] == ["ArchiveHashMismatch"] for r in media)


def test_wacz_manifest_problems_are_error_references(tmp_path: Path) -> None:
    warc, _ = page_warc()
    path = tmp_path / "odd.wacz"
    build_wacz(
        path,
        warc,
        wrong="pages/pages.jsonl",
        listed_only=("archive/lost.warc.gz",),
        digest_wrong=True,
    )

    refs = refs_of(path, tmp_path / "spool")

    errors = [(r.record, r.error["code"]) for r in refs if r.status == "error"]
    assert sorted(errors) == [
        ("archive/lost.warc.gz", "MalformedRecord"),
        ("datapackage.json", "ArchiveHashMismatch"),
        ("pages/pages.jsonl", "ArchiveHashMismatch"),
    ]
    assert all(r.warnings == [] for r in refs if r.status == "ok")


def test_wacz_refuses_members_that_climb_out(tmp_path: Path) -> None:
    evil = io.BytesIO()
    Crawl(evil, gz=True).response("evil", "https://evil.example/x.jpg", jpeg(6), [])
    warc, _ = page_warc()
    path = tmp_path / "pkg" / "evil.wacz"
    path.parent.mkdir()
    extra = {
        "../evil.warc.gz": evil.getvalue(),
        "/abs/evil.warc.gz": evil.getvalue(),
        "archive/../../up.warc": evil.getvalue(),
    }
    build_wacz(path, warc, extra=extra)
    spool = tmp_path / "pkg" / "spool"
    before = {str(p) for p in tmp_path.rglob("*")}

    refs = refs_of(path, spool)

    refused = [r for r in refs if r.status == "error"]
    assert sorted(r.record for r in refused) == sorted(extra)
    assert {r.error["code"] for r in refused} == {"UnsafeReference"}
    assert not any("evil.example" in r.sighting.get("source_url", "") for r in refs)
    assert sum(r.status == "ok" for r in refs) == 5
    created = {str(p) for p in tmp_path.rglob("*")} - before
    assert created == {str(spool), *(r.path for r in refs if r.status == "ok")}


def test_wacz_unlisted_archive_member_is_a_warning(tmp_path: Path) -> None:
    warc, _ = page_warc()
    path = tmp_path / "extra.wacz"
    build_wacz(path, warc, extra={"archive/extra.warc": warc_bytes(gz=False, last=False)})
    refs = refs_of(path, tmp_path / "spool")
    from_extra = [r for r in refs if "/archive/extra.warc#" in r.original_path]
    assert from_extra and all("not listed" in r.warnings[0]["message"] for r in from_extra)
    # The photo's revisit in extra.warc refers to captures of the first member too.
    assert all(r.status != "error" for r in refs)


def test_wacz_member_with_a_bad_crc(tmp_path: Path) -> None:
    data, starts, ids = three_photos(gz=True)
    path = tmp_path / "crc.wacz"
    build_wacz(path, data)
    raw = bytearray(path.read_bytes())
    at = raw.index(data[starts[1] : starts[1] + 64]) + (starts[2] - starts[1]) // 2
    raw[at : at + 16] = bytes(16)  # inside the stored member: its CRC fails too
    path.write_bytes(bytes(raw))

    refs = refs_of(path, tmp_path / "spool")

    assert (refs[0].record, refs[0].error["code"]) == ("archive/data.warc.gz", "UnreadableExport")
    assert "CRC" in refs[0].error["message"]
    statuses = [(r.record, r.status) for r in refs[1:]]
    assert statuses == [(ids[0], "ok"), (ids[1], "error"), (ids[2], "ok")]
    assert Path(refs[-1].path).read_bytes() == jpeg(22)


def test_wacz_member_cut_midway(tmp_path: Path) -> None:
    whole, before = cut_crawl(gz=True)
    path = tmp_path / "cut.wacz"
    build_wacz(path, whole[: before + (len(whole) - before) // 3])
    refs = refs_of(path, tmp_path / "spool")
    assert [r.status for r in refs][-2:] == ["missing", "error"]
    assert refs[-1].record.startswith("<urn:uuid:") and "truncated" in refs[-1].error["message"]


# --- memory ------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["warc", "warc.gz"])
def test_large_payload_streams_in_bounded_memory(tmp_path: Path, gz: bool) -> None:
    size = 30 << 20
    payload = tmp_path / "big.mp4"
    with open(payload, "wb") as out:
        out.write(mp4(0))
        rng = random.Random(7)
        for _ in range(size // (1 << 20)):
            out.write(rng.randbytes(1 << 20))
    path = tmp_path / "big.warc"
    with open(path, "wb") as out, open(payload, "rb") as body:
        writer = WARCWriter(out, gzip=gz)
        http = StatusAndHeaders("200 OK", [("Content-Type", "video/mp4")], protocol="HTTP/1.1")
        length = payload.stat().st_size
        record = writer.create_warc_record(
            VIDEO, "response", payload=body, length=length, http_headers=http
        )
        writer.write_record(record)
    spool = tmp_path / "spool"

    tracemalloc.start()
    try:
        refs = refs_of(path, spool)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert [r.status for r in refs] == ["ok"]
    assert os.path.getsize(refs[0].path) == payload.stat().st_size
    assert peak < 8 << 20, f"peak {peak} bytes for a {size} byte payload"


# --- normalisers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00+00:00"),
        ("2024-03-01T10:00:00.123456Z", "2024-03-01T10:00:00.123456+00:00"),
        ("2024-03-01T12:00:00+02:00", "2024-03-01T10:00:00+00:00"),
        ("2024-03-01T10:00Z", "2024-03-01T10:00:00+00:00"),
        ("2024-03-01", "2024-03-01T00:00:00+00:00"),
        ("2024-03", "2024-03-01T00:00:00+00:00"),
        ("2024", "2024-01-01T00:00:00+00:00"),
        ("20240301100000", "2024-03-01T10:00:00+00:00"),
        (" 2024-03-01T10:00:00Z ", "2024-03-01T10:00:00+00:00"),
        ("", None),
        ("yesterday", None),
        ("2024-13-01T00:00:00Z", None),
        ("0001-01-01T00:00:00+01:00", None),
    ],
)
def test_warc_date(text: str, expected: str | None) -> None:
    assert warc_date(text) == expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (PHOTO, "photo 1.jpg"),
        ("https://example.org/", NO_NAME),
        ("https://example.org", NO_NAME),
        ("https://example.org/a/..%2F..%2Fetc%2Fpasswd", "_.._etc_passwd"),
        ("https://example.org/%D1%84%D0%BE%D1%82%D0%BE.jpg", "фото.jpg"),
        ("https://example.org/evil%E2%80%AEgpj.exe", "evil_gpj.exe"),
        ("https://[::1/x.jpg", "x.jpg"),
        ("urn:view:https://example.org/page", "page"),
        ("", NO_NAME),
    ],
)
def test_uri_name(uri: str, expected: str) -> None:
    assert uri_name(uri) == expected


def test_digest_key_compares_encodings() -> None:
    raw = hashlib.sha1(b"payload").digest()

    b32 = "sha1:" + base64.b32encode(raw).decode()
    assert digest_key(b32) == digest_key("SHA1:" + raw.hex()) == "sha1:" + raw.hex()
    assert digest_key(None) is None and digest_key("nodigest") is None


@given(st.text(max_size=80))
def test_normalisers_never_crash(text: str) -> None:
    date = warc_date(text)
    if date is not None:
        assert (
            date.endswith("+00:00")
            and datetime.fromisoformat(date).utcoffset().total_seconds() == 0
        )
    name = uri_name(text)
    assert name and name not in (".", "..") and not set(name) & set("/\\\x00:")
    assert len(name.encode("utf-8", "surrogatepass")) <= 200
    digest_key(text)


@given(
    st.builds(
        lambda scheme, host, segments, query: f"{scheme}://{host}/{'/'.join(segments)}{query}",
        st.sampled_from(["http", "https", "urn:view:https", "ftp"]),
        st.text(max_size=20),
        st.lists(st.text(max_size=30), max_size=4),
        st.text(max_size=10).map(lambda q: "?" + q if q else ""),
    )
)
def test_uri_names_are_safe_file_names(uri: str) -> None:
    name = uri_name(uri)
    assert name == name.strip(" .") and "/" not in name and "\\" not in name
    assert not name.startswith(".")
