"""yt-dlp downloads: each ``<name>.info.json`` sidecar (``--write-info-json``) is a
document, and the media file yt-dlp wrote beside it is its reference.

How yt-dlp lays a download out (``yt_dlp/YoutubeDL.py``, ``yt_dlp/utils/_utils.py``):

- The sidecar's name is the output template with its extension replaced by
  ``info.json`` (``OUTTMPL_TYPES["infojson"]``): ``Title [id].mp4`` comes with
  ``Title [id].info.json``, so the media is found by the sidecar's stem. The thumbnail
  (``--write-thumbnail``) has the same stem (``Title [id].webp``), subtitles and the
  description have a second suffix (``Title [id].en.vtt``, ``Title [id].description``),
  partial downloads end in ``.part``.
- The sidecar is written before the download, from the info dict ``sanitize_info``
  cleans: with ``--clean-info-json`` (the default) ``_filename``, ``filename``,
  ``filepath``, ``requested_downloads`` and ``entries`` are removed. With
  ``--no-clean-info-json`` they stay: ``_filename`` is where the file was to be
  written (relative to yt-dlp's working directory, or absolute with ``-P``). They are
  used first, looked up inside the sidecar's folder (``files.locate``), then the stem.
- A post with several videos (an X post) is a playlist: each entry has its own id, its
  own ``Title #1 [id].mp4`` and its own sidecar; the playlist's sidecar
  (``_type: "playlist"``, no media of its own) is found too, and yields references only
  for entries recorded in it (``--no-clean-info-json``) that have no sidecar of their
  own beside it (their own sidecar is the document of them).

Decisions: an audio-only download (``.m4a``, ``.opus``, ``-x``) is a ``skipped``
reference (``NotMedia``: the post existed and its sound was collected); the thumbnail,
subtitles, description and link files are not references (yt-dlp made them, they are
not the post's media). A sidecar that is not valid JSON is still found (its name says
what it is) and ``refs`` raises ``UnreadableExport``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import ingest.sources.fields as fields
from ingest.errors import MissingMedia, NotMedia, UnreadableExport
from ingest.sources.files import (
    AUDIO_EXTS,
    IMAGE_EXTS,
    VIDEO_EXTS,
    Location,
    json_documents,
    kind_of_name,
    last_segment,
    locate,
)
from ingest.sources.jsonstream import iter_array, open_json, read_object, top_keys
from ingest.sources.model import Document, MediaRef, Options

KIND = "ytdlp"
FORMAT = "ytdlp-info-json"
SUFFIX = ".info.json"

#: Top-level keys of an info dict that only yt-dlp writes together with an ``.info.json``
#: name (``id`` comes first in what extractors return; ``_type``, ``_version`` and
#: ``epoch`` are added by ``sanitize_info`` to every sidecar).
_MARKERS = frozenset({"id", "_type", "_version", "epoch", "extractor", "extractor_key"})
_PLAYLISTS = frozenset({"playlist", "multi_video"})
#: The members of an info dict this importer reads; formats, comments, subtitles and the
#: rest are parsed and dropped.
_FIELDS = frozenset(
    {
        "id", "_type", "title", "description", "webpage_url", "original_url", "channel",
        "uploader", "uploader_id", "timestamp", "upload_date", "epoch", "ext", "vcodec",
        "acodec", "_filename", "filename", "filepath", "requested_downloads",
        "infojson_filename",
    }
)  # fmt: skip
_DOWNLOAD_FIELDS = frozenset(
    {"filepath", "_filename", "filename", "ext", "vcodec", "acodec", "infojson_filename"}
)
#: How deep playlists of playlists are followed in a playlist's ``entries``.
_MAX_NESTING = 4


def _keep_video(path: tuple[str, ...]) -> bool:
    if len(path) == 1:
        return path[0] in _FIELDS
    return len(path) == 3 and path[0] == "requested_downloads" and path[2] in _DOWNLOAD_FIELDS


def _keep_entry(path: tuple[str, ...]) -> bool:
    while len(path) > 2 and path[:2] == ("entries", "*"):
        path = path[2:]
    return path == ("entries",) or _keep_video(path)


def is_sidecar(path: str) -> bool:
    """Whether the file is a yt-dlp info sidecar, from its name and first members.

    A file named ``*.info.json`` is one when its top-level object has a member only
    yt-dlp's info dicts have, or when it is not valid JSON at all (a sidecar cut short
    is still a sidecar: ``refs`` reports it unreadable).
    """
    if not path.endswith(SUFFIX):
        return False
    try:
        with open_json(path) as f:
            return any(key in _MARKERS for key, _ in top_keys(f))
    except UnreadableExport:
        return True


class YtdlpSource:
    """yt-dlp downloads: ``<name>.info.json`` sidecars and the media beside them."""

    kind = KIND

    def iter_find(self, path: str) -> Iterator[Document]:
        """Stream the sidecars at ``path`` (a sidecar, or a folder searched recursively)."""
        yield from json_documents(path, lambda n: n.endswith(SUFFIX), is_sidecar, KIND, FORMAT)

    def find(self, path: str) -> list[Document]:
        """The sidecars at ``path``; ``[]`` when there are none (see ``iter_find``)."""
        return list(self.iter_find(path))

    def refs(self, document: Document, options: Options) -> Iterator[MediaRef]:
        """The media of one sidecar: one reference per downloaded file, or a ``missing``
        one when the folder holds none.

        Raises:
            UnreadableExport: The sidecar is not a JSON object (cut short, not JSON).
        """
        with open_json(document.path) as f:
            info = read_object(f, _keep_video)
        records: set[str] = set()
        kind = info.get("_type")
        if kind in _PLAYLISTS:
            with open_json(document.path) as f:
                for entry in iter_array(f, "entries", _keep_entry):
                    yield from _entry_refs(document, entry, records, 1)
            return
        if kind not in (None, "video"):
            return  # a "url" result names a page to extract later: no download
        stem = os.path.basename(document.path)[: -len(SUFFIX)]
        yield from _video_refs(document, info, stem, records)


def _entry_refs(document: Document, entry: Any, records: set[str], depth: int) -> list[MediaRef]:
    """The references of one playlist entry that has no sidecar of its own."""
    if not isinstance(entry, dict) or depth > _MAX_NESTING:
        return []
    if entry.get("_type") in _PLAYLISTS:
        entries = entry.get("entries")
        found = []
        for inner in entries if isinstance(entries, list) else []:
            found.extend(_entry_refs(document, inner, records, depth + 1))
        return found
    if entry.get("_type") not in (None, "video") or not _recorded(entry):
        return []  # flat entries, or a cleaned sidecar's: nothing was downloaded here
    stem = _stem(_recorded(entry)[0])
    downloads = entry.get("requested_downloads")
    sidecars = [entry, *(downloads if isinstance(downloads, list) else [])]
    own = [d.get("infojson_filename") for d in sidecars if isinstance(d, dict)]
    for sidecar in [*own, stem + SUFFIX]:
        if isinstance(sidecar, str) and (hit := locate(document.root, sidecar)) and hit.path:
            return []  # that sidecar is a document of its own
    return _video_refs(document, entry, stem, records)


def _stem(recorded: str) -> str:
    name = last_segment(recorded)
    return name.rpartition(".")[0] or name


def _recorded(info: dict[str, Any]) -> list[str]:
    """The paths yt-dlp recorded for the downloads (``--no-clean-info-json``)."""
    downloads = info.get("requested_downloads")
    paths = []
    for download in downloads if isinstance(downloads, list) else []:
        if isinstance(download, dict):
            paths.append(next(_strings(download, ("filepath", "_filename", "filename")), None))
    found = [p for p in paths if p]
    if not found:
        found = list(_strings(info, ("filepath", "_filename", "filename")))[:1]
    return list(dict.fromkeys(found))


def _strings(info: dict[str, Any], keys: tuple[str, ...]) -> Iterator[str]:
    for key in keys:
        value = info.get(key)
        if isinstance(value, str) and value:
            yield value


def _video_refs(
    document: Document, info: dict[str, Any], stem: str, records: set[str]
) -> list[MediaRef]:
    """The references of one video's info dict (a sidecar, or a playlist entry)."""
    warnings: fields.Warnings = []
    sighting = _sighting(info, warnings)
    ext = info.get("ext") if isinstance(info.get("ext"), str) else None
    picks = _by_record(document.root, info) or _by_stem(document.root, stem, ext, info)
    post_id = sighting.get("post_id") or stem
    found = []
    for name, location, status in picks:
        ref = MediaRef(
            document=document,
            record=post_id if len(picks) == 1 else f"{post_id}:{name}",
            status=status,
            name=name,
            original_path=location.relative,
            sighting=dict(sighting),
            warnings=list(warnings),
        )
        if location.error is not None:
            ref.status, ref.error = "error", fields.reason(location.error)
        elif status == "ok":
            ref.path = location.path
        elif status == "skipped":
            ref.path = location.path
            ref.error = fields.reason(NotMedia(f"{name}: an audio-only download"))
        else:
            detail = f"{location.relative} is not in the folder"
            if locate(document.root, location.relative + ".part"):
                detail += " (only a partial download, .part, is)"
            ref.error = fields.reason(MissingMedia(detail))
        found.append(_unique(ref, records))
    return found


