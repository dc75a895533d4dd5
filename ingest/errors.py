"""The error hierarchy: ``EvidenceError`` and the errors about one input file.

Every error the tool reports on purpose is an ``EvidenceError``. Each subclass's
docstring is its message; instances carry the data that explains what went wrong
(a path, an algorithm, expected and found values) so callers can report them
precisely and tests can assert on them.
"""

from __future__ import annotations


class EvidenceError(Exception):
    """Evidence registry error."""

    def __init__(self, detail: str = "", **data: object) -> None:
        self.detail = detail
        self.data = data
        super().__init__(self.message)

    @property
    def code(self) -> str:
        """A stable machine-readable name for the error (its class name)."""
        return type(self).__name__

    @property
    def message(self) -> str:
        base = (type(self).__doc__ or type(self).__name__).strip().splitlines()[0].rstrip(".")
        return f"{base}: {self.detail}" if self.detail else base


# --- errors about one input file (ingest) ---------------------------------------------


class IngestError(EvidenceError):
    """Cannot ingest file."""


class UnreadableFile(IngestError):
    """File cannot be read."""


class EmptyFile(IngestError):
    """File is empty (zero bytes)."""


class NotAFile(IngestError):
    """Not a regular file (device, FIFO, socket or directory); it was not read."""


class SymlinkRefused(IngestError):
    """Symbolic link leads outside the given roots or into a loop; it was not followed."""


class UnsupportedType(IngestError):
    """Content is not a supported photo or video format."""


class CorruptMedia(IngestError):
    """Media data is truncated or corrupt and cannot be decoded."""


class TooLarge(IngestError):
    """Media exceeds a safety limit."""


class FileChanged(IngestError):
    """File changed while it was being read; its bytes do not match the hashes taken."""


class MetadataError(IngestError):
    """Embedded metadata is malformed."""


# --- errors about an export being imported ----------------------------------------------


class UnreadableExport(IngestError):
    """Export document cannot be read."""


class UnsafeReference(IngestError):
    """Export names a file outside its folder (absolute, "..", or a link); it was not opened."""


class MissingMedia(IngestError):
    """Export names a media file it does not contain."""


class NotMedia(IngestError):
    """Not a photo or video (voice message, sticker, document); it was skipped."""


class RecordedHashMismatch(IngestError):
    """File does not match the SHA-256 the collecting tool recorded for it; not stored."""


class MalformedRecord(IngestError):
    """Record of the export is malformed."""


class ArchiveHashMismatch(IngestError):
    """Web archive content does not match a digest the archive records for it."""


# --- warnings about a record of an export (the reference is still imported) -----------


class TimeWithoutOffset(EvidenceError):
    """Time is without an offset (local time where it was recorded); kept as written."""


class ImplausibleDate(EvidenceError):
    """Date is implausible (zero, before 2000 or in the future); it was not recorded."""


class TextTruncated(EvidenceError):
    """Text is longer than the limit; it was cut on a character boundary."""


class UncheckedHash(EvidenceError):
    """Recorded hash is not a SHA-256; it was kept, not checked."""


class MigratedMessage(EvidenceError):
    """Message is from the group this supergroup was upgraded from; no link can be made."""


# --- warnings and limits of the extraction steps --------------------------------------


class TimeLimit(EvidenceError):
    """Extraction took longer than the per-file time limit; the worker was stopped."""


class WorkerCrashed(EvidenceError):
    """Extraction crashed the worker process (a decoder failed on this file)."""


class CorruptImageData(EvidenceError):
    """Image data is partly corrupt."""


class LowFrameRate(EvidenceError):
    """Fewer frames than requested could be hashed."""


class FrameDecodeErrors(EvidenceError):
    """Some video packets could not be decoded; their frames are missing."""


class PictureTooSmall(EvidenceError):
    """Picture is too small for this step; the step was skipped."""
