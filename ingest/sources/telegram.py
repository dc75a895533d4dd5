"""Telegram Desktop's "Export chat history" in JSON (``result.json`` and the media folders
beside it, for one chat or a whole account): the exports at a path, and one ``MediaRef``
per message that names a photo or a file, with the sighting facts the message states.

What the exporter writes, and how it is streamed, is in ``telegram_format``.
"""

from __future__ import annotations

import os
import re
import stat
import time
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ingest.errors import (
    EvidenceError,
    MalformedRecord,
    MigratedMessage,
    MissingMedia,
    NotAFile,
    NotMedia,
    TextTruncated,
    UnreadableExport,
    UnsafeReference,
)
from ingest.lazy import lazy_import
from ingest.sources.model import MAX_TEXT, Document, MediaRef, Options, inside
from ingest.sources.telegram_format import (
    HEAD_SIZE,
    LINKED_TYPES,
    MIGRATED_SHIFT,
    Chat,
    RepairedStream,
    cap_text,
    flatten_text,
    instant,
    is_placeholder,
    link_id,
    not_media,
    read_messages,
    short,
    sniff,
    to_int,
)

if TYPE_CHECKING:
    import ijson
else:
    ijson = lazy_import("ijson")

__all__ = ["FORMAT", "KIND", "MIME", "TelegramSource"]

KIND = "telegram"
FORMAT = "telegram-json"
MIME = "application/json"

_USERNAME = re.compile(r"[A-Za-z0-9_]{3,64}")


class TelegramSource:
    """Telegram Desktop JSON exports (one chat, or a whole account).

    Every message with a ``photo`` or ``file`` gives one ``MediaRef`` (record: the message
    id; ``"<chat id>:<message id>"`` in an account export). Photos, videos, round video
    messages, animations and photos or videos sent as files are ``"ok"``; stickers, voice
    messages, audio and other documents are ``"skipped"`` (``NotMedia``), even when not
    downloaded. A placeholder instead of a path, or a path that is not on disk, is
    ``"missing"`` (``MissingMedia``). A path that is absolute, climbs out with ``..`` or
    leads out through a link is an ``"error"`` (``UnsafeReference``) and is never opened.
    The exporter's thumbnails (``thumbnail``) are not references.

    Where the export is odd, the reference is kept and a warning says why:

    - a second message with an id already seen in the chat gets the record
      ``"<id>#2"`` (``#3``...) and a ``MalformedRecord`` warning: nothing is merged, and
      its media is still imported (the first one was yielded before the second was seen);
    - an implausible date (``date_unixtime`` zero, before 2000, or more than a day past
      the start of the import) is not recorded as ``posted_at`` (it would become the
      earliest or latest sighting of the file); an ``ImplausibleDate`` warning keeps the
      raw value;
    - an old export's ``date`` without ``date_unixtime`` is recorded as written, local
      time without an offset, with a ``TimeWithoutOffset`` warning;
    - ``date`` and ``date_unixtime`` that cannot be the same instant (their difference is
      not a time zone offset) give a ``MalformedRecord`` warning; ``date_unixtime`` wins;
    - a message of the group a supergroup was upgraded from (negative id) has no link
      (``MigratedMessage``).

    A message that is not an object, or that names media but has no valid id, is an
    ``"error"`` reference (``MalformedRecord``, record ``"#<position>"``). A document that
    breaks off midway (truncated, or not JSON from some point on): the references of the
    messages before the break are yielded, then ``UnreadableExport`` is raised, with
    ``path``, ``offset`` (about where) and ``refs`` (how many were yielded) in its data.
    """

    kind = KIND

    def find(self, path: str) -> list[Document]:
        """The Telegram exports at ``path``: the JSON file itself, or every ``*.json`` in a
        folder (searched recursively; links out of it are not followed), recognised by
        their first ``HEAD_SIZE`` bytes.

        Args:
            path: A file or a folder.

        Returns:
            One ``Document`` per export, its ``root`` the folder of its JSON file; ``[]``
            when there is none.
        """
        if os.path.isdir(path):
            candidates: Iterable[str] = _json_files(path)
        elif _regular(path):
            candidates = [path]
        else:
            return []
        return [
            Document(path=p, kind=KIND, format=FORMAT, mime=MIME, root=os.path.dirname(p) or ".")
            for p in candidates
            if _is_export(p)
        ]

    def refs(self, document: Document, options: Options) -> Iterator[MediaRef]:
        """Every media reference of ``document``, streamed.

        Args:
            document: A document ``find`` returned.
            options: ``channel_username`` (``name``, ``@name`` or ``https://t.me/name``)
                gives ``https://t.me/<username>/<id>`` links to the messages of a
                single-chat export (an account export holds many chats: not used there).

        Returns:
            An iterator of ``MediaRef``; it raises ``UnreadableExport`` when the document
            cannot be opened, is not an export, or breaks off midway (after yielding the
            references before the break).

        Raises:
            ValueError: ``options.channel_username`` is not a Telegram username.
        """
        return _Reader(document, _username(options.channel_username)).refs()


