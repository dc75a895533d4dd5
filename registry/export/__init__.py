"""Exports: the registry's items and their custody for people and tools outside it.

``export(reg, fmt, out, ...)`` selects items (by id, by case, or all), gathers the log
entries about them, writes one of the formats in ``FORMATS`` under ``out`` (which must
be absent or empty; nothing is written outside it) and logs an ``export`` event naming
the format, the folder, the items and the digests of what was written.

* ``jsonl``: ``custody.jsonl`` (log lines, byte for byte) and ``items.jsonl``;
* ``csv``: ``custody.csv`` and ``items.csv``;
* ``html``: ``report.html``, one self-contained file;
* ``bagit``: a BagIt bag with a standalone verifier (``bag.py``);
* ``case``: ``case.jsonld``, CASE/UCO JSON-LD.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from registry.custody import (
    CHECKPOINT_TIMESTAMPED,
    Checkpoint,
    export_made,
    latest,
    log_leaves,
    make_checkpoint,
    root_of,
    utc_now,
)
from registry.custody.timestamps import stored_tokens
from registry.errors import ExportError, NoCheckpoint, UnsafePath
from registry.export.bag import export_bag
from registry.export.case import export_case
from registry.export.gather import Filter, Selection, gather, select_items
from registry.export.html import export_html
from registry.export.safepath import OutDir, Written, safe_name
from registry.export.tables import export_csv, export_jsonl
from registry.fsutil import pause_point

if TYPE_CHECKING:
    from registry.session import Session


@dataclass
class _Job:
    reg: Session
    sel: Selection
    out: OutDir
    actor: str
    checkpoint: Checkpoint | None = None


FORMATS: dict[str, Callable[[_Job], list[Written]]] = {
    "jsonl": lambda job: export_jsonl(job.sel, job.out),
    "csv": lambda job: export_csv(job.sel, job.out),
    "html": lambda job: export_html(
        job.sel, job.out, job.reg.vault.path, utc_now(), timestamps=_tokens(job)
    ),
    "bagit": lambda job: export_bag(
        job.sel,
        job.out,
        vault_path=job.reg.vault.path,
        keys=job.reg.keys,
        leaves=log_leaves(job.reg, job.checkpoint.size if job.checkpoint else 0),
        checkpoint=job.checkpoint,  # type: ignore[arg-type]
        actor=job.actor,
        timestamps=_tokens(job),
    ),
    "case": lambda job: export_case(job.sel, job.out, job.actor),
}


def _tokens(job: _Job) -> list[dict[str, Any]]:
    """Every RFC 3161 token logged (a bag takes those of its checkpoint and earlier
    ones: the token of a checkpoint is logged after it)."""
    logged = [e for e in job.reg.log.entries() if e.get("action") == CHECKPOINT_TIMESTAMPED]
    return stored_tokens(job.reg.root, logged)


#: Formats whose package is proven against a checkpoint (made if none covers it).
NEEDS_CHECKPOINT = {"bagit"}
#: Formats whose files are listed one by one in the export event (a bag's manifest
#: digest stands for all of its files).
_LIST_FILES_UP_TO = 50


@dataclass
class ExportResult:
    """What an export wrote."""

    format: str
    out: str
    items: list[str]
    files: list[Written] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None
    seq: int = 0
    #: Steps that failed on single items (the export went on without them).
    warnings: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "out": self.out,
            "items": self.items,
            "files": [{"path": w.rel, "size": w.size, "sha256": w.sha256} for w in self.files],
            "checkpoint": self.checkpoint,
            "seq": self.seq,
            "warnings": self.warnings,
        }


def export(
    reg: Session,
    fmt: str,
    out: str | os.PathLike[str],
    *,
    refs: Sequence[str] = (),
    case: str | None = None,
    actor: str,
    only: Filter | None = None,
) -> ExportResult:
    """Export items and their custody in format ``fmt`` to the folder ``out``.

    ``only``: what the reader may see (``registry.accounts.Scope``, for a user of the
    team server); the package then holds nothing else.

    Raises:
        ExportError: Unknown format, ``out`` not empty, nothing to export.
        ItemNotFound, AmbiguousPrefix: A ref names no single item (of the case).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    shas = select_items(reg, list(refs), case)
    if not shas:
        raise ExportError("no item to export")
    checkpoint = None
    upto = None
    if fmt in NEEDS_CHECKPOINT:
        checkpoint = _covering_checkpoint(reg, shas, case, actor, only)
        upto = checkpoint.size
    sel = gather(reg, shas, case, upto, only)
    folder = OutDir(os.fspath(out))
    files = FORMATS[fmt](_Job(reg, sel, folder, actor, checkpoint))
    if fmt not in NEEDS_CHECKPOINT:  # a bag carries them under data/keys/
        keys = json.dumps(sel.public_keys, indent=2, sort_keys=True) + "\n"
        files.append(folder.write("public_keys.json", data=keys.encode("ascii")))
    listed = files if len(files) <= _LIST_FILES_UP_TO else [w for w in files if "/" not in w.rel]
    details = {
        "format": fmt,
        "out": folder.root,
        "case": case,
        "items": shas,
        "entries": len(sel.lines),
        "files": {w.rel: w.sha256 for w in listed},
        "file_count": len(files),
        "checkpoint": {"size": checkpoint.size, "root": checkpoint.root} if checkpoint else None,
    }
    if sel.warnings:
        details["warnings"] = sel.warnings[:100]
    pause_point("export.written")
    with reg.writing(actor):
        [entry] = reg.record([export_made(actor, details)])
        reg.save()
    return ExportResult(
        fmt, folder.root, shas, files, details["checkpoint"], entry["seq"], sel.warnings
    )


def _covering_checkpoint(
    reg: Session, shas: list[str], case: str | None, actor: str, only: Filter | None = None
) -> Checkpoint:
    """The latest checkpoint if it covers every entry about the items, else a new one."""
    needed = max((ll.index + 1 for ll in gather(reg, shas, case, None, only).lines), default=0)
    try:
        cp = latest(reg)
    except NoCheckpoint:
        cp = None
    if cp is not None and root_of(log_leaves(reg, cp.size)).hex() != cp.root:
        # Signing a new tree head over a log that contradicts the last one would launder
        # the change; the user must find out what happened first.
        raise ExportError(f"the log no longer matches checkpoint {cp.file}; run verify")
    if cp is not None and cp.size >= needed:
        return cp
    return make_checkpoint(reg, actor=actor)


__all__ = [
    "FORMATS",
    "ExportError",
    "ExportResult",
    "Filter",
    "UnsafePath",
    "export",
    "safe_name",
]
