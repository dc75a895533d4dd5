"""Per-user preferences of the review UI, kept in ``server/prefs.json`` in the registry
folder (not in the custody log).

Why a file and not custody entries: a preference says how a person wants pictures put
before them (blurred or not), not anything about the evidence or who saw it; whether a
page showed a picture is in the log already (every page view and download is an
``access.*`` entry). Custody entries are forever, exported with cases and replayed by
``rebuild``; a setting someone may flip twice a day belongs to neither. The file is
written atomically and read on each page, so a change applies at once in every
thread; an unreadable file means the defaults (everything blurred), never an error.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from registry.fsutil import atomic_write

PREFS_FILE = os.path.join("server", "prefs.json")
#: Every preference and its default.
DEFAULTS: dict[str, Any] = {"reveal": False}


class Prefs:
    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, PREFS_FILE)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as fh:
                found = json.loads(fh.read())
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def of(self, name: str) -> dict[str, Any]:
        """``name``'s preferences (defaults filled in)."""
        mine = self._read().get(name)
        mine = mine if isinstance(mine, dict) else {}
        return {k: type(v)(mine.get(k, v)) for k, v in DEFAULTS.items()}

    def set(self, name: str, **values: Any) -> dict[str, Any]:
        """Change some of ``name``'s preferences (unknown keys: ValueError)."""
        unknown = set(values) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown preference(s): {', '.join(sorted(unknown))}")
        with self._lock:
            everyone = self._read()
            mine = everyone.get(name) if isinstance(everyone.get(name), dict) else {}
            everyone[name] = {**mine, **{k: type(DEFAULTS[k])(v) for k, v in values.items()}}
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            atomic_write(self.path, json.dumps(everyone, indent=1, sort_keys=True).encode())
        return self.of(name)
