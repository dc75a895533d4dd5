"""Re-hashing stored items with the current hashers and frame method, reading the
Content Credentials of items stored before they were read, and logging the
near-duplicates found among them (``evidence reindex``).

Three steps, so that no decoding happens under the writer lock: list the stale items
(under the lock, briefly); hash them (or read their credentials) again from the vault in
a supervised worker process (per-file time and memory limits, no lock held: the vault is
write-once, so the bytes cannot change meanwhile); then log the changes in batches, each
batch one lock hold. Every change is a custody entry (``hashes.updated``,
``credentials.read``, ``neardup.found``) and the run is summed up in a ``reindex.run``
entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ingest import FRAME_METHOD_VERSION, Extracted, Limits, WalkEntry, extract_all, versions_tag
from registry.custody import credentials_read, hashes_updated, neardup_found, reindex_run
from registry.errors import StepFailed
from registry.session import Session
from registry.similarity import MatchConfig, NearDuplicates

#: Items whose changes are logged per custody-log append.
REINDEX_BATCH = 64


def reindex(
    reg: Session,
    near: NearDuplicates,
    actor: str,
    config: MatchConfig,
    *,
    everything: bool = False,
    find: bool = True,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Re-hash items from the vault with the current hashers (photos) and frame-hashing
    method (videos), then look for near-duplicates among them.

    Args:
        reg: The registry.
        near: Its near-duplicate index and matcher.
        actor: Who runs it.
        config: Matching thresholds.
        everything: Re-hash every item, not only those hashed by other versions (and
            retry videos whose frames could not be hashed), and read every item's
            Content Credentials again, not only those of items stored before they were
            read.
        find: Look for near-duplicates of the re-hashed items afterwards.
        limits: Per-file limits of the worker that decodes.
    """
    tag = versions_tag()
    summary: dict[str, Any] = {
        "hashers": tag,
        "frame_method": FRAME_METHOD_VERSION,
        "images": 0,
        "videos": 0,
        "rehashed": 0,
        "updated": 0,
        "failed": [],
        "near_duplicates": 0,
        "credentials": {"read": 0, "updated": 0, "states": {}},
    }
    todo: list[tuple[str, str]] = []
    unread: list[str] = []
    with reg.writing(actor) as catalog:
        for doc in catalog.iter_items():
            kind = doc.get("media_type")
            if kind not in ("image", "video"):
                continue
            summary["images" if kind == "image" else "videos"] += 1
            if everything or _stale(doc, tag):
                todo.append((doc["sha256"], kind))
            if everything or "c2pa" not in (doc.get("metadata") or {}):
                unread.append(doc["sha256"])
    rehashed: list[str] = []
    pending: list[dict[str, Any]] = []
    for sha, rec in _rehash(reg, todo, limits):
        if _take(reg, sha, rec, summary, actor, pending):
            rehashed.append(sha)
        if len(pending) >= REINDEX_BATCH:
            _log(reg, actor, pending)
    _log(reg, actor, pending)
    _read_credentials(reg, unread, limits, summary, actor)
    summary["rehashed"] = len(rehashed)
    if find and rehashed:
        failed = summary["failed"]
        summary["near_duplicates"] = _find_among(reg, near, rehashed, actor, config, failed)
    with reg.writing(actor):
        failed = summary["failed"]
        details = {**summary, "failed": failed[:100], "thresholds": config.to_dict()}
        reg.record([reindex_run(actor, details)])
        reg.save()
    near.save()
    return summary


def _rehash(
    reg: Session, todo: list[tuple[str, str]], limits: Limits | None
) -> Iterator[tuple[str, Extracted]]:
    """``(sha256, record)`` for each item, photos first, hashed in a supervised worker."""
    for kind in ("image", "video"):
        shas = [sha for sha, k in todo if k == kind]
        entries = (WalkEntry(reg.vault.path(sha)) for sha in shas)
        records = extract_all(entries, isolate=True, limits=limits, job=f"rehash_{kind}")
        yield from zip(shas, records, strict=True)


