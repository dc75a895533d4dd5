"""What every importer yields: the export's own documents, and one ``MediaRef`` per media
reference found in them (a post's photo or video, a captured image), with the sighting
facts the source states about it.

Importers are pure like the rest of ``ingest``: they read the export and never write
anything but spooled payloads (media kept inside a WARC is copied out to a temporary
file under ``Options.spool``, so the registry can hash and store it like any file).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Sighting fields an importer may set (besides the ones every submission has:
#: ``source_url``, ``posted_at``, ``forwarded_from``, ``note``).
SIGHTING_KEYS = (
    "source_kind",  # "telegram" | "ytdlp" | "auto-archiver" | "warc"
    "source_url",  # the post's URL (t.me/..., webpage_url, WARC-Target-URI)
    "posted_at",  # ISO 8601; with an offset when the source gives one, else as the source has it
    "archived_at",  # when the collecting tool captured it (yt-dlp epoch, WARC-Date), ISO 8601 UTC
    "post_id",  # the message id, video id, ... as a string
    "channel",  # chat name, channel or uploader
    "forwarded_from",
    "author",  # who posted it (Telegram ``from``)
    "text",  # the caption, entities flattened, at most MAX_TEXT bytes of UTF-8
    "edited",  # ISO 8601, when the source says the post was edited
    "page_url",  # the page the capture was made on (WACZ pages.jsonl)
)
#: Captions longer than this (bytes of UTF-8) are cut, on a character boundary.
MAX_TEXT = 4096


@dataclass(frozen=True)
class Document:
    """A file of the export that describes media: it is stored as evidence itself.

    Attributes:
        path: The file, as the operating system spells it.
        kind: The source kind: ``"telegram"``, ``"ytdlp"``, ``"auto-archiver"``, ``"warc"``.
        format: ``"telegram-json"``, ``"ytdlp-info-json"``, ``"auto-archiver-json"``,
            ``"warc"``, ``"warc.gz"`` or ``"wacz"``.
        mime: Its MIME type (``application/json``, ``application/warc``, ...).
        root: The export folder: media paths the document names must stay inside it.
    """

    path: str
    kind: str
    format: str
    mime: str
    root: str


@dataclass
class MediaRef:
    """One media reference in a document.

    Attributes:
        document: The document that names it.
        record: The record inside the document (message id, video id, WARC-Record-ID),
            unique within the document; with the document's SHA-256 it is the sighting's
            provenance.
        status: ``"ok"`` (``path`` is there to ingest), ``"missing"`` (the document names
            a file the export does not hold: the post existed), ``"skipped"`` (not a photo
            or video, or a tracking pixel), ``"error"`` (``error`` says why).
        path: The media file (inside ``document.root``, or a spooled payload).
        name: Its original name (the file name, or the last segment of its URL).
        original_path: Where it is in the export (``photos/photo_1.jpg``,
            ``crawl.warc.gz#<urn:uuid:...>``), recorded with the sighting.
        error: ``{"code", "message"}`` for ``"error"``; the reason for ``"missing"`` and
            ``"skipped"``.
        expected_sha256: A SHA-256 the collecting tool recorded for the file (checked:
            a mismatch is an error for that file, never silently stored).
        sighting: ``SIGHTING_KEYS`` facts the source states (absent keys: unknown).
        warnings: ``{"step", "code", "message"}`` about this reference (a date that could
            not be read, a caption cut...); the reference is still imported.
        spooled: ``path`` is a temporary copy (a WARC payload) to delete after import.
    """

    document: Document
    record: str
    status: str = "ok"
    path: str | None = None
    name: str = ""
    original_path: str = ""
    error: dict[str, str] | None = None
    expected_sha256: str | None = None
    sighting: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)
    spooled: bool = False


@dataclass(frozen=True)
class Options:
    """What an import is told besides the paths."""

    #: The public username of a Telegram channel (exports do not contain it), so that
    #: ``source_url`` can be ``https://t.me/<username>/<id>``.
    channel_username: str | None = None
    #: A folder for payloads copied out of web archives (the caller deletes it).
    spool: str = ""


class Source(Protocol):
    """One kind of collection (``SOURCES`` maps each kind to one)."""

    kind: str

    def find(self, path: str) -> list[Document]:
        """The documents of this kind at ``path`` (a file, or a folder searched
        recursively), recognised by their content; ``[]`` when there are none."""
        ...

    def refs(self, document: Document, options: Options) -> Iterator[MediaRef]:
        """Every media reference of ``document``, streamed (memory stays bounded).
        A malformed record becomes a ``MediaRef`` with status ``"error"``; a document
        that cannot be read at all raises ``ingest.errors.UnreadableExport``."""
        ...


def inside(root: str, relative: str) -> str | None:
    """``relative`` resolved inside ``root``, or None when it is absolute, climbs out
    with ``..`` or leads out through a symbolic link (nothing outside is ever opened)."""
    if not relative or os.path.isabs(relative) or "\x00" in relative:
        return None
    base = os.path.realpath(root)
    full = os.path.realpath(os.path.join(base, relative))
    if os.path.commonpath([base, full]) != base:
        return None
    return full
