"""The records of one WARC stream, read with warcio's ``ArchiveIterator``: every photo or
video payload of a ``response`` or ``resource`` record is copied into the spool folder and
becomes a ``MediaRef``; a ``revisit`` gets a copy of the earlier capture it refers to.

- Media is decided by sniffing the payload's first bytes (``ingest.sniff``), never by
  Content-Type. Other payloads (HTML, scripts, fonts...) yield nothing, and neither do
  HTTP responses outside 2xx. An image under 16 pixels on a side (a tracking pixel, a
  spacer) is ``skipped``: only its header is read (``PIL.Image.open`` decodes nothing).
  A 206 response that is not the whole file (``Content-Range``) is ``skipped`` too.
- Payloads are streamed to the spool in 1 MiB chunks: a response body as warcio's
  ``content_stream()`` gives it (de-chunked, Content-Encoding undone), a ``resource``
  record's raw block. Every ``ok`` reference owns its spool file.
- Revisits: each media capture is indexed by its record id, its target URI and date, its
  ``WARC-Payload-Digest`` and (for ``server-not-modified``) its URI; its payload is kept
  alive by a private hard link (a copy where links are not supported) in a hidden folder
  of the spool that is removed when the document is done, so a revisit gets its own copy
  even after the registry deleted the first one. A revisit found nowhere is ``missing``
  when its Content-Type says image or video, and yields nothing otherwise.
- Damage is never raised (except a WARC file whose first record cannot be parsed): a
  record cut short (fewer bytes than its Content-Length: a WARC cut midway, a gzip member
  whose data breaks after warcio's first read, which warcio takes for the end of the data)
  or without a Content-Length is an ``error`` reference (``MalformedRecord``), and so are
  bytes after the last whole record; a record warcio cannot parse (``ArchiveLoadFailed``,
  a gzip member broken in its first read...) is one (``UnreadableExport``), named
  ``offset:<n>``. Then reading goes on at the next record start found after it (``resync``:
  a gzip member that inflates to ``WARC/1.x``, or ``WARC/1.x`` at the start of a line).
  A record's own digests are checked by warcio (``check_digests``): a failure is a warning.
- Page of a capture (``PageFinder``): ``WARC-Page-ID``, the target URI, and the
  ``Referer`` of the ``request`` record paired with it by ``WARC-Concurrent-To`` (before
  or right after the response, as crawlers write them).
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from ingest.errors import (
    ArchiveHashMismatch,
    EvidenceError,
    MalformedRecord,
    MissingMedia,
    NotMedia,
    TooLarge,
    UnreadableExport,
    UnsupportedType,
)
from ingest.lazy import lazy_import
from ingest.photo import pillow
from ingest.sniff import HEAD_SIZE, sniff
from ingest.sources.model import Document, MediaRef
from ingest.sources.warc_captures import Captures, Origin, remove
from ingest.sources.warc_fields import (
    Capture,
    all_values,
    at_key,
    error_dict,
    uri_name,
    warc_date,
    warning,
)
from ingest.sources.warc_resync import resync

if TYPE_CHECKING:
    import warcio.archiveiterator as archiveiterator
else:
    archiveiterator = lazy_import("warcio.archiveiterator")

#: Images smaller than this on either side are tracking pixels or spacers.
MIN_SIDE = 16
#: Payloads are copied in chunks of this size (memory stays bounded).
CHUNK = 1 << 20
#: A payload may decode (Content-Encoding) to at most this many times its record's size
#: (plus ``_SLACK``): more is a compression bomb, not a capture.
MAX_EXPANSION = 200
_SLACK = 64 << 20
#: Request records remembered for the responses that come after them.
_REQUESTS = 1024
_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+)", re.IGNORECASE)
#: What warcio says of a .warc.gz compressed as one stream; ``run`` then returns this.
_NOT_PER_RECORD = "non-chunked gzip file detected"
_WHOLE_GZIP = -1


# --- one WARC stream ------------------------------------------------------------------


class PageFinder(Protocol):
    """The page a capture was made on (``wacz.Pages``)."""

    def page_for(self, page_id: str, uri: str, referer: str) -> str | None: ...


@dataclass(frozen=True)
class Where:
    """Which WARC is read: for its references' ``original_path`` and ``record``."""

    document: Document
    #: ``crawl.warc.gz``, or ``crawl.wacz/archive/data.warc.gz``.
    label: str
    #: The WACZ member (``""`` for a WARC file): its failures are references, not raised.
    member: str = ""
    #: Added to every reference from this WARC (a WACZ member's hash mismatch).
    warnings: tuple[dict[str, str], ...] = ()


