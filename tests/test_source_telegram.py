"""Telegram Desktop JSON exports (ingest/sources/telegram.py): fixtures written the way
tdesktop's export_output_json.cpp writes them (key order, one space of indentation per
level, ``date`` in local time and ``date_unixtime`` as a string, text arrays of strings
and entities, placeholders for files not downloaded, ``\\xHH`` for control characters)."""

from __future__ import annotations

import builtins
import io
import json
import os
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ingest.errors import UnreadableExport
from ingest.sources.model import MAX_TEXT, Document, Options
from ingest.sources.telegram import TelegramSource
from ingest.sources.telegram_format import (
    HEAD_SIZE,
    RepairedStream,
    cap_text,
    flatten_text,
    link_id,
    read_messages,
    sniff,
)

SOURCE = TelegramSource()
#: The exporting machine's offset in the fixtures (Kyiv, winter): ``date`` is written in it.
LOCAL = timedelta(hours=2)
T0 = 1647420067  # 2022-03-16T08:41:07Z
NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
TOO_LARGE = "(File exceeds maximum size. Change data exporting settings to download.)"
UNAVAILABLE = "(File unavailable, please try again later)"
MIME = "application/json"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 32


def write_jpeg(path: Path, seed: int = 1) -> None:
    """A tiny real JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (seed % 256, 80, 160)).save(path, "JPEG")


def local(ts: int) -> str:
    """``date`` as the exporter writes it: local time, no offset."""
    return (datetime.fromtimestamp(ts, UTC) + LOCAL).replace(tzinfo=None).isoformat()


def msg(mid: int, ts: int = T0, *, text: Any = "", edited: int | None = None, **media: Any):
    """A message in the exporter's key order (``SerializeMessage``)."""
    out: dict[str, Any] = {"id": mid, "type": "message", "date": local(ts)}
    out["date_unixtime"] = str(ts)
    if edited:
        out["edited"], out["edited_unixtime"] = local(edited), str(edited)
    for key in ("from", "from_id", "author", "forwarded_from"):
        if key in media:
            out[key] = media.pop(key)
    out.update(media)
    out["text"] = text
    parts = text if isinstance(text, list) else ([text] if text else [])
    out["text_entities"] = [
        p if isinstance(p, dict) else {"type": "plain", "text": p} for p in parts
    ]
    return out


def photo(path: str) -> dict[str, Any]:
    return {"photo": path, "photo_file_size": 1234, "width": 16, "height": 16}


def document(path: str, mime: str, media_type: str | None = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"file": path, "file_name": more.pop("file_name", Path(path).name)}
    out["file_size"] = 2048
    if more.pop("thumb", False):
        out["thumbnail"], out["thumbnail_file_size"] = path + "_thumb.jpg", 512
    if media_type:
        out["media_type"] = media_type
    out.update(more)
    out["mime_type"] = mime
    return out


def dump(data: Any) -> str:
    """JSON laid out like the exporter's (``indent=1``, UTF-8 as is)."""
    return json.dumps(data, indent=1, ensure_ascii=False)


def write_export(folder: Path, chat: dict[str, Any], files: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, data in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".jpg") and data == b"jpeg":
            write_jpeg(folder / rel, len(rel))
        else:
            (folder / rel).write_bytes(data)
    path = folder / "result.json"
    path.write_text(dump(chat), encoding="utf-8")
    return path


def chat(
    messages: list, name: str | None = "Donbas News", type_: str = "public_channel", id_=1234567890
):
    out: dict[str, Any] = {} if name is None else {"name": name}
    out.update({"type": type_, "id": id_, "messages": messages})
    return out


def refs(path: Path, **options: Any) -> list:
    (doc,) = SOURCE.find(str(path))
    return list(SOURCE.refs(doc, Options(**options)))


def codes(ref) -> list[str]:
    return [w["code"] for w in ref.warnings]


PHOTO = "photos/photo_1@16-03-2022_10-41-07.jpg"
VIDEO = "video_files/video_1@16-03-2022_10-45-00.mp4"


