"""Taking files in: who submits them (``Submission``), what happened to each
(``IngestResult``), and the commit of extracted records in batches.

``iter_ingest`` walks the inputs and extracts them outside the writer lock (in
supervised worker processes or on an executor); every ``BATCH_SIZE`` records (or
``BATCH_SECONDS``) it takes the lock once and commits the batch: copy each new file into
staging, look for its near-duplicates, append the batch's custody entries (one log
append), move the copies into the vault, write the catalogue.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from ingest import MAX_PIXELS, EvidenceError, Extracted, Limits, extract_all, walk
from registry.custody import (
    ingest_failed,
    item_stored,
    metadata_extracted,
    neardup_found,
    sighting_added,
)
from registry.schema import STORED_FIELDS
from registry.session import Session
from registry.similarity import MatchConfig, NearDuplicates
from registry.timeutil import normalise_instant

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
            yield from commit(reg, near, batch, submission, config)
            batch, started = [], time.monotonic()
    if batch:
        yield from commit(reg, near, batch, submission, config)
    near.save()


def commit(
    reg: Session,
    near: NearDuplicates,
    batch: list[Extracted],
    sub: Submission,
    config: MatchConfig,
) -> list[IngestResult]:
    """Store one batch of records under the writer lock: one log append, one catalogue
    write. A file whose bytes are already in the registry adds a sighting only."""
    with reg.writing(sub.actor) as catalog:
        events: list[dict[str, Any]] = []
        results: list[IngestResult] = []
        staged: list[str] = []
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
            sha = rec.sha256
            if rec.ok and sha is not None and sha not in catalog and sha not in staged:
                try:
                    reg.vault.stage(rec.source or rec.path, sha)
                except EvidenceError as exc:
                    rec.error = {"code": exc.code, "message": exc.message}
                else:
                    staged.append(sha)
                    new_recs.append(rec)
                    result.status = "new"
                    events += _new_item_events(rec, sub, reg.vault.relpath(sha))
                    continue
            if rec.ok and sha is not None:
                result.status = "known"
                events.append(_sighting(rec, sub))
            else:
                error = rec.error or {"code": "InternalError", "message": "no record"}
                result.media_type = None
                result.error = f"{error['message']}"
                result.error_code = error["code"]
                details = {
                    "path": rec.path,
                    "name": rec.name,
                    "size": rec.size,
                    **sub.claims(),
                    "error": error,
                }
                events.append(ingest_failed(sub.actor, sha, details))
        events += _near_duplicates_of(near, new_recs, results, sub.actor, config)
        reg.record(events)
        for sha in staged:
            reg.vault.commit(sha)
        reg.save()
        near.committed()
    return results


def _near_duplicates_of(
    near: NearDuplicates,
    recs: list[Extracted],
    results: list[IngestResult],
    actor: str,
    config: MatchConfig,
) -> list[dict[str, Any]]:
    """``neardup.found`` events for freshly staged items; fills their results' matches.

    Each item is matched against the registry and the items before it in the batch, then
    added to the index.
    """
    events: list[dict[str, Any]] = []
    found: dict[str, list[dict[str, Any]]] = {}
    batch: dict[str, dict[str, Any]] = {}
    try:
        for rec in recs:
            sha = rec.sha256 or ""
            picture = features = None
            if rec.media_type == "image" and rec.hashes:
                # The worker's decode of these very bytes (checked against the vault
                # copy's hash), else the vault copy decoded again.
                features = rec.features if rec.picture is not None else None
                picture = rec.picture or near.picture(sha)
            rec.picture = rec.features = None
            matches = near.matches(rec, picture, config, [sha], batch, features)
            found[sha] = matches
            events += [neardup_found(actor, sha, m) for m in matches]
            batch[sha] = {
                "media_type": rec.media_type,
                "hashes": rec.hashes,
                "duration_s": rec.duration_s,
            }
            near.add(sha, rec.hashes)
    except BaseException:
        near.forget()  # the index may hold items that will not be committed
        raise
    for result in results:
        if result.status == "new" and result.sha256 in found:
            result.near_duplicates = found[result.sha256]
    return events


def _sighting(rec: Extracted, sub: Submission) -> dict[str, Any]:
    details = {
        **sub.claims(),
        "original_name": rec.name,
        "original_path": rec.path,
        "file_mtime": rec.file_mtime,
        "file_ctime": rec.file_ctime,
    }
    return sighting_added(sub.actor, rec.sha256 or "", details)


def _new_item_events(rec: Extracted, sub: Submission, vault_rel: str) -> list[dict[str, Any]]:
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
    return [
        item_stored(sub.actor, sha, stored),
        metadata_extracted(sub.actor, sha, meta),
        _sighting(rec, sub),
    ]
