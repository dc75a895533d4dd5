"""Which catalogue backend a registry uses: its own TinyDB folder by default, or the
PostgreSQL database a ``postgresql://`` URL names (``--catalog``, ``EVIDENCE_CATALOG``).

PostgreSQL's module (and psycopg) is imported only when such a URL is given, so the
command line starts as fast without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.store.base import CatalogBase, CatalogStore, CatalogUnavailable, redact
from registry.store.catalog import TinyStore

#: URL schemes of the PostgreSQL backend (libpq accepts both).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def catalog_store(
    folder: str, url: str | None = None, registry_id: Callable[[], str | None] | None = None
) -> CatalogStore:
    """The store of a registry's catalogue.

    Args:
        folder: The registry's own catalogue folder (used when ``url`` is None).
        url: ``postgresql://...`` for a PostgreSQL catalogue.
        registry_id: Returns the registry's id (None before ``init`` wrote it); a
            PostgreSQL catalogue holding another registry's view is refused.

    Raises:
        CatalogUnavailable: ``url`` is not a catalogue URL this build can use.
    """
    if url is None or url == "":
        return TinyStore(folder)
    if url.lower().startswith(POSTGRES_SCHEMES):
        from registry.store.pgcatalog import PgStore

        return PgStore(url, registry_id or (lambda: None))
    raise CatalogUnavailable(
        f"{redact(url)}: not a catalogue URL (postgresql://user@host/database, or none for "
        "the registry's own catalogue)"
    )


class CatalogHandle:
    """A registry's catalogue as last written: opened on first use, and opened again
    whenever another writer has written it since (the store's ``stamp`` changed)."""

    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self._catalog: CatalogBase | None = None
        self._stamp: Any = None

    def current(self) -> CatalogBase:
        """The catalogue, with this process's staged changes.

        Raises:
            CatalogUnavailable: It cannot be read, or another writer wrote it while this
                one had changes staged (they are dropped: the log keeps them).
        """
        stamp = self.store.stamp()
        if self._catalog is None or stamp != self._stamp:
            if self._catalog is not None and self._catalog.pending:
                self._catalog = None
                raise CatalogUnavailable(
                    f"{self.store.where} was written by another writer while this one "
                    "had changes staged; they were dropped (the log keeps them)"
                )
            self._catalog = self.store.open()
            self._stamp = stamp
        return self._catalog

    def saved(self) -> None:
        """This process has just written the catalogue (what it has is current)."""
        self._stamp = self.store.stamp()

    def drop(self) -> None:
        """Forget the catalogue (staged changes included): it is read again next time."""
        self._catalog = None
