"""What every catalogue backend is: ``CatalogBase`` (the item view folded from the
custody log, as the registry reads and writes it) and ``CatalogStore`` (where one is
kept: how it is opened, recognised as changed, rebuilt and cleaned up).

Two backends implement them: TinyDB shard files in the registry folder
(``registry.store.catalog``, the default) and PostgreSQL (``registry.store.pgcatalog``,
``--catalog postgresql://...``). Whatever the backend, every change comes from a custody
entry through ``apply`` (folded as ``registry.custody.events`` says), changes are staged
until ``flush`` writes them together with the log position they reach, and the log stays
the source of truth: ``rebuild`` folds the whole log again and ``verify`` compares.
"""

from __future__ import annotations

import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

from registry.custody import entry_hash, fold
from registry.errors import AmbiguousPrefix, ItemNotFound, RegistryError

#: One custody entry as a catalogue folds it: the entry, its hash, its end in the log.
Triple = tuple[dict[str, Any], str, int]
#: The orders ``iter_items`` lists items in.
ORDERS = ("stored", "sha256")
#: Entries folded together by ``apply_all`` (their items looked up in one go).
PREFETCH = 1000
_PASSWORD = re.compile(r"(?i)\b(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@")
_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&\s]*")


def redact(text: str) -> str:
    """``text`` with the password of any PostgreSQL URL in it replaced by ``***`` (for
    messages and the custody log's record of the command line)."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD.sub(r"\1***@", text))


class CatalogUnavailable(RegistryError):
    """Catalogue cannot be opened or written."""


class CatalogBase(ABC):
    """The item catalogue: one document per item, folded from the custody log.

    Subclasses keep ``_meta`` (how far into the log the fold has got) and the items;
    ``apply`` and ``resolve`` are the same for every backend.
    """

    _meta: dict[str, Any]
    #: Changes staged since the last ``flush``.
    _dirty: bool = False

    @property
    def pending(self) -> bool:
        """Whether changes are staged that ``flush`` has not written yet."""
        return self._dirty

    # --- state of the fold ---------------------------------------------------------------

    @property
    def log_seq(self) -> int:
        """Sequence number of the last entry folded."""
        return int(self._meta.get("log_seq", 0))

    @property
    def log_offset(self) -> int:
        """Byte offset in the log just past the last entry folded."""
        return int(self._meta.get("log_offset", 0))

    @property
    def log_hash(self) -> str | None:
        """Hash of the last entry folded."""
        return self._meta.get("log_hash")

    @property
    def hash_seq(self) -> int:
        """Sequence number of the last entry that set an item's perceptual hashes."""
        return int(self._meta.get("hash_seq", 0))

    # --- lookups ------------------------------------------------------------------------

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __contains__(self, sha256: object) -> bool: ...

    @abstractmethod
    def get(self, sha256: str) -> dict[str, Any] | None:
        """The item document, or None."""

    @abstractmethod
    def with_prefix(self, prefix: str, limit: int | None = None) -> list[str]:
        """Item ids starting with ``prefix`` (lower-case hex), sorted; at most ``limit``."""

    @abstractmethod
    def shas(self, case: str | None = None) -> list[str]:
        """Item ids, sorted; only those sighted in ``case`` when given."""

    @abstractmethod
    def iter_items(
        self, case: str | None = None, order: str = "stored"
    ) -> Iterator[dict[str, Any]]:
        """Items (of one case), in the order they were first stored or by sha256, in
        bounded memory however large the catalogue.

        Raises:
            ValueError: ``order`` is not one of ``ORDERS``.
        """

    @abstractmethod
    def cases_of(self, sha256: str) -> list[str]:
        """The cases ``sha256`` was sighted in (none for an unknown item)."""

    @abstractmethod
    def cases(self) -> list[str]:
        """Every case some item was sighted in, sorted."""

    @abstractmethod
    def view(self, name: str) -> dict[str, Any]:
        """The named view folded beside the items (e.g. ``accounts``, see
        ``registry.custody.views``): plain JSON of the shape ``{part: {key: value}}``.
        Folds change it in place (written by ``flush``); everyone else only reads it."""

    @property
    @abstractmethod
    def views(self) -> dict[str, dict[str, Any]]:
        """Every view that holds anything, by name (``verify`` compares them)."""

    def resolve(self, prefix: str) -> str:
        """The full sha256 of the one item whose id starts with ``prefix``.

        Raises:
            ItemNotFound: No item starts with it.
            AmbiguousPrefix: More than one does.
        """
        prefix = prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise ItemNotFound(f"{prefix!r} is not a hex SHA-256 or prefix")
        found = self.with_prefix(prefix, limit=2)
        if not found:
            raise ItemNotFound(prefix)
        if len(found) > 1:
            raise AmbiguousPrefix(f"{prefix} (e.g. {found[0][:16]}…, {found[1][:16]}…)")
        return found[0]

    def inconsistencies(self) -> Iterator[tuple[str, str, str]]:
        """``(sha256, field, what)`` for every place where the backend's own indexes
        disagree with its item documents (``verify`` reports them); none by default."""
        return iter(())

    # --- changes ------------------------------------------------------------------------

    def apply(self, entry: dict[str, Any], *, entry_hash: str, end_offset: int) -> None:
        """Fold one custody entry into the catalogue (staged until ``flush``); how each
        action changes items is ``registry.custody.events.ACTIONS``."""
        hash_seq = self.hash_seq
        if fold(self, entry):
            hash_seq = entry["seq"]  # the near-duplicate index is stale
        self._set_meta(
            {
                "log_seq": entry["seq"],
                "log_hash": entry_hash,
                "log_offset": end_offset,
                "hash_seq": hash_seq,
            }
        )

    def _set_meta(self, meta: dict[str, Any]) -> None:
        self._meta = meta

    def apply_all(self, folded: Iterable[Triple]) -> int:
        """Fold entries in order, ``PREFETCH`` at a time (``prefetch`` first: a backend
        may look their items up together); an entry at or before ``log_seq`` is skipped,
        so replaying never applies an entry twice. Returns how many were folded."""
        done = 0
        it = iter(folded)
        while batch := list(itertools.islice(it, PREFETCH)):
            fresh = [t for t in batch if t[0].get("seq", 0) > self.log_seq]
            self.prefetch(sha for e, _, _ in fresh for sha in _mentioned(e))
            for entry, digest, end in fresh:
                self.apply(entry, entry_hash=digest, end_offset=end)
            done += len(fresh)
        return done

    def prefetch(self, shas: Iterable[str]) -> None:  # noqa: B027 (files need no round trips)
        """Entries about these items are about to be folded."""

    def replay(self, lines: Iterable[Any]) -> int:
        """Fold the log's ``RawLine``s from ``log_offset`` on (a catalogue behind the log
        catching up), up to the first incomplete one. Returns how many were folded."""
        return self.apply_all(triples(lines))

    @abstractmethod
    def put(self, doc: dict[str, Any]) -> None:
        """Stage an item document (new or changed)."""

    @abstractmethod
    def add_case(self, sha256: str, case: str) -> None:
        """Note in the case index that ``sha256`` was sighted in ``case``."""

    @abstractmethod
    def flush(self) -> None:
        """Write every staged change and the log position it reaches, all or nothing."""


