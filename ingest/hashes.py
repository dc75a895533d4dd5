"""Cryptographic identity of a file: SHA-256, SHA-1 and MD5 in one read pass.

SHA-256 is the item id; SHA-1 and MD5 are kept because forensic hash sets (NSRL,
Project VIC, CAID) are still keyed by them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 20
ALGORITHMS = ("sha256", "sha1", "md5")


@dataclass(frozen=True)
class Digests:
    """Hex digests and the byte count they cover."""

    sha256: str
    sha1: str
    md5: str
    size: int


class MultiHasher:
    """Feeds every algorithm from the same chunks."""

    def __init__(self) -> None:
        self._h = [hashlib.new(name) for name in ALGORITHMS]
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        for h in self._h:
            h.update(chunk)
        self.size += len(chunk)

    def digests(self) -> Digests:
        sha256, sha1, md5 = (h.hexdigest() for h in self._h)
        return Digests(sha256=sha256, sha1=sha1, md5=md5, size=self.size)


def hash_chunks(chunks: Iterable[bytes | memoryview]) -> Digests:
    """Hash a stream of chunks with every algorithm at once."""
    hasher = MultiHasher()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.digests()


def read_chunks(fh: BinaryIO, chunk_size: int = CHUNK) -> Iterable[bytes]:
    """Yield a binary file's content in chunks until EOF."""
    while chunk := fh.read(chunk_size):
        yield chunk


def sha256_file(path: str, chunk_size: int = CHUNK) -> str:
    """SHA-256 of a file, streamed (used to re-hash vault copies)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in read_chunks(fh, chunk_size):
            h.update(chunk)
    return h.hexdigest()