@pytest.fixture
def channel(tmp_path: Path) -> Path:
    """A channel with every kind of media message the exporter writes."""
    messages = [
        {
            "id": 1,
            "type": "service",
            "date": local(T0 - 9),
            "date_unixtime": str(T0 - 9),
            "actor": "Donbas News",
            "actor_id": "channel1234567890",
            "action": "create_channel",
            "title": "Donbas News",
            "text": "",
            "text_entities": [],
        },
        msg(
            2,
            text=["Shelling in ", {"type": "hashtag", "text": "#Kharkiv"}, " this morning"],
            **{"from": "Donbas News", "from_id": "channel1234567890", "author": "Ivan"},
            **photo(PHOTO),
        ),
        msg(
            3,
            T0 + 60,
            edited=T0 + 600,
            text="Video from the scene",
            **{"from": "Donbas News", "forwarded_from": "Kharkiv Today"},
            **document(VIDEO, "video/mp4", "video_file", thumb=True, duration_seconds=12),
        ),
        msg(
            4,
            **document(
                "voice_messages/audio_1@16-03-2022_10-41-07.ogg",
                "audio/ogg",
                "voice_message",
                duration_seconds=3,
            ),
        ),
        msg(
            5,
            **document(
                "stickers/sticker.webp",
                "image/webp",
                "sticker",
                sticker_emoji="😡",
                width=512,
                height=512,
                thumb=True,
            ),
        ),
        msg(
            6,
            **document(
                "stickers/AnimatedSticker.tgs",
                "application/x-tgsticker",
                "sticker",
                sticker_emoji="🔥",
            ),
        ),
        msg(7, **document("files/report.pdf", "application/pdf", thumb=True)),
        msg(8, **document("files/IMG_0042.JPG", "image/jpeg")),
        msg(9, **document("animations/giphy.mp4", "video/mp4", "animation", thumb=True)),
        msg(
            10,
            **document(
                "round_video_messages/file_1@16-03-2022_10-41-07.mp4", "video/mp4", "video_message"
            ),
        ),
        msg(11, **document("files/song.mp3", "audio/mpeg", "audio_file", performer="X")),
        msg(12, **photo(NOT_INCLUDED)),
        msg(13, **document(TOO_LARGE, "video/mp4", "video_file", file_name="big.mp4")),
        msg(14, **photo(UNAVAILABLE)),
        msg(15, **photo("photos/photo_9@16-03-2022_10-41-07.jpg")),  # not on disk
        msg(16, text="just text"),
        {"id": 17, "type": "unsupported"},
        msg(18, **document(NOT_INCLUDED, "audio/ogg", "voice_message")),
    ]
    files = {
        PHOTO: b"jpeg", VIDEO: MP4, VIDEO + "_thumb.jpg": b"jpeg",
        "voice_messages/audio_1@16-03-2022_10-41-07.ogg": b"OggS",
        "stickers/sticker.webp": b"RIFF\x00\x00\x00\x00WEBP",
        "stickers/sticker.webp_thumb.jpg": b"jpeg",
        "stickers/AnimatedSticker.tgs": b"\x1f\x8b", "files/report.pdf": b"%PDF-1.4",
        "files/report.pdf_thumb.jpg": b"jpeg", "files/IMG_0042.JPG": b"\xff\xd8\xff\xe0",
        "animations/giphy.mp4": MP4, "animations/giphy.mp4_thumb.jpg": b"jpeg",
        "round_video_messages/file_1@16-03-2022_10-41-07.mp4": MP4, "files/song.mp3": b"ID3",
    }  # fmt: skip
    return write_export(tmp_path / "ChatExport_2022-03-16", chat(messages), files)


