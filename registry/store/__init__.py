"""Where items live: the write-once, content-addressed vault of original bytes
(``vault``) and the catalogue folded from the custody log (``catalog``, in TinyDB files
written through ``storage``)."""

from registry.store.catalog import Catalog
from registry.store.catalog import rebuild as rebuild_catalog
from registry.store.runs import RunStaging, dead_runs, release_run
from registry.store.storage import AtomicJSONStorage
from registry.store.vault import Vault, copy_verified

__all__ = [
    "AtomicJSONStorage",
    "Catalog",
    "RunStaging",
    "Vault",
    "copy_verified",
    "dead_runs",
    "rebuild_catalog",
    "release_run",
]
