"""Where items live: the write-once, content-addressed vault of original bytes
(``vault``) and the catalogue folded from the custody log (``base``: what every backend
is; ``catalog``: TinyDB files written through ``storage``, the default; ``pgcatalog``:
PostgreSQL, chosen by ``location``)."""

from registry.store.base import CatalogBase, CatalogStore, CatalogUnavailable, redact, triples
from registry.store.catalog import Catalog, TinyStore
from registry.store.catalog import rebuild as rebuild_catalog
from registry.store.location import CatalogHandle, catalog_store
from registry.store.runs import RunStaging, dead_runs, release_run
from registry.store.storage import AtomicJSONStorage
from registry.store.vault import Vault, copy_verified

__all__ = [
    "AtomicJSONStorage",
    "Catalog",
    "CatalogBase",
    "CatalogHandle",
    "CatalogStore",
    "CatalogUnavailable",
    "RunStaging",
    "TinyStore",
    "Vault",
    "catalog_store",
    "copy_verified",
    "dead_runs",
    "rebuild_catalog",
    "redact",
    "release_run",
    "triples",
]
