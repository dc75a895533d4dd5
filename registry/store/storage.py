"""A TinyDB storage that writes atomically and only when told to.

TinyDB's JSONStorage rewrites the whole file on every insert or update, in place: slow
for a batch of thousands, and a crash mid-write leaves half a file. This storage keeps the
data in memory, marks it dirty on ``write()`` and writes it with ``atomic_write`` on
``flush()``, so a batch of any size costs one write and readers never see a torn file.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tinydb.storages import Storage

from registry.fsutil import atomic_write


class AtomicJSONStorage(Storage):
    """JSON file storage with deferred, atomic writes (``path=None``: memory only)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._data: dict[str, Any] | None = None
        self.dirty = False
        if path is not None and os.path.exists(path):
            with open(path, "rb") as fh:
                raw = fh.read()
            self._data = json.loads(raw) if raw.strip() else None

    def read(self) -> dict[str, Any] | None:
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        self._data = data
        self.dirty = True

    def flush(self) -> None:
        """Write the data to disk if anything changed since the last flush."""
        if self.path is None or not self.dirty or self._data is None:
            self.dirty = False
            return
        payload = json.dumps(self._data, ensure_ascii=False, separators=(",", ":"))
        atomic_write(self.path, payload.encode("utf-8"))
        self.dirty = False

    def close(self) -> None:
        pass
