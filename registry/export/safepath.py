"""Writing export files under ``--out`` and nowhere else, with names made safe.

Names that reach an export come from outside (file names as sent by witnesses or
scraped from channels, stored in display form): they may hold ``/``, ``..``, control
characters, backslash escapes of bytes that were not UTF-8, names reserved on Windows,
or be hundreds of bytes long. ``safe_name`` turns any of them into one harmless path
component; ``OutDir`` joins only such components, refuses to follow symbolic links,
never overwrites, and checks that every path it opens resolves inside its root.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from registry.errors import ExportError, UnsafePath

#: Longest component written, in UTF-8 bytes (filesystems allow 255; a margin is kept
#: for suffixes and for tools that add their own).
MAX_NAME_BYTES = 120
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
_BAD = set('/\\<>:"|?*%') | {"\x7f"}


def safe_name(name: str, default: str = "file") -> str:
    """One path component that is safe on any common filesystem and in a manifest.

    Control characters (newlines included), separators and characters that Windows or
    BagIt manifests treat specially become ``_``; leading dots and spaces are dropped
    (no hidden files, no ``..``); reserved device names get a ``_`` prefix; the result
    is cut to ``MAX_NAME_BYTES`` keeping the extension.
    """
    text = unicodedata.normalize("NFC", str(name))
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    out = "".join(
        "_" if c in _BAD or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text
    )
    out = out.strip().lstrip(".").rstrip(". ")
    if out.split(".")[0].upper() in _RESERVED:
        out = "_" + out
    if not out:
        return default
    if len(out.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = out.rpartition(".")
        if not dot or len(ext.encode("utf-8")) > 16:
            stem, ext = out, ""
        tag = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        room = MAX_NAME_BYTES - len(ext.encode("utf-8")) - len(tag) - 3
        cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore")
        out = f"{cut}~{tag}" + (f".{ext}" if ext else "")
    return out


@dataclass
class Written:
    """One file written: its path relative to the output folder, size and digests."""

    rel: str
    size: int
    sha256: str
    sha512: str


class OutDir:
    """The output folder of one export."""

    def __init__(self, root: str) -> None:
        """Create ``root`` (it must be absent or an empty folder).

        Raises:
            ExportError: ``root`` exists and is not an empty folder.
        """
        if os.path.lexists(root) and not os.path.isdir(root):
            raise ExportError(f"{root} exists and is not a folder")
        if os.path.isdir(root) and os.listdir(root):
            raise ExportError(f"{root} is not empty; exports never overwrite")
        os.makedirs(root, exist_ok=True)
        self.root = os.path.realpath(root)

    def path(self, *parts: str) -> str:
        """The absolute path of ``parts`` (each made safe), checked to be inside."""
        names = [safe_name(p) for p in parts]
        full = os.path.join(self.root, *names)
        if os.path.commonpath([self.root, os.path.realpath(full)]) != self.root:
            raise UnsafePath(os.path.join(*names))
        return full

    def rel(self, *parts: str) -> str:
        """``parts`` made safe, joined with ``/`` (as written in manifests)."""
        return "/".join(safe_name(p) for p in parts)

    def write(self, *parts: str, data: bytes) -> Written:
        """Write a new file (never overwriting, never through a link)."""
        with self._open(parts) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return Written(
            self.rel(*parts),
            len(data),
            hashlib.sha256(data).hexdigest(),
            hashlib.sha512(data).hexdigest(),
        )

    def copy(self, source: str, *parts: str) -> Written:
        """Copy ``source`` to a new file, hashing what was written."""
        h256, h512, size = hashlib.sha256(), hashlib.sha512(), 0
        try:
            src = open(source, "rb")  # noqa: SIM115 - closed by the with-block below
        except OSError as exc:
            raise ExportError(f"cannot read {source}: {exc.strerror or exc}; run verify") from exc
        with src, self._open(parts) as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
                h256.update(chunk)
                h512.update(chunk)
                size += len(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        return Written(self.rel(*parts), size, h256.hexdigest(), h512.hexdigest())

    def _open(self, parts: tuple[str, ...]) -> BinaryIO:
        full = self.path(*parts)
        folder = os.path.dirname(full)
        # Create parents one by one so none of them can be a link planted in advance.
        current = self.root
        for name in os.path.relpath(folder, self.root).split(os.sep):
            if name in ("", "."):
                continue
            current = os.path.join(current, name)
            if os.path.islink(current):
                raise UnsafePath(os.path.relpath(current, self.root))
            if not os.path.isdir(current):
                os.mkdir(current)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(full, flags, 0o644)
        except FileExistsError as exc:
            raise ExportError(f"{os.path.relpath(full, self.root)} would be written twice") from exc
        return os.fdopen(fd, "wb")