def test_a_channel_export_gives_one_ref_per_photo_or_file(channel: Path) -> None:
    got = {r.record: r for r in refs(channel)}
    assert list(got) == [str(i) for i in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18)]
    status = {k: r.status for k, r in got.items()}
    assert status == {
        "2": "ok", "3": "ok", "4": "skipped", "5": "skipped", "6": "skipped", "7": "skipped",
        "8": "ok", "9": "ok", "10": "ok", "11": "skipped", "12": "missing", "13": "missing",
        "14": "missing", "15": "missing", "18": "skipped",
    }  # fmt: skip
    root = channel.parent.resolve()
    assert got["2"].path == str(root / PHOTO) and got["2"].original_path == PHOTO
    assert got["2"].name == "photo_1@16-03-2022_10-41-07.jpg" and got["2"].error is None
    assert got["3"].path == str(root / VIDEO)
    assert got["8"].name == "IMG_0042.JPG"  # a JPEG sent as a file
    assert all(r.path is None for r in got.values() if r.status != "ok")
    assert not any(r.path and r.path.endswith("_thumb.jpg") for r in got.values())
    assert {got[k].error["code"] for k in ("4", "5", "6", "7", "11", "18")} == {"NotMedia"}
    assert "voice message" in got["4"].error["message"]
    assert "application/pdf" in got["7"].error["message"]
    for key, text in (("12", NOT_INCLUDED), ("13", TOO_LARGE), ("14", UNAVAILABLE)):
        assert got[key].error == {
            "code": "MissingMedia",
            "message": f"Export names a media file it does not contain: {text}",
        }
        assert got[key].original_path == ""
    assert got["13"].name == "big.mp4"
    assert got["15"].error["code"] == "MissingMedia"
    assert got["15"].original_path == "photos/photo_9@16-03-2022_10-41-07.jpg"


def test_sightings_carry_what_the_message_states(channel: Path) -> None:
    got = {r.record: r for r in refs(channel)}
    assert got["2"].sighting == {
        "source_kind": "telegram",
        "post_id": "2",
        "source_url": "https://t.me/c/1234567890/2",
        "channel": "Donbas News",
        "posted_at": "2022-03-16T08:41:07+00:00",
        "author": "Donbas News",
        "text": "Shelling in #Kharkiv this morning",
    }
    assert got["2"].warnings == []
    third = got["3"].sighting
    assert third["forwarded_from"] == "Kharkiv Today"
    assert third["posted_at"] == "2022-03-16T08:42:07+00:00"
    assert third["edited"] == "2022-03-16T08:51:07+00:00"
    assert third["text"] == "Video from the scene"
    assert "edited" not in got["2"].sighting and "text" not in got["4"].sighting


def test_channel_username_gives_public_links(channel: Path) -> None:
    for given_as in ("donbas_news", "@donbas_news", "https://t.me/donbas_news/"):
        got = refs(channel, channel_username=given_as)
        assert got[0].sighting["source_url"] == "https://t.me/donbas_news/2"
    with pytest.raises(ValueError, match="not a Telegram username"):
        SOURCE.refs(SOURCE.find(str(channel))[0], Options(channel_username="a b/c"))


@pytest.mark.parametrize(
    ("chat_id", "type_", "url"),
    [
        (1234567890, "public_channel", "https://t.me/c/1234567890/2"),
        (1234567890, "private_supergroup", "https://t.me/c/1234567890/2"),
        (11451418180, "private_supergroup", "https://t.me/c/11451418180/2"),  # bare, > 2**33
        (-1001234567890, "public_supergroup", "https://t.me/c/1234567890/2"),  # bot API form
        ("-1001234567890", "public_channel", "https://t.me/c/1234567890/2"),
        (987654, "private_group", None),
        (55501, "personal_chat", None),
        (55501, "bot_chat", None),
    ],
)
def test_chat_ids_of_every_form_give_channel_links(tmp_path, chat_id, type_, url) -> None:
    path = write_export(tmp_path, chat([msg(2, **photo(PHOTO))], type_=type_, id_=chat_id))
    (ref,) = refs(path)
    assert ref.sighting.get("source_url") == url


def test_link_id() -> None:
    assert link_id(1234567890) == link_id(-1001234567890) == link_id("1234567890") == 1234567890
    assert link_id((1 << 33) + 42, legacy=True) == 42  # exports before April 2021
    assert link_id((1 << 33) + 42) == (1 << 33) + 42  # a newer export: the bare id
    assert link_id(1234567890, legacy=True) == 1234567890
    assert link_id(-1000000000000 - 7) == 7
    assert link_id(None) is link_id(True) is link_id(-5) is link_id("x") is link_id(0) is None


