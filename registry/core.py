"""The registry: opening, locking, recovery, and the ingest of extracted records.

On-disk layout of a registry folder::

    REGISTRY.json        format marker (written last by init)
    custody.jsonl        the chain-of-custody log: the source of truth
    custody.head.json    last sequence number, entry hash and byte length of the log
    catalog/             the catalogue: index.json and TinyDB shard files, a view of the log
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
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from filelock import FileLock, Timeout

from ingest import Extracted, extract_all, walk
from ingest.errors import (
    CustodyLogError,
    EvidenceError,
    NotARegistry,
    RegistryError,
    RegistryLocked,
    RegistryNotWritable,
)
from ingest.image import MAX_PIXELS
from ingest.supervisor import Limits

from .catalog import Catalog
from .catalog import rebuild as rebuild_catalog
from .custody import CustodyLog, entry_hash, utc_now
from .dupes import clusters
from .fsutil import atomic_write, iter_stray_temps, pause_point
from .keys import INSTALLATION, KeyRing, Signer
from .match import MatchConfig
from .similar import NearDuplicates
from .timeutil import normalise_instant
from .vault import Vault
from .verify import VerifyReport, check
from .version import TOOL_NAME, __version__

FORMAT = "evidence-registry"
FORMAT_VERSION = 1
DEFAULT_ACTOR = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
#: Records committed per lock hold; and at most this many seconds between commits.
BATCH_SIZE = 64
BATCH_SECONDS = 2.0


@dataclass
class Submission:
    """Who submits files, and what they claim about where they came from."""

    actor: str = DEFAULT_ACTOR
    case: str | None = None
    source_url: str | None = None
    posted_at: str | None = None
    forwarded_from: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.posted_at:
            try:
                self.posted_at = normalise_instant(self.posted_at)
            except ValueError as exc:
                raise ValueError(f"posted_at {self.posted_at!r} is not ISO 8601") from exc


@dataclass
class IngestResult:
    """What happened to one input file."""

    path: str
    status: str  # "new" | "known" | "error"
    sha256: str | None
    media_type: str | None
    error: str | None = None
    error_code: str | None = None
    name: str = ""
    size: int | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    #: New items only: the registered items this one is a near-duplicate of.
    near_duplicates: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "path": self.path,
            "status": self.status,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "error": self.error,
            "error_code": self.error_code,
            "size": self.size,
            "warnings": self.warnings,
        }
        if self.near_duplicates is not None:
            out["near_duplicates"] = self.near_duplicates
        return out


class Registry:
    """An evidence registry folder. Use ``Registry.open`` or ``init_registry``."""

    def __init__(self, root: str, *, lock_timeout: float = 600.0) -> None:
        self.root = os.path.abspath(root)
        self.keys = KeyRing(os.path.join(self.root, "keys"))
        self.log = CustodyLog(
            os.path.join(self.root, "custody.jsonl"),
            os.path.join(self.root, "custody.head.json"),
            self.keys,
        )
        self.vault = Vault(os.path.join(self.root, "vault"))
        self.catalog_path = os.path.join(self.root, "catalog")
        self.lock = FileLock(os.path.join(self.root, ".lock"), timeout=lock_timeout)
        self._catalog: Catalog | None = None
        self._catalog_stamp: tuple[int, int, int] | None = None
        self._signer: Signer | None = None
        #: Near-duplicate thresholds used by ingest, match and reindex.
        self.match_config = MatchConfig()
        self._near: NearDuplicates | None = None

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, root: str, *, create: bool = False, actor: str = DEFAULT_ACTOR) -> Registry:
        """Open the registry at ``root``; with ``create``, make it first if absent.

        Raises:
            NotARegistry: ``root`` exists but is not a registry (and ``create`` is off or
                the folder holds other files).
        """
        marker = os.path.join(root, "REGISTRY.json")
        if not os.path.exists(marker):
            if not create:
                raise NotARegistry(f"{root} (run `evidence init` first)")
            return init_registry(root, actor=actor)
        try:
            with open(marker, "rb") as fh:
                info = json.loads(fh.read())
        except (OSError, ValueError) as exc:
            raise NotARegistry(f"{root}: unreadable REGISTRY.json ({exc})") from exc
        if info.get("format") != FORMAT:
            raise NotARegistry(f"{root}: REGISTRY.json is not an evidence registry marker")
        if int(info.get("version", 0)) > FORMAT_VERSION:
            raise RegistryError(f"{root} was written by a newer version of the tool")
        return cls(root)

    @property
    def info(self) -> dict[str, Any]:
        with open(os.path.join(self.root, "REGISTRY.json"), "rb") as fh:
            return json.loads(fh.read())

    @property
    def catalog(self) -> Catalog:
        """The catalogue as last written (reloaded when another process changed it)."""
        stamp = _stamp(os.path.join(self.catalog_path, "index.json"))
        if self._catalog is None or stamp != self._catalog_stamp:
            self._catalog = Catalog(self.catalog_path)
            self._catalog_stamp = stamp
        return self._catalog

    def signer(self) -> Signer:
        if self._signer is None:
            self._signer = self.keys.signer(INSTALLATION)
        return self._signer

    # --- writing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, actor: str = DEFAULT_ACTOR) -> Iterator[Catalog]:
        """Hold the writer lock, with the registry recovered and the catalogue current.

        An operating-system error while writing (disk full, read-only file system, lost
        permissions) becomes ``RegistryNotWritable``. What was written before it stays
        valid: every file is replaced atomically and the log is cut back to its last
        whole entry, so the next writer's ``recover`` finds a consistent registry.
        """
        try:
            self.lock.acquire()
        except Timeout as exc:
            raise RegistryLocked(f"{self.root} (waited {self.lock.timeout:.0f} s)") from exc
        except OSError as exc:
            raise RegistryNotWritable(f"{self.root}: {exc.strerror or exc}") from exc
        try:
            self.recover(actor)
            yield self.catalog
        except OSError as exc:
            self._catalog = None  # staged changes may not be on disk; reload next time
            raise RegistryNotWritable(f"{self.root}: {exc.strerror or exc}") from exc
        finally:
            self.lock.release()

    def record(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append events to the custody log and fold them into the catalogue.

        Call only inside ``writing()``. The log is written (fsync) before the catalogue.
        """
        logged = self.log.append(events, self.signer())
        catalog = self.catalog
        for entry, digest, end in logged:
            catalog.apply(entry, entry_hash=digest, end_offset=end)
        return [entry for entry, _, _ in logged]

    def save(self) -> None:
        """Write the catalogue (call inside ``writing()``)."""
        catalog = self.catalog
        catalog.flush()
        self._catalog_stamp = _stamp(os.path.join(self.catalog_path, "index.json"))

    def recover(self, actor: str = DEFAULT_ACTOR) -> list[dict[str, Any]]:
        """Finish or undo what an interrupted writer left (call under the lock).

        Returns:
            Notes on what was repaired (also logged as a ``registry.recovered`` event).
        """
        notes = self.log.recover()
        catalog = self.catalog
        head = self.log.read_head()
        if catalog.log_offset < head.offset:
            replayed = 0
            offset = catalog.log_offset
            for raw in self.log.lines(catalog.log_offset):
                if raw.entry is None or not raw.complete:
                    break
                offset = raw.offset + len(raw.line) + 1
                if raw.entry.get("seq", 0) <= catalog.log_seq:
                    continue  # already folded: replay never applies an entry twice
                catalog.apply(raw.entry, entry_hash=entry_hash(raw.line), end_offset=offset)
                replayed += 1
            notes.append({"repair": "catalogue caught up with the log", "entries": replayed})
        committed = []
        for sha in self.vault.staged():
            if sha in catalog:
                self.vault.commit(sha)
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
        for leftover in (self.catalog_path + ".rebuild", self.catalog_path + ".old"):
            shutil.rmtree(leftover, ignore_errors=True)
        if notes:
            self.record(
                [{"actor": actor, "action": "registry.recovered", "details": {"repairs": notes}}]
            )
            self.save()
        return notes

    # --- ingest -------------------------------------------------------------------------

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
        *,
        workers: int = 1,
        executor: Executor | None = None,
        in_flight: int = 16,
        max_pixels: int = MAX_PIXELS,
        isolate: bool = False,
        limits: Limits | None = None,
    ) -> Iterator[IngestResult]:
        """Walk, extract and store files, yielding one result per input file.

        Extraction runs outside the lock (in supervised worker processes with per-file
        time and memory limits when ``workers > 1`` or ``isolate``, or on ``executor``);
        results are committed in batches, each batch one log append and one catalogue
        write. A file whose bytes are already in the registry adds a sighting only.
        ``in_flight``: files submitted to ``executor`` at a time (about twice its
        workers keeps a cluster busy; memory grows with it).
        """
        submission = submission or Submission()
        records = extract_all(
            walk(paths),
            workers=workers,
            executor=executor,
            in_flight=in_flight,
            max_pixels=max_pixels,
            isolate=isolate,
            limits=limits,
        )
        batch: list[Extracted] = []
        started = time.monotonic()
        for rec in records:
            batch.append(rec)
            if len(batch) >= BATCH_SIZE or time.monotonic() - started >= BATCH_SECONDS:
                yield from self._commit(batch, submission)
                batch, started = [], time.monotonic()
        if batch:
            yield from self._commit(batch, submission)
        self.near.save()

    def _commit(self, batch: list[Extracted], sub: Submission) -> list[IngestResult]:
        with self.writing(sub.actor) as catalog:
            events: list[dict[str, Any]] = []
            results: list[IngestResult] = []
            staged: list[str] = []
            fresh: set[str] = set()
            new_recs: list[Extracted] = []
            for rec in batch:
                result = IngestResult(
                    rec.path,
                    "error",
                    rec.sha256,
                    rec.media_type,
                    name=rec.name,
                    size=rec.size,
                    warnings=rec.warnings,
                )
                results.append(result)
                if (
                    rec.ok
                    and rec.sha256 is not None
                    and rec.sha256 not in catalog
                    and rec.sha256 not in fresh
                ):
                    try:
                        self.vault.stage(rec.source or rec.path, rec.sha256)
                    except EvidenceError as exc:
                        rec.error = {"code": exc.code, "message": exc.message}
                    else:
                        staged.append(rec.sha256)
                        fresh.add(rec.sha256)
                        new_recs.append(rec)
                        result.status = "new"
                        events += _new_item_events(rec, sub, self.vault.relpath(rec.sha256))
                        continue
                if rec.ok and rec.sha256 is not None:
                    result.status = "known"
                    events.append(_sighting_event(rec, sub))
                else:
                    assert rec.error is not None
                    result.media_type = None
                    result.error = f"{rec.error['message']}"
                    result.error_code = rec.error["code"]
                    events.append(
                        {
                            "actor": sub.actor,
                            "action": "ingest.failed",
                            "sha256": rec.sha256,
                            "details": {
                                "path": rec.path,
                                "name": rec.name,
                                "size": rec.size,
                                **_submitted(sub),
                                "error": rec.error,
                            },
                        }
                    )
            events += self._near_duplicates_of(new_recs, results, sub.actor)
            pause_point("commit.staged")
            self.record(events)
            pause_point("commit.logged")
            for sha in staged:
                self.vault.commit(sha)
            pause_point("commit.vaulted")
            self.save()
            pause_point("commit.saved")
            self.near.committed()
        return results

    # --- near-duplicates ----------------------------------------------------------------

    @property
    def near(self) -> NearDuplicates:
        """The near-duplicate index and matcher of this registry."""
        if self._near is None:
            self._near = NearDuplicates(self)
        return self._near

    def _near_duplicates_of(
        self, recs: list[Extracted], results: list[IngestResult], actor: str
    ) -> list[dict[str, Any]]:
        """``neardup.found`` events for new items; fills their results' matches."""
        try:
            events, found = self.near.check_new(recs, actor, self.match_config)
        except BaseException:
            self.near.forget()  # the index may hold items that will not be committed
            raise
        for result in results:
            if result.status == "new" and result.sha256 in found:
                result.near_duplicates = found[result.sha256]
        return events

    def match(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[dict[str, Any]]:
        """Compare files with the registry without ingesting them (see
        ``NearDuplicates.match_paths``); uses ``match_config``."""
        return self.near.match_paths(paths, self.match_config)

    def dupes(self, case: str | None = None) -> list[dict[str, Any]]:
        """Clusters of near-duplicates with their first sighting and differences."""
        return clusters(self.catalog.iter_items(), case=case)

    def reindex(
        self, *, actor: str = DEFAULT_ACTOR, everything: bool = False, find: bool = True
    ) -> dict[str, Any]:
        """Re-hash image items from the vault with the current hash versions (logged)."""
        return self.near.reindex(actor, self.match_config, everything=everything, find=find)

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
                    self.record(
                        [
                            {
                                "actor": actor,
                                "action": "verify.run",
                                "details": {
                                    "ok": report.ok,
                                    "entries": report.entries,
                                    "items": report.items,
                                    "problems": problems[:100],
                                },
                            }
                        ]
                    )
                    self.save()
        except CustodyLogError:
            report = check(self)
        return report

    def rebuild(self, *, actor: str = DEFAULT_ACTOR) -> int:
        """Rebuild the catalogue from the custody log; returns the number of items."""
        with self.writing(actor):
            building, old = self.catalog_path + ".rebuild", self.catalog_path + ".old"
            shutil.rmtree(building, ignore_errors=True)
            fresh = rebuild_catalog(self._log_triples(), building)
            fresh.flush()
            pause_point("rebuild.built")
            shutil.rmtree(old, ignore_errors=True)
            # A crash between these renames leaves no catalogue: the next writer then
            # replays the whole log, which is what a rebuild does anyway.
            os.replace(self.catalog_path, old)
            pause_point("rebuild.between_renames")
            os.replace(building, self.catalog_path)
            pause_point("rebuild.renamed")
            shutil.rmtree(old, ignore_errors=True)
            self._catalog = None
            self.record(
                [{"actor": actor, "action": "catalog.rebuilt", "details": {"items": len(fresh)}}]
            )
            self.save()
            return len(fresh)

    def _log_triples(self) -> Iterator[tuple[dict[str, Any], str, int]]:
        for raw in self.log.lines():
            if raw.entry is not None and raw.complete:
                yield raw.entry, entry_hash(raw.line), raw.offset + len(raw.line) + 1

    def custody(self, ref: str | None = None) -> Iterator[dict[str, Any]]:
        """The custody log, or the entries about one item."""
        sha = self.catalog.resolve(ref) if ref else None
        for entry in self.log.entries():
            if sha is None or entry.get("sha256") == sha:
                yield entry


def init_registry(root: str, *, actor: str = DEFAULT_ACTOR) -> Registry:
    """Create a registry at ``root`` (an absent or empty folder).

    Raises:
        RegistryError: ``root`` is already a registry or holds other files.
    """
    root = os.path.abspath(root)
    if os.path.exists(os.path.join(root, "REGISTRY.json")):
        raise RegistryError(f"{root} is already a registry")
    os.makedirs(root, exist_ok=True)
    leftovers = set(os.listdir(root)) - {".lock", "keys", "vault"}
    if leftovers:
        raise RegistryError(f"{root} is not empty ({', '.join(sorted(leftovers)[:3])} …)")
    reg = Registry(root)
    with reg.lock:
        os.makedirs(reg.vault.root, exist_ok=True)
        # A crash during an earlier init may have left a key; reuse it, never overwrite.
        signer = reg.keys.signer() if reg.keys.has(INSTALLATION) else reg.keys.create()
        reg._signer = signer
        registry_id = str(uuid.uuid4())
        reg.record(
            [
                {
                    "actor": actor,
                    "action": "registry.created",
                    "details": {
                        "registry_id": registry_id,
                        "format": FORMAT,
                        "format_version": FORMAT_VERSION,
                        "installation_key": signer.id,
                    },
                }
            ]
        )
        reg.save()
        info = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "registry_id": registry_id,
            "created_at": utc_now(),
            "created_by": actor,
            "tool": {"name": TOOL_NAME, "version": __version__},
            "installation_key": signer.id,
        }
        atomic_write(
            os.path.join(root, "REGISTRY.json"), (json.dumps(info, indent=2) + "\n").encode()
        )
    return reg


