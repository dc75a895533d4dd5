"""The one record type that flows from ``ingest`` to ``registry``.

``Extracted`` holds everything ingest learned about one input file: its cryptographic
identity, its sniffed type, the metadata embedded in it, perceptual hashes, the facts of
the file as found on disk, and any step that failed. It is plain data (JSON-able and
picklable) so it can cross process boundaries and be written into the custody log as is.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field, fields
from typing import Any

RECORD_VERSION = 1
_NOT_WRITTEN = frozenset({"source", "picture", "features", "handover"})


def display_path(path: str | os.PathLike[str] | bytes) -> str:
    """Return a path as text that is always valid UTF-8.

    File names on Linux are bytes; names that are not UTF-8 are rendered with
    backslash escapes (``\\xff``) instead of failing, so they can be logged and
    shown. Newlines and other control characters are kept: JSON escapes them.
    """
    raw = os.fsencode(path)
    return raw.decode("utf-8", errors="backslashreplace")


@dataclass
class Extracted:
    """What ingest learned about one input file.

    Attributes:
        path: The source path as given (display form, see ``display_path``).
        name: The original file name.
        size: Size in bytes.
        sha256, sha1, md5: Hex digests of the bytes, taken in one pass.
        media_type: ``"image"``, ``"video"`` or ``None`` when the file failed.
        mime: Sniffed MIME type, e.g. ``image/jpeg``.
        format: Short format name, e.g. ``jpeg``, ``mp4``.
        width, height: Display dimensions in pixels (after rotation metadata for video).
        duration_s: Duration in seconds for videos.
        metadata: Normalised metadata (``captured_at``, ``make``, ``model``, ``serial``,
            ``software``, ``orientation``, ``gps``, and for videos ``codec``, ``fps``,
            ``rotation``, ``frame_count``), and ``c2pa``: what the file's Content
            Credentials say (``ingest.credentials``).
        exif: Raw embedded tags as strings (EXIF for photos, container tags for videos).
        hashes: Perceptual hashes, each ``{"alg", "v", "hex", "quality", ...}``.
        manifest_store: The file's C2PA manifest store as the C2PA library renders it
            in JSON, or None when it has none (``metadata["c2pa"]`` sums it up).
        file_mtime, file_ctime: The source file's times (UTC ISO 8601).
        warnings: Steps that failed without making the file unusable, each
            ``{"step", "code", "message"}``.
        error: ``None`` when the file can be stored, else ``{"code", "message"}``.
        tools: Versions of the libraries that produced this record.
    """

    path: str
    name: str = ""
    size: int | None = None
    sha256: str | None = None
    sha1: str | None = None
    md5: str | None = None
    media_type: str | None = None
    mime: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    exif: dict[str, str] = field(default_factory=dict)
    hashes: list[dict[str, Any]] = field(default_factory=list)
    manifest_store: dict[str, Any] | None = None
    file_mtime: str | None = None
    file_ctime: str | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    error: dict[str, str] | None = None
    tools: dict[str, str] = field(default_factory=dict)
    record_version: int = RECORD_VERSION
    #: The path as the operating system spells it (may hold undecodable bytes as
    #: surrogates); used to reopen the file, never written out.
    source: str = field(default="", repr=False, compare=False)
    #: Hand-over to the registry (photos only; never written out, pickled with the record
    #: when it crosses from a worker process): the reduced, upright ``PIL.Image`` the
    #: hashes were computed from, so the near-duplicate check need not decode the file
    #: again ...
    picture: Any = field(default=None, repr=False, compare=False)
    #: ... and the ORB features detected on it (``ingest.photo.features.Features``), from
    #: which the ``orb`` hash was chosen and with which the near-duplicate query starts.
    features: Any = field(default=None, repr=False, compare=False)
    #: What a job run in the worker adds for the registry (never written out): e.g. where
    #: it staged a copy of the bytes and the near-duplicates it already found.
    handover: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when the file was read and can be stored."""
        return self.error is None

    def warn(self, step: str, exc: BaseException) -> None:
        """Record that one extraction step failed; the others go on."""
        code = getattr(exc, "code", type(exc).__name__)
        self.warnings.append({"step": step, "code": str(code), "message": _one_line(exc)})

    def to_dict(self) -> dict[str, Any]:
        """The record as plain data (without ``source`` and ``picture``)."""
        return {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in fields(self)
            if f.name not in _NOT_WRITTEN
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Extracted:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    return text[:500]