def account(tmp_path: Path, chats: list, left: list | None = None) -> Path:
    person = {"user_id": 55501, "first_name": "Olena", "last_name": "", "phone_number": "+380"}
    picture = {"date": local(T0), "date_unixtime": str(T0), "photo": "profile_pictures/p.jpg"}
    data: dict[str, Any] = {
        "about": "Here is the data you requested.",
        "personal_information": person,
        "profile_pictures": [picture],
        "contacts": {"about": "contacts", "list": []},
        "chats": {"about": "chats", "list": chats},
    }
    if left is not None:
        data["left_chats"] = {"about": "left", "list": left}
    files = {f"chats/chat_{i:02}/{PHOTO}": b"jpeg" for i in range(1, 4)}
    return write_export(tmp_path / "DataExport_2022-03-16", data, files)


def test_an_account_export_streams_every_chat(tmp_path: Path) -> None:
    path = account(
        tmp_path,
        [
            chat([msg(7, **photo(f"chats/chat_01/{PHOTO}"))], "Olena", "personal_chat", 55502),
            chat([msg(1, text="hi"), msg(7, **photo(f"chats/chat_02/{PHOTO}"))], "News"),
            {"type": "saved_messages", "id": 55501, "messages": [msg(3, **photo("x.jpg"))]},
        ],
        left=[chat([msg(7, **photo(f"chats/chat_03/{PHOTO}"))], "Old", "private_channel", 777)],
    )
    (doc,) = SOURCE.find(str(path.parent))
    assert doc.root == str(path.parent)
    got = list(SOURCE.refs(doc, Options(channel_username="ignored_here")))
    assert [r.record for r in got] == ["55502:7", "1234567890:7", "55501:3", "777:7"]
    assert [r.status for r in got] == ["ok", "ok", "missing", "ok"]
    assert [r.sighting.get("channel") for r in got] == ["Olena", "News", None, "Old"]
    links = [r.sighting.get("source_url") for r in got]
    assert links == [None, "https://t.me/c/1234567890/7", None, "https://t.me/c/777/7"]
    assert all(r.warnings == [] for r in got)


def test_a_chat_that_comes_twice_keeps_its_records_apart(tmp_path: Path) -> None:
    one = chat([msg(7, **photo(f"chats/chat_01/{PHOTO}"))], id_=42)
    path = account(tmp_path, [one, dict(one)])
    assert [r.record for r in refs(path)] == ["42:7", "42@chats[1]:7"]


def test_an_old_export_without_unixtime_keeps_the_local_time(tmp_path: Path) -> None:
    old = {"id": 2, "type": "message", "date": "2020-03-16T10:41:07"}
    old.update({"edited": "1970-01-01T03:00:00", "from": "Donbas News", "from_id": 1234})
    old.update(photo=PHOTO, width=16, height=16, text="old")
    edited = dict(old, id=3, edited="2020-03-16T11:00:00", photo="(file skipped)")
    path = write_export(tmp_path, chat([old, edited], id_=(1 << 33) + 99), {PHOTO: b"jpeg"})
    first, second = refs(path)
    assert first.sighting["posted_at"] == "2020-03-16T10:41:07"
    assert "edited" not in first.sighting  # the pre-2.1.9 exporter's epoch: never edited
    assert codes(first) == ["TimeWithoutOffset"]
    assert "without an offset" in first.warnings[0]["message"]
    assert second.sighting["edited"] == "2020-03-16T11:00:00"
    assert codes(second) == ["TimeWithoutOffset", "TimeWithoutOffset"]
    assert second.status == "missing" and "(file skipped)" in second.error["message"]
    assert first.sighting["source_url"] == "https://t.me/c/99/2"


@pytest.mark.parametrize("raw", ["0", "-5", "7258118400", "946684799"])
def test_absurd_dates_are_not_recorded_but_kept_in_a_warning(tmp_path: Path, raw: str) -> None:
    message = msg(2, **photo(PHOTO))
    message["date_unixtime"] = raw
    path = write_export(tmp_path, chat([message]), {PHOTO: b"jpeg"})
    (ref,) = refs(path)
    assert ref.status == "ok" and "posted_at" not in ref.sighting
    assert codes(ref) == ["ImplausibleDate"] and repr(raw) in ref.warnings[0]["message"]


