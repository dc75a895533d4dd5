"""Ingest: turn files into ``Extracted`` records. Pure: reads inputs, writes nothing.

This is the face ``registry`` uses: every name it needs of ingest is exported here.
One file: ``extraction.extract``; many: ``batch.extract_all`` (in this process, in
supervised workers with per-file limits, or on an executor). Photos are handled in
``ingest.photo``, videos in ``ingest.video``, the Content Credentials (C2PA) of both in
``ingest.credentials``.
"""

from ingest.batch import JOBS, Job, Limits, extract_all, supervised_extract
from ingest.credentials import CREDENTIAL_STATES, READER_SETTINGS, read_credentials
from ingest.errors import (
    EvidenceError,
    FileChanged,
    IngestError,
    PictureTooSmall,
    UnreadableFile,
)
from ingest.extraction import extract, rehash_image, rehash_video, reread_credentials
from ingest.hashes import CHUNK, Digests, MultiHasher, read_chunks, sha256_file
from ingest.lazy import lazy_import
from ingest.photo import (
    DIHEDRAL,
    MAX_PIXELS,
    Features,
    decode_image,
    features,
    parse_thumb,
    regions,
    versions_tag,
)
from ingest.record import Extracted, display_path
from ingest.sniff import Sniffed, sniff
from ingest.video import FRAME_METHOD_VERSION
from ingest.walk import WalkEntry, walk

__all__ = [
    "CHUNK",
    "CREDENTIAL_STATES",
    "DIHEDRAL",
    "FRAME_METHOD_VERSION",
    "JOBS",
    "MAX_PIXELS",
    "READER_SETTINGS",
    "Digests",
    "EvidenceError",
    "Extracted",
    "Features",
    "FileChanged",
    "IngestError",
    "Job",
    "Limits",
    "MultiHasher",
    "PictureTooSmall",
    "Sniffed",
    "UnreadableFile",
    "WalkEntry",
    "decode_image",
    "display_path",
    "extract",
    "extract_all",
    "features",
    "lazy_import",
    "parse_thumb",
    "read_chunks",
    "read_credentials",
    "regions",
    "rehash_image",
    "rehash_video",
    "reread_credentials",
    "sha256_file",
    "sniff",
    "supervised_extract",
    "versions_tag",
    "walk",
]
