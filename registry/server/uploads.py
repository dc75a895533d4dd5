"""Upload bodies streamed to disk, never whole in memory.

A ``multipart/form-data`` body is parsed as it arrives (python-multipart's streaming
parser): each file part is written into its own numbered folder inside a locked
spool folder of the request, ``<registry>/uploads/run-<token>/<n>/<name>``, and hashed
(SHA-256) on the way; the text fields are kept (each at most ``MAX_FIELD_BYTES``). More
than the size limit and the request ends with 413, its spool deleted.

The spool folder is a ``registry.store.RunStaging``: locked while the request lives,
deleted when it ends. A server killed mid-upload leaves its folder unlocked, and the
next server (or upload) deletes it (``clear_dead``): nothing of it was logged, so the
registry still verifies, and uploading the files again stores each once.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import IO, Any

from registry.fsutil import pause_point
from registry.store import RunStaging, dead_runs, release_run

#: A text field of a form (source URL, note...) is at most this long.
MAX_FIELD_BYTES = 64 * 1024
MAX_NAME_CHARS = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


class TooLarge(Exception):
    """Request body over the limit."""


class BadForm(Exception):
    """The body is not a multipart form this endpoint takes."""


def safe_name(name: str) -> str:
    """A file name from a client, usable as one path component (never ``..``)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip()[:MAX_NAME_CHARS]
    if name in ("", ".", ".."):
        return "upload"
    return "_" + name[1:] if name.startswith(".") else name


def clear_dead(uploads: str) -> None:
    """Delete the spool folders of requests whose server died."""
    for folder in dead_runs(uploads):
        release_run(folder)


@dataclass
class Spooled:
    """One uploaded file: its client-side name, where it is, its SHA-256 and size."""

    name: str
    path: str
    sha256: str
    size: int


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    fh: IO[bytes] | None = None
    path: str = ""
    hasher: Any = None
    size: int = 0
    text: bytearray = field(default_factory=bytearray)


class Upload:
    """The spool of one request (``with Upload(...) as up: await up.receive(request)``)."""

    def __init__(self, uploads: str, max_bytes: int, file_field: str = "files") -> None:
        clear_dead(uploads)
        self.staging = RunStaging(uploads).open()
        self.max_bytes = max_bytes
        self.file_field = file_field
        self.files: list[Spooled] = []
        self.fields: dict[str, str] = {}
        self._part = _Part()
        self._header = [bytearray(), bytearray()]

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def folder(self) -> str:
        return self.staging.folder

    def close(self) -> None:
        if self._part.fh is not None:
            self._part.fh.close()
        self.staging.close()

    async def receive(self, request: Any) -> None:
        """Read the body of ``request`` (a Starlette request) into the spool.

        Raises:
            TooLarge, BadForm
        """
        from python_multipart.multipart import MultipartParser, parse_options_header

        ctype, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise BadForm("expected multipart/form-data with a boundary")
        callbacks = {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._header[0].extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header[1].extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > self.max_bytes:
                raise TooLarge(f"over {self.max_bytes} bytes")
            parser.write(chunk)
        parser.finalize()

    # --- parser callbacks ---------------------------------------------------------------

    def _begin(self) -> None:
        self._part = _Part()

    def _header_end(self) -> None:
        key = bytes(self._header[0]).decode("latin-1").strip().lower()
        self._part.headers[key] = bytes(self._header[1]).decode("utf-8", "replace").strip()
        self._header = [bytearray(), bytearray()]

    def _headers_done(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._part.headers.get("content-disposition", ""))
        part = self._part
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            part.filename = options[b"filename"].decode("utf-8", "replace")
        if part.filename is None:
            return
        if part.name != self.file_field:
            raise BadForm(f"file in field {part.name!r}; files go in {self.file_field!r}")
        folder = os.path.join(self.folder, str(len(self.files)))
        os.makedirs(folder)
        part.path = os.path.join(folder, safe_name(part.filename))
        part.fh = open(part.path, "wb")  # noqa: SIM115 - closed at the part's end
        part.hasher = hashlib.sha256()

    def _data(self, data: bytes, start: int, end: int) -> None:
        part, chunk = self._part, data[start:end]
        if part.fh is not None:
            part.fh.write(chunk)
            part.hasher.update(chunk)
            part.size += len(chunk)
            return
        part.text.extend(chunk)
        if len(part.text) > MAX_FIELD_BYTES:
            raise TooLarge(f"field {part.name!r} is over {MAX_FIELD_BYTES} bytes")

    def _end(self) -> None:
        part = self._part
        if part.fh is None:
            if part.name:
                self.fields[part.name] = part.text.decode("utf-8", "replace")
            return
        part.fh.flush()
        os.fsync(part.fh.fileno())
        part.fh.close()
        part.fh = None
        name = safe_name(part.filename or "")
        self.files.append(Spooled(name, part.path, part.hasher.hexdigest(), part.size))
        pause_point("upload.received")  # a file is on disk, the rest still arriving
