"""The files an export names, found safely inside its folder, and what their names say
they hold; and the candidate documents under a path.

Collecting tools record where they wrote a file on the machine that ran them: an absolute
path (yt-dlp ``-P``, auto-archiver's temporary folder), a path relative to the working
directory of that run, or a storage URL. The export has been copied since, so a recorded
path is a hint: it is looked up inside the document's folder, as given when it is
relative and stays inside, else by its last segment. Nothing outside the folder is ever
opened: a relative path that climbs out with ``..``, or a name in the folder that is a
symbolic link leading out, is reported as ``UnsafeReference``.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ingest.errors import UnsafeReference
from ingest.sources.model import Document, inside

#: File extensions (lower case, no dot) by what a download with that name holds.
VIDEO_EXTS = (
    "mp4", "webm", "mkv", "mov", "m4v", "flv", "avi", "3gp", "3g2", "ts", "mts", "m2ts",
    "mpg", "mpeg", "ogv", "wmv", "asf", "f4v", "unknown_video",
)  # fmt: skip
IMAGE_EXTS = (
    "jpg", "jpeg", "png", "webp", "gif", "heic", "heif", "avif", "bmp", "tif", "tiff",
)  # fmt: skip
AUDIO_EXTS = (
    "m4a", "mp3", "opus", "ogg", "oga", "aac", "flac", "wav", "weba", "mka", "alac", "aiff",
    "wma", "amr",
)  # fmt: skip

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Location:
    """Where a recorded path led inside the document's folder.

    Attributes:
        relative: The name it was looked up as, relative to the folder.
        path: The file (its real path, inside the folder); None with ``error``.
        error: Why it was not opened (it leads out of the folder).
    """

    relative: str
    path: str | None = None
    error: UnsafeReference | None = None


def is_remote(recorded: str) -> bool:
    """Whether a recorded location is a URL (``https://``, ``s3://``, ...), never fetched."""
    return bool(_SCHEME.match(recorded))


def last_segment(recorded: str) -> str:
    """The file name at the end of a recorded path or URL (either path separator)."""
    if is_remote(recorded):
        recorded = unquote(urlsplit(recorded).path)
    return re.split(r"[/\\]", recorded)[-1]


def kind_of_name(name: str) -> str:
    """``"video"``, ``"image"``, ``"audio"`` or ``"other"``, from the file extension."""
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext in VIDEO_EXTS:
        return "video"
    if ext in IMAGE_EXTS:
        return "image"
    if ext in AUDIO_EXTS:
        return "audio"
    return "other"


def locate(root: str, recorded: str) -> Location | None:
    """Look a recorded path up inside ``root``; None when the folder does not hold it.

    Args:
        root: The document's folder.
        recorded: The path or URL as the document records it.

    Returns:
        The file found, a ``Location`` with an ``UnsafeReference`` when the recorded path
        climbs out with ``..`` or the name found is a link leading out (neither is
        opened), or None.
    """
    if not isinstance(recorded, str) or not recorded:
        return None
    if "\x00" in recorded:
        return Location(recorded, error=UnsafeReference(f"{recorded!r} contains a NUL byte"))
    name = last_segment(recorded)
    if is_remote(recorded) or recorded.startswith(("/", "\\")) or _DRIVE.match(recorded):
        candidates = [name]
    else:
        normal = posixpath.normpath(recorded.replace("\\", "/"))
        if normal == ".." or normal.startswith("../"):
            return Location(recorded, error=UnsafeReference(f"{recorded!r} climbs out with '..'"))
        candidates = [recorded, name]
    for candidate in dict.fromkeys(candidates):
        if candidate in ("", ".", ".."):
            continue
        real = inside(root, candidate)
        if real is None:
            if os.path.lexists(os.path.join(root, candidate)):
                problem = UnsafeReference(f"{candidate!r} is a symbolic link leading out")
                return Location(candidate, error=problem)
            continue
        if os.path.isfile(real):
            return Location(candidate, path=real)
    return None


def iter_files(path: str, wanted: Callable[[str], bool]) -> Iterator[str]:
    """Stream the candidate documents at ``path``, in a stable order, lazily.

    Args:
        path: A file (taken whatever its name: the user named it) or a folder, walked
            recursively without following symbolic links.
        wanted: Decides from a file's name whether it is a candidate (in folders only).

    Yields:
        Absolute paths of regular files.
    """
    top = os.path.abspath(path)
    if os.path.isfile(top):
        yield top
        return
    stack = [top] if os.path.isdir(top) else []
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: os.fsencode(e.name))
        except OSError:
            continue  # the walk of the files themselves reports unreadable folders
        subdirs = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.path)
                elif entry.is_file(follow_symlinks=False) and wanted(entry.name):
                    yield entry.path
            except OSError:
                continue
        stack.extend(reversed(subdirs))


def json_documents(
    path: str, wanted: Callable[[str], bool], recognise: Callable[[str], bool], kind: str, fmt: str
) -> Iterator[Document]:
    """Stream the JSON documents of one source at ``path``: the files whose name is
    ``wanted`` and whose content the source ``recognise``s."""
    for candidate in iter_files(path, wanted):
        if recognise(candidate):
            yield Document(
                path=candidate,
                kind=kind,
                format=fmt,
                mime="application/json",
                root=os.path.dirname(candidate),
            )
