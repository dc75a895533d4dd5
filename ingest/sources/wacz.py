"""WACZ packages (a ZIP of WARCs with a manifest, as Browsertrix and auto-archiver write
them): which members are read, whether they match ``datapackage.json``, and the pages of
``pages/*.jsonl``.

Members are streamed from the ZIP, never extracted. A member whose name is absolute, has
a drive or climbs out with ``..`` is refused (``UnsafeReference``) and never opened. Every
resource that ``datapackage.json`` lists is stream-hashed (``"hash": "<algo>:<hex>"``,
``"bytes"``) and ``datapackage.json`` itself is checked against
``datapackage-digest.json``. Each finding becomes a ``Problem`` (an ``error`` reference
naming the member); the references read from a WARC member that does not match, or that
the manifest does not list, also carry a warning saying so. A member whose ZIP CRC-32
fails is reported so, then read all the same (``Package.bad_crc``): its intact records
are still evidence, and each record's own WARC digests are checked.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from ingest.errors import (
    ArchiveHashMismatch,
    EvidenceError,
    MalformedRecord,
    UnreadableExport,
    UnsafeReference,
)

MANIFEST = "datapackage.json"
MANIFEST_DIGEST = "datapackage-digest.json"
ARCHIVE_SUFFIXES = (".warc", ".warc.gz")
#: ``datapackage.json`` and page lines longer than this are not read (a ZIP bomb).
MAX_JSON = 64 << 20
_CHUNK = 1 << 20
#: Errors of ``zipfile`` opening or reading a member (CRC, encryption, compression...).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, RuntimeError, NotImplementedError, EOFError)
_ALGORITHMS = hashlib.algorithms_guaranteed - {"shake_128", "shake_256"}


def safe_member(name: str) -> bool:
    """True for a relative member name that stays inside the package."""
    if not name or "\x00" in name or name.startswith(("/", "\\")):
        return False
    parts = re.split(r"[/\\]", name)
    return ".." not in parts and not re.match(r"[A-Za-z]:", parts[0])


@dataclass(frozen=True)
class Problem:
    """A finding about one member of the package."""

    member: str
    error: EvidenceError


class Pages:
    """The pages of ``pages/*.jsonl`` (``url``, ``ts``, ``id``), to find the page a
    capture was made on: its ``WARC-Page-ID`` (Browsertrix, ArchiveWeb.page), else its
    own URI when it is a page, else the ``Referer`` of its request when that is a page,
    else the one page of a single-page package."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}
        self.urls: set[str] = set()

    def add(self, entry: Any) -> bool:
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not url.strip():
            return False
        url = _page_url(url)
        self.urls.add(url)
        if isinstance(entry.get("id"), str | int):
            self.by_id[str(entry["id"])] = url
        return True

    def page_for(self, page_id: str, uri: str, referer: str) -> str | None:
        if page_id and page_id in self.by_id:
            return self.by_id[page_id]
        for candidate in (uri, referer):
            if candidate and _page_url(candidate) in self.urls:
                return _page_url(candidate)
        return next(iter(self.urls)) if len(self.urls) == 1 else None


@dataclass
class Package:
    """What was found in a WACZ before its WARCs are read."""

    archives: list[zipfile.ZipInfo] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    pages: Pages = field(default_factory=Pages)
    #: Warnings for the references from each archive member (by ``id(ZipInfo)``).
    member_warnings: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    #: Members whose ZIP CRC-32 failed (by ``id(ZipInfo)``): reported once, then their
    #: records are read without it (their own WARC digests are still checked).
    bad_crc: set[int] = field(default_factory=set)

    def warnings_for(self, info: zipfile.ZipInfo) -> tuple[dict[str, str], ...]:
        return tuple(self.member_warnings.get(id(info), ()))


def read_package(zf: zipfile.ZipFile) -> Package:
    """The members, manifest checks and pages of an open WACZ."""
    package = Package()
    members: dict[str, list[zipfile.ZipInfo]] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        if not safe_member(info.filename):
            refused = UnsafeReference(f"ZIP member {info.filename!r} was not read")
            package.problems.append(Problem(info.filename, refused))
            continue
        members.setdefault(info.filename, []).append(info)
        if info.filename.startswith("archive/") and info.filename.endswith(ARCHIVE_SUFFIXES):
            package.archives.append(info)
    for name, infos in members.items():
        if len(infos) > 1:
            twice = MalformedRecord(f"{len(infos)} members are named {name}")
            package.problems.append(Problem(name, twice))
    listed = _check_manifest(zf, members, package)
    for info in package.archives:
        if info.filename not in listed:
            unlisted = MalformedRecord(f"{info.filename} is not listed in {MANIFEST}: unchecked")
            package.member_warnings.setdefault(id(info), []).append(_warning(unlisted))
    for name, infos in sorted(members.items()):
        if name.startswith("pages/") and name.endswith(".jsonl"):
            for info in infos:
                _read_pages(zf, info, package)
    return package


def _check_manifest(
    zf: zipfile.ZipFile, members: dict[str, list[zipfile.ZipInfo]], package: Package
) -> set[str]:
    """Check every resource ``datapackage.json`` lists; the names it lists."""
    if MANIFEST not in members:
        package.problems.append(Problem(MANIFEST, MalformedRecord(f"no {MANIFEST}")))
        return set()
    data = _read_small(zf, members[MANIFEST][-1], package)
    if data is None:
        return set()
    _check_manifest_digest(zf, members, data, package)
    try:
        resources = json.loads(data).get("resources")
        if not isinstance(resources, list):
            raise ValueError("no list of resources")
    except (ValueError, AttributeError) as exc:
        package.problems.append(Problem(MANIFEST, MalformedRecord(f"{MANIFEST}: {exc}")))
        return set()
    listed: set[str] = set()
    for resource in resources:
        path = resource.get("path") if isinstance(resource, dict) else None
        if not isinstance(path, str) or not safe_member(path):
            unsafe = UnsafeReference(f"{MANIFEST} lists {path!r}")
            package.problems.append(Problem(MANIFEST, unsafe))
            continue
        listed.add(path)
        if path not in members:
            absent = MalformedRecord(f"{MANIFEST} lists {path}, which the package does not hold")
            package.problems.append(Problem(path, absent))
            continue
        for info in members[path]:
            _check_resource(zf, info, resource, package)
    return listed


def _check_manifest_digest(
    zf: zipfile.ZipFile, members: dict[str, list[zipfile.ZipInfo]], data: bytes, package: Package
) -> None:
    if MANIFEST_DIGEST not in members:
        return
    raw = _read_small(zf, members[MANIFEST_DIGEST][-1], package)
    if raw is None:
        return
    try:
        recorded = json.loads(raw)
        if not isinstance(recorded, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        package.problems.append(Problem(MANIFEST_DIGEST, MalformedRecord(f"{exc}")))
        return
    found = _mismatch(recorded.get("hash"), lambda algo: hashlib.new(algo, data), len(data), None)
    if found:
        package.problems.append(Problem(MANIFEST, found))


def _check_resource(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, resource: dict[str, Any], package: Package
) -> None:
    def digest(algo: str) -> Any:
        hasher = hashlib.new(algo)
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                hasher.update(chunk)
        return hasher

    try:
        found = _mismatch(resource.get("hash"), digest, info.file_size, resource.get("bytes"))
    except ZIP_ERRORS as exc:
        found = UnreadableExport(f"{info.filename} cannot be read: {exc}")
        if "CRC" in str(exc):
            package.bad_crc.add(id(info))
    if found is None:
        return
    package.problems.append(Problem(info.filename, found))
    if info in package.archives:
        package.member_warnings.setdefault(id(info), []).append(_warning(found))


def _mismatch(recorded: Any, digest: Any, size: int, recorded_size: Any) -> EvidenceError | None:
    """What is wrong with a member against its recorded ``hash`` (``algo:hex``) and
    ``bytes``; None when both match. ``digest(algo)`` hashes the member."""
    algo, _, value = recorded.partition(":") if isinstance(recorded, str) else ("", "", "")
    algo, value = algo.strip().lower(), value.strip().lower()
    if not value and re.fullmatch(r"[0-9a-f]{64}", algo):
        algo, value = "sha256", algo  # a bare hex SHA-256
    if algo not in _ALGORITHMS or not re.fullmatch(r"[0-9a-f]+", value):
        return MalformedRecord(f"hash {recorded!r} cannot be checked")
    problems = []
    if isinstance(recorded_size, int) and recorded_size != size:
        problems.append(f"{recorded_size} bytes recorded, {size} found")
    found = digest(algo).hexdigest()
    if found != value:
        problems.append(f"{algo}:{value} recorded, {algo}:{found} found")
    return ArchiveHashMismatch("; ".join(problems)) if problems else None


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, package: Package) -> bytes | None:
    try:
        with zf.open(info) as fh:
            data = fh.read(MAX_JSON + 1)
    except ZIP_ERRORS as exc:
        package.problems.append(Problem(info.filename, UnreadableExport(f"{exc}")))
        return None
    if len(data) > MAX_JSON:
        package.problems.append(Problem(info.filename, MalformedRecord("larger than 64 MiB")))
        return None
    return data


def _read_pages(zf: zipfile.ZipFile, info: zipfile.ZipInfo, package: Package) -> None:
    bad = 0
    try:
        with zf.open(info) as fh:
            while line := fh.readline(MAX_JSON):
                if not line.endswith(b"\n") and len(line) == MAX_JSON:
                    bad += 1
                    while (rest := fh.readline(MAX_JSON)) and not rest.endswith(b"\n"):
                        pass
                    continue
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                is_header = isinstance(entry, dict) and "format" in entry and "url" not in entry
                if not is_header and not package.pages.add(entry):
                    bad += 1
    except ZIP_ERRORS as exc:
        package.problems.append(Problem(info.filename, UnreadableExport(f"{exc}")))
    if bad:
        unread = MalformedRecord(f"{info.filename}: {bad} lines are not pages")
        package.problems.append(Problem(info.filename, unread))


def _page_url(url: str) -> str:
    return url.strip().split("#", 1)[0]


def _warning(exc: EvidenceError) -> dict[str, str]:
    return {"step": "wacz", "code": exc.code, "message": exc.message}
