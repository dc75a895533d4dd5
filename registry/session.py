"""What the lower modules need of an open registry: its folder, keys, log, vault and
catalogue, and a way to write. ``registry.core.Registry`` is one; the custody
operations, verification and exports take a ``Session`` instead of that class, so no
import climbs back up to ``core``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from registry.custody import CustodyLog, KeyRing, Signer
from registry.store import CatalogBase, Vault


class Session(Protocol):
    """An open registry (see ``registry.core.Registry`` for what each member does)."""

    root: str
    keys: KeyRing
    log: CustodyLog
    vault: Vault

    @property
    def catalog(self) -> CatalogBase:
        """The catalogue as last written."""
        ...

    @property
    def info(self) -> dict[str, Any]:
        """The registry's ``REGISTRY.json``."""
        ...

    def signer(self) -> Signer:
        """The installation key."""
        ...

    def writing(self, actor: str = ...) -> AbstractContextManager[CatalogBase]:
        """Hold the writer lock, with the registry recovered."""
        ...

    def record(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append events to the log and fold them (inside ``writing``)."""
        ...

    def save(self) -> None:
        """Write the catalogue (inside ``writing``)."""
        ...
