"""bellingcat auto-archiver runs: each serialized ``Metadata`` (the ``json_enricher``'s
``metadata.json``) is a document, and each item of its ``media`` list a reference.

What auto-archiver writes (``src/auto_archiver/core/metadata.py``, ``media.py``,
``modules/json_enricher``, ``modules/local_storage``, ``core/storage.py``):

- ``Metadata`` is a ``dataclass_json`` dataclass: ``{"status", "metadata", "media"}``
  in that order. ``metadata`` holds ``url``, ``title``, ``content``, ``timestamp``
  (a ``datetime`` written with ``default=str``: ``2021-07-20 10:00:00+00:00``),
  ``_processed_at`` (set in ``__post_init__``, UTC), and whatever the extractor
  added (yt-dlp's ``id``, ``uploader``, ``upload_date``; ``author``).
- Each media item is a ``Media``: ``filename`` (where it was written, in a temporary
  folder of the run), ``_key`` and ``urls`` (set by the storages; the json_enricher runs
  before them, so its file has neither), ``properties`` (``id`` such as ``screenshot``,
  ``hash`` as ``"SHA-256:<hex>"`` or ``"SHA3-512:<hex>"``, ``pdq_hash``, and inner media:
  the video ``thumbnails``), ``_mimetype``.
- The local storage copies each file to ``<save_to>/<folder>/<path>/<name><ext>``, where
  the default (``filename_generator: static``) ``<name>`` is the first 24 hex digits of
  the file's hash with the hash_enricher's algorithm; the ``metadata.json`` itself is
  stored the same way, as ``<hash>.json``. So documents are recognised by content,
  whatever their name, and a media file is looked up inside the document's folder by
  its ``_key``, its local ``urls``, that static name, then its ``filename``
  (``files.locate``: never outside the folder; remote URLs are never fetched, only their
  last segment is looked for). With ``path_generator: url`` the media share the
  document's folder; with ``random`` (or ``filename_generator: random`` and no ``urls``
  recorded) they cannot be told apart and are reported ``missing``.

Decisions: photos (screenshots included) and videos are references; a file found is
``ok`` with ``expected_sha256`` from a SHA-256 ``hash`` (another algorithm is kept as an
``UncheckedHash`` warning); other files (HTML, PDF, the JSON itself, certificates,
audio) are ``skipped``, and a WACZ is ``skipped`` for the web-archive importer; the
``thumbnails`` auto-archiver cut from a video are ``skipped`` (derived, not the post's
media). The recorded ``pdq_hash`` is not used: the registry computes its own. ``record``
is the media's ``id``, else its ``_key``, else its ``filename``, else ``media[i]``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import ingest.sources.fields as fields
from ingest.errors import (
    MalformedRecord,
    MissingMedia,
    NotMedia,
    UncheckedHash,
    UnreadableExport,
)
from ingest.sources.files import is_remote, json_documents, kind_of_name, last_segment, locate
from ingest.sources.jsonstream import iter_array, keep_all, open_json, read_object, top_keys
from ingest.sources.model import Document, MediaRef, Options

KIND = "auto-archiver"
FORMAT = "auto-archiver-json"

#: The members of a serialized ``Metadata`` and the parser event their value starts with.
_SIGNATURE = {"status": "string", "metadata": "start_map", "media": "start_array"}
_METADATA_FIELDS = frozenset(
    {
        "url", "title", "content", "timestamp", "upload_date", "_processed_at", "id",
        "author", "uploader", "channel",
    }
)  # fmt: skip
_HASH = re.compile(r"(?P<alg>[A-Za-z0-9_-]+):(?P<hex>[0-9A-Fa-f]+)")
_SHA256 = ("SHA-256", "SHA256")
#: How deep media inside media (``properties``) are followed.
_MAX_NESTING = 3


def _keep_head(path: tuple[str, ...]) -> bool:
    if path[0] == "metadata":
        return len(path) == 1 or path[1] in _METADATA_FIELDS
    return path == ("status",)


def is_metadata(path: str) -> bool:
    """Whether the file is a serialized auto-archiver ``Metadata``, from its content.

    Its top-level object starts with one of ``status``, ``metadata``, ``media`` and has
    all three with the right types (``dataclass_json`` writes every field, in order); a
    file cut short is one when it got as far as two of them.
    """
    seen: set[str] = set()
    try:
        with open_json(path) as f:
            for key, event in top_keys(f):
                if not seen and key not in _SIGNATURE:
                    return False
                if key in _SIGNATURE:
                    if _SIGNATURE[key] != event:
                        return False
                    seen.add(key)
    except UnreadableExport:
        return len(seen) >= 2
    return len(seen) == len(_SIGNATURE)


class AutoArchiverSource:
    """auto-archiver runs: serialized ``Metadata`` JSON and the media stored beside it."""

    kind = KIND

    def iter_find(self, path: str) -> Iterator[Document]:
        """Stream the ``Metadata`` documents at ``path`` (a file, or a folder searched
        recursively; any ``.json`` file is read, since the local storage renames them)."""
        json_file = lambda name: name.lower().endswith(".json")  # noqa: E731
        yield from json_documents(path, json_file, is_metadata, KIND, FORMAT)

    def find(self, path: str) -> list[Document]:
        """The ``Metadata`` documents at ``path``; ``[]`` when there are none."""
        return list(self.iter_find(path))

    def refs(self, document: Document, options: Options) -> Iterator[MediaRef]:
        """One reference per media item (and per inner media such as thumbnails).

        Raises:
            UnreadableExport: The document is not valid JSON or not a ``Metadata``.
        """
        with open_json(document.path) as f:
            head = read_object(f, _keep_head)
        metadata = head.get("metadata")
        if not isinstance(metadata, dict):
            raise UnreadableExport("its 'metadata' is not an object", path=document.path)
        warnings: fields.Warnings = []
        sighting = _sighting(metadata, warnings)
        context = _Context(document, sighting, warnings)
        with open_json(document.path) as f:
            for i, item in enumerate(iter_array(f, "media", keep_all)):
                yield from context.refs(item, f"media[{i}]")


class _Context:
    """What the references of one document share."""

    def __init__(
        self, document: Document, sighting: dict[str, Any], warnings: fields.Warnings
    ) -> None:
        self.document = document
        self.sighting = sighting
        self.warnings = warnings
        self.records: set[str] = set()

    def new(self, record: str, **values: Any) -> MediaRef:
        unique, n = record, 1
        while unique in self.records:
            n += 1
            unique = f"{record}#{n}"
        self.records.add(unique)
        return MediaRef(
            document=self.document,
            record=unique,
            sighting=dict(self.sighting),
            warnings=list(self.warnings),
            **values,
        )

    def refs(
        self, item: Any, label: str, parent: str | None = None, derived: bool = False
    ) -> Iterator[MediaRef]:
        """The reference of one media item, then those of the media inside it.

        Args:
            item: The serialized ``Media``.
            label: Its place in the document (``media[2]``, ``media[2]/thumbnails[0]``).
            parent: The record of the media it is inside, or None.
            derived: It is a thumbnail auto-archiver cut from its parent.
        """
        if not isinstance(item, dict):
            problem = MalformedRecord(f"{label} is not a media object")
            yield self.new(label, status="error", error=fields.reason(problem))
            return
        properties = item.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        ref = self._ref(item, properties, label, parent, derived)
        yield ref
        if label.count("/") >= _MAX_NESTING:
            return
        for key, value in properties.items():
            listed = isinstance(value, list)
            for j, media in enumerate(value if listed else [value]):
                if _is_media(media):
                    where = f"{label}/{key}[{j}]" if listed else f"{label}/{key}"
                    yield from self.refs(media, where, ref.record, key == "thumbnails")

    def _ref(
        self,
        item: dict[str, Any],
        properties: dict[str, Any],
        label: str,
        parent: str | None,
        derived: bool,
    ) -> MediaRef:
        filename = item.get("filename") if isinstance(item.get("filename"), str) else ""
        key = item.get("_key") if isinstance(item.get("_key"), str) else ""
        listed = item.get("urls") if isinstance(item.get("urls"), list) else []
        urls = [u for u in listed if isinstance(u, str) and u]
        media_id = fields.text(properties.get("id"), "id", [])
        record = _record(media_id, key, filename, label, parent)
        if not (filename or key or urls):
            problem = MalformedRecord(f"{label} names no file (no filename, _key or urls)")
            return self.new(record, status="error", error=fields.reason(problem))
        named = filename or key or urls[0]
        ref = self.new(record, name=last_segment(named), original_path=key or filename)
        ref.warnings.extend(_hash_warnings(properties.get("hash"), label))
        ref.expected_sha256 = _sha256(properties.get("hash"))
        skip = _skip_reason(item, named, media_id, derived)
        if skip is not None:
            ref.status, ref.error = "skipped", fields.reason(NotMedia(skip))
            return ref
        ext = os.path.splitext(last_segment(named))[1]
        hints = [key, *urls, _static_name(properties.get("hash"), ext), filename]
        for hint in hints:
            location = locate(self.document.root, hint) if hint else None
            if location is None:
                continue
            ref.original_path = location.relative
            if location.error is not None:
                ref.status, ref.error = "error", fields.reason(location.error)
            else:
                ref.status, ref.path = "ok", location.path
            return ref
        remote = [u for u in urls if is_remote(u)]
        detail = f"{ref.name} is not in the folder"
        if remote:
            detail += f"; stored at {remote[0]} (remote copies are never fetched)"
        ref.status, ref.error = "missing", fields.reason(MissingMedia(detail))
        return ref


def _is_media(value: Any) -> bool:
    """Whether a property value is a serialized ``Media`` (inner media)."""
    return isinstance(value, dict) and "filename" in value and "properties" in value


def _record(media_id: str | None, key: str, filename: str, label: str, parent: str | None) -> str:
    if parent is not None:
        return f"{parent}/{media_id}" if media_id else f"{parent}/{label.rpartition('/')[2]}"
    return media_id or key or filename or label


def _skip_reason(
    item: dict[str, Any], named: str, media_id: str | None, derived: bool
) -> str | None:
    """Why the item is not imported as a photo or video, or None when it is one."""
    mime = item.get("_mimetype") if isinstance(item.get("_mimetype"), str) else ""
    ext = os.path.splitext(last_segment(named))[1].lower()
    if ext == ".wacz" or mime == "application/wacz" or media_id == "browsertrix":
        return f"{last_segment(named)}: a WACZ web archive; import it with the web-archive importer"
    if derived:
        return f"{last_segment(named)}: a thumbnail auto-archiver cut from a video"
    if mime.startswith(("image/", "video/")):
        return None
    if not mime and kind_of_name(named) in ("image", "video"):
        return None
    return f"{last_segment(named)}: not a photo or video ({mime or ext or 'no extension'})"


def _sha256(value: Any) -> str | None:
    match = _HASH.fullmatch(value) if isinstance(value, str) else None
    if match and match["alg"].upper() in _SHA256 and len(match["hex"]) == 64:
        return match["hex"].lower()
    return None


def _hash_warnings(value: Any, label: str) -> fields.Warnings:
    if value is None or _sha256(value):
        return []
    match = _HASH.fullmatch(value) if isinstance(value, str) else None
    if match is None or match["alg"].upper() in _SHA256:
        problem = MalformedRecord(f"{label}: hash {str(value)[:80]!r} is not <algorithm>:<hex>")
        return [fields.warning("expected_sha256", problem)]
    return [fields.warning("expected_sha256", UncheckedHash(f"{label}: {value}"))]


def _static_name(value: Any, ext: str) -> str:
    """The name the local storage gives a file by default: 24 hex digits of its hash."""
    match = _HASH.fullmatch(value) if isinstance(value, str) else None
    return f"{match['hex'][:24]}{ext}" if match and len(match["hex"]) >= 24 else ""


def _sighting(metadata: dict[str, Any], warnings: fields.Warnings) -> dict[str, Any]:
    """The ``SIGHTING_KEYS`` facts of a ``Metadata``'s ``metadata``."""
    sighting: dict[str, Any] = {"source_kind": KIND}

    def text(key: str) -> str | None:
        return fields.text(metadata.get(key), key, warnings)

    facts = {
        "source_url": text("url"),
        "post_id": text("id"),
        "channel": text("channel"),
        "author": text("author") or text("uploader"),
        "posted_at": fields.iso_time(metadata.get("timestamp"), "posted_at", warnings)
        or fields.iso_day(metadata.get("upload_date"), "posted_at", warnings),
        "archived_at": fields.iso_time(
            metadata.get("_processed_at"), "archived_at", warnings, utc=True
        ),
    }
    caption = text("content") or text("title")
    if caption:
        facts["text"] = fields.cut_text(caption, warnings)
    sighting.update({key: value for key, value in facts.items() if value})
    return sighting
