"""Verification: the custody chain, its signatures and head, vault fixity, and the
agreement of the catalogue with the log. Every problem is collected and reported, each
a named ``Problem`` carrying its data.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .catalog import Catalog
from .custody import GENESIS, entry_hash, signed_message

if TYPE_CHECKING:
    from .core import Registry


@dataclass
class Problem:
    """A problem found by verify."""

    detail: str = ""

    @property
    def code(self) -> str:
        return type(self).__name__

    @property
    def message(self) -> str:
        base = (type(self).__doc__ or self.code).strip().rstrip(".")
        return f"{base}: {self.detail}" if self.detail else base

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **asdict(self)}


@dataclass
class UnparseableEntry(Problem):
    """A custody log line is not a JSON object (edited or corrupted)."""

    line: int = 0


@dataclass
class TornEntry(Problem):
    """The custody log ends in an incomplete line."""

    line: int = 0


@dataclass
class SequenceError(Problem):
    """Custody entries are missing, inserted or out of order."""

    line: int = 0
    expected_seq: int = 0
    found_seq: int | None = None


@dataclass
class BrokenChain(Problem):
    """A custody entry does not point to the hash of the entry before it."""

    seq: int = 0


@dataclass
class BadSignature(Problem):
    """A custody entry's signature does not match its content (edited entry)."""

    seq: int = 0
    key: str | None = None


@dataclass
class UnknownKey(Problem):
    """A custody entry is signed by a key the registry does not publish."""

    seq: int = 0
    key: str | None = None


@dataclass
class TruncatedLog(Problem):
    """The custody log is shorter than its recorded head: entries were cut off."""

    head_seq: int = 0
    log_seq: int = 0


@dataclass
class HeadMismatch(Problem):
    """The custody log's last entry is not the one its head file records."""

    head_seq: int = 0
    log_seq: int = 0


@dataclass
class MissingFile(Problem):
    """A logged item's bytes are missing from the vault."""

    sha256: str = ""
    path: str = ""


@dataclass
class HashMismatch(Problem):
    """A vault file's bytes do not match the hash recorded for it."""

    sha256: str = ""
    path: str = ""
    algorithm: str = ""
    expected: str = ""
    found: str = ""


@dataclass
class ExtraFile(Problem):
    """The vault holds a file that no custody entry vouches for."""

    path: str = ""


@dataclass
class CatalogMismatch(Problem):
    """A catalogue record differs from what the custody log says."""

    sha256: str = ""
    field: str = ""


@dataclass
class VerifyReport:
    """The outcome of ``verify``: ``ok`` only when no problem was found."""

    problems: list[Problem] = field(default_factory=list)
    entries: int = 0
    items: int = 0
    vault_files: int = 0
    bytes_hashed: int = 0

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
            "problems": [p.to_dict() for p in self.problems],
        }


def check(reg: Registry) -> VerifyReport:
    """Check everything; modifies nothing."""
    report = VerifyReport()
    fold = _check_log(reg, report)
    _check_vault(reg, fold, report)
    _check_catalog(reg.catalog, fold, report)
    report.items = len(fold)
    return report


def _check_log(reg: Registry, report: VerifyReport) -> Catalog:
    fold = Catalog(None)
    prev_hash, expected, last_seq = GENESIS, 1, 0
    keys = reg.keys
    for number, raw in enumerate(reg.log.lines(), start=1):
        report.entries += 1
        if not raw.complete:
            report.problems.append(TornEntry(f"line {number}", line=number))
            break
        entry = raw.entry
        if entry is None or not isinstance(entry.get("seq"), int):
            report.problems.append(UnparseableEntry(f"line {number}", line=number))
            prev_hash = entry_hash(raw.line)
            expected += 1
            continue
        seq = entry["seq"]
        if seq != expected:
            report.problems.append(
                SequenceError(
                    f"line {number} has seq {seq}, expected {expected}",
                    line=number,
                    expected_seq=expected,
                    found_seq=seq,
                )
            )
        if entry.get("prev") != prev_hash:
            report.problems.append(BrokenChain(f"entry {seq}", seq=seq))
        kid = entry.get("key")
        if kid not in keys.public_keys():
            report.problems.append(UnknownKey(f"entry {seq}, key {kid}", seq=seq, key=kid))
        elif not keys.verify(kid, signed_message(entry), str(entry.get("sig", ""))):
            report.problems.append(BadSignature(f"entry {seq}", seq=seq, key=kid))
        digest = entry_hash(raw.line)
        fold.apply(entry, entry_hash=digest, end_offset=raw.offset + len(raw.line) + 1)
        prev_hash, expected, last_seq = digest, seq + 1, seq
    head = reg.log.read_head()
    if head.seq > last_seq or head.offset > reg.log.size():
        report.problems.append(
            TruncatedLog(
                f"head says {head.seq} entries, the log has {last_seq}",
                head_seq=head.seq,
                log_seq=last_seq,
            )
        )
    elif head.seq != last_seq or head.hash != prev_hash:
        report.problems.append(
            HeadMismatch(
                f"head says entry {head.seq}, log ends at {last_seq}",
                head_seq=head.seq,
                log_seq=last_seq,
            )
        )
    return fold


def _check_vault(reg: Registry, fold: Catalog, report: VerifyReport) -> None:
    vault = reg.vault
    expected = {}
    for doc in fold.iter_items():
        expected[doc["sha256"]] = doc
    for name, path in vault.iter_ids():
        report.vault_files += 1
        if name not in expected or path != vault.path(name):
            report.problems.append(
                ExtraFile(os.path.relpath(path, reg.root), path=os.path.relpath(path, reg.root))
            )
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
    for sha in sorted(on_disk & logged):
        have, want = catalog.get(sha) or {}, fold.get(sha) or {}
        for key in sorted(set(have) | set(want)):
            if have.get(key) != want.get(key):
                report.problems.append(
                    CatalogMismatch(f"{sha[:16]}… field {key!r}", sha256=sha, field=key)
                )
