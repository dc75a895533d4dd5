"""Web archives: ``.warc``, ``.warc.gz`` (one gzip member per record) and ``.wacz``
packages, recognised by their content. ``WarcSource.refs`` yields one ``MediaRef`` per
photo or video payload captured in them (``warc_records``: sniffing, spooling, revisits,
tracking pixels, truncation; ``wacz``: member safety, manifest hashes, pages).

A reference's ``record`` is the ``WARC-Record-ID``; ``original_path`` is
``<warc name>#<record id>`` (``<wacz name>/<member>#<record id>`` in a package);
``sighting`` has ``source_kind`` ``"warc"``, ``source_url`` (``WARC-Target-URI``),
``archived_at`` (``WARC-Date`` as UTC) and, in a WACZ, ``page_url``.

In a WACZ, the package's findings come first, one ``error`` reference each with the
member as ``record``: a refused member name (``UnsafeReference``), a member that does not
match ``datapackage.json`` (``ArchiveHashMismatch``; the references read from that member
carry the same warning), a listed member the package lacks, unreadable pages. Then the
WARCs under ``archive/``, in name order, share one index of captures for revisits.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from collections.abc import Iterator

from ingest.errors import UnreadableExport
from ingest.sources.model import Document, MediaRef, Options, inside
from ingest.sources.wacz import MANIFEST, ZIP_ERRORS, read_package
from ingest.sources.warc_captures import Captures
from ingest.sources.warc_fields import error_dict
from ingest.sources.warc_records import Where, read_warc

KIND = "warc"
#: ``Document.format`` -> ``Document.mime``.
MIMES = {"warc": "application/warc", "warc.gz": "application/warc", "wacz": "application/wacz"}
_WARC_MAGIC = (b"WARC/1.0", b"WARC/1.1")
_PEEK = 4096


class WarcSource:
    """Web archives (``Source`` of kind ``"warc"``)."""

    kind = KIND

    def find(self, path: str) -> list[Document]:
        """The WARC, WARC.GZ and WACZ files at ``path`` (a file, or a folder searched
        recursively without leaving it through links), recognised by content: a WARC
        starts with ``WARC/1.0`` or ``WARC/1.1`` (after gunzip), a WACZ is a ZIP holding
        ``datapackage.json``."""
        if os.path.isdir(path):
            return list(_find_in(path))
        found = recognise(path)
        if found is None:
            return []
        return [Document(path, KIND, found, MIMES[found], os.path.dirname(path) or ".")]

    def refs(self, document: Document, options: Options) -> Iterator[MediaRef]:
        """Every photo and video captured in ``document``, payloads spooled under
        ``options.spool`` (one file per ``ok`` reference, ``spooled=True``).

        Raises:
            UnreadableExport: The file cannot be opened, or its first record cannot be
                parsed (a WACZ: the ZIP cannot be read).
            ValueError: ``options.spool`` is empty.
        """
        if not options.spool:
            raise ValueError("Options.spool must name a folder for the payloads of web archives")
        os.makedirs(options.spool, exist_ok=True)
        captures = Captures(options.spool)
        try:
            if document.format == "wacz":
                yield from _wacz_refs(document, captures)
            else:
                yield from _warc_refs(document, captures)
        finally:
            captures.close()


def recognise(path: str) -> str | None:
    """``"warc"``, ``"warc.gz"`` or ``"wacz"`` for a web archive, else None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_PEEK)
    except OSError:
        return None
    if head.startswith(_WARC_MAGIC):
        return "warc"
    if head.startswith(b"\x1f\x8b"):
        try:
            inner = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 16)
        except zlib.error:
            return None
        return "warc.gz" if inner.startswith(_WARC_MAGIC) else None
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (*ZIP_ERRORS, ValueError):
            return None
        return "wacz" if MANIFEST in names else None
    return None


def _find_in(root: str) -> Iterator[Document]:
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            real = inside(root, os.path.relpath(path, root))
            try:
                regular = real is not None and stat.S_ISREG(os.stat(real).st_mode)
            except OSError:
                regular = False
            found = recognise(path) if regular else None
            if found is not None:
                yield Document(path, KIND, found, MIMES[found], root)


def _warc_refs(document: Document, captures: Captures) -> Iterator[MediaRef]:
    try:
        fh = open(document.path, "rb")  # noqa: SIM115 - closed below, around a generator
    except OSError as exc:
        raise UnreadableExport(f"{document.path}: {exc.strerror or exc}") from exc
    with fh:
        where = Where(document, os.path.basename(document.path))
        yield from read_warc(fh, where, captures, size=os.fstat(fh.fileno()).st_size)


def _wacz_refs(document: Document, captures: Captures) -> Iterator[MediaRef]:
    name = os.path.basename(document.path)
    try:
        zf = zipfile.ZipFile(document.path)
    except (*ZIP_ERRORS, ValueError) as exc:
        raise UnreadableExport(f"{document.path}: {exc}") from exc
    with zf:
        package = read_package(zf)
        used: set[str] = set()
        for problem in package.problems:
            record = _unique(problem.member, used)
            yield MediaRef(
                document=document,
                record=record,
                status="error",
                original_path=f"{name}/{problem.member}",
                error=error_dict(problem.error),
                sighting={"source_kind": KIND},
            )
        for info in package.archives:
            where = Where(
                document,
                f"{name}/{info.filename}",
                member=info.filename,
                warnings=package.warnings_for(info),
            )
            try:
                fh = zf.open(info)
            except ZIP_ERRORS as exc:
                failed = UnreadableExport(f"{info.filename} cannot be opened: {exc}")
                yield MediaRef(
                    document=document,
                    record=_unique(info.filename, used),
                    status="error",
                    original_path=where.label,
                    error=error_dict(failed),
                    sighting={"source_kind": KIND},
                )
                continue
            if id(info) in package.bad_crc and hasattr(fh, "_expected_crc"):
                # Reported above; without this, zipfile withholds the member's last read
                # (its intact records) to raise the same CRC error again.
                fh._expected_crc = None
            with fh:
                yield from read_warc(fh, where, captures, package.pages, info.file_size)


def _unique(record: str, used: set[str]) -> str:
    """``record``, numbered when the package already reported one of that name."""
    candidate, n = record, 1
    while candidate in used:
        n += 1
        candidate = f"{record}#{n}"
    used.add(candidate)
    return candidate