def read_warc(
    stream: IO[bytes],
    where: Where,
    captures: Captures,
    pages: PageFinder | None = None,
    size: int | None = None,
) -> Iterator[MediaRef]:
    """Every media reference of one WARC stream (plain or gzip, detected by warcio) of
    ``size`` bytes (when known, bytes after the last whole record are reported).

    After a record that cannot be read, reading goes on at the next record found (the
    next gzip member, or ``WARC/1.x`` at the start of a line, in a seekable stream):
    damage costs the records it hits, not the rest of the archive.

    Raises:
        UnreadableExport: A WARC file whose first record cannot be parsed.
    """
    reader = _Reader(where, captures, pages)
    start: int | None = stream.tell()
    broken = yield from reader.run(stream, size, first=True)
    if broken == _WHOLE_GZIP:
        # One gzip stream for the whole file (``gzip crawl.warc``), not one member per
        # record: read again through gzip, past the records already read.
        stream.seek(start or 0)
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
        start, size = 0, None
        broken = yield from reader.run(stream, size, skip=reader.parsed)
    while broken is not None and start is not None and stream.seekable():
        try:
            start = resync(stream, max(broken, start) + 1)
            if start is not None:
                stream.seek(start)
        except Exception:  # the damage is in the container too (a ZIP member's CRC)
            return
        if start is not None:
            broken = yield from reader.run(stream, size)