def test_a_date_that_disagrees_with_its_unixtime_is_flagged(tmp_path: Path) -> None:
    message = msg(2, edited=T0 + 60, **photo(PHOTO))
    message["date"] = "2021-01-01T00:00:00"  # not T0 in any time zone
    message["edited_unixtime"] = "0"
    path = write_export(tmp_path, chat([message]), {PHOTO: b"jpeg"})
    (ref,) = refs(path)
    assert ref.sighting["posted_at"] == "2022-03-16T08:41:07+00:00"
    assert "edited" not in ref.sighting
    assert codes(ref) == ["MalformedRecord", "ImplausibleDate"]


def test_unsafe_paths_are_errors_and_never_opened(tmp_path: Path, monkeypatch) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    write_jpeg(outside / "secret.jpg")
    export = tmp_path / "export"
    (export / "photos").mkdir(parents=True)
    (export / "photos" / "link.jpg").symlink_to(outside / "secret.jpg")
    (export / "photos" / "dir").symlink_to(outside)
    names = [
        str(outside / "secret.jpg"),
        "../outside/secret.jpg",
        "photos/../../outside/secret.jpg",
        "photos/link.jpg",
        "photos/dir/secret.jpg",
    ]
    path = write_export(export, chat([msg(i, **photo(n)) for i, n in enumerate(names, 1)]))
    (doc,) = SOURCE.find(str(export))
    touched: list[str] = []
    real_open, real_stat = builtins.open, os.stat
    monkeypatch.setattr(
        builtins, "open", lambda f, *a, **k: touched.append(str(f)) or real_open(f, *a, **k)
    )
    monkeypatch.setattr(
        os, "stat", lambda f, *a, **k: touched.append(str(f)) or real_stat(f, *a, **k)
    )
    got = list(SOURCE.refs(doc, Options()))
    monkeypatch.undo()
    assert [r.status for r in got] == ["error"] * 5
    assert {r.error["code"] for r in got} == {"UnsafeReference"}
    assert [r.original_path for r in got] == names and all(r.path is None for r in got)
    assert touched == [str(path)]  # only the document itself


def test_a_folder_in_place_of_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / PHOTO).mkdir(parents=True)
    (ref,) = refs(write_export(tmp_path, chat([msg(2, **photo(PHOTO))])))
    assert ref.status == "error" and ref.error["code"] == "NotAFile"


def test_duplicate_ids_get_distinct_records_and_a_warning(tmp_path: Path) -> None:
    messages = [msg(i, **photo(PHOTO)) for i in (5, 5, 6, 5)]
    got = refs(write_export(tmp_path, chat(messages), {PHOTO: b"jpeg"}))
    assert [r.record for r in got] == ["5", "5#2", "6", "5#3"]
    assert [codes(r) for r in got] == [[], ["MalformedRecord"], [], ["MalformedRecord"]]
    assert all(r.status == "ok" and r.sighting["post_id"] in ("5", "6") for r in got)


def test_malformed_messages_become_error_refs(tmp_path: Path) -> None:
    no_id = msg(0, **photo(PHOTO))
    del no_id["id"]
    messages = ["junk", no_id, msg(3, photo=None), msg(4, photo=""), msg(5, **photo(PHOTO))]
    got = refs(write_export(tmp_path, chat(messages), {PHOTO: b"jpeg"}))
    assert [r.record for r in got] == ["#0", "#1", "3", "4", "5"]
    assert [r.status for r in got] == ["error"] * 4 + ["ok"]
    assert {r.error["code"] for r in got[:4]} == {"MalformedRecord"}
    assert "no valid id" in got[1].error["message"]


def test_messages_of_the_group_before_the_upgrade_have_no_link(tmp_path: Path) -> None:
    messages = [msg(-999999990, **photo(PHOTO)), msg(12, **photo(PHOTO))]
    got = refs(write_export(tmp_path, chat(messages, type_="public_supergroup"), {PHOTO: b"jpeg"}))
    assert got[0].sighting["post_id"] == "-999999990" and "source_url" not in got[0].sighting
    assert codes(got[0]) == ["MigratedMessage"]
    assert got[1].sighting["source_url"] == "https://t.me/c/1234567890/12"


