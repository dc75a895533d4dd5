"""Where the next record of a damaged WARC starts: reading goes on there, so damage
costs the records it hits, not the rest of the archive."""

from __future__ import annotations

import re
import zlib
from typing import IO

#: The stream is searched in blocks of this size.
CHUNK = 1 << 20
#: How far past a block a record start is checked (a gzip header and its first bytes).
_LOOK = 4096
_GZIP = b"\x1f\x8b\x08"
_WARC = (b"WARC/1.0\r\n", b"WARC/1.1\r\n")
_RECORD_START = re.compile(rb"\x1f\x8b\x08|WARC/1\.[01]\r\n")


def resync(stream: IO[bytes], start: int) -> int | None:
    """The offset of the first record at or after ``start``: a gzip member that inflates
    to ``WARC/1.x``, or ``WARC/1.x`` at the start of a line; None when there is none.
    The stream is read forward only from ``start - 1`` (a ZIP member seeks back slowly)."""
    offset = max(start - 1, 0)  # the file offset of data[0]
    stream.seek(offset)
    data, first = b"", start - offset  # matches may begin at data[first:]
    while True:
        more = stream.read(CHUNK)
        data += more
        # Leave room after a match to check it, unless the stream has ended.
        end = len(data) - _LOOK if more else len(data)
        for found in _RECORD_START.finditer(data, first, max(end, first)):
            at = found.start()
            if _record_at(data, at, offset + at):
                return offset + at
        if not more:
            return None
        keep = max(end, first) - 1  # one byte before the next match: a line start?
        data, offset, first = data[keep:], offset + keep, 1


def _record_at(data: bytes, at: int, offset: int) -> bool:
    if not data.startswith(_GZIP, at):
        return offset == 0 or data[at - 1] == 0x0A
    try:
        inflated = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[at : at + _LOOK], 16)
    except zlib.error:
        return False
    return inflated.startswith(_WARC)
