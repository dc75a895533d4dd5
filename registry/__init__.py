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

from ingest.errors import (
    AmbiguousPrefix,
    EvidenceError,
    ItemNotFound,
    NotARegistry,
    RegistryError,
    RegistryLocked,
)

from .actors import create_actor_key, list_keys
from .checkpoint import make_checkpoint
from .core import IngestResult, Registry, Submission, init_registry, present
from .export import export as export_items
from .notes import add_note
from .proofs import prove_consistency, prove_item
from .verify import Problem, VerifyReport
from .version import __version__

__all__ = [
    "AmbiguousPrefix",
    "EvidenceError",
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
