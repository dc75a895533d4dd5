"""How Telegram Desktop writes "Export chat history" in JSON, and reading it as a stream.

The format is the one tdesktop's ``export/output/export_output_json.cpp`` writes (with
the placeholders and media kinds of ``export/data/export_data_types.cpp``):

- One chat: ``{"name", "type", "id", "messages": [...]}`` (Saved Messages has no
  ``name``). A whole account: ``{"about", "personal_information", ..., "chats": {"about",
  "list": [chat, ...]}, "left_chats": {...}}`` with the same chat objects. A chat's
  ``name``, ``type`` and ``id`` come before its ``messages``, so they are known when the
  messages stream by. Media paths are relative to the folder of ``result.json``
  (``chats/chat_001/photos/...`` in an account export).
- A chat's ``id`` is the bare peer id (a channel's without the bot API's ``-100``);
  exports made before April 2021 wrote ``2**33 + id`` for groups and channels.
- A message has ``id`` (the exporter shifts the ids of the messages of the group a
  supergroup was upgraded from by -1,000,000,000); ``date``, the exporting machine's local
  time without an offset, and since June 2022 ``date_unixtime`` (a string); ``edited``
  and ``edited_unixtime`` when it was edited (before version 2.1.9 ``edited`` was written
  for every message: the epoch for those never edited); ``from``, ``from_id``, ``author``
  (a channel post's signature), ``forwarded_from``; ``photo`` (a path) or ``file`` with
  ``media_type`` (``sticker``, ``video_message``, ``voice_message``, ``animation``,
  ``video_file``, ``audio_file``; none for a plain document), ``mime_type`` and
  ``file_name``; ``thumbnail`` is a preview the exporter made (``*_thumb.jpg``).
- A file that was not downloaded is written as a sentence in brackets instead of a path:
  ``(File not included. Change data exporting settings to download.)``, ``(File exceeds
  maximum size. ...)``, ``(File unavailable, please try again later)``; in 2018,
  ``(file skipped)``, ``(file too large)``, ``(file unavailable)``.
- ``text`` is a string, or an array of strings and ``{"type", "text", ...}`` entities
  (``text_entities`` is the same as entities only).
- Control characters are written as ``\\xHH``, which is not JSON: ``RepairedStream`` reads
  them as ``\\u00HH`` (and bytes that are not UTF-8 as U+FFFD), so one odd caption does
  not end the import of a 2 GB export.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from ingest.errors import EvidenceError, ImplausibleDate, MalformedRecord, TimeWithoutOffset
from ingest.lazy import lazy_import
from ingest.sources.model import MAX_TEXT

if TYPE_CHECKING:
    import ijson
    from ijson.common import ObjectBuilder
else:
    ijson = lazy_import("ijson")

__all__ = [
    "EARLIEST",
    "HEAD_SIZE",
    "LINKED_TYPES",
    "MEDIA_SUFFIXES",
    "MEDIA_TYPES",
    "MIGRATED_SHIFT",
    "NOT_MEDIA_TYPES",
    "OLD_PEER_SHIFT",
    "Chat",
    "RepairedStream",
    "cap_text",
    "flatten_text",
    "instant",
    "is_placeholder",
    "link_id",
    "messages",
    "not_media",
    "read_messages",
    "short",
    "single_chat",
    "sniff",
    "to_int",
]

#: How much of a JSON file is read to recognise an export.
HEAD_SIZE = 1 << 16
#: Chat types whose messages have ``t.me/c/<chat>/<message>`` links.
LINKED_TYPES = frozenset(
    {"public_channel", "private_channel", "public_supergroup", "private_supergroup"}
)
#: ``media_type`` values of files that are not photos or videos, and how to call them.
NOT_MEDIA_TYPES = {"sticker": "sticker", "voice_message": "voice message", "audio_file": "audio"}
#: ``media_type`` values of videos (GIFs are exported as MP4 "animation"s).
MEDIA_TYPES = frozenset({"video_file", "video_message", "animation"})
#: Suffixes of photo and video files sent as documents without a telling ``mime_type``.
MEDIA_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic"}
    | {".heif", ".avif", ".mp4", ".m4v", ".mov", ".3gp", ".3g2", ".mkv", ".webm", ".avi"}
    | {".mpg", ".mpeg", ".ts", ".wmv", ".flv"}
)
#: Dates before this (2000-01-01 UTC) are implausible for any message Telegram holds,
#: histories imported from other messengers included.
EARLIEST = 946_684_800
#: How far past the import's start a date may be (clocks differ) before it is implausible.
FUTURE_SLACK = 86_400
#: Exports before April 2021 wrote a group's or channel's id as ``2**33 + id``.
OLD_PEER_SHIFT = 1 << 33
#: The exporter shifts the ids of messages of the group a supergroup was upgraded from.
MIGRATED_SHIFT = -1_000_000_000

_STARTS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})
_ITEMS = frozenset(
    {"messages.item", "chats.list.item.messages.item", "left_chats.list.item.messages.item"}
)
_CHATS = {"chats.list.item": "chats", "left_chats.list.item": "left_chats"}
_CHAT_FIELDS = frozenset({"name", "type", "id"})
_ACCOUNT_KEYS = frozenset(
    {"personal_information", "profile_pictures", "stories", "contacts", "frequent_contacts"}
    | {"sessions", "web_sessions", "other_data", "chats", "left_chats"}
)
_ESCAPE = re.compile(rb"\\\\|\\x")
#: ``document_id`` of a custom emoji written bare (tdesktop 4.0 to 4.1.1): a path or a
#: sentence, to the end of its line (a bare number is JSON already).
_BARE_DOCUMENT_ID = re.compile(
    rb'(?m)^([ \t]*"document_id": )(?!["\[{\-0-9]|(?:null|true|false)[\s,}\]]*$)([^\n]*)$'
)
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def flatten_text(value: Any) -> str:
    """A message's ``text`` as plain text: a string as it is; an array's strings and its
    entities' ``text`` joined; anything else (absent, malformed) is ``""``."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return ""
    parts = []
    for part in value:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


