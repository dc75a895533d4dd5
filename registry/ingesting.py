"""Taking files in: who submits them (``Submission``), what happened to each
(``IngestResult``), and the commit of extracted records in batches.

``iter_ingest`` walks the inputs and extracts them outside the writer lock (in
supervised worker processes or on an executor); every ``BATCH_SIZE`` records (or
``BATCH_SECONDS``) it takes the lock once and commits the batch: copy each new file into
staging, look for its near-duplicates, append the batch's custody entries (one log
append), move the copies into the vault, write the catalogue.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest import MAX_PIXELS, EvidenceError, Extracted, Limits, extract_all, walk
from registry.custody import (
    ingest_failed,
    item_stored,
    metadata_extracted,
    neardup_found,
    sighting_added,
)
from registry.errors import StepFailed
from registry.fsutil import pause_point
from registry.intake import IngestJob, publish
from registry.schema import STORED_FIELDS
from registry.session import Session
from registry.similarity import MatchConfig, NearDuplicates
from registry.store import RunStaging
from registry.timeutil import normalise_instant

if TYPE_CHECKING:
    from concurrent.futures import Executor

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

    def claims(self) -> dict[str, Any]:
        """What the submitter asserts, as every sighting of this submission records it."""
        return {
            "case": self.case,
            "source_url": self.source_url,
            "posted_at": self.posted_at,
            "forwarded_from": self.forwarded_from,
            "note": self.note,
        }


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
    #: Known items only: the item already had this post's sighting; none was added.
    repeated: bool = False
    #: What the file's Content Credentials say: ``state``, ``codes``, ``altered`` (and
    #: ``remote_url``) of its ``metadata["c2pa"]`` (None when the file failed).
    c2pa: dict[str, Any] | None = None

    @property
    def failed_steps(self) -> list[dict[str, str]]:
        """Warnings of steps that failed on this file (it was stored without them)."""
        return [w for w in self.warnings if w.get("code") == StepFailed.__name__]

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
        if self.c2pa is not None:
            out["c2pa"] = self.c2pa
        return out


def iter_ingest(
    reg: Session,
    near: NearDuplicates,
    paths: Iterable[str | os.PathLike[str]],
    submission: Submission | None = None,
    *,
    config: MatchConfig | None = None,
    workers: int = 1,
    executor: Executor | None = None,
    in_flight: int = 16,
    max_pixels: int = MAX_PIXELS,
    isolate: bool = False,
    limits: Limits | None = None,
) -> Iterator[IngestResult]:
    """Walk, extract and store files, yielding one result per input file.

    Args:
        reg: The registry.
        near: Its near-duplicate index and matcher.
        paths: Files and folders.
        submission: Who submits them and what they claim.
        config: Near-duplicate thresholds (default: the calibrated ones).
        workers: Extraction processes (``ingest.extract_all``).
        executor: A ``concurrent.futures.Executor`` to extract on instead (a cluster).
        in_flight: Files submitted to ``executor`` at a time (about twice its workers
            keeps a cluster busy; memory grows with it).
        max_pixels: Refuse images with more pixels than this.
        isolate: Supervised worker processes even for one worker.
        limits: Per-file time and memory limits of supervised workers.
    """
    submission = submission or Submission()
    config = config or MatchConfig()
    # In this process one file at a time, the coordinator does every step itself; with
    # workers, they copy and match (``registry.intake``), and it does what needs the lock.
    in_workers = executor is not None or workers > 1 or isolate
    entries = walk(paths)
    first = next(entries, None)
    if first is None:
        return  # nothing to take in: no run, no index opened
    with (
        worker_run(reg, near, submission, config) if in_workers else contextlib.nullcontext() as run
    ):
        records = extract_all(
            itertools.chain([first], entries),
            workers=workers,
            executor=executor,
            in_flight=in_flight,
            max_pixels=max_pixels,
            isolate=isolate,
            limits=limits,
            job=run or "extract",
        )
        batch: list[Extracted] = []
        started = time.monotonic()
        for rec in records:
            batch.append(rec)
            if len(batch) >= BATCH_SIZE or time.monotonic() - started >= BATCH_SECONDS:
                yield from commit(reg, near, batch, submission, config)
                batch, started = [], time.monotonic()
        if batch:
            yield from commit(reg, near, batch, submission, config)
        near.save()


@contextlib.contextmanager
def worker_run(
    reg: Session, near: NearDuplicates, sub: Submission, config: MatchConfig
) -> Iterator[IngestJob]:
    """A run whose workers copy and match (``registry.intake``): the job they run, with
    a locked staging folder of this run and the index cache (and log offset) their view
    of the registry starts from. The folder is removed when the run ends."""
    staging = RunStaging(reg.vault.staging).open()
    try:
        with reg.writing(sub.actor) as catalog:
            offset = catalog.log_offset
            stamp = near.start_run(offset)
            publish(reg.root, offset)
        yield IngestJob(reg.root, staging, config, stamp, offset)
    finally:
        near.end_run()
        staging.close()


def commit(
    reg: Session,
    near: NearDuplicates,
    batch: list[Extracted],
    sub: Submission,
    config: MatchConfig,
    claims: Sequence[dict[str, Any]] | None = None,
) -> list[IngestResult]:
    """Store one batch of records under the writer lock: one log append, one catalogue
    write. A file whose bytes are already in the registry adds a sighting only.

    Every per-file step is contained: a step that fails on one file (its near-duplicate
    search, say) becomes a ``StepFailed`` warning on that file, stored with it, and the
    rest of the batch commits.

    Args:
        claims: Per record, sighting facts that complete or override the submission's
            (an imported post's URL, time, channel, provenance...). A sighting of a post
            the item already has (``sighting_key``) is not recorded twice.
    """
    claims = claims or [{} for _ in batch]
    with reg.writing(sub.actor) as catalog:
        results: list[IngestResult] = []
        staged: list[str] = []
        copies: dict[str, str] = {}  # the workers' copies of new items, by sha256
        for rec in batch:
            sha = rec.sha256
            fresh = rec.ok and sha is not None and sha not in catalog and sha not in staged
            if fresh and _stage(reg, rec, copies):
                staged.append(sha or "")
                results.append(_result(rec, "new"))
                continue
            _discard(rec)
            results.append(_result(rec, "known" if rec.ok and rec.sha256 else "error"))
        new = [rec for rec, res in zip(batch, results, strict=True) if res.status == "new"]
        found = _near_duplicates_of(near, new, config, copies)
        events: list[dict[str, Any]] = []
        seen = _SeenSightings(catalog)
        for rec, result, claim in zip(batch, results, claims, strict=True):
            if result.status == "new":
                vault_rel = reg.vault.relpath(rec.sha256 or "")
                events += _new_item_events(rec, sub, vault_rel, claim)
                seen.add(rec.sha256 or "", claim)
                result.near_duplicates = found.get(rec.sha256 or "", [])
            elif result.status == "known":
                if seen.add(rec.sha256 or "", claim):
                    events.append(_sighting(rec, sub, claim))
                else:
                    result.repeated = True
            else:
                events.append(_failed(rec, sub, claim))
        for rec in new:
            sha = rec.sha256 or ""
            events += [neardup_found(sub.actor, sha, m) for m in found.get(sha, [])]
        pause_point("commit.staged")
        reg.record(events)
        pause_point("commit.logged")
        for sha in staged:
            reg.vault.commit(sha, copies.get(sha))
        pause_point("commit.vaulted")
        reg.save()
        pause_point("commit.saved")
        near.committed(catalog.log_offset)
        publish(reg.root, catalog.log_offset)
    return results


def _stage(reg: Session, rec: Extracted, copies: dict[str, str]) -> bool:
    """A new file's copy in staging: the one its worker made (``copies`` notes where),
    or one made now. On failure the record gets its error."""
    made = rec.handover.pop("staged", None)
    if made and os.path.isfile(made):
        copies[rec.sha256 or ""] = made
        return True
    try:
        reg.vault.stage(rec.source or rec.path, rec.sha256 or "")
    except EvidenceError as exc:
        rec.error = {"code": exc.code, "message": exc.message}
        return False
    return True


def _discard(rec: Extracted) -> None:
    """Delete a worker's copy of a file that is not stored (known, or failed)."""
    made = rec.handover.pop("staged", None)
    if made:
        with contextlib.suppress(OSError):
            os.unlink(made)


def _result(rec: Extracted, status: str) -> IngestResult:
    result = IngestResult(
        rec.path,
        status,
        rec.sha256,
        rec.media_type,
        name=rec.name,
        size=rec.size,
        warnings=rec.warnings,
    )
    found = (rec.metadata or {}).get("c2pa")
    if status != "error" and isinstance(found, dict):
        keys = ("state", "codes", "altered", "remote_url")
        result.c2pa = {k: found[k] for k in keys if k in found}
    if status == "error":
        error = rec.error or {"code": "InternalError", "message": "no record"}
        result.media_type = None
        result.error = f"{error['message']}"
        result.error_code = error["code"]
    return result


def _failed(rec: Extracted, sub: Submission, claim: dict[str, Any]) -> dict[str, Any]:
    details = {
        "path": rec.path,
        "name": rec.name,
        "size": rec.size,
        **sub.claims(),
        **claim,
        "error": rec.error or {"code": "InternalError", "message": "no record"},
    }
    return ingest_failed(sub.actor, rec.sha256, details)


def sighting_key(sighting: dict[str, Any]) -> tuple[str, ...] | None:
    """What makes two sightings the same post seen again: the source, the channel and
    post id (or URL), and for web archives the capture time. None for sightings typed
    by hand (each submission is its own sighting)."""
    kind = sighting.get("source_kind")
    if not kind:
        return None
    if sighting.get("post_id"):
        where = (str(sighting.get("channel") or ""), str(sighting["post_id"]))
    else:
        where = (str(sighting.get("source_url") or ""), str(sighting.get("original_path") or ""))
    return (str(kind), *where, str(sighting.get("archived_at") or ""))


class _SeenSightings:
    """The post sightings items already have, to record each post once per item."""

    def __init__(self, catalog: Any) -> None:
        self._catalog = catalog
        self._keys: dict[str, set[tuple[str, ...]]] = {}

    def add(self, sha256: str, claim: dict[str, Any]) -> bool:
        """False when ``sha256`` already has this post's sighting (else it is noted)."""
        key = sighting_key(claim)
        if key is None:
            return True
        if sha256 not in self._keys:
            doc = self._catalog.get(sha256) or {}
            found = (sighting_key(s) for s in doc.get("sightings") or [])
            self._keys[sha256] = {k for k in found if k is not None}
        if key in self._keys[sha256]:
            return False
        self._keys[sha256].add(key)
        return True


def _near_duplicates_of(
    near: NearDuplicates,
    recs: list[Extracted],
    config: MatchConfig,
    copies: dict[str, str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The near-duplicates of freshly staged items, by sha256.

    Each item is matched against the registry and the items before it in the batch, then
    added to the index. A search that fails on one item is a ``StepFailed`` warning on
    that item (it is stored without its near-duplicates); the others go on.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    batch: dict[str, dict[str, Any]] = {}
    try:
        for rec in recs:
            sha = rec.sha256 or ""
            try:
                found[sha] = _matches_of(near, rec, config, batch)
            except Exception as exc:  # one file's search must not sink the batch
                rec.warn("near_duplicates", StepFailed.because(exc))
            finally:
                rec.picture = rec.features = None
            batch[sha] = {
                "media_type": rec.media_type,
                "hashes": rec.hashes,
                "duration_s": rec.duration_s,
            }
            near.add(sha, rec.hashes, (copies or {}).get(sha))
    except BaseException:
        near.forget()  # the index may hold items that will not be committed
        raise
    return found


def _matches_of(
    near: NearDuplicates, rec: Extracted, config: MatchConfig, batch: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    sha = rec.sha256 or ""
    picture = features = None
    if rec.media_type == "image" and rec.hashes:
        # The worker's decode of these very bytes (checked against the vault copy's
        # hash), else the vault copy decoded again.
        features = rec.features if rec.picture is not None else None
        picture = rec.picture or near.picture(sha)
    return near.matches(rec, picture, config, [sha], batch, features)


def _sighting(
    rec: Extracted, sub: Submission, claim: dict[str, Any] | None = None
) -> dict[str, Any]:
    details = {
        **sub.claims(),
        "original_name": rec.name,
        "original_path": rec.path,
        "file_mtime": rec.file_mtime,
        "file_ctime": rec.file_ctime,
        **(claim or {}),
    }
    return sighting_added(sub.actor, rec.sha256 or "", details)


def _new_item_events(
    rec: Extracted, sub: Submission, vault_rel: str, claim: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    sha = rec.sha256 or ""
    stored = {k: getattr(rec, k) for k in STORED_FIELDS if k != "vault"}
    stored["vault"] = vault_rel
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
    if rec.manifest_store is not None:  # the C2PA manifest store, when the file has one
        meta["manifest_store"] = rec.manifest_store
    return [
        item_stored(sub.actor, sha, stored),
        metadata_extracted(sub.actor, sha, meta),
        _sighting(rec, sub, claim),
    ]
