"""Durable file writes: whole files replaced atomically, lines appended with fsync."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator

#: Test hook (``pause_point``): ``<point>`` or ``<point>:<n>``, and the file to create.
_PAUSE_AT = os.environ.get("EVIDENCE_PAUSE_AT", "")
_PAUSE_FILE = os.environ.get("EVIDENCE_PAUSE_FILE", "")
_reached: dict[str, int] = {}


def fsync_dir(path: str) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: temp file in the same folder, fsync, rename.

    A reader sees the old file or the new one, never a mix; a crash leaves one of the
    two plus, at worst, a stray temp file named ``.<name>.*.tmp``.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def append_durable(path: str, data: bytes) -> None:
    """Append bytes to a file and fsync before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def pause_point(name: str) -> None:
    """A named commit point, where crash tests stop a writer to kill it (kill -9).

    With ``EVIDENCE_PAUSE_AT=<name>`` (or ``<name>:<n>``, the n-th time this process
    gets here) this creates ``EVIDENCE_PAUSE_FILE`` (holding ``<name>:<n>``) atomically
    and then blocks forever. Without it, this returns at once.
    """
    if not _PAUSE_AT:
        return
    point, _, nth = _PAUSE_AT.partition(":")
    if name != point:
        return
    count = _reached[name] = _reached.get(name, 0) + 1
    if count != int(nth or 1):
        return
    if _PAUSE_FILE:
        atomic_write(_PAUSE_FILE, f"{name}:{count}\n".encode())
    while True:
        time.sleep(3600)


def iter_stray_temps(folder: str) -> Iterator[str]:
    """Temp files left behind by ``atomic_write`` calls that were interrupted."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(".") and name.endswith(".tmp"):
            yield os.path.join(folder, name)