def test_a_service_message_with_a_photo_is_a_ref(tmp_path: Path) -> None:
    service = {"id": 9, "type": "service", "date": local(T0), "date_unixtime": str(T0)}
    service.update(actor="Admin", actor_id="user1", action="edit_group_photo", **photo(PHOTO))
    service.update(text="", text_entities=[])
    (ref,) = refs(write_export(tmp_path, chat([service]), {PHOTO: b"jpeg"}))
    assert ref.status == "ok" and ref.record == "9"


def test_a_long_caption_is_cut_on_a_character_boundary(tmp_path: Path) -> None:
    caption = "а" + "Обстріл 🚀 Харкова. " * 300  # Cyrillic (2 bytes) and emoji (4 bytes)
    assert len(caption.encode()) > MAX_TEXT + 100
    parts = [caption[:1000], {"type": "bold", "text": caption[1000:1200]}, caption[1200:]]
    (ref,) = refs(
        write_export(tmp_path, chat([msg(2, text=parts, **photo(PHOTO))]), {PHOTO: b"jpeg"})
    )
    text = ref.sighting["text"]
    assert caption.startswith(text) and len(text.encode()) <= MAX_TEXT
    assert len(text.encode()) > MAX_TEXT - 4  # only the last, partial character dropped
    assert codes(ref) == ["TextTruncated"]


def test_the_exporters_control_escapes_are_read(tmp_path: Path) -> None:
    path = write_export(
        tmp_path, chat([msg(2, text="a\x0bb \\x c", **photo(PHOTO))]), {PHOTO: b"jpeg"}
    )
    raw = path.read_text().replace("\\u000b", "\\x0B")  # as SerializeString writes it
    assert "\\x0B" in raw and "\\\\x" in raw
    path.write_text(raw)
    (ref,) = refs(path)
    assert ref.sighting["text"] == "a\x0bb \\x c"


def test_bare_custom_emoji_document_ids_of_tdesktop_4_1_are_read(tmp_path: Path) -> None:
    emoji = {"type": "custom_emoji", "text": "😮", "document_id": "video_files/sticker (2).webm"}
    number = {"type": "custom_emoji", "text": "🔥", "document_id": "5368324170671202286"}
    quoted = {"type": "plain", "text": '"document_id": video_files/x.webm'}
    text = ["Вибух ", emoji, " ", number, " ", quoted]
    path = write_export(tmp_path, chat([msg(2, text=text, **photo(PHOTO))]), {PHOTO: b"jpeg"})
    raw = path.read_text()  # as 4.0 to 4.1.1 wrote them (tdesktop #24961)
    raw = raw.replace(
        '"document_id": "video_files/sticker (2).webm"',
        '"document_id": video_files/sticker (2).webm',
    )
    raw = raw.replace('"document_id": "5368324170671202286"', '"document_id": 5368324170671202286')
    path.write_text(raw)
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    (ref,) = refs(path)
    assert ref.status == "ok"
    assert ref.sighting["text"] == 'Вибух 😮 🔥 "document_id": video_files/x.webm'


def test_a_truncated_export_yields_what_it_can_then_raises(tmp_path: Path) -> None:
    messages = [msg(i, **photo(PHOTO)) for i in range(1, 11)]
    path = write_export(tmp_path, chat(messages), {PHOTO: b"jpeg"})
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.index(b'"id": 7,')])
    (doc,) = SOURCE.find(str(path))  # the head still says what it is
    got = []
    with pytest.raises(UnreadableExport) as caught:
        got.extend(SOURCE.refs(doc, Options()))
    assert [r.record for r in got] == [str(i) for i in range(1, 7)]
    assert caught.value.data["refs"] == 6 and caught.value.data["path"] == str(path)
    assert caught.value.data["offset"] == path.stat().st_size


def test_documents_that_cannot_be_read_raise(tmp_path: Path) -> None:
    for name, content in (("list.json", "[1, 2]"), ("garbage.json", "\x00\x01")):
        (tmp_path / name).write_text(content)
        doc = Document(str(tmp_path / name), "telegram", "telegram-json", MIME, str(tmp_path))
        with pytest.raises(UnreadableExport):
            list(SOURCE.refs(doc, Options()))
    gone = Document(str(tmp_path / "gone.json"), "telegram", "telegram-json", "", str(tmp_path))
    with pytest.raises(UnreadableExport, match=r"gone\.json"):
        list(SOURCE.refs(gone, Options()))