def _mentioned(entry: dict[str, Any]) -> list[str]:
    found = [entry.get("sha256"), (entry.get("details") or {}).get("match")]
    return [s for s in found if isinstance(s, str)]


def triples(lines: Iterable[Any], *, stop: bool = True) -> Iterator[Triple]:
    """``(entry, entry_hash, end_offset)`` of the custody log's ``RawLine``s, up to the
    first that is not a whole entry (``stop=False``: skipping those)."""
    for raw in lines:
        if raw.entry is None or not raw.complete:
            if stop:
                return
            continue
        yield raw.entry, entry_hash(raw.line), raw.end


class CatalogStore(ABC):
    """Where a registry's catalogue is kept."""

    #: A short description for messages (never holds a password).
    where: str

    @abstractmethod
    def open(self) -> CatalogBase:
        """The catalogue as last written.

        Raises:
            CatalogUnavailable: It cannot be reached, or it is another registry's.
        """

    @abstractmethod
    def stamp(self) -> Any:
        """Changes whenever a writer has written the catalogue (compared, not read)."""

    @abstractmethod
    def rebuild(self, triples: Iterable[Triple]) -> int:
        """Replace the catalogue with one folded from ``triples`` (the whole log), so that
        a crash leaves either the old catalogue or the new one; returns the item count."""

    def clean(self) -> None:  # noqa: B027 (most stores leave nothing)
        """Remove what an interrupted rebuild left (called under the writer lock)."""

    @abstractmethod
    def discard(self) -> None:
        """Forget the catalogue of a registry whose log is empty (an interrupted init)."""

    def close(self) -> None:  # noqa: B027 (most stores hold none)
        """Release connections (the store stays usable: they are made again)."""
