"""What a server is started with (``ServerConfig``), and the registries its threads use.

Requests run in a thread pool. ``Registry`` objects cache the catalogue and the
near-duplicate index and are not meant to be shared by threads, so each thread opens
its own (``Registries``), as separate processes would: the writer lock (a file lock,
``Registry.writing``) serialises their writes exactly as it serialises the writes of
separate ``evidence`` commands, and each reloads the catalogue when another writer has
changed it.
"""

from __future__ import annotations

import inspect
import os
import threading
from dataclasses import dataclass

from registry.core import Registry
from registry.errors import NotARegistry

#: Where uploads are spooled, inside the registry folder (one locked folder per request).
UPLOADS = "uploads"
#: JSON bodies larger than this are refused (413); uploads have their own limit.
MAX_JSON_BYTES = 1 << 20


@dataclass
class ServerConfig:
    """Options of ``evidence serve``.

    Args:
        registry: The registry folder (it must exist: ``evidence init``).
        catalog: Where the catalogue is kept (``postgresql://...``), None for the
            registry's own; passed to ``Registry.open`` when it takes one.
        max_upload: Largest request body of an upload, in bytes (413 beyond).
        rate: Requests per second per token (bursts of ``2 * rate``; 429 beyond).
        workers: Extraction processes per upload (the supervised pipeline of ingest).
        time_limit: Seconds per file before its worker is stopped (as ``ingest``).
    """

    registry: str
    catalog: str | None = None
    max_upload: int = 2 << 30
    rate: float = 50.0
    workers: int = 2
    time_limit: float = 120.0

    def check(self) -> None:
        """Raises ValueError for a ``catalog`` this build cannot use; NotARegistry for a
        folder that is not one."""
        if self.catalog is not None and not takes_catalog():
            raise ValueError(
                f"{self.catalog.split('://')[0]}:// catalogues are not supported by this "
                "build (only the registry's own catalogue); run without --catalog"
            )
        if not os.path.exists(os.path.join(self.registry, "REGISTRY.json")):
            raise NotARegistry(f"{self.registry} (run `evidence init` first)")

    def open(self) -> Registry:
        if self.catalog is not None:
            return Registry.open(self.registry, catalog=self.catalog)  # type: ignore[call-arg]
        return Registry.open(self.registry)


def takes_catalog() -> bool:
    """Whether ``Registry.open`` accepts a ``catalog`` (a PostgreSQL catalogue)."""
    return "catalog" in inspect.signature(Registry.open).parameters


class Registries:
    """One open ``Registry`` per thread (see the module docstring)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._local = threading.local()

    def get(self) -> Registry:
        reg = getattr(self._local, "registry", None)
        if reg is None:
            reg = self._local.registry = self.config.open()
        return reg