def _member_cut(stream: IO[bytes], start: int, size: int) -> bool:
    """Whether the gzip member at ``start`` (the archive's last) stops before its end:
    warcio takes a member whose trailer is missing for a whole one."""
    if not stream.seekable():
        return False
    here = stream.tell()
    try:
        stream.seek(start)
        if stream.read(2) != b"\x1f\x8b":
            return False  # a plain WARC: Content-Length already says where records end
        stream.seek(start)
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        remaining = size - start
        while remaining > 0 and not inflate.eof:
            chunk = stream.read(min(1 << 20, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            inflate.decompress(chunk, 1 << 16)
            while inflate.unconsumed_tail and not inflate.eof:
                inflate.decompress(inflate.unconsumed_tail, 1 << 16)
        return not inflate.eof
    except (OSError, zlib.error):
        return False  # damage of another kind, reported where it is read
    finally:
        stream.seek(here)


class _Reader:
    def __init__(self, where: Where, captures: Captures, pages: PageFinder | None) -> None:
        self.where = where
        self.captures = captures
        self.pages = pages
        # Referer of request records seen before their response, by response id or URI.
        self._referers: OrderedDict[str, str] = OrderedDict()
        # The record just read was cut short: the stream position says nothing more.
        self._cut = False
        #: Records parsed by the last ``run``.
        self.parsed = 0

    def run(
        self, stream: IO[bytes], size: int | None, first: bool = False, skip: int = 0
    ) -> Generator[MediaRef, None, int | None]:
        """The references of the records from the stream's position on (the first
        ``skip`` records are passed over); the offset of the record that broke the
        reading (None when it reached the end; ``_WHOLE_GZIP`` for one gzip stream)."""
        records = archiveiterator.ArchiveIterator(stream, check_digests=True)
        # A response's reference waits for the next record: the request paired with it
        # (and its Referer) usually comes right after it.
        pending: list[tuple[MediaRef, Capture]] = []
        parsed = self.parsed = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except Exception as exc:  # warcio on hostile bytes: ArchiveLoadFailed, zlib, ...
                if first and parsed == 0 and not self.where.member:
                    raise UnreadableExport(f"{self.where.label}: {_one_line(exc)}") from exc
                yield from self._flush(pending)
                if first and _NOT_PER_RECORD in str(exc):
                    return _WHOLE_GZIP
                yield self._broken(records.offset, exc)
                return records.offset
            parsed = self.parsed = parsed + 1
            last = records.offset
            if parsed <= skip:
                continue
            offset = records.offset
            cap = Capture.of(record, self._fallback_id(offset))
            length = (record.rec_headers.get_header("Content-Length") or "").strip()
            if not (length.isascii() and length.isdigit()):
                # warcio cannot tell where the record ends: the next one is searched for.
                bad = MalformedRecord(f"{cap.id}: Content-Length {length!r}")
                yield from self._flush(pending)
                yield self._error(cap, bad)
                return offset
            if cap.type == "request":
                broken = self._request(record, cap, pending)
                if broken is not None:
                    pending.append((broken, cap))
                continue
            yield from self._flush(pending)
            ref = self._record(record, cap)
            if ref is not None:
                pending.append((ref, cap))
            if self._cut:
                # warcio read past the damage (a Content-Length too large, a broken gzip
                # member): where the next record starts must be searched for.
                self._cut = False
                yield from self._flush(pending)
                return offset
        reported = any(ref.status == "error" for ref, _ in pending)
        yield from self._flush(pending)
        if parsed and not reported and size is not None and _member_cut(stream, last, size):
            rest = MalformedRecord(
                f"{self.where.label}: the archive ends inside the gzip member that starts at"
                f" byte {last} (its end and checksum are missing: the file was cut)"
            )
            yield self._broken(last, rest)
            return None
        if size is not None and records.offset < size:
            # What warcio saw as the end: a gzip member cut after its first bytes.
            rest = MalformedRecord(
                f"{self.where.label}: {size - records.offset} bytes after byte"
                f" {records.offset} are not a whole record (the archive was cut or damaged)"
            )
            yield self._broken(records.offset, rest)
            return records.offset
        return None

    def _flush(self, pending: list[tuple[MediaRef, Capture]]) -> Iterator[MediaRef]:
        for ref, cap in pending:
            if self.pages is not None and ref.status != "error":
                referer = self._referers.get(cap.id) or self._referers.get(at_key(cap), "")
                page = self.pages.page_for(cap.page_id, cap.uri, referer)
                if page:
                    ref.sighting["page_url"] = page
            yield ref
        pending.clear()

    def _request(
        self, record: Any, cap: Capture, pending: list[tuple[MediaRef, Capture]]
    ) -> MediaRef | None:
        referer = (record.http_headers.get_header("Referer") if record.http_headers else "") or ""
        # Paired by WARC-Concurrent-To; else by target URI and date (the same in a pair).
        for key in all_values(record.rec_headers, "WARC-Concurrent-To") or [at_key(cap)]:
            if key and referer.strip():
                self._referers[key] = referer.strip()
                self._referers.move_to_end(key)
        while len(self._referers) > _REQUESTS:
            self._referers.popitem(last=False)
        return self._drained(record, cap)

    def _record(self, record: Any, cap: Capture) -> MediaRef | None:
        try:
            if cap.type in ("response", "resource"):
                return self._payload(record, cap)
            if cap.type == "revisit":
                return self._revisit(record, cap)
            return self._drained(record, cap)
        except EvidenceError as exc:
            return self._error(cap, exc)
        except Exception as exc:  # a decoder of warcio or zlib on hostile bytes
            self._cut = True  # where the record ended is unknown
            return self._error(cap, UnreadableExport(f"{cap.id}: {_one_line(exc)}"))

    def _payload(self, record: Any, cap: Capture) -> MediaRef | None:
        if cap.status is not None and not 200 <= cap.status < 300:
            return self._drained(record, cap)
        stream = record.content_stream()
        head = _read_head(stream)
        try:
            sniffed = sniff(head)
        except UnsupportedType:
            if cap.declares_media:
                self.captures.remember(record, cap, Origin("none"))
            return self._drained(record, cap)
        suffix = "." + sniffed.format
        if partial := _partial(record, cap):
            return self._drained(record, cap) or self._skipped(record, cap, partial)
        path = self._spool(record, stream, head, suffix)
        try:
            short = _drain(record)
            if short:
                remove(path)
                return self._truncated(record, cap, short)
            if sniffed.media_type == "image" and _tiny(path):
                remove(path)
                return self._skipped(record, cap, "tracking pixel")
            self.captures.remember(record, cap, self.captures.keep(path, suffix))
        except BaseException:
            remove(path)
            raise
        return self._ref(cap, "ok", path=path, spooled=True, warnings=_digest_warnings(record))

    def _revisit(self, record: Any, cap: Capture) -> MediaRef | None:
        short = _drain(record)
        if short:
            return self._truncated(record, cap, short)
        if cap.status is not None and not (200 <= cap.status < 300 or cap.status == 304):
            return None
        origin = self.captures.find(record, cap)
        if origin is None:
            if not cap.declares_media:
                return None
            refers = record.rec_headers.get_header("WARC-Refers-To-Target-URI") or cap.uri
            missing = MissingMedia(f"revisit {cap.id} of {refers}: the earlier capture is absent")
            return self._ref(cap, "missing", error=error_dict(missing))
        if origin.status == "none":
            return None
        if origin.status == "skipped":
            return self._ref(cap, "skipped", error=error_dict(NotMedia(origin.reason)))
        return self._ref(cap, "ok", path=self.captures.copy(origin), spooled=True)

    def _spool(self, record: Any, stream: IO[bytes], head: bytes, suffix: str) -> str:
        limit = MAX_EXPANSION * max(record.length or 0, 1) + _SLACK
        fd, path = tempfile.mkstemp(prefix="warc-", suffix=suffix, dir=self.captures.spool)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(head)
                written = len(head)
                while chunk := stream.read(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise TooLarge(f"payload decodes to more than {limit} bytes")
                    out.write(chunk)
        except BaseException:
            remove(path)
            raise
        return path

    def _drained(self, record: Any, cap: Capture) -> MediaRef | None:
        short = _drain(record)
        return self._truncated(record, cap, short) if short else None

    def _truncated(self, record: Any, cap: Capture, short: int) -> MediaRef:
        what = f"{cap.type or 'untyped'} record {cap.id} ({cap.uri or 'no target URI'})"
        cut = MalformedRecord(f"{what} is truncated: {short} of its {record.length} bytes missing")
        self._cut = True
        return self._error(cap, cut)

    def _skipped(self, record: Any, cap: Capture, reason: str) -> MediaRef:
        self.captures.remember(record, cap, Origin("skipped", reason=reason))
        return self._ref(cap, "skipped", error=error_dict(NotMedia(reason)))

    def _error(self, cap: Capture, exc: EvidenceError) -> MediaRef:
        return self._ref(cap, "error", error=error_dict(exc))

    def _broken(self, offset: int, exc: BaseException) -> MediaRef:
        record = self._fallback_id(offset)
        reason = (
            exc
            if isinstance(exc, EvidenceError)
            else UnreadableExport(f"{self.where.label} past byte {offset}: {_one_line(exc)}")
        )
        return MediaRef(
            document=self.where.document,
            record=record,
            status="error",
            original_path=f"{self.where.label}#{record}",
            error=error_dict(reason),
            sighting={"source_kind": "warc"},
            warnings=list(self.where.warnings),
        )

    def _fallback_id(self, offset: int) -> str:
        return f"{self.where.member}:offset:{offset}" if self.where.member else f"offset:{offset}"

    def _ref(self, cap: Capture, status: str, **fields: Any) -> MediaRef:
        sighting: dict[str, Any] = {"source_kind": "warc"}
        if cap.uri:
            sighting["source_url"] = cap.uri
        notes = list(self.where.warnings)
        if archived := warc_date(cap.date):
            sighting["archived_at"] = archived
        else:
            unread = f"WARC-Date {cap.date!r} cannot be read" if cap.date else "no WARC-Date"
            notes.append(warning("warc", MalformedRecord(f"{cap.id}: {unread}")))
        notes.extend(fields.pop("warnings", ()))
        return MediaRef(
            document=self.where.document,
            record=cap.id,
            status=status,
            name=uri_name(cap.uri),
            original_path=f"{self.where.label}#{cap.id}",
            sighting=sighting,
            warnings=notes,
            **fields,
        )


# --- helpers ----------------------------------------------------------------------------


def _read_head(stream: IO[bytes]) -> bytes:
    head = b""
    while len(head) < HEAD_SIZE:
        more = stream.read(HEAD_SIZE - len(head))
        if not more:
            break
        head += more
    return head


def _drain(record: Any) -> int:
    """Read the rest of the record; the number of bytes its Content-Length promised that
    the stream did not have (0 for a whole record)."""
    while record.raw_stream.read(CHUNK):
        pass
    return max(getattr(record.raw_stream, "limit", 0) or 0, 0)


def _partial(record: Any, cap: Capture) -> str:
    if cap.status != 206:
        return ""
    value = record.http_headers.get_header("Content-Range") or ""
    found = _RANGE.search(value)
    if found and int(found[1]) == 0 and int(found[2]) + 1 == int(found[3]):
        return ""
    return f"partial content (HTTP 206, Content-Range {value.strip() or 'absent'!r})"


def _tiny(path: str) -> bool:
    """The image is a tracking pixel: its header (only) says it is under MIN_SIDE."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: nothing is decoded
            with pillow().open(path) as image:
                width, height = image.size
    except Exception:  # a header PIL cannot read: the registry decides later
        return False
    return width < MIN_SIDE or height < MIN_SIDE


def _digest_warnings(record: Any) -> list[dict[str, str]]:
    checker = getattr(record, "digest_checker", None)
    problems = list(getattr(checker, "problems", None) or ())
    return [warning("warc", ArchiveHashMismatch(str(problem))) for problem in problems]


def _one_line(exc: BaseException) -> str:
    """The exception as one printable line (warcio quotes the bytes it could not parse)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = "".join(c if c.isascii() and c.isprintable() else "." for c in text)
    return text[:200]
