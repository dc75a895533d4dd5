"""Importing the collections investigators make (``evidence import``): Telegram Desktop
exports, yt-dlp downloads, auto-archiver runs and web archives, each media reference
with the exact sighting its source states.

The route: the sources' documents are found by their content (``ingest.sources``) and
stored first, write-once in the vault like media (an item of ``media_type``
``"document"``), so every sighting can name its ``provenance``: the document's SHA-256
and the record inside it. Then each document's references are streamed: the media
files are extracted in supervised workers (as ``ingest`` does) and committed in
batches with their sighting facts (``registry.ingesting.commit``); a post whose file the
export does not hold is logged as ``sighting.missing``; what is not a photo or video is
skipped. Importing the same export again adds no sighting twice; a newer export of the
same channel adds only what is new. An ``import.run`` entry sums up each run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ingest import EvidenceError, Extracted, Limits, MultiHasher, WalkEntry, extract_all
from ingest.errors import RecordedHashMismatch, UnreadableExport
from ingest.sources import SOURCES, Document, MediaRef, Options, find_documents
from registry.custody import (
    import_run,
    item_stored,
    metadata_extracted,
    sighting_added,
    sighting_missing,
)
from registry.ingesting import (
    BATCH_SECONDS,
    BATCH_SIZE,
    Submission,
    commit,
    sighting_key,
    worker_run,
)
from registry.session import Session
from registry.similarity import MatchConfig, NearDuplicates

#: What ``--format`` takes.
FORMATS = ("auto", *SOURCES)
#: Sighting facts a result line shows (``evidence import --json``).
SHOWN = ("source_kind", "source_url", "posted_at", "archived_at", "post_id", "channel")


@dataclass
class ImportResult:
    """What happened to one media reference (or to a document that could not be read)."""

    path: str
    status: str  # "new" | "known" | "error" | "missing" | "skipped"
    sha256: str | None = None
    media_type: str | None = None
    error: str | None = None
    error_code: str | None = None
    sighting: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    near_duplicates: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "status": self.status,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "error": self.error,
            "error_code": self.error_code,
        }
        out.update({k: self.sighting.get(k) for k in SHOWN})
        out["provenance"] = self.provenance
        out["warnings"] = self.warnings
        if self.near_duplicates is not None:
            out["near_duplicates"] = self.near_duplicates
        return out


def iter_import(
    reg: Session,
    near: NearDuplicates,
    paths: Iterable[str | os.PathLike[str]],
    submission: Submission | None = None,
    *,
    fmt: str = "auto",
    channel_username: str | None = None,
    config: MatchConfig | None = None,
    workers: int = 1,
    limits: Limits | None = None,
) -> Iterator[ImportResult]:
    """Import exports, yielding one result per media reference.

    Args:
        reg: The registry.
        near: Its near-duplicate index and matcher.
        paths: Export folders or files (``result.json``, ``.info.json``, ``.warc.gz``...).
        submission: Who imports (``actor``) and into which ``case``.
        fmt: ``"auto"`` (recognise each source by its content) or one of ``SOURCES``.
        channel_username: A Telegram channel's public name, for ``t.me/<name>/<id>`` URLs.
        config: Near-duplicate thresholds.
        workers: Extraction processes (always supervised: per-file time and memory).
        limits: Per-file limits of the workers.
    """
    sub = submission or Submission()
    config = config or MatchConfig()
    run = _Run(reg, near, sub, config, workers, limits)
    with tempfile.TemporaryDirectory(prefix="evidence-import-") as spool:
        options = Options(channel_username=channel_username, spool=spool)
        found = list(find_documents([os.fspath(p) for p in paths], fmt))
        for path, problem in ((p, e) for p, docs, e in found if e is not None):
            run.count("error")
            yield ImportResult(path, "error", error=problem.message, error_code=problem.code)
        documents = [doc for _, docs, _ in found for doc in docs]
        yield from run.store_documents(documents)
        for doc in documents:
            if doc.path in run.documents:
                yield from run.import_document(doc, options)
    run.finish([d for d in documents if d.path in run.documents], fmt)


class _Run:
    """One ``evidence import``: its documents, counts and the posts already known."""

    def __init__(
        self,
        reg: Session,
        near: NearDuplicates,
        sub: Submission,
        config: MatchConfig,
        workers: int,
        limits: Limits | None,
    ) -> None:
        self.reg, self.near, self.sub, self.config = reg, near, sub, config
        self.workers, self.limits = workers, limits
        #: Document path -> its SHA-256 (stored or already in the vault).
        self.documents: dict[str, str] = {}
        self.per_document: dict[str, dict[str, int]] = {}
        self.counts: dict[str, int] = {}
        self._missing = _missing_keys(reg)

    def count(self, status: str, doc: Document | None = None) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        if doc is not None:
            tally = self.per_document.setdefault(doc.path, {})
            tally[status] = tally.get(status, 0) + 1

    # --- the documents ------------------------------------------------------------------

    def store_documents(self, documents: list[Document]) -> Iterator[ImportResult]:
        """Store each document write-once (its own item); an unreadable one is an error.

        Documents are hashed before the writer lock is taken (a WARC may be gigabytes);
        the vault's copy is hashed again, so one that changed meanwhile is refused."""
        failed: list[ImportResult] = []
        hashed: list[tuple[Document, str, dict[str, Any]]] = []
        for doc in documents:
            try:
                hashed.append((doc, *_digest(doc.path)))
            except OSError as exc:
                problem = UnreadableExport(f"{doc.path}: {exc.strerror or exc}")
                failed.append(
                    ImportResult(doc.path, "error", error=problem.message, error_code=problem.code)
                )
                self.count("error")
        with self.reg.writing(self.sub.actor) as catalog:
            events: list[dict[str, Any]] = []
            staged: list[str] = []
            for doc, sha, digests in hashed:
                try:
                    if sha not in catalog and sha not in staged:
                        self.reg.vault.stage(doc.path, sha)
                        staged.append(sha)
                        events += self._document_events(doc, sha, digests)
                except EvidenceError as exc:
                    self.count("error")
                    result = ImportResult(doc.path, "error", error=exc.message, error_code=exc.code)
                    failed.append(result)
                    continue
                self.documents[doc.path] = sha
            self.reg.record(events)
            for sha in staged:
                self.reg.vault.commit(sha)
            self.reg.save()
        yield from failed

    def _document_events(
        self, doc: Document, sha: str, digests: dict[str, Any]
    ) -> list[dict[str, Any]]:
        actor = self.sub.actor
        stored = {
            **digests,
            "media_type": "document",
            "mime": doc.mime,
            "format": doc.format,
            "vault": self.reg.vault.relpath(sha),
        }
        meta = {
            "width": None,
            "height": None,
            "duration_s": None,
            "metadata": {"document": {"source_kind": doc.kind, "format": doc.format}},
            "exif": {},
            "hashes": [],
            "warnings": [],
            "tools": {},
            "record_version": 1,
        }
        sighting = {
            **self.sub.claims(),
            "original_name": os.path.basename(doc.path),
            "original_path": doc.path,
            "source_kind": doc.kind,
        }
        return [
            item_stored(actor, sha, stored),
            metadata_extracted(actor, sha, meta),
            sighting_added(actor, sha, sighting),
        ]

    # --- the references -----------------------------------------------------------------

    def import_document(self, doc: Document, options: Options) -> Iterator[ImportResult]:
        """Every reference of one document, in its order; media committed in batches."""
        pending: deque[MediaRef] = deque()
        refs = _contained(doc, SOURCES[doc.kind].refs(doc, options))

        def entries() -> Iterator[WalkEntry]:
            for ref in refs:  # runs ahead of the loop below, in the extraction thread
                pending.append(ref)
                if _to_store(ref):
                    yield WalkEntry(ref.path or "")

        with worker_run(self.reg, self.near, self.sub, self.config) as job:
            records = extract_all(
                entries(), workers=self.workers, isolate=True, limits=self.limits, job=job
            )
            batch: list[tuple[MediaRef, Extracted | None]] = []
            started = time.monotonic()
            for rec in records:
                while not _to_store(pending[0]):
                    batch.append((pending.popleft(), None))
                batch.append((pending.popleft(), rec))
                if len(batch) >= BATCH_SIZE or time.monotonic() - started >= BATCH_SECONDS:
                    yield from self._flush(doc, batch)
                    batch, started = [], time.monotonic()
            batch += [(ref, None) for ref in pending]
            yield from self._flush(doc, batch)

    def _flush(
        self, doc: Document, batch: list[tuple[MediaRef, Extracted | None]]
    ) -> Iterator[ImportResult]:
        """Commit a batch's media, log its missing posts, and report each reference."""
        media = [(ref, rec) for ref, rec in batch if rec is not None]
        for ref, rec in media:
            _check_recorded_hash(ref, rec)
        claims = [self._claim(doc, ref) for ref, _ in media]
        committed = (
            commit(self.reg, self.near, [rec for _, rec in media], self.sub, self.config, claims)
            if media
            else []
        )
        done = iter(zip(committed, claims, strict=True))
        missing: list[dict[str, Any]] = []
        results = []
        for ref, rec in batch:
            if rec is None:
                results.append(self._unstored(doc, ref, missing))
                continue
            res, claim = next(done)
            results.append(
                ImportResult(
                    ref.original_path or rec.path,
                    res.status,
                    res.sha256,
                    res.media_type,
                    res.error,
                    res.error_code,
                    claim,
                    claim["provenance"],
                    ref.warnings + res.warnings,
                    res.near_duplicates,
                )
            )
            if ref.spooled and ref.path:
                _remove(ref.path)
        if missing:
            with self.reg.writing(self.sub.actor):
                self.reg.record(missing)
                self.reg.save()
        for result in results:
            self.count(result.status, doc)
            yield result

    def _claim(self, doc: Document, ref: MediaRef) -> dict[str, Any]:
        claim = {k: v for k, v in ref.sighting.items() if v is not None}
        claim["provenance"] = {"sha256": self.documents[doc.path], "record": ref.record}
        if ref.name:
            claim["original_name"] = ref.name
        if ref.original_path:
            claim["original_path"] = ref.original_path
        return claim

    def _unstored(
        self, doc: Document, ref: MediaRef, missing: list[dict[str, Any]]
    ) -> ImportResult:
        """A reference without media to store: missing (its post is logged once),
        skipped, or failed."""
        claim = self._claim(doc, ref)
        error = ref.error or {}
        status = ref.status if ref.status in ("missing", "skipped") else "error"
        if status == "error" and not error:
            error = {"code": "MalformedRecord", "message": "the record names no media file"}
        if status == "missing":
            key = sighting_key(claim)
            if key is None or key not in self._missing:
                details = {**self.sub.claims(), **claim, "reason": error}
                missing.append(sighting_missing(self.sub.actor, details))
                if key is not None:
                    self._missing.add(key)
        return ImportResult(
            ref.original_path or ref.path or ref.record,
            status,
            error=error.get("message"),
            error_code=error.get("code"),
            sighting=claim,
            provenance=claim["provenance"],
            warnings=ref.warnings,
        )

    def finish(self, documents: list[Document], fmt: str) -> None:
        """The run's ``import.run`` entry: what each document gave."""
        details = {
            "format": fmt,
            "case": self.sub.case,
            "counts": self.counts,
            "documents": [
                {
                    "sha256": self.documents[d.path],
                    "path": d.path,
                    "source_kind": d.kind,
                    "format": d.format,
                    "counts": self.per_document.get(d.path, {}),
                }
                for d in documents[:1000]
            ],
        }
        with self.reg.writing(self.sub.actor):
            self.reg.record([import_run(self.sub.actor, details)])
            self.reg.save()
        self.near.save()