def present(doc: dict[str, Any]) -> dict[str, Any]:
    """An item as shown to users and scripts (the ``show``/``list`` JSON)."""
    keys = (
        "sha256",
        "sha1",
        "md5",
        "size",
        "media_type",
        "mime",
        "format",
        "width",
        "height",
        "duration_s",
        "metadata",
        "exif",
        "hashes",
        "sightings",
        "near_duplicates",
        "first_seen",
        "cases",
        "notes",
        "warnings",
        "vault",
        "stored_at",
    )
    return {k: doc.get(k) for k in keys}


def _submitted(sub: Submission) -> dict[str, Any]:
    return {
        "case": sub.case,
        "source_url": sub.source_url,
        "posted_at": sub.posted_at,
        "forwarded_from": sub.forwarded_from,
        "note": sub.note,
    }


def _sighting_event(rec: Extracted, sub: Submission) -> dict[str, Any]:
    return {
        "actor": sub.actor,
        "action": "sighting.added",
        "sha256": rec.sha256,
        "details": {
            **_submitted(sub),
            "original_name": rec.name,
            "original_path": rec.path,
            "file_mtime": rec.file_mtime,
            "file_ctime": rec.file_ctime,
        },
    }


def _new_item_events(rec: Extracted, sub: Submission, vault_rel: str) -> list[dict[str, Any]]:
    stored = {
        "sha1": rec.sha1,
        "md5": rec.md5,
        "size": rec.size,
        "media_type": rec.media_type,
        "mime": rec.mime,
        "format": rec.format,
        "vault": vault_rel,
    }
    meta = {
        "width": rec.width,
        "height": rec.height,
        "duration_s": rec.duration_s,
        "metadata": rec.metadata,
        "exif": rec.exif,
        "hashes": rec.hashes,
        "warnings": rec.warnings,
        "tools": rec.tools,
        "record_version": rec.record_version,
    }
    return [
        {"actor": sub.actor, "action": "item.stored", "sha256": rec.sha256, "details": stored},
        {"actor": sub.actor, "action": "metadata.extracted", "sha256": rec.sha256, "details": meta},
        _sighting_event(rec, sub),
    ]


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
