"""The registry's errors: everything that goes wrong with a registry rather than with one
input file. Each class's docstring is its message (see ``ingest.errors.EvidenceError``).
"""

from __future__ import annotations

from ingest import EvidenceError


class RegistryError(EvidenceError):
    """Registry error."""


class NotARegistry(RegistryError):
    """Folder is not an evidence registry."""


class RegistryLocked(RegistryError):
    """Registry is locked by another writer."""


class RegistryNotWritable(RegistryError):
    """Registry cannot be written (disk full, read-only or no permission); nothing half-written."""


class ItemNotFound(RegistryError):
    """No item matches."""


class AmbiguousPrefix(RegistryError):
    """Hash prefix matches more than one item."""


class VaultError(RegistryError):
    """Vault write failed."""


class CustodyLogError(RegistryError):
    """Custody log cannot be read or written."""


class ExportError(RegistryError):
    """Cannot export."""


class UnsafePath(ExportError):
    """Export path would leave the output folder."""


class NoCheckpoint(RegistryError):
    """No valid checkpoint; run `evidence checkpoint` first."""


class ProofError(RegistryError):
    """Cannot make the proof."""


class KeyExists(RegistryError):
    """Actor already has a key in this registry."""


class StepFailed(RegistryError):
    """A step failed on this file; the file was stored without it."""

    @classmethod
    def because(cls, exc: BaseException, step: str = "") -> StepFailed:
        """The failure of ``step`` by ``exc``, described in one line."""
        text = " ".join(str(exc).split())[:300]
        why = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return cls(f"{step}: {why}" if step else why)
