"""Ingest: turn files into ``Extracted`` records. Pure: reads inputs, writes nothing."""

from ingest.batch import extract_all
from ingest.errors import EvidenceError, IngestError
from ingest.extraction import extract
from ingest.record import Extracted, display_path
from ingest.sniff import Sniffed, sniff
from ingest.walk import WalkEntry, walk

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
