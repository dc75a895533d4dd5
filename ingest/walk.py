"""Walking the inputs: files and folders given by the user, streamed in a stable order.

Folders are walked recursively without ever holding more than one folder listing in
memory. Symbolic links are never followed out of the given roots (a link on a seized
drive can point anywhere on the investigator's machine) and never into loops; links
whose target lies inside the roots are skipped because the target is walked anyway.
Device files, FIFOs and sockets are reported, never opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ingest.errors import EvidenceError, NotAFile, SymlinkRefused, UnreadableFile


@dataclass(frozen=True)
class WalkEntry:
    """One input file found by the walk, or a problem found on the way."""

    path: str
    error: EvidenceError | None = None


def walk(paths: Iterable[str | os.PathLike[str]]) -> Iterator[WalkEntry]:
    """Yield every file under the given paths, and a ``WalkEntry`` with an error
    for each path that cannot be walked or read.

    Args:
        paths: Files and folders. A path given explicitly is taken even when it is a
            symbolic link (the user named it); links found inside folders are not followed.
    """
    roots = [os.path.abspath(os.fspath(p)) for p in paths]
    real_roots = [os.path.realpath(r) for r in roots]
    for root in roots:
        try:
            st = os.stat(root)
        except FileNotFoundError:
            yield WalkEntry(root, UnreadableFile("no such file or folder"))
            continue
        except OSError as exc:
            yield WalkEntry(root, _os_error(exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(root, real_roots)
        elif stat.S_ISREG(st.st_mode):
            yield WalkEntry(root)
        else:
            yield WalkEntry(root, NotAFile(_kind(st.st_mode)))


def _walk_dir(top: str, real_roots: list[str]) -> Iterator[WalkEntry]:
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: os.fsencode(e.name))
        except FileNotFoundError:
            yield WalkEntry(folder, UnreadableFile("folder vanished during the walk"))
            continue
        except OSError as exc:
            yield WalkEntry(folder, _os_error(exc))
            continue
        subdirs = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    problem = _check_link(entry.path, real_roots)
                    if problem is not None:
                        yield WalkEntry(entry.path, problem)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield WalkEntry(entry.path)
                else:
                    mode = entry.stat(follow_symlinks=False).st_mode
                    yield WalkEntry(entry.path, NotAFile(_kind(mode)))
            except FileNotFoundError:
                yield WalkEntry(entry.path, UnreadableFile("vanished during the walk"))
            except OSError as exc:
                yield WalkEntry(entry.path, _os_error(exc))
        # Reverse so that popping from the stack visits subfolders in sorted order.
        stack.extend(reversed(subdirs))


def _check_link(path: str, real_roots: list[str]) -> EvidenceError | None:
    """None when the link can be skipped silently (its target is walked anyway)."""
    try:
        target = os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            return SymlinkRefused("symbolic link loop")
        return SymlinkRefused(f"dangling symbolic link to {os.readlink(path)!r}")
    for root in real_roots:
        if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
            return None
    return SymlinkRefused(f"points outside the given roots, to {target!r}")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _os_error(exc: OSError) -> EvidenceError:
    return UnreadableFile(exc.strerror or str(exc))
