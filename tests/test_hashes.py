"""One-pass cryptographic hashes, pinned to known digests."""

from __future__ import annotations

import hashlib
import io

from hypothesis import given
from hypothesis import strategies as st

from ingest.hashes import CHUNK, BackgroundHasher, hash_chunks, read_chunks


def test_known_digests_of_abc() -> None:
    d = hash_chunks([b"a", b"bc"])
    assert d.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert d.sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert d.md5 == "900150983cd24fb0d6963f7d28e17f72"
    assert d.size == 3


@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=700))
def test_chunking_never_changes_the_digest(data: bytes, chunk: int) -> None:
    d = hash_chunks(read_chunks(io.BytesIO(data), chunk))
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    assert d.md5 == hashlib.md5(data).hexdigest()
    assert d.size == len(data)


def test_background_hasher_gives_the_same_digests() -> None:
    for data in (b"", b"abc", bytes(range(256)) * (CHUNK // 256 * 2 + 3)):
        assert BackgroundHasher(data).digests() == hash_chunks([data])