def cap_text(text: str, limit: int = MAX_TEXT) -> tuple[str, bool]:
    """``text`` within ``limit`` bytes of UTF-8, cut on a character boundary.

    Returns:
        The text (lone surrogates, which UTF-8 cannot hold, replaced by ``?``) and
        whether it was cut.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
        text = data.decode("utf-8")
    if len(data) <= limit:
        return text, False
    return data[:limit].decode("utf-8", "ignore"), True


def link_id(chat_id: Any, *, legacy: bool = False) -> int | None:
    """The channel id of a ``t.me/c/<id>/...`` link from a chat ``id`` as exports write
    it: the bare id (since April 2021), the bot API's ``-100<id>``, or, when ``legacy``
    (the export may be older: its messages have no ``date_unixtime``, added in June
    2022), ``2**33 + id``; None when it is none of these."""
    number = to_int(chat_id)
    if number is None:
        return None
    if number <= -1_000_000_000_000:
        return -number - 1_000_000_000_000
    if number <= 0:
        return None
    if legacy and OLD_PEER_SHIFT < number < OLD_PEER_SHIFT + (1 << 32):
        return number - OLD_PEER_SHIFT
    return number


def to_int(value: Any) -> int | None:
    """An id or a Unix time as the export writes it (a number or a string of digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return None


def is_placeholder(value: str) -> bool:
    """Whether a ``photo``/``file`` value is the exporter's sentence for a file it did not
    download (every version writes one in brackets; a path always has a folder)."""
    return value.startswith("(") and value.endswith(")") and "/" not in value


def not_media(message: dict[str, Any], path: str) -> str | None:
    """What a message's ``file`` is when it is not a photo or video; None when it is one
    (by ``media_type``, else ``mime_type`` ``image/*`` or ``video/*``, else the suffix)."""
    media_type = message.get("media_type")
    if media_type in NOT_MEDIA_TYPES:
        return NOT_MEDIA_TYPES[media_type]
    if media_type in MEDIA_TYPES:
        return None
    mime = message.get("mime_type")
    mime = mime.lower() if isinstance(mime, str) else ""
    if mime.startswith(("image/", "video/")):
        return None
    if os.path.splitext(path)[1].lower() in MEDIA_SUFFIXES and not mime.startswith("audio/"):
        return None
    return f"document ({mime})" if mime else "document"


def instant(message: dict[str, Any], key: str, now: int) -> tuple[str | None, list[EvidenceError]]:
    """A message's ``key`` (``"date"`` or ``"edited"``) as ISO 8601, and what is odd about it.

    ``<key>_unixtime`` gives the instant in UTC (``+00:00``); without it ``<key>`` is
    returned as written, the exporting machine's local time (``TimeWithoutOffset``).
    An implausible date (zero, before 2000, more than a day after ``now``) is not
    returned (``ImplausibleDate``); a ``<key>`` that is not ``<key>_unixtime`` in any
    time zone is ``MalformedRecord`` (the instant is still returned).
    """
    raw_unix, raw_local = message.get(f"{key}_unixtime"), message.get(key)
    problems: list[EvidenceError] = []
    if raw_unix is not None:
        seconds = to_int(raw_unix)
        if seconds is None:
            problems.append(MalformedRecord(f"{key}_unixtime is {short(raw_unix)}"))
        elif not EARLIEST <= seconds <= now + FUTURE_SLACK:
            return None, [ImplausibleDate(f"{key}_unixtime {raw_unix!r}")]
        else:
            moment = datetime.fromtimestamp(seconds, UTC)
            local = _parse(raw_local)
            if raw_local is not None and (local is None or not _same_instant(local, moment)):
                detail = f"{key} {short(raw_local)} is {key}_unixtime {raw_unix!r} in no zone"
                problems.append(MalformedRecord(detail))
            return moment.isoformat(), problems
    if raw_local is None:
        return None, problems
    local = _parse(raw_local)
    if local is None:
        return None, [*problems, MalformedRecord(f"{key} is {short(raw_local)}")]
    if key == "edited" and local.tzinfo is None and local.year <= 1970:
        return None, problems  # before 2.1.9 the exporter wrote the epoch: never edited
    latest = datetime.fromtimestamp(now + FUTURE_SLACK + 14 * 3600, UTC).replace(tzinfo=None)
    naive = local.replace(tzinfo=None)
    if naive.year < 2000 or naive > latest:
        return None, [*problems, ImplausibleDate(f"{key} {raw_local!r}")]
    if local.tzinfo is None:
        problems.append(TimeWithoutOffset(f"{key} {raw_local}"))
    return raw_local, problems


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _same_instant(local: datetime, moment: datetime) -> bool:
    """Whether ``local`` can be ``moment`` in some time zone: naive, it differs by at most
    14 hours, in whole quarter hours."""
    if local.tzinfo is not None:
        return local == moment
    difference = (local - moment.replace(tzinfo=None)).total_seconds()
    return abs(difference) <= 14 * 3600 and difference % 900 == 0


def short(value: Any) -> str:
    """``repr(value)``, at most 80 characters (for messages about malformed values)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- streaming ---------------------------------------------------------------------------


class RepairedStream:
    """A binary stream as the JSON parser may read it, with the exporter's known breaks of
    JSON mended: ``\\xHH`` escapes become ``\\u00HH``; a custom emoji's ``document_id``
    that versions 4.0 to 4.1.1 (summer 2022) wrote without quotes is quoted; bytes that
    are not UTF-8 become U+FFFD; a BOM is dropped. It hands out whole lines (the exporter
    puts every key on a line of its own, and JSON has no raw newline inside a string), at
    most ``MAX_LINE`` bytes of a line without an end at a time.

    Attributes:
        offset: How many bytes of the underlying stream have been read.
    """

    MAX_LINE = 1 << 20

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._carry = b""
        self._first = True
        self._line_start = True
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        """Up to about ``size`` bytes (more when values were mended); ``b""`` at the end."""
        if size == 0:  # ijson asks for nothing to learn whether the stream gives bytes
            return b""
        while True:
            chunk = self._raw.read(size)
            self.offset += len(chunk)
            text = self._utf8.decode(chunk, final=not chunk)
            if self._first and text:
                text, self._first = text.removeprefix("\ufeff"), False
            data = self._carry + text.encode("utf-8")
            if chunk:
                end = data.rfind(b"\n") + 1
                if not end and len(data) > self.MAX_LINE:
                    end = len(data.rstrip(b"\\"))  # a backslash may pair with what follows
                data, self._carry = data[:end], data[end:]
            else:
                self._carry = b""
            if data:
                data, self._line_start = _mend(data, self._line_start), data.endswith(b"\n")
            if data or not chunk:
                return data


def _mend(data: bytes, line_start: bool) -> bytes:
    if b"\\x" in data:
        data = _ESCAPE.sub(lambda m: b"\\u00" if m[0] == b"\\x" else m[0], data)
    if b'"document_id": ' in data:
        start = 0 if line_start else data.find(b"\n") + 1
        data = data[:start] + _BARE_DOCUMENT_ID.sub(_quote, data[start:])
    return data


def _quote(match: re.Match[bytes]) -> bytes:
    value = match[2].rstrip(b"\r").replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return match[1] + b'"' + value + b'"'


def sniff(head: bytes) -> bool:
    """Whether the beginning of a JSON file is a Telegram export's: an object whose
    ``messages`` array follows an integer ``id`` and a ``type`` (one chat), or whose first
    key ``about`` is followed by an account export's sections."""
    keys: dict[str, Any] = {}
    events = ijson.parse(RepairedStream(io.BytesIO(head)), use_float=True)
    try:
        if next(events)[:2] != ("", "start_map"):
            return False
        for prefix, event, value in events:
            if prefix == "" and event == "map_key":
                if not keys and value != "about" and value not in _CHAT_FIELDS:
                    return False
                if value in _ACCOUNT_KEYS and "about" in keys:
                    return True
                keys[value] = None
            elif prefix in _CHAT_FIELDS and prefix in keys:
                keys[prefix] = value
            elif (prefix, event) == ("messages", "start_array"):
                return to_int(keys.get("id")) is not None and "type" in keys
    except (ijson.JSONError, UnicodeDecodeError, StopIteration):
        pass
    return False


@dataclass
class Chat:
    """The chat whose messages are streaming by, with what was read of it so far.

    Attributes:
        group: ``""`` (a single-chat export), ``"chats"`` or ``"left_chats"``.
        index: Its position in that list.
        name: Its ``name``, ``type`` and ``id`` as written (None when absent).
    """

    group: str = ""
    index: int = 0
    name: Any = None
    type: Any = None
    id: Any = None


def read_messages(stream: RepairedStream, head: bytes) -> Iterator[tuple[Chat, int, Any]]:
    """``(chat, position, message)`` for every item of every chat's ``messages``; each
    message is built alone, so memory is bounded by the largest one. The same ``Chat``
    object is given for all the messages of a chat.

    Args:
        stream: The document, from its start.
        head: Its first bytes: when they hold a single chat's ``name``, ``type`` and
            ``id`` and the start of its ``messages``, ijson's own code builds the
            messages (several times faster than following the parser's events).
    """
    chat = single_chat(head)
    if chat is None:
        yield from messages(ijson.parse(stream, use_float=True))
        return
    for position, message in enumerate(ijson.items(stream, "messages.item", use_float=True)):
        yield chat, position, message


def single_chat(head: bytes) -> Chat | None:
    """The chat of a single-chat export from its first bytes (None: not one, or its
    ``messages`` do not start within them)."""
    chat = Chat()
    try:
        for prefix, event, value in ijson.parse(RepairedStream(io.BytesIO(head)), use_float=True):
            if (prefix, event) == ("messages", "start_array"):
                return chat
            if prefix in _CHAT_FIELDS and event not in _STARTS:
                setattr(chat, prefix, value)
            elif prefix == "" and event == "map_key" and value not in _CHAT_FIELDS:
                return None if value != "messages" else chat
    except (ijson.JSONError, UnicodeDecodeError):
        pass
    return None


def messages(events: Iterator[tuple[str, str, Any]]) -> Iterator[tuple[Chat, int, Any]]:
    """``(chat, position, message)`` from ``ijson.parse`` events, for single-chat and
    account exports alike (``read_messages`` for a document)."""
    chat = Chat()
    counts = {"chats": -1, "left_chats": -1}
    position = depth = 0
    builder: ObjectBuilder | None = None
    for prefix, event, value in events:
        if builder is not None:
            builder.event(event, value)
            if event in _STARTS:
                depth += 1
            elif event in _ENDS:
                depth -= 1
                if depth == 0:
                    yield chat, position, builder.value
                    builder, position = None, position + 1
        elif prefix in _ITEMS:
            if event in _STARTS:
                builder, depth = ijson.common.ObjectBuilder(), 1
                builder.event(event, value)
            elif event not in _ENDS:
                yield chat, position, value
                position += 1
        elif prefix in _CHATS:
            if event == "start_map":
                group = _CHATS[prefix]
                counts[group] += 1
                chat, position = Chat(group=group, index=counts[group]), 0
        elif event not in _STARTS and event not in _ENDS and event != "map_key":
            head, _, name = prefix.rpartition(".")
            if name in _CHAT_FIELDS and ((head == "" and not chat.group) or head in _CHATS):
                setattr(chat, name, value)
