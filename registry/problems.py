"""The named problems that ``verify`` reports, each a dataclass carrying its data.

A problem's docstring is its message; ``detail`` says where. The log problems name the
kind of tampering when it can be told apart from the evidence alone: an edited, deleted,
inserted or reordered entry, a truncated log, a replaced public key. The older, more
general names (``BrokenChain``, ``SequenceError``, ``BadSignature``) remain for what does
not fit one of those.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Problem:
    """A problem found by verify."""

    detail: str = ""

    @property
    def code(self) -> str:
        return type(self).__name__

    @property
    def message(self) -> str:
        base = " ".join((type(self).__doc__ or self.code).split()).rstrip(".")
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
class EditedEntry(Problem):
    """A custody entry was changed after it was written: its bytes are not the ones the
    chain recorded."""

    seq: int = 0
    line: int = 0
    reason: str = ""


@dataclass
class DeletedEntries(Problem):
    """Custody entries were deleted from inside the log."""

    first_seq: int = 0
    last_seq: int = 0
    count: int = 0
    line: int = 0


@dataclass
class InsertedEntry(Problem):
    """A line was inserted into the custody log that the chain does not vouch for."""

    line: int = 0
    after_seq: int = 0
    claimed_seq: int | None = None
    reason: str = ""


@dataclass
class ReorderedEntries(Problem):
    """Custody entries are intact but stand in a different order than they were written."""

    seqs: list[int] = field(default_factory=list)
    first_line: int = 0
    last_line: int = 0


@dataclass
class ReplacedKey(Problem):
    """A published public key file holds a different key than the one its name vouches
    for."""

    key: str = ""
    found: str | None = None
    entries: int = 0


@dataclass
class UnreadableCheckpoint(Problem):
    """A checkpoint file cannot be read as a signed tree head."""

    file: str = ""


@dataclass
class BadCheckpointSignature(Problem):
    """A checkpoint's signature does not match its content (edited or forged)."""

    file: str = ""
    size: int = 0
    key: str | None = None


@dataclass
class CheckpointMismatch(Problem):
    """A checkpoint's root is not the Merkle root of the log's first entries: the log
    was rewritten after the checkpoint was made."""

    file: str = ""
    size: int = 0
    expected: str = ""
    found: str = ""


@dataclass
class MissingCheckpoint(Problem):
    """The custody log records a checkpoint whose file is gone or differs."""

    file: str = ""
    seq: int = 0


@dataclass
class TimestampInvalid(Problem):
    """A checkpoint's trusted timestamp does not check out."""

    file: str = ""
    checkpoint: str = ""
    tsa: str = ""
    #: The check that failed: file, checkpoint, anchor, reply, status, imprint, eku,
    #: signature, certificate or gen_time (``registry.custody.tsa``).
    failed: str = ""
    seq: int = 0
