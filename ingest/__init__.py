"""Ingest: turn files into ``Extracted`` records. Pure: reads inputs, writes nothing."""

from .errors import EvidenceError, IngestError
from .pipeline import extract, extract_all
from .record import Extracted, display_path
from .sniff import Sniffed, sniff
from .walk import WalkEntry, walk

__all__ = [
    "EvidenceError",
    "Extracted",
    "IngestError",
    "Sniffed",
    "WalkEntry",
    "display_path",
    "extract",
    "extract_all",
    "sniff",
    "walk",
]