def _to_store(ref: MediaRef) -> bool:
    return ref.status == "ok" and bool(ref.path)


def _contained(doc: Document, refs: Iterator[MediaRef]) -> Iterator[MediaRef]:
    """The document's references; a document that breaks midway ends with one error
    reference naming it (the references before it are imported)."""
    try:
        yield from refs
    except Exception as exc:  # a source's parser failing must not stop the import
        code = exc.code if isinstance(exc, EvidenceError) else UnreadableExport.__name__
        message = exc.message if isinstance(exc, EvidenceError) else str(exc)
        yield MediaRef(doc, "document", "error", error={"code": code, "message": message})


def _check_recorded_hash(ref: MediaRef, rec: Extracted) -> None:
    """A file must match the SHA-256 its collecting tool recorded, or it is not stored."""
    if ref.expected_sha256 and rec.ok and rec.sha256 != ref.expected_sha256.lower():
        error = RecordedHashMismatch(f"recorded {ref.expected_sha256[:16]}…, file {rec.sha256}")
        rec.error = {"code": error.code, "message": error.message}
        rec.media_type = None


def _missing_keys(reg: Session) -> set[tuple[str, ...]]:
    """The posts already logged as missing (so that importing again adds none twice)."""
    keys = set()
    for entry in reg.log.entries():
        if entry.get("action") == "sighting.missing":
            key = sighting_key(entry.get("details") or {})
            if key is not None:
                keys.add(key)
    return keys


def _digest(path: str) -> tuple[str, dict[str, Any]]:
    hasher = MultiHasher()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    d = hasher.digests()
    return d.sha256, {"sha1": d.sha1, "md5": d.md5, "size": d.size}


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