def _json_files(top: str) -> Iterator[str]:
    """The ``*.json`` regular files under ``top``; links (to files or folders) are not
    followed, so nothing outside is opened and no export is found twice."""
    for folder, subfolders, names in os.walk(top):
        subfolders.sort()
        for name in sorted(names):
            full = os.path.join(folder, name)
            if name.lower().endswith(".json") and _regular(full, follow=False):
                yield full


def _regular(path: str, *, follow: bool = True) -> bool:
    """Whether ``path`` is a regular file (a FIFO or a device would block or never end)."""
    try:
        return stat.S_ISREG((os.stat if follow else os.lstat)(path).st_mode)
    except (OSError, ValueError):
        return False


def _is_export(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_SIZE)
    except OSError:
        return False
    return sniff(head)


def _username(value: str | None) -> str | None:
    if value is None:
        return None
    name = value.strip().removeprefix("https://").removeprefix("http://")
    name = name.removeprefix("t.me/").removeprefix("@").strip("/")
    if not _USERNAME.fullmatch(name):
        raise ValueError(f"not a Telegram username: {value!r}")
    return name


class _Reader:
    """One pass over one document: its records, references and sightings."""

    def __init__(self, document: Document, username: str | None) -> None:
        self.doc = document
        self.username = username
        self.now = int(time.time())
        self.count = 0
        self.chat: Chat | None = None
        self.chat_key = ""
        self.chat_keys: set[str] = set()
        self.ids = _Ids()  # of the current chat's messages that name media
        self.repeats: dict[int, int] = {}
        self.folders: dict[str, str | None] = {}  # media folder -> inside(root, folder)

    def refs(self) -> Iterator[MediaRef]:
        path = self.doc.path
        try:
            fh = open(path, "rb")  # noqa: SIM115 (the with below closes it)
        except OSError as exc:
            raise UnreadableExport(f"{path}: {exc.strerror or exc}", path=path) from exc
        with fh:
            head = fh.read(HEAD_SIZE)
            if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
                raise UnreadableExport(f"{path}: not a Telegram export", path=path)
            fh.seek(0)
            stream = RepairedStream(fh)
            try:
                for chat, position, message in read_messages(stream, head):
                    for ref in self._message(chat, position, message):
                        self.count += 1
                        yield ref
            except (ijson.JSONError, UnicodeDecodeError, OSError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise UnreadableExport(
                    f"{path}: the document breaks off near byte {stream.offset} ({first})",
                    path=path,
                    offset=stream.offset,
                    refs=self.count,
                ) from exc

    def _record(self, chat: Chat, position: int, message_id: int | None) -> tuple[str, str]:
        """The record of a message, and what to warn about when its id repeats."""
        if chat is not self.chat:
            self.chat, self.chat_key = chat, self._chat_key(chat)
            self.ids, self.repeats = _Ids(), {}
        base = f"#{position}" if message_id is None else str(message_id)
        record = f"{self.chat_key}:{base}" if chat.group else base
        if message_id is None:
            return record, ""
        if self.ids.add(message_id):
            return record, ""
        seen = self.repeats[message_id] = self.repeats.get(message_id, 1) + 1
        return f"{record}#{seen}", f"message id {message_id} repeats in the chat (#{seen})"

    def _chat_key(self, chat: Chat) -> str:
        """A chat's part of the records: its id, or its place when it has none; a chat
        that comes twice is told apart by its place."""
        if not chat.group:
            return ""
        place = f"{chat.group}[{chat.index}]"
        key = str(chat.id) if isinstance(chat.id, int | str) and chat.id != "" else place
        if key in self.chat_keys:
            key = f"{key}@{place}"
        self.chat_keys.add(key)
        return key

    def _message(self, chat: Chat, position: int, message: Any) -> Iterator[MediaRef]:
        if not isinstance(message, dict):
            record = self._record(chat, position, None)[0]
            error = MalformedRecord(f"message #{position} is not an object: {short(message)}")
            yield self._ref(record, "error", error=error)
            return
        keys = [key for key in ("photo", "file") if key in message]
        if not keys:
            return
        message_id = to_int(message.get("id"))
        record, repeat = self._record(chat, position, message_id)
        warnings: list[dict[str, str]] = []
        sighting = self._sighting(chat, message, message_id, warnings)
        if repeat:
            _warn(warnings, MalformedRecord(repeat))
        for key in keys:
            ref = self._media(message, key, record if key == keys[0] else f"{record}/{key}")
            if message_id is None and ref.status != "error":
                detail = f"message #{position} names media but has no valid id: "
                error = MalformedRecord(detail + short(message.get("id")))
                ref.status, ref.path, ref.error = "error", None, _reason(error)
            first = key == keys[0]
            ref.sighting = sighting if first else dict(sighting)
            ref.warnings = warnings if first else list(warnings)
            yield ref

    def _media(self, message: dict[str, Any], key: str, record: str) -> MediaRef:
        """The reference of ``message[key]`` (``photo`` or ``file``), without its sighting."""
        value = message[key]
        if not isinstance(value, str) or not value:
            return self._ref(record, "error", error=MalformedRecord(f"{key} is {short(value)}"))
        name = message.get("file_name") if key == "file" else None
        name = name if isinstance(name, str) and name else os.path.basename(value)
        what = None if key == "photo" else not_media(message, value)
        if is_placeholder(value):
            if what:
                reason = NotMedia(f"{what}, not in the export: {value}")
                return self._ref(record, "skipped", name=name, error=reason)
            return self._ref(record, "missing", name=name, error=MissingMedia(value))
        full, mode = self._locate(value)
        if full is None:
            error = UnsafeReference(value, path=value)
            return self._ref(record, "error", name=name, original=value, error=error)
        if what:
            reason = NotMedia(f"{what}: {value}")
            return self._ref(record, "skipped", name=name, original=value, error=reason)
        if mode is None:
            error = MissingMedia(value, path=value)
            return self._ref(record, "missing", name=name, original=value, error=error)
        if not stat.S_ISREG(mode):
            return self._ref(record, "error", name=name, original=value, error=NotAFile(value))
        return self._ref(record, "ok", path=full, name=name, original=value)

    def _locate(self, relative: str) -> tuple[str | None, int | None]:
        """``inside(root, relative)`` and the mode of what is there (None: nothing).

        Each folder is resolved once (``inside`` resolves every component of the path,
        twice, for each of 100,000 messages); a leaf that is a link goes to ``inside``.
        """
        folder, leaf = os.path.split(relative)
        if not folder or leaf in ("", ".", "..") or "\x00" in relative or os.path.isabs(folder):
            return _mode(inside(self.doc.root, relative))
        if folder not in self.folders:
            if len(self.folders) >= 4096:
                self.folders.clear()
            self.folders[folder] = inside(self.doc.root, folder)
        base = self.folders[folder]
        if base is None:
            return None, None
        full = os.path.join(base, leaf)
        try:
            mode = os.lstat(full).st_mode
        except (OSError, ValueError):
            return full, None  # not there (inside() gives the same path)
        if stat.S_ISLNK(mode):
            return _mode(inside(self.doc.root, relative))  # where does it lead?
        return full, mode

    def _ref(
        self,
        record: str,
        status: str,
        *,
        path: str | None = None,
        name: str = "",
        original: str = "",
        error: EvidenceError | None = None,
    ) -> MediaRef:
        return MediaRef(
            document=self.doc,
            record=record,
            status=status,
            path=path,
            name=name,
            original_path=original,
            error=_reason(error) if error is not None else None,
        )

    def _sighting(
        self, chat: Chat, message: dict[str, Any], message_id: int | None, warnings: list
    ) -> dict[str, Any]:
        facts: dict[str, Any] = {"source_kind": KIND}
        if message_id is not None:
            facts["post_id"] = str(message_id)
            url = self._url(chat, message_id, "date_unixtime" not in message, warnings)
            if url:
                facts["source_url"] = url
        if isinstance(chat.name, str) and chat.name:
            facts["channel"] = chat.name
        for fact, key in (("posted_at", "date"), ("edited", "edited")):
            when, problems = instant(message, key, self.now)
            for problem in problems:
                _warn(warnings, problem)
            if when:
                facts[fact] = when
        if "date" not in message and "date_unixtime" not in message:
            _warn(warnings, MalformedRecord("the message has no date"))
        forwarded, author = message.get("forwarded_from"), message.get("from")
        if not (isinstance(author, str) and author):
            author = message.get("author")  # a channel post's signature
        if isinstance(forwarded, str) and forwarded:
            facts["forwarded_from"] = forwarded
        if isinstance(author, str) and author:
            facts["author"] = author
        text, cut = cap_text(flatten_text(message.get("text", message.get("text_entities"))))
        if text:
            facts["text"] = text
        if cut:
            _warn(warnings, TextTruncated(f"kept the first {MAX_TEXT} bytes of UTF-8"))
        return facts

    def _url(self, chat: Chat, message_id: int, legacy: bool, warnings: list) -> str | None:
        if message_id <= 0:
            if MIGRATED_SHIFT < message_id < 0:
                _warn(warnings, MigratedMessage(f"message id {message_id}"))
            return None
        if self.username and not chat.group:
            return f"https://t.me/{self.username}/{message_id}"
        channel = link_id(chat.id, legacy=legacy) if chat.type in LINKED_TYPES else None
        return f"https://t.me/c/{channel}/{message_id}" if channel else None


class _Ids:
    """A set of message ids, compact for the ascending ids exports have (8 bytes each);
    ids out of order go to a plain set."""

    def __init__(self) -> None:
        self._run = array("q")
        self._late: set[int] = set()

    def add(self, value: int) -> bool:
        """Add ``value``; False when it was there already."""
        run = self._run
        if not run or value > run[-1]:
            if -(1 << 63) <= value < 1 << 63:
                run.append(value)
                return True
        else:
            at = bisect_left(run, value)
            if at < len(run) and run[at] == value:
                return False
        if value in self._late:
            return False
        self._late.add(value)
        return True


def _mode(path: str | None) -> tuple[str | None, int | None]:
    if path is None:
        return None, None
    try:
        return path, os.stat(path).st_mode
    except (OSError, ValueError):
        return path, None


def _reason(error: EvidenceError) -> dict[str, str]:
    return {"code": error.code, "message": error.message}


def _warn(warnings: list[dict[str, str]], error: EvidenceError) -> None:
    warnings.append({"step": KIND, "code": error.code, "message": error.message})