def _take(
    reg: Session,
    sha: str,
    rec: Extracted,
    summary: dict[str, Any],
    actor: str,
    pending: list[dict[str, Any]],
) -> bool:
    """Whether ``sha`` was hashed again; new hashes are queued in ``pending`` as a
    ``hashes.updated`` event, a failure is noted in ``summary["failed"]``."""
    if rec.error is not None:
        summary["failed"].append({"sha256": sha, "error": rec.error["message"]})
        return False
    doc = reg.catalog.get(sha) or {}
    frames = (rec.metadata or {}).get("frame_hashes")
    if doc.get("media_type") == "video" and frames is None:
        # Frames that could not be hashed now never replace stored ones.
        why = "; ".join(w["message"] for w in rec.warnings)
        summary["failed"].append({"sha256": sha, "error": why or "no frame could be hashed"})
        return False
    old_frames = (doc.get("metadata") or {}).get("frame_hashes")
    if (
        rec.hashes == doc.get("hashes")
        and rec.tools == doc.get("tools")
        and (frames is None or frames == old_frames)
    ):
        return True
    summary["updated"] += 1
    details: dict[str, Any] = {
        "hashes": rec.hashes,
        "tools": rec.tools,
        "warnings": rec.warnings,
        "reason": "reindex",
    }
    if frames is not None:
        details["frame_hashes"] = frames
    pending.append(hashes_updated(actor, sha, details))
    return True


def _read_credentials(
    reg: Session,
    shas: list[str],
    limits: Limits | None,
    summary: dict[str, Any],
    actor: str,
) -> None:
    """Read the Content Credentials of ``shas`` from the vault in a supervised worker,
    and log a ``credentials.read`` entry for each whose reading differs from the
    catalogue's (an item stored before they were read has none)."""
    counts = summary["credentials"]
    entries = (WalkEntry(reg.vault.path(sha)) for sha in shas)
    records = extract_all(entries, isolate=True, limits=limits, job="read_credentials")
    pending: list[dict[str, Any]] = []
    for sha, rec in zip(shas, records, strict=True):
        if rec.error is not None:
            summary["failed"].append({"sha256": sha, "error": rec.error["message"]})
            continue
        counts["read"] += 1
        found = rec.metadata.get("c2pa") or {}
        state = str(found.get("state"))
        counts["states"][state] = counts["states"].get(state, 0) + 1
        doc = reg.catalog.get(sha) or {}
        had = (doc.get("metadata") or {}).get("c2pa")
        if had == found and doc.get("manifest_store") == rec.manifest_store:
            continue
        counts["updated"] += 1
        details = {
            "c2pa": found,
            "manifest_store": rec.manifest_store,
            "warnings": rec.warnings,
            "tools": {"c2pa-python": rec.tools.get("c2pa-python", "absent")},
            "reason": "reindex",
        }
        pending.append(credentials_read(actor, sha, details))
        if len(pending) >= REINDEX_BATCH:
            _log(reg, actor, pending)
    _log(reg, actor, pending)


def _log(reg: Session, actor: str, pending: list[dict[str, Any]]) -> None:
    if pending:
        with reg.writing(actor):
            reg.record(pending)
            reg.save()
        pending.clear()


def _find_among(
    reg: Session,
    near: NearDuplicates,
    shas: list[str],
    actor: str,
    config: MatchConfig,
    failed: list[dict[str, Any]],
) -> int:
    """Log near-duplicate pairs of ``shas`` not yet known; returns how many. An item
    whose search fails is added to ``failed``; the others go on."""
    total = 0
    logged: set[frozenset[str]] = set()  # pairs found in this run, either way round
    for start in range(0, len(shas), REINDEX_BATCH):
        with reg.writing(actor) as catalog:
            events = []
            for sha in shas[start : start + REINDEX_BATCH]:
                doc = catalog.get(sha) or {}
                known = {p["sha256"] for p in doc.get("near_duplicates") or []}
                try:
                    found = near.stored_matches(doc, config, exclude=[sha, *known])
                except Exception as exc:  # one item's search must not stop the run
                    why = StepFailed.because(exc, "near-duplicate search").message
                    failed.append({"sha256": sha, "error": why})
                    continue
                for m in found:
                    if frozenset((sha, m["sha256"])) not in logged:
                        logged.add(frozenset((sha, m["sha256"])))
                        events.append(neardup_found(actor, sha, m))
            if events:
                reg.record(events)
                reg.save()
                total += len(events)
    return total


def _stale(doc: dict[str, Any], tag: str) -> bool:
    """Hashed by other versions than the current code's (a video whose frames could not
    be hashed at all is retried only when everything is re-hashed)."""
    if doc.get("media_type") == "image":
        return ((doc.get("tools") or {}).get("hashers")) != tag
    frames = (doc.get("metadata") or {}).get("frame_hashes")
    return frames is not None and frames.get("v") != FRAME_METHOD_VERSION
