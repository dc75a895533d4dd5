"""Verification: the custody log (chain, signatures, head), its checkpoints and their
trusted timestamps, the public keys, vault fixity, and the agreement of the catalogue
with the log. Every problem is collected and reported, each a named ``Problem``
(``problems.py``) carrying its data.

When the log itself is damaged, the problems that follow from the damage are not
repeated: a checkpoint no longer matching an edited log is noted in the checkpoint's
status, and the catalogue (built from the undamaged log) is not compared with the
damaged one. Vault files are checked against both, so no change there goes unseen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from registry.custody import (
    CHECKPOINT,
    CHECKPOINT_TIMESTAMPED,
    Checkpoint,
    LogAnalysis,
    analyse,
    iter_checkpoint_files,
)
from registry.custody.timestamps import check_logged, token_files
from registry.problems import (
    BadCheckpointSignature,
    BadSignature,
    BrokenChain,
    CatalogMismatch,
    CheckpointMismatch,
    DeletedEntries,
    EditedEntry,
    ExtraFile,
    HashMismatch,
    HeadMismatch,
    InsertedEntry,
    MissingCheckpoint,
    MissingFile,
    Problem,
    ReorderedEntries,
    ReplacedKey,
    SequenceError,
    TimestampInvalid,
    TornEntry,
    TruncatedLog,
    UnknownKey,
    UnparseableEntry,
    UnreadableCheckpoint,
)
from registry.store import Catalog

if TYPE_CHECKING:
    from registry.session import Session

__all__ = [
    "BadCheckpointSignature",
    "BadSignature",
    "BrokenChain",
    "CatalogMismatch",
    "CheckpointMismatch",
    "DeletedEntries",
    "EditedEntry",
    "ExtraFile",
    "HashMismatch",
    "HeadMismatch",
    "InsertedEntry",
    "MissingCheckpoint",
    "MissingFile",
    "Problem",
    "ReorderedEntries",
    "ReplacedKey",
    "SequenceError",
    "TimestampInvalid",
    "TornEntry",
    "TruncatedLog",
    "UnknownKey",
    "UnparseableEntry",
    "UnreadableCheckpoint",
    "VerifyReport",
    "check",
]


@dataclass
class VerifyReport:
    """The outcome of ``verify``: ``ok`` only when no problem was found."""

    problems: list[Problem] = field(default_factory=list)
    entries: int = 0
    items: int = 0
    vault_files: int = 0
    bytes_hashed: int = 0
    #: Each checkpoint: ``{"file", "size", "root", "status"}``.
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    #: Each trusted timestamp: ``{"file", "checkpoint", "tsa", "gen_time", "status"...}``.
    timestamps: list[dict[str, Any]] = field(default_factory=list)
    #: False when the log is damaged, so the catalogue could not be compared with it.
    catalog_checked: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "items": self.items,
            "vault_files": self.vault_files,
            "bytes_hashed": self.bytes_hashed,
            "checkpoints": self.checkpoints,
            "timestamps": self.timestamps,
            "catalog_checked": self.catalog_checked,
            "problems": [p.to_dict() for p in self.problems],
        }


def check(reg: Session) -> VerifyReport:
    """Check everything; modifies nothing."""
    report = VerifyReport()
    files = list(iter_checkpoint_files(reg.root))
    registry_id = _registry_id(reg)
    signed = [cp for _, cp, _ in files if cp is not None and cp.verify(reg.keys)]
    longest = max(signed, key=lambda cp: cp.size, default=None)
    analysis = analyse(
        reg.log,
        reg.keys,
        root_sizes=[cp.size for cp in signed],
        claimed_size=longest.size if longest else 0,
        claimed_by=f"checkpoint {longest.file}" if longest else "",
    )
    report.entries = analysis.lines
    report.problems.extend(analysis.problems)
    fold = Catalog(None)
    logged_checkpoints: list[dict[str, Any]] = []
    logged_timestamps: list[dict[str, Any]] = []
    for entry, digest, end in analysis.entries(reg.log):
        fold.apply(entry, entry_hash=digest, end_offset=end)
        if entry.get("action") == CHECKPOINT:
            logged_checkpoints.append(entry)
        elif entry.get("action") == CHECKPOINT_TIMESTAMPED:
            logged_timestamps.append(entry)
    _check_checkpoints(reg, files, registry_id, analysis, logged_checkpoints, report)
    _check_timestamps(reg, files, logged_timestamps, report)
    _check_vault(reg, fold, None if analysis.intact else reg.catalog, report)
    if analysis.intact:
        _check_catalog(reg.catalog, fold, report)
    else:
        report.catalog_checked = False
    report.items = len(fold)
    return report


def _registry_id(reg: Session) -> str | None:
    try:
        return str(reg.info.get("registry_id"))
    except (OSError, ValueError):
        return None


def _check_checkpoints(
    reg: Session,
    files: list[tuple[str, Checkpoint | None, str]],
    registry_id: str | None,
    analysis: LogAnalysis,
    logged: list[dict[str, Any]],
    report: VerifyReport,
) -> None:
    replaced = {k for k, v in reg.keys.published_files().items() if v != k}
    by_file: dict[str, Checkpoint] = {}
    for rel, cp, why in files:
        if cp is None:
            report.problems.append(UnreadableCheckpoint(f"{rel}: {why}", file=rel))
            continue
        by_file[rel] = cp
        summary = {"file": rel, "size": cp.size, "root": cp.root, "status": "ok"}
        report.checkpoints.append(summary)
        if registry_id and cp.registry_id != registry_id:
            summary["status"] = "other registry"
            report.problems.append(
                UnreadableCheckpoint(f"{rel} is of registry {cp.registry_id}", file=rel)
            )
            continue
        if not cp.verify(reg.keys):
            if cp.key in replaced:
                summary["status"] = "key replaced"  # ReplacedKey says so once
                continue
            summary["status"] = "bad signature"
            unknown = cp.key not in reg.keys.public_keys()
            report.problems.append(
                BadCheckpointSignature(
                    f"{rel}" + (f" (key {cp.key} is not published)" if unknown else ""),
                    file=rel,
                    size=cp.size,
                    key=cp.key,
                )
            )
            continue
        root = analysis.roots.get(cp.size)
        if root is None:
            summary["status"] = "beyond the end of the log"  # TruncatedLog says so
            continue
        if root.hex() == cp.root:
            continue
        if analysis.first_damage and analysis.first_damage <= cp.size:
            summary["status"] = "does not match the damaged log (see the problems above)"
            continue
        summary["status"] = "does not match the log"
        report.problems.append(
            CheckpointMismatch(
                f"{rel}: root {cp.root[:16]}… signed, the log's first {cp.size} entries give "
                f"{root.hex()[:16]}…",
                file=rel,
                size=cp.size,
                expected=cp.root,
                found=root.hex(),
            )
        )
    for entry in logged:
        details = entry.get("details") or {}
        rel = str(details.get("file") or "")
        cp = by_file.get(rel)
        if cp is None or cp.root != details.get("root") or cp.sig != details.get("sig"):
            why = "is gone" if cp is None else "differs from the one logged"
            report.problems.append(
                MissingCheckpoint(
                    f"{rel or '?'} (logged by entry {entry.get('seq')}) {why}",
                    file=rel,
                    seq=int(entry.get("seq") or 0),
                )
            )


def _check_timestamps(
    reg: Session,
    files: list[tuple[str, Checkpoint | None, str]],
    logged: list[dict[str, Any]],
    report: VerifyReport,
) -> None:
    """Every logged token re-checked offline; a token file no entry logs (a checkpoint
    interrupted between writing it and logging it) is listed, and proves nothing."""
    by_file = {rel: cp for rel, cp, _ in files if cp is not None}
    seen = set()
    for entry in logged:
        details = entry.get("details") or {}
        summary, failures = check_logged(reg.root, details, by_file.get(details.get("checkpoint")))
        seen.add(summary["file"])
        summary["status"] = (
            "ok"
            if not failures
            else "invalid: " + ", ".join(dict.fromkeys(f.check for f in failures))
        )
        report.timestamps.append(summary)
        for failure in failures:
            report.problems.append(
                TimestampInvalid(
                    f"{summary['file'] or '?'} by {summary['tsa']}: {failure}",
                    file=summary["file"],
                    checkpoint=str(summary["checkpoint"] or ""),
                    tsa=str(summary["tsa"] or ""),
                    failed=failure.check,
                    seq=int(entry.get("seq") or 0),
                )
            )
    for rel in token_files(reg.root):
        if rel not in seen:
            report.timestamps.append({"file": rel, "status": "not logged"})


def _check_vault(
    reg: Session, fold: Catalog, catalog: Catalog | None, report: VerifyReport
) -> None:
    """Re-hash every vault file; ``catalog`` adds the items it knows when the log is
    damaged, so a change to their bytes is still found."""
    vault = reg.vault
    expected = {doc["sha256"]: doc for doc in fold.iter_items()}
    if catalog is not None:
        for doc in catalog.iter_items():
            expected.setdefault(doc["sha256"], doc)
    for name, path in vault.iter_ids():
        report.vault_files += 1
        if name not in expected or path != vault.path(name):
            rel = os.path.relpath(path, reg.root)
            report.problems.append(ExtraFile(rel, path=rel))
    for sha, doc in expected.items():
        rel = vault.relpath(sha)
        if not os.path.exists(vault.path(sha)):
            report.problems.append(MissingFile(f"{rel}", sha256=sha, path=rel))
            continue
        try:
            digests = vault.digests(sha)
        except OSError as exc:
            report.problems.append(MissingFile(f"{rel} unreadable: {exc}", sha256=sha, path=rel))
            continue
        report.bytes_hashed += digests.size
        for alg, want in (("sha256", sha), ("sha1", doc.get("sha1")), ("md5", doc.get("md5"))):
            got = getattr(digests, alg)
            if want and got != want:
                report.problems.append(
                    HashMismatch(
                        f"{rel} {alg} is {got}, logged {want}",
                        sha256=sha,
                        path=rel,
                        algorithm=alg,
                        expected=want,
                        found=got,
                    )
                )
                if alg == "sha256":
                    break  # the other digests of changed bytes differ too; one says it


def _check_catalog(catalog: Catalog, fold: Catalog, report: VerifyReport) -> None:
    on_disk = set(catalog.shas())
    logged = set(fold.shas())
    for sha in sorted(logged - on_disk):
        report.problems.append(
            CatalogMismatch(f"{sha} is in the log, not the catalogue", sha256=sha, field="*")
        )
    for sha in sorted(on_disk - logged):
        report.problems.append(
            CatalogMismatch(f"{sha} is in the catalogue, not the log", sha256=sha, field="*")
        )
    have_views, want_views = catalog.views, fold.views
    for name in sorted(set(have_views) | set(want_views)):
        if have_views.get(name) != want_views.get(name):
            report.problems.append(
                CatalogMismatch(f"view {name!r} differs from the log's", sha256="", field=name)
            )
    for sha in sorted(on_disk & logged):
        have, want = catalog.get(sha) or {}, fold.get(sha) or {}
        for key in sorted(set(have) | set(want)):
            if have.get(key) != want.get(key):
                report.problems.append(
                    CatalogMismatch(f"{sha[:16]}… field {key!r}", sha256=sha, field=key)
                )
