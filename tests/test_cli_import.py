"""``evidence import`` end to end through the CLI: each kind of collection as its tool
writes it, the JSON Lines contract, exit codes, documents in the vault, nothing twice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import run_cli, write_jpeg, write_video

FIELDS = {
    "path",
    "status",
    "sha256",
    "media_type",
    "error",
    "error_code",
    "source_kind",
    "source_url",
    "posted_at",
    "archived_at",
    "post_id",
    "channel",
    "provenance",
}


def _import(*args: str, registry: Path) -> tuple[int, list[dict], str]:
    proc = run_cli("import", *args, "--json", registry=registry)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, lines, proc.stderr


def ytdlp_download(folder: Path) -> Path:
    """Two downloads as ``yt-dlp --write-info-json`` leaves them (clean info, the
    default), one of them with its media gone."""
    stem = "Shelling of the market, 20.07 [dQw4w9WgXcQ]"
    write_video(folder / f"{stem}.mp4", 3, seconds=1.5)
    info = {
        "id": "dQw4w9WgXcQ",
        "title": "Shelling of the market, 20.07",
        "description": "Filmed by a resident from the fourth floor.",
        "webpage_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "channel": "Kharkiv Today",
        "uploader": "Kharkiv Today",
        "upload_date": "20210720",
        "timestamp": 1626775200,
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "ext": "mp4",
        "epoch": 1647420067,
        "_type": "video",
        "_version": {"version": "2024.08.06", "repository": "yt-dlp/yt-dlp"},
    }
    (folder / f"{stem}.info.json").write_text(json.dumps(info), encoding="utf-8")
    gone = {**info, "id": "gone1234567", "webpage_url": "https://x.com/a/status/1", "ext": "mp4"}
    gone.pop("timestamp")
    (folder / "Gone [gone1234567].info.json").write_text(json.dumps(gone), encoding="utf-8")
    return folder


def test_a_ytdlp_download_folder_is_imported_with_its_sightings(tmp_path: Path) -> None:
    folder = ytdlp_download(tmp_path / "dl")
    reg = tmp_path / "reg"
    code, lines, stderr = _import(str(folder), "--case", "UA-1", "--actor", "alice", registry=reg)
    assert code == 0, stderr  # a missing file is not a failure
    assert all(set(line) >= FIELDS for line in lines)
    by_id = {line["post_id"]: line for line in lines}
    video = by_id["dQw4w9WgXcQ"]
    assert video["status"] == "new" and video["media_type"] == "video"
    assert video["source_kind"] == "ytdlp"
    assert video["source_url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert video["posted_at"] == "2021-07-20T10:00:00+00:00"
    assert video["archived_at"] == "2022-03-16T08:41:07+00:00"
    assert video["channel"] == "Kharkiv Today"
    assert by_id["gone1234567"]["status"] == "missing"
    assert by_id["gone1234567"]["posted_at"] == "2021-07-20"  # upload_date alone: the date
    sidecar = next(folder.glob("Shelling*.info.json"))
    assert video["provenance"]["sha256"] == hashlib.sha256(sidecar.read_bytes()).hexdigest()

    shown = json.loads(run_cli("show", video["sha256"], "--json", registry=reg, check=True).stdout)
    [sighting] = shown["sightings"]
    assert sighting["source_kind"] == "ytdlp" and sighting["case"] == "UA-1"
    assert sighting["provenance"] == video["provenance"]
    events = [e["event"] for e in shown["timeline"]]
    assert events.index("posted") < events.index("archived") < events.index("observed")
    document = json.loads(
        run_cli("show", video["provenance"]["sha256"], "--json", registry=reg, check=True).stdout
    )
    assert document["media_type"] == "document" and document["format"] == "ytdlp-info-json"
    assert run_cli("verify", registry=reg).returncode == 0

    code, again, _ = _import(str(folder), "--case", "UA-1", registry=reg)
    assert code == 0 and {line["status"] for line in again} == {"known", "missing"}
    shown = json.loads(run_cli("show", video["sha256"], "--json", registry=reg, check=True).stdout)
    assert len(shown["sightings"]) == 1  # the same export again: no second sighting


def autoarchiver_run(folder: Path) -> tuple[Path, str]:
    """An auto-archiver local-storage folder: metadata.json and the media it names."""
    photo = write_jpeg(folder / "screenshot.jpg", 8, size=(400, 300))
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    bad = write_jpeg(folder / "photo.jpg", 9, size=(400, 300))
    doc = {
        "status": "twitter: success",
        "metadata": {
            "url": "https://twitter.com/example/status/1503000000000000000",
            "title": "Aftermath on Sumska street",
            "content": "Aftermath on Sumska street this morning",
            "timestamp": "2022-03-16T10:41:07+00:00",
            "_processed_at": "2022-03-16T12:00:00+00:00",
        },
        "media": [
            {
                "filename": str(photo),
                "_key": "screenshot.jpg",
                "urls": ["screenshot.jpg"],
                "properties": {"id": "screenshot", "hash": f"SHA-256:{digest}"},
            },
            {
                "filename": str(bad),
                "_key": "photo.jpg",
                "urls": ["photo.jpg"],
                "properties": {"id": "media_1", "hash": "SHA-256:" + "0" * 64},
            },
        ],
    }
    (folder / "metadata.json").write_text(json.dumps(doc), encoding="utf-8")
    return folder, digest


def test_an_autoarchiver_run_is_imported_and_its_hashes_checked(tmp_path: Path) -> None:
    folder, digest = autoarchiver_run(tmp_path / "aa")
    reg = tmp_path / "reg"
    code, lines, _ = _import(str(folder), "--format", "auto-archiver", registry=reg)
    assert code == 1  # the photo whose recorded hash disagrees was not stored
    by_path = {Path(line["path"]).name: line for line in lines}
    assert by_path["screenshot.jpg"]["status"] == "new"
    assert by_path["screenshot.jpg"]["sha256"] == digest
    assert by_path["screenshot.jpg"]["source_url"].startswith("https://twitter.com/example/")
    assert by_path["photo.jpg"]["error_code"] == "RecordedHashMismatch"
    listed = run_cli("list", "--json", registry=reg, check=True).stdout.splitlines()
    assert len(listed) == 2  # the screenshot and the metadata.json document
    assert run_cli("verify", registry=reg).returncode == 0


def test_a_path_with_no_export_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    code, lines, stderr = _import(str(tmp_path / "nothing"), registry=tmp_path / "reg")
    assert code == 1 and "Traceback" not in stderr
    assert lines[0]["status"] == "error" and lines[0]["error_code"] == "UnreadableExport"
    bad = run_cli("import", str(tmp_path), "--format", "nonsense", registry=tmp_path / "reg")
    assert bad.returncode == 2


def web_archive(path: Path, photo: bytes, pixel: bytes) -> str:
    """A crawl as warcio writes one: a photo's response (request beside it), an HTML page,
    a tracking pixel, and a later revisit of the photo (identical payload digest)."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)

        def response(uri: str, body: bytes, mime: str, date: str) -> str:
            http = StatusAndHeaders("200 OK", [("Content-Type", mime)], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                uri,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
            writer.write_record(record)
            return record.rec_headers.get_header("WARC-Payload-Digest")

        digest = response(
            "https://example.org/img/strike.jpg", photo, "image/jpeg", "2022-03-16T09:00:00Z"
        )
        response(
            "https://example.org/",
            b"<html><img src=img/strike.jpg></html>",
            "text/html",
            "2022-03-16T09:00:01Z",
        )
        response("https://px.example.net/t.gif", pixel, "image/gif", "2022-03-16T09:00:02Z")
        http = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
        revisit = writer.create_revisit_record(
            "https://example.org/img/strike.jpg",
            digest,
            "https://example.org/img/strike.jpg",
            "2022-03-16T09:00:00Z",
            http_headers=http,
            warc_headers_dict={"WARC-Date": "2022-03-17T09:00:00Z"},
        )
        writer.write_record(revisit)
    return digest


def test_a_web_archive_gives_one_item_two_captures_and_skips_pixels(tmp_path: Path) -> None:
    import io

    from PIL import Image

    photo = write_jpeg(tmp_path / "strike.jpg", 11, size=(320, 240)).read_bytes()
    pixel = io.BytesIO()
    Image.new("RGB", (1, 1)).save(pixel, "GIF")
    warc = tmp_path / "crawl" / "crawl.warc.gz"
    warc.parent.mkdir()
    web_archive(warc, photo, pixel.getvalue())
    reg = tmp_path / "reg"
    code, lines, stderr = _import(str(warc.parent), registry=reg)
    assert code == 0, stderr
    statuses = [(line["status"], line["source_url"]) for line in lines]
    assert statuses == [
        ("new", "https://example.org/img/strike.jpg"),
        ("skipped", "https://px.example.net/t.gif"),
        ("known", "https://example.org/img/strike.jpg"),
    ]
    sha = hashlib.sha256(photo).hexdigest()
    assert lines[0]["sha256"] == lines[2]["sha256"] == sha
    shown = json.loads(run_cli("show", sha, "--json", registry=reg, check=True).stdout)
    captures = sorted(s["archived_at"] for s in shown["sightings"])
    assert captures == ["2022-03-16T09:00:00+00:00", "2022-03-17T09:00:00+00:00"]
    assert {s["provenance"]["sha256"] for s in shown["sightings"]} == {
        hashlib.sha256(warc.read_bytes()).hexdigest()
    }
    assert run_cli("verify", registry=reg).returncode == 0
    code, again, _ = _import(str(warc.parent), registry=reg)
    assert [line["status"] for line in again] == ["known", "skipped", "known"]
    shown = json.loads(run_cli("show", sha, "--json", registry=reg, check=True).stdout)
    assert code == 0 and len(shown["sightings"]) == 2  # importing again adds no capture


def telegram_export(folder: Path) -> Path:
    """A channel's "Export chat history" (JSON) as Telegram Desktop writes it."""
    photo = write_jpeg(folder / "photos" / "photo_1@16-03-2022_10-41-07.jpg", 21, size=(320, 240))
    write_jpeg(folder / "photos" / "photo_1@16-03-2022_10-41-07_thumb.jpg", 21, size=(90, 68))
    write_video(folder / "video_files" / "IMG_0042.MP4", 22, seconds=1.0)
    (folder / "voice_messages").mkdir()
    (folder / "voice_messages" / "audio_1@16-03-2022_10-50-00.ogg").write_bytes(b"OggS" + bytes(60))
    (folder / "photos" / "photo_2@16-03-2022_11-00-00.jpg").write_bytes(photo.read_bytes())
    base = {"type": "message", "from": "Example channel", "from_id": "channel1234567890"}
    messages = [
        {
            **base,
            "id": 4521,
            "date": "2022-03-16T10:41:07",
            "date_unixtime": "1647420067",
            "photo": "photos/photo_1@16-03-2022_10-41-07.jpg",
            "width": 320,
            "height": 240,
            "text": ["Shelling near the station ", {"type": "hashtag", "text": "#kharkiv"}],
            "text_entities": [
                {"type": "plain", "text": "Shelling near the station "},
                {"type": "hashtag", "text": "#kharkiv"},
            ],
        },
        {
            **base,
            "id": 4522,
            "date": "2022-03-16T10:45:00",
            "date_unixtime": "1647420300",
            "file": "video_files/IMG_0042.MP4",
            "thumbnail": "video_files/IMG_0042.MP4_thumb.jpg",
            "media_type": "video_file",
            "mime_type": "video/mp4",
            "duration_seconds": 1,
            "text": "",
            "text_entities": [],
        },
        {
            **base,
            "id": 4523,
            "date": "2022-03-16T10:50:00",
            "date_unixtime": "1647420600",
            "file": "voice_messages/audio_1@16-03-2022_10-50-00.ogg",
            "media_type": "voice_message",
            "mime_type": "audio/ogg",
            "text": "",
            "text_entities": [],
        },
        {
            **base,
            "id": 4524,
            "date": "2022-03-16T10:55:00",
            "date_unixtime": "1647420900",
            "file": "(File not included. Change data exporting settings to download.)",
            "media_type": "video_file",
            "mime_type": "video/mp4",
            "text": "Second angle",
            "text_entities": [{"type": "plain", "text": "Second angle"}],
        },
        {
            **base,
            "id": 4525,
            "date": "2022-03-16T11:00:00",
            "date_unixtime": "1647421200",
            "forwarded_from": "Other channel",
            "photo": "photos/photo_2@16-03-2022_11-00-00.jpg",
            "width": 320,
            "height": 240,
            "text": "",
            "text_entities": [],
        },
    ]
    chat = {"name": "Example channel", "type": "public_channel", "id": 1234567890}
    (folder / "result.json").write_text(
        json.dumps({**chat, "messages": messages}, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return folder


def test_a_telegram_export_is_imported_post_by_post(tmp_path: Path) -> None:
    folder = telegram_export(tmp_path / "ChatExport_2022-03-16")
    reg = tmp_path / "reg"
    code, lines, stderr = _import(
        str(folder), "--channel-username", "example_channel", "--case", "UA-1", registry=reg
    )
    assert code == 0, stderr
    by_post = {line["post_id"]: line for line in lines}
    assert [by_post[str(i)]["status"] for i in range(4521, 4526)] == [
        "new",
        "new",
        "skipped",
        "missing",
        "known",
    ]
    first = by_post["4521"]
    assert first["source_kind"] == "telegram" and first["channel"] == "Example channel"
    assert first["source_url"] == "https://t.me/example_channel/4521"
    assert first["posted_at"] == "2022-03-16T08:41:07+00:00"
    assert first["provenance"]["record"] == "4521"
    assert by_post["4522"]["media_type"] == "video"
    assert by_post["4525"]["sha256"] == first["sha256"]  # the forward: a second sighting
    shown = json.loads(run_cli("show", first["sha256"], "--json", registry=reg, check=True).stdout)
    forward = next(s for s in shown["sightings"] if s["post_id"] == "4525")
    assert forward["forwarded_from"] == "Other channel"
    assert next(s for s in shown["sightings"] if s["post_id"] == "4521")["text"] == (
        "Shelling near the station #kharkiv"
    )
    listed = [json.loads(x) for x in run_cli("list", "--json", registry=reg).stdout.splitlines()]
    assert sorted(i["media_type"] for i in listed) == ["document", "image", "video"]  # no thumb
    custody = run_cli("custody", "--json", registry=reg, check=True).stdout
    assert '"action": "sighting.missing"' in custody and "Second angle" in custody
    assert run_cli("verify", registry=reg).returncode == 0
