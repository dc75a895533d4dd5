"""Evidence registry: a write-once vault, a catalogue, and a signed custody log.

The Python API mirrors the ``evidence`` command line::

    from registry import Registry, Submission
    reg = Registry.open("cases/registry", create=True)
    results = reg.ingest(["downloads/"], Submission(actor="alice", case="UA-2022-031"))
    item = reg.show(results[0].sha256)
    report = reg.verify()
"""

from ingest.errors import (
    AmbiguousPrefix,
    EvidenceError,
    ItemNotFound,
    NotARegistry,
    RegistryError,
    RegistryLocked,
)

from .core import IngestResult, Registry, Submission, init_registry, present
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
    "init_registry",
    "present",
]
