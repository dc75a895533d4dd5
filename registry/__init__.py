"""Evidence registry: a write-once vault, a catalogue, and a signed custody log.

The Python API mirrors the ``evidence`` command line::

    from registry import Registry, Submission
    reg = Registry.open("cases/registry", create=True)
    results = reg.ingest(["downloads/"], Submission(actor="alice", case="UA-2022-031"))
    item = reg.show(results[0].sha256)
    report = reg.verify()

Custody and exports (``docs/custody.md``)::

    from registry import add_note, create_actor_key, export_items, make_checkpoint, prove_item
    cp = make_checkpoint(reg, actor="alice")          # cp.root: publish it
    export_items(reg, "bagit", "case-bag", case="UA-2022-031", actor="alice")
"""

from ingest import EvidenceError
from registry.core import Registry, init_registry
from registry.custody import (
    add_note,
    create_actor_key,
    list_keys,
    make_checkpoint,
    prove_consistency,
    prove_item,
)
from registry.errors import (
    AmbiguousPrefix,
    ItemNotFound,
    NotARegistry,
    RegistryError,
    RegistryLocked,
)
from registry.export import export as export_items
from registry.importing import ImportResult
from registry.ingesting import IngestResult, Submission
from registry.schema import present
from registry.verify import Problem, VerifyReport
from registry.version import __version__

__all__ = [
    "AmbiguousPrefix",
    "EvidenceError",
    "ImportResult",
    "IngestResult",
    "ItemNotFound",
    "NotARegistry",
    "Problem",
    "Registry",
    "RegistryError",
    "RegistryLocked",
    "Submission",
    "VerifyReport",
    "__version__",
    "add_note",
    "create_actor_key",
    "export_items",
    "init_registry",
    "list_keys",
    "make_checkpoint",
    "present",
    "prove_consistency",
    "prove_item",
]
