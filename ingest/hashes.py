"""Cryptographic identity of a file: SHA-256, SHA-1 and MD5 in one read pass.

SHA-256 is the item id; SHA-1 and MD5 are kept because forensic hash sets (NSRL,
Project VIC, CAID) are still keyed by them.
"""

from __future__ import annotations

import hashlib
import threading
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


class BackgroundHasher:
    """Hashes a buffer with every algorithm in a thread, while the caller goes on with
    the same bytes (``hashlib`` releases the GIL, so on a second core the digests cost no
    wall time): ``digests()`` waits for them."""

    def __init__(self, data: bytes) -> None:
        self._hasher = MultiHasher()
        self._thread = threading.Thread(target=self._run, args=(data,), name="digests")
        self._thread.start()

    def _run(self, data: bytes) -> None:
        view = memoryview(data)
        # Chunk by chunk, so each chunk is still in the CPU cache for the next algorithm.
        for start in range(0, len(view), CHUNK):
            self._hasher.update(view[start : start + CHUNK])

    def digests(self) -> Digests:
        self._thread.join()
        return self._hasher.digests()


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