def test_find_recognises_exports_by_their_content(tmp_path: Path, channel: Path) -> None:
    one = SOURCE.find(str(channel.parent))
    assert one == [Document(str(channel), "telegram", "telegram-json", MIME, str(channel.parent))]
    assert SOURCE.find(str(channel)) == one
    others = tmp_path / "others"
    others.mkdir()
    for name, data in {
        "info.json": {"id": "dQw4w9WgXcQ", "title": "x", "formats": []},  # yt-dlp
        "chatish.json": {"messages": [], "foo": 1},
        "list.json": [{"name": "x", "type": "y", "id": 1, "messages": []}],
        "strid.json": {"name": "x", "type": "public_channel", "id": "abc", "messages": []},
    }.items():
        (others / name).write_text(json.dumps(data))
    (others / "empty.json").write_text("")
    os.mkfifo(others / "fifo.json")  # never opened (it would block)
    (others / "saved").mkdir()
    saved = write_export(others / "saved", chat([], name=None, type_="saved_messages", id_=55501))
    (others / "renamed.txt").write_text(channel.read_text())  # in a folder: only *.json
    assert [d.path for d in SOURCE.find(str(others))] == [str(saved)]
    assert SOURCE.find(str(others / "renamed.txt"))[0].path == str(others / "renamed.txt")
    assert SOURCE.find(str(others / "info.json")) == SOURCE.find(str(tmp_path / "no")) == []


def test_find_follows_no_link_out_of_the_folder(tmp_path: Path, channel: Path) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "result.json").symlink_to(channel)
    assert SOURCE.find(str(folder)) == []
    assert SOURCE.find(str(tmp_path)) == SOURCE.find(str(channel))  # inside tmp_path: found once


def test_find_reads_only_the_head(tmp_path: Path) -> None:
    path = write_export(tmp_path, chat([msg(i, text="x" * 200) for i in range(2000)]))
    size = path.stat().st_size
    assert size > 4 * 65536
    with path.open("r+b") as fh:  # what follows the head is not JSON any more
        fh.seek(2 * 65536)
        fh.write(b"\x00" * 1000)
    assert len(SOURCE.find(str(path))) == 1
    assert sniff(path.read_bytes()[:65536])


def test_an_account_export_head_is_recognised(tmp_path: Path) -> None:
    path = account(tmp_path, [])
    assert sniff(path.read_bytes()[:300]) and len(SOURCE.find(str(path))) == 1
    assert refs(path) == []


def test_memory_stays_bounded_on_a_large_export(tmp_path: Path) -> None:
    """50,000 messages (one in four with a photo or a video) streamed the way the exporter
    writes them: the reader's peak is a small fraction of the file."""
    folder = tmp_path / "big"
    write_jpeg(folder / PHOTO)
    caption = ["Обстріл ", {"type": "hashtag", "text": "#Харків"}, ", ранок. " * 12]
    text = dump(msg(424242, text="Повітряна тривога. " * 8, **{"from": "Big"}))
    templates = [
        dump(msg(424242, text=caption, **{"from": "Big"}, **photo(PHOTO))),
        *[text] * 3,
        dump(msg(424242, text=caption, **document(VIDEO, "video/mp4", "video_file", thumb=True))),
        *[text] * 3,
    ]
    path = folder / "result.json"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(dump(chat([]))[: -len("[]\n}")] + "[")
        for i in range(1, 50_001):
            item = templates[i % 8].replace('"id": 424242', f'"id": {i}', 1)
            fh.write(("," if i > 1 else "") + "\n" + item)
        fh.write("\n ]\n}")
    size = path.stat().st_size
    (doc,) = SOURCE.find(str(folder))
    counts = {"ok": 0, "missing": 0}
    tracemalloc.start()
    try:
        for ref in SOURCE.refs(doc, Options()):
            counts[ref.status] += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counts == {"ok": 6_250, "missing": 6_250}
    assert size > 20_000_000
    assert peak < size / 20, (peak, size)