def _unique(ref: MediaRef, records: set[str]) -> MediaRef:
    record, n = ref.record, 1
    while record in records:
        n += 1
        record = f"{ref.record}#{n}"
    records.add(record)
    ref.record = record
    return ref


Pick = tuple[str, Location, str]  # (name, where, status)


def _by_record(root: str, info: dict[str, Any]) -> list[Pick]:
    """The downloads at the paths yt-dlp recorded; [] when none of them is in the folder
    (post-processing renamed it, or the sidecar was cleaned): the stem decides then."""
    recorded = _recorded(info)
    located = [(path, locate(root, path)) for path in recorded]
    if all(location is None for _, location in located):
        return []
    picks = []
    for path, location in located:
        name = last_segment(path)
        if location is None:
            picks.append((name, Location(name), "missing"))
        elif location.error is not None:
            picks.append((name, location, "error"))
        else:
            status = "skipped" if kind_of_name(name) == "audio" else "ok"
            picks.append((name, location, status))
    return picks


def _by_stem(root: str, stem: str, ext: str | None, info: dict[str, Any]) -> list[Pick]:
    """The downloads named like the sidecar: ``<stem>.<ext>`` for the media extensions.

    Images are the download only when the info dict says so (``ext``) or, when it does
    not say, when no video or audio sits beside them; else they are the thumbnail. A
    file with the info dict's own extension is audio when its format has no video.
    """
    if ext and ("/" in ext or "\\" in ext or len(ext) > 16):
        ext = None
    audio_only = info.get("vcodec") == "none" and info.get("acodec") not in (None, "none")
    found = []
    for candidate in dict.fromkeys(
        [*([ext] if ext else []), *VIDEO_EXTS, *IMAGE_EXTS, *AUDIO_EXTS]
    ):
        name = f"{stem}.{candidate}"
        if (location := locate(root, name)) is not None:
            found.append((name, location, kind_of_name(name), candidate == ext))
    photo_download = ext is not None and kind_of_name(f".{ext}") == "image"
    keep_images = photo_download or (ext is None and all(f[2] == "image" for f in found))
    picks: list[Pick] = []
    for name, location, kind, own_ext in found:
        if kind == "image" and not keep_images:
            continue  # the thumbnail (--write-thumbnail)
        audio = kind == "audio" or (own_ext and audio_only and kind != "image")
        picks.append((name, location, "skipped" if audio else "ok"))
    if not picks:
        name = f"{stem}.{ext}" if ext else stem
        picks.append((name, Location(name), "missing"))
    return picks


def _sighting(info: dict[str, Any], warnings: fields.Warnings) -> dict[str, Any]:
    """The ``SIGHTING_KEYS`` facts of an info dict (``README.md``, OUTPUT TEMPLATE)."""
    sighting: dict[str, Any] = {"source_kind": KIND}

    def text(key: str) -> str | None:
        return fields.text(info.get(key), key, warnings)

    uploader = text("uploader")
    facts = {
        "source_url": text("webpage_url") or text("original_url"),
        "post_id": text("id"),
        "channel": text("channel") or uploader or text("uploader_id"),
        "author": uploader,
        "posted_at": fields.unix_time(info.get("timestamp"), "posted_at", warnings)
        or fields.compact_date(info.get("upload_date"), "posted_at", warnings),
        "archived_at": fields.unix_time(info.get("epoch"), "archived_at", warnings),
    }
    caption = text("description") or text("title")
    if caption:
        facts["text"] = fields.cut_text(caption, warnings)
    sighting.update({key: value for key, value in facts.items() if value})
    return sighting
