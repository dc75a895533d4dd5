"""The registry: opening, locking, recovery, and the ingest of extracted records.

On-disk layout of a registry folder::

    REGISTRY.json        format marker (written last by init)
    custody.jsonl        the chain-of-custody log: the source of truth
    custody.head.json    last sequence number, entry hash and byte length of the log
    catalog/             the catalogue: index.json and TinyDB shard files, a view of the log
                         (or, with ``catalog="postgresql://..."``, tables in that database)
    vault/aa/bb/<sha256> the original bytes, read-only; vault/.staging/ for copies in flight
    keys/                installation.key (0600) and public/<key id>.pem
    .lock                serialises writers

Every write happens under the lock in this order: copy into staging (fsync, re-hash),
append to the custody log (fsync, then the head file), move the copy into the vault,
write the catalogue. Whoever takes the lock next first runs ``recover``, which finishes
or undoes whatever a crash interrupted, so a registry always opens and verifies.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ingest import Limits, lazy_import
from registry.custody import (
    HEAD_FILE,
    INSTALLATION,
    LOG_FILE,
    REGISTRY_CREATED,
    REGISTRY_RECOVERED,
    CustodyLog,
    KeyRing,
    Signer,
    catalog_rebuilt,
    registry_created,
    registry_recovered,
    verify_run,
)
from registry.errors import (
    CustodyLogError,
    NotARegistry,
    RegistryError,
    RegistryLocked,
    RegistryNotWritable,
)
from registry.fsutil import atomic_write, iter_stray_temps, pause_point
from registry.importing import ImportResult, iter_import
from registry.ingesting import DEFAULT_ACTOR, IngestResult, Submission, iter_ingest
from registry.reindexing import reindex
from registry.schema import present
from registry.similarity import MatchConfig, NearDuplicates, clusters
from registry.store import (
    CatalogBase,
    CatalogHandle,
    CatalogStore,
    CatalogUnavailable,
    Vault,
    catalog_store,
    triples,
)
from registry.verify import VerifyReport, check
from registry.version import TOOL_NAME, __version__

if TYPE_CHECKING:
    import filelock
else:
    filelock = lazy_import("filelock")  # its import costs more than opening a registry

FORMAT = "evidence-registry"
FORMAT_VERSION = 1
__all__ = [
    "DEFAULT_ACTOR",
    "ImportResult",
    "IngestResult",
    "Registry",
    "Submission",
    "init_registry",
]


class Registry:
    """An evidence registry folder. Use ``Registry.open`` or ``init_registry``. Its
    catalogue (``catalog``: None for its own TinyDB files, or a ``postgresql://`` URL) is
    a view of the custody log either way."""

    def __init__(
        self, root: str, *, lock_timeout: float = 600.0, catalog: str | None = None
    ) -> None:
        self.root = os.path.abspath(root)
        self.keys = KeyRing(os.path.join(self.root, "keys"))
        self.log = CustodyLog(
            os.path.join(self.root, LOG_FILE),
            os.path.join(self.root, HEAD_FILE),
            self.keys,
        )
        self.vault = Vault(os.path.join(self.root, "vault"))
        self.catalog_path = os.path.join(self.root, "catalog")
        self.catalog_url = catalog
        self.store: CatalogStore = catalog_store(self.catalog_path, catalog, self._registry_id)
        self._catalogs = CatalogHandle(self.store)
        self.lock_timeout = lock_timeout
        self._lock: filelock.FileLock | None = None
        self._signer: Signer | None = None
        self._near: NearDuplicates | None = None

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        root: str,
        *,
        create: bool = False,
        actor: str = DEFAULT_ACTOR,
        catalog: str | None = None,
    ) -> Registry:
        """Open the registry at ``root`` (with ``create``, made first if absent), its
        catalogue at ``catalog`` (see ``Registry``).

        Raises:
            NotARegistry: ``root`` exists but is not a registry (and ``create`` is off or
                the folder holds other files).
        """
        marker = os.path.join(root, "REGISTRY.json")
        if not os.path.exists(marker):
            if not create:
                raise NotARegistry(f"{root} (run `evidence init` first)")
            return init_registry(root, actor=actor, catalog=catalog)
        try:
            with open(marker, "rb") as fh:
                info = json.loads(fh.read())
        except (OSError, ValueError) as exc:
            raise NotARegistry(f"{root}: unreadable REGISTRY.json ({exc})") from exc
        if info.get("format") != FORMAT:
            raise NotARegistry(f"{root}: REGISTRY.json is not an evidence registry marker")
        if int(info.get("version", 0)) > FORMAT_VERSION:
            raise RegistryError(f"{root} was written by a newer version of the tool")
        return cls(root, catalog=catalog)

    @property
    def info(self) -> dict[str, Any]:
        with open(os.path.join(self.root, "REGISTRY.json"), "rb") as fh:
            return json.loads(fh.read())

    def _registry_id(self) -> str | None:
        """This registry's id, or None before ``init`` has written ``REGISTRY.json``."""
        try:
            return str(self.info["registry_id"])
        except (OSError, ValueError, KeyError):
            return None

    @property
    def catalog(self) -> CatalogBase:
        """The catalogue as last written (reloaded when another process changed it)."""
        return self._catalogs.current()

    @property
    def lock(self) -> filelock.FileLock:
        """The writer lock (made on first use: reading commands never take it)."""
        if self._lock is None:
            path = os.path.join(self.root, ".lock")
            self._lock = filelock.FileLock(path, timeout=self.lock_timeout)
        return self._lock

    def signer(self) -> Signer:
        if self._signer is None:
            self._signer = self.keys.signer(INSTALLATION)
        return self._signer

    # --- writing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, actor: str = DEFAULT_ACTOR) -> Iterator[CatalogBase]:
        """Hold the writer lock, with the registry recovered and the catalogue current.

        An operating-system error while writing (disk full, read-only file system, lost
        permissions) becomes ``RegistryNotWritable``. What was written before it stays
        valid: every file is replaced atomically and the log is cut back to its last
        whole entry, so the next writer's ``recover`` finds a consistent registry.
        """
        try:
            self.lock.acquire()
        except filelock.Timeout as exc:
            raise RegistryLocked(f"{self.root} (waited {self.lock.timeout:.0f} s)") from exc
        except OSError as exc:
            raise RegistryNotWritable(f"{self.root}: {exc.strerror or exc}") from exc
        try:
            self.recover(actor)
            yield self.catalog
        except OSError as exc:
            self._catalogs.drop()  # staged changes may not be on disk; reload next time
            raise RegistryNotWritable(f"{self.root}: {exc.strerror or exc}") from exc
        except CatalogUnavailable:
            self._catalogs.drop()  # nothing staged was committed; the log keeps it
            raise
        finally:
            self.lock.release()

    def record(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append events to the custody log and fold them into the catalogue.

        Call only inside ``writing()``. The log is written (fsync) before the catalogue.
        """
        logged = self.log.append(events, self.signer())
        self.catalog.apply_all(logged)
        return [entry for entry, _, _ in logged]

    def save(self) -> None:
        """Write the catalogue (call inside ``writing()``)."""
        self.catalog.flush()
        self._catalogs.saved()

    def recover(self, actor: str = DEFAULT_ACTOR) -> list[dict[str, Any]]:
        """Finish or undo what an interrupted writer left (call under the lock).

        Returns:
            Notes on what was repaired (also logged as a ``registry.recovered`` event).
        """
        notes = self.log.recover()
        catalog = self.catalog
        head = self.log.read_head()
        if catalog.log_offset < head.offset:
            replayed = catalog.replay(self.log.lines(catalog.log_offset))
            notes.append({"repair": "catalogue caught up with the log", "entries": replayed})
        committed = []
        for sha, staged in self.vault.staged():
            if sha in catalog:
                self.vault.commit(sha, staged)
                committed.append(sha)
        if committed:
            notes.append(
                {"repair": "moved logged copies from staging into the vault", "sha256": committed}
            )
        dropped = self.vault.clear_staging()
        if dropped:
            notes.append(
                {
                    "repair": "deleted unlogged copies from staging (never accepted)",
                    "files": dropped,
                }
            )
        for tmp in iter_stray_temps(self.root):
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.store.clean()
        if notes:
            self.record([registry_recovered(actor, notes)])
            self.save()
        return notes

    # --- ingest and near-duplicates --------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | os.PathLike[str]],
        submission: Submission | None = None,
        **options: Any,
    ) -> list[IngestResult]:
        """Ingest files and folders; ``iter_ingest`` with the results collected."""
        return list(self.iter_ingest(paths, submission, **options))

    def iter_ingest(
        self,
        paths: Iterable[str | os.PathLike[str]],
        submission: Submission | None = None,
        **options: Any,
    ) -> Iterator[IngestResult]:
        """Walk, extract and store files, yielding one result per input file.

        Extraction runs outside the lock (in supervised worker processes with per-file
        time and memory limits when ``workers > 1`` or ``isolate``, or on ``executor``);
        results are committed in batches, each batch one log append and one catalogue
        write. A file whose bytes are already in the registry adds a sighting only. The
        options (``config``, ``workers``, ``executor``, ``in_flight``, ``max_pixels``,
        ``isolate``, ``limits``) are those of ``registry.ingesting.iter_ingest``.
        """
        return iter_ingest(self, self.near, paths, submission, **options)

    def import_(
        self,
        paths: Iterable[str | os.PathLike[str]],
        submission: Submission | None = None,
        **options: Any,
    ) -> list[ImportResult]:
        """Import exports (Telegram, yt-dlp, auto-archiver, web archives); ``iter_import``
        with the results collected."""
        return list(self.iter_import(paths, submission, **options))

    def iter_import(
        self,
        paths: Iterable[str | os.PathLike[str]],
        submission: Submission | None = None,
        **options: Any,
    ) -> Iterator[ImportResult]:
        """Import the collections at ``paths``, one result per media reference, each
        stored item with the exact sighting its source states. The options (``fmt``,
        ``channel_username``, ``config``, ``workers``, ``limits``) are those of
        ``registry.importing.iter_import``."""
        return iter_import(self, self.near, paths, submission, **options)

    @property
    def near(self) -> NearDuplicates:
        """The near-duplicate index and matcher of this registry."""
        if self._near is None:
            self._near = NearDuplicates(self.root, lambda: self.catalog, self._locate)
        return self._near

    def _locate(self, sha256: str) -> str:
        path = self.vault.path(sha256)
        return path if os.path.exists(path) else self.vault.staged_path(sha256)

    def match(
        self,
        paths: Iterable[str | os.PathLike[str]],
        config: MatchConfig | None = None,
        *,
        limits: Limits | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Compare files with the registry without ingesting them (see
        ``NearDuplicates.match_paths``); files are decoded in a supervised worker."""
        return self.near.match_paths(paths, config or MatchConfig(), limits=limits)

    def dupes(self, case: str | None = None) -> list[dict[str, Any]]:
        """Clusters of near-duplicates with their first sighting and differences."""
        return clusters(self.catalog.iter_items(), case=case)

    def reindex(
        self,
        *,
        actor: str = DEFAULT_ACTOR,
        config: MatchConfig | None = None,
        everything: bool = False,
        find: bool = True,
        limits: Limits | None = None,
    ) -> dict[str, Any]:
        """Re-hash stored items with the current hash versions (logged; see
        ``registry.reindexing``)."""
        return reindex(
            self,
            self.near,
            actor,
            config or MatchConfig(),
            everything=everything,
            find=find,
            limits=limits,
        )

    # --- reading ------------------------------------------------------------------------

    def show(self, ref: str) -> dict[str, Any]:
        """The item whose sha256 is ``ref`` or starts with it.

        Raises:
            ItemNotFound, AmbiguousPrefix
        """
        catalog = self.catalog
        doc = catalog.get(catalog.resolve(ref))
        assert doc is not None
        return present(doc)

    def list_items(
        self, case: str | None = None, order: str = "stored"
    ) -> Iterator[dict[str, Any]]:
        """Every item (of one case), in the order first stored, or ``order="sha256"``."""
        for doc in self.catalog.iter_items(case, order):
            yield present(doc)

    def verify(self, *, actor: str = DEFAULT_ACTOR, record: bool = True) -> VerifyReport:
        """Check the whole registry and log the run; every problem is in the report.

        The registry is recovered first (finishing what a crash interrupted). When the
        log cannot be recovered (cut short, or broken past its head) nothing is appended
        to it: the report says what is wrong.
        """
        try:
            with self.writing(actor):
                report = check(self)
                if record:
                    problems = [p.to_dict() for p in report.problems]
                    details = {
                        "ok": report.ok,
                        "entries": report.entries,
                        "items": report.items,
                        "problems": problems[:100],
                    }
                    self.record([verify_run(actor, details)])
                    self.save()
        except CustodyLogError:
            report = check(self)
        return report

    def rebuild(self, *, actor: str = DEFAULT_ACTOR) -> int:
        """Rebuild the catalogue from the custody log; returns the number of items.

        The new catalogue replaces the old one whole (``CatalogStore.rebuild``): a crash
        leaves one or the other, and the next writer catches up from its position.
        """
        with self.writing(actor):
            items = self.store.rebuild(triples(self.log.lines(), stop=False))
            self._catalogs.drop()
            self.record([catalog_rebuilt(actor, items)])
            self.save()
            return items

    def custody(self, ref: str | None = None) -> Iterator[dict[str, Any]]:
        """The custody log, or the entries about one item."""
        sha = self.catalog.resolve(ref) if ref else None
        for entry in self.log.entries():
            if sha is None or entry.get("sha256") == sha:
                yield entry


#: What an interrupted ``init`` can leave in the folder before ``REGISTRY.json``.
_INIT_LEFTOVERS = {".lock", "keys", "vault", "catalog", LOG_FILE, HEAD_FILE}


def init_registry(root: str, *, actor: str = DEFAULT_ACTOR, catalog: str | None = None) -> Registry:
    """Create a registry at ``root`` (an absent or empty folder); ``catalog``: where
    its catalogue is kept (see ``Registry``).

    An ``init`` interrupted by a crash (its key made, its ``registry.created`` entry
    perhaps logged, its marker ``REGISTRY.json`` not yet written) is finished: the key
    and the logged entry are kept, never made twice.

    Raises:
        RegistryError: ``root`` is already a registry or holds other files.
    """
    root = os.path.abspath(root)
    if os.path.exists(os.path.join(root, "REGISTRY.json")):
        raise RegistryError(f"{root} is already a registry")
    os.makedirs(root, exist_ok=True)
    leftovers = {n for n in os.listdir(root) if not n.endswith(".tmp")} - _INIT_LEFTOVERS
    if leftovers:
        raise RegistryError(f"{root} is not empty ({', '.join(sorted(leftovers)[:3])} …)")
    reg = Registry(root, catalog=catalog)
    with reg.lock:
        if not os.path.exists(reg.log.path) and reg.catalog.log_seq:
            raise CatalogUnavailable(
                f"{reg.store.where} already holds another registry's catalogue: give each "
                "registry a database (or schema) of its own"
            )
        os.makedirs(reg.vault.root, exist_ok=True)
        # A crash during an earlier init may have left a key; reuse it, never overwrite.
        signer = reg.keys.signer() if reg.keys.has(INSTALLATION) else reg.keys.create()
        reg._signer = signer
        created = _interrupted_init(reg, root, actor)
        if created is None:
            details = {"registry_id": str(uuid.uuid4())}
            [created] = reg.record(
                [registry_created(actor, details["registry_id"], FORMAT, FORMAT_VERSION, signer.id)]
            )
            reg.save()
        pause_point("init.logged")
        info = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "registry_id": created["details"]["registry_id"],
            "created_at": created["time"],
            "created_by": created["actor"],
            "tool": {"name": TOOL_NAME, "version": __version__},
            "installation_key": signer.id,
        }
        atomic_write(
            os.path.join(root, "REGISTRY.json"), (json.dumps(info, indent=2) + "\n").encode()
        )
    return reg


def _interrupted_init(reg: Registry, root: str, actor: str) -> dict[str, Any] | None:
    """The ``registry.created`` entry an interrupted init logged (after recovering the
    log and the catalogue), or None when it logged nothing.

    Raises:
        RegistryError: The folder holds a custody log of more than an init.
    """
    if not os.path.exists(reg.log.path):
        return None
    reg.log.recover()  # a torn first line is cut: it was never accepted
    entries = list(reg.log.entries())
    if not entries:
        for path in (reg.log.path, reg.log.head_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        reg.store.discard()
        return None
    first = entries[0]
    if first.get("action") != REGISTRY_CREATED or any(
        e.get("action") not in (REGISTRY_CREATED, REGISTRY_RECOVERED) for e in entries[1:]
    ):
        raise RegistryError(f"{root} holds a custody log but no REGISTRY.json; not an init")
    reg.recover(actor)  # the catalogue catches up with the log (and the repair is logged)
    return first
