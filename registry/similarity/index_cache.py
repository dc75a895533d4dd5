"""The on-disk cache of the near-duplicate index: a folder of ``.npy`` arrays that opens
as read-only memory maps (fast, and shared between processes through the page cache),
named by a small JSON manifest.

Writing never disturbs a reader: the arrays go into a new folder next to the manifest
(``<manifest>.<token>/``), fsynced, and only then is the manifest replaced atomically.
A reader that opened the previous folder keeps its maps (the folder is removed only
when a later write replaces it, and an open map outlives the unlinked file); a reader
that finds a folder gone, or anything else amiss, gets None and the index is rebuilt.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from typing import TYPE_CHECKING, Any

from ingest import lazy_import
from registry.fsutil import atomic_write, fsync_dir

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")


def _folder(manifest: str, token: str) -> str:
    return f"{manifest}.{token}"


def write(manifest: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to a new folder, then point ``manifest`` (with ``meta``) at it."""
    parent = os.path.dirname(os.path.abspath(manifest))
    os.makedirs(parent, exist_ok=True)
    previous = (read_manifest(manifest) or {}).get("folder")
    token = f"{time.time_ns():x}-{os.getpid()}"
    folder = _folder(manifest, token)
    os.makedirs(folder)
    for name, array in arrays.items():
        with open(os.path.join(folder, f"{name}.npy"), "wb") as fh:
            np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
    fsync_dir(folder)
    body = {**meta, "folder": os.path.basename(folder), "arrays": sorted(arrays)}
    atomic_write(manifest, json.dumps(body, sort_keys=True).encode())
    # Folders older than the one just replaced have no reader that could still open them.
    keep = {os.path.basename(folder), previous}
    prefix = os.path.basename(manifest) + "."
    for entry in os.listdir(parent):
        if entry.startswith(prefix) and entry not in keep and not entry.endswith(".tmp"):
            with contextlib.suppress(OSError):
                shutil.rmtree(os.path.join(parent, entry))


def read_manifest(manifest: str) -> dict[str, Any] | None:
    """The manifest, or None when absent or unreadable (e.g. an older cache format)."""
    try:
        with open(manifest, "rb") as fh:
            body = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and isinstance(body.get("folder"), str) else None


def read(manifest: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The manifest and its arrays as read-only memory maps, or None."""
    body = read_manifest(manifest)
    if body is None:
        return None
    folder = os.path.join(os.path.dirname(os.path.abspath(manifest)), body["folder"])
    try:
        # Plain ndarray views of the maps (still mapped, not read): numpy's memmap
        # subclass wraps the result of every indexing in Python, which the searches do
        # thousands of times a query.
        arrays = {
            name: np.load(
                os.path.join(folder, f"{name}.npy"), mmap_mode="r", allow_pickle=False
            ).view(np.ndarray)
            for name in body.get("arrays", [])
        }
    except (OSError, ValueError):
        return None
    return body, arrays