def test_memory_stays_bounded_on_a_large_account_export(tmp_path: Path) -> None:
    """An account export is streamed chat by chat from the parser's events."""
    message = dump(msg(424242, text="Повітряна тривога. " * 8, **photo("x/p.jpg")))
    chats = []
    for number in range(3):
        items = ",\n".join(message.replace("424242", str(i), 1) for i in range(1, 2_501))
        chats.append(dump(chat(["@"], f"Chat {number}", id_=100 + number)).replace('"@"', items))
    path = tmp_path / "result.json"
    path.write_text('{"about": "", "chats": {"about": "", "list": [' + ",".join(chats) + "]}}")
    (doc,) = SOURCE.find(str(path))
    tracemalloc.start()
    try:
        records = [ref.record for ref in SOURCE.refs(doc, Options())]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(records) == 7_500 and records[2_500] == "101:1"
    assert peak < path.stat().st_size / 5, (peak, path.stat().st_size)


def test_both_ways_of_reading_give_the_same_messages(channel: Path) -> None:
    def read(head: bytes) -> list:
        with channel.open("rb") as fh:
            return [(vars(c), p, m) for c, p, m in read_messages(RepairedStream(fh), head)]

    fast = read(channel.read_bytes()[:HEAD_SIZE])  # ijson builds the messages
    slow = read(b"")  # built from the parser's events
    assert fast == slow and len(fast) == 18
    assert fast[0][0] == {"group": "", "index": 0, "name": "Donbas News", "type": "public_channel",
                          "id": 1234567890}  # fmt: skip


# --- properties --------------------------------------------------------------------------

ENTITY_TYPES = ["plain", "bold", "link", "text_link", "mention", "custom_emoji", "pre", "code"]
parts = st.one_of(
    st.text(),
    st.fixed_dictionaries(
        {"type": st.sampled_from(ENTITY_TYPES), "text": st.text()},
        optional={"href": st.text(max_size=20), "user_id": st.integers(), "language": st.text()},
    ),
    st.none(),
    st.integers(),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
long_text = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=3000)


@given(st.one_of(st.lists(parts, max_size=30), st.text(), st.none(), st.integers()))
def test_any_text_flattens_to_a_capped_string(value: Any) -> None:
    flat = flatten_text(value)
    assert isinstance(flat, str)
    if isinstance(value, list):
        pieces = [
            p if isinstance(p, str) else p.get("text") for p in value if isinstance(p, str | dict)
        ]
        assert flat == "".join(p for p in pieces if isinstance(p, str))
    text, cut = cap_text(flat * 3)
    assert len(text.encode("utf-8")) <= MAX_TEXT
    assert cut == (len((flat * 3).encode("utf-8", "replace")) > MAX_TEXT)


@given(
    st.lists(
        st.one_of(long_text, st.builds(lambda t: {"type": "bold", "text": t}, long_text)),
        max_size=6,
    )
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_captions_from_an_export_are_the_flat_text_capped(tmp_path_factory, text: list) -> None:
    folder = tmp_path_factory.mktemp("prop")
    (ref,) = refs(write_export(folder, chat([msg(2, text=text, **photo(NOT_INCLUDED))])))
    expected, cut = cap_text(flatten_text(text))
    assert ref.sighting.get("text", "") == expected
    assert ("TextTruncated" in codes(ref)) == cut


@given(
    st.text(alphabet='\\x"ab\x0b\x01é\n', max_size=60),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=1, max_value=12),
)
def test_the_repaired_stream_reads_exporter_strings_in_any_chunks(
    value: str, chunk: int, max_line: int
) -> None:
    exporter = json.dumps({"t": value, "u": [value, {"text": value}]}, indent=1, ensure_ascii=False)
    exporter = exporter.replace("\\u000b", "\\x0B").replace("\\u0001", "\\x01")
    stream = RepairedStream(io.BytesIO(exporter.encode("utf-8")))
    stream.MAX_LINE = max_line  # lines without an end are handed out in pieces too
    out = b"".join(iter(lambda: stream.read(chunk), b""))
    assert json.loads(out) == {"t": value, "u": [value, {"text": value}]}
