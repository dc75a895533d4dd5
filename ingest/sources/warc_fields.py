"""What the headers of a WARC record say, normalised: dates as ISO 8601 UTC, target
URIs as safe file names, digests comparable however they are encoded; and the facts of
one record (``Capture``) the readers decide on."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from ingest.errors import EvidenceError

#: The name of a payload whose URI has no last segment.
NO_NAME = "payload"
_NAME_BYTES = 200
_RESERVED = set('/\\<>:"|?*')
_DIGIT_DATES = {
    4: "%Y",
    6: "%Y%m",
    8: "%Y%m%d",
    10: "%Y%m%d%H",
    12: "%Y%m%d%H%M",
    14: "%Y%m%d%H%M%S",
}

# --- normalisers ---------------------------------------------------------------------


def warc_date(text: str | None) -> str | None:
    """A WARC-Date (W3C-DTF, ISO 8601 with or without fractions, or a 4 to 14 digit
    timestamp as ARC files and CDX indexes have) as ISO 8601 UTC ``+00:00``; None when
    it cannot be read. A date without an offset is UTC, as the WARC standard says."""
    value = (text or "").strip()
    if re.fullmatch(r"\d{4}(-\d{2})?", value):
        value = value.replace("-", "")
    try:
        if value.isascii() and value.isdigit() and len(value) in _DIGIT_DATES:
            moment = datetime.strptime(value, _DIGIT_DATES[len(value)])
        else:
            moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return None


def uri_name(uri: str | None) -> str:
    """The last path segment of ``uri``, percent-decoded and made safe as a file name
    (no separators, control or format characters, no leading dots, at most 200 bytes);
    ``NO_NAME`` when nothing is left."""
    text = uri or ""
    try:
        path = urlsplit(text).path
    except ValueError:  # an unbalanced IPv6 bracket in the host
        path = text
    name = unquote(path.rsplit("/", 1)[-1], errors="replace")
    name = name.encode("utf-8", "replace")[:_NAME_BYTES].decode("utf-8", "ignore")
    name = "".join(
        "_" if c in _RESERVED or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c
        for c in name
    )
    return name.strip(" .") or NO_NAME


def digest_key(text: str | None) -> str | None:
    """A WARC digest (``sha1:<base32>``, ``sha256:<hex>``, base64...) as ``algo:<hex>``
    so that the same digest written two ways compares equal; None without one."""
    algo, sep, value = (text or "").partition(":")
    algo, value = algo.strip().lower().replace("-", ""), value.strip()
    if not sep or not algo or not value:
        return None
    try:
        size = hashlib.new(algo).digest_size
    except (ValueError, TypeError):
        return f"{algo}:{value}"
    raw = _digest_bytes(value, size)
    return f"{algo}:{raw.hex()}" if raw else f"{algo}:{value}"


def _digest_bytes(value: str, size: int) -> bytes | None:
    pad = "=" * (-len(value) % 8)
    decoders = (
        lambda: bytes.fromhex(value),
        lambda: base64.b32decode(value.upper() + pad),
        lambda: base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_"),
        lambda: base64.b64decode(value + "=" * (-len(value) % 4)),
    )
    for decode in decoders:
        try:
            raw = decode()
        except (ValueError, binascii.Error):
            continue
        if size and len(raw) == size:
            return raw
    return None


def error_dict(exc: EvidenceError) -> dict[str, str]:
    """``MediaRef.error`` for ``exc``."""
    return {"code": exc.code, "message": exc.message}


def warning(step: str, exc: EvidenceError) -> dict[str, str]:
    """One ``MediaRef.warnings`` entry."""
    return {"step": step, "code": exc.code, "message": exc.message}


# --- one record's facts ---------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """What the headers of one record say."""

    id: str
    type: str
    uri: str
    date: str
    #: The HTTP status; None when the record has no HTTP headers (a ``resource``).
    status: int | None
    #: The Content-Type the server declared (the record's own for non-HTTP records).
    declared: str
    page_id: str

    @classmethod
    def of(cls, record: Any, fallback_id: str) -> Capture:
        warc = record.rec_headers
        http = record.http_headers if record.rec_type != "request" else None
        status = None
        if http is not None:
            code = (http.get_statuscode() or "").strip()
            status = int(code) if code.isascii() and code.isdigit() else 0
        declared = (http.get_header("Content-Type") if http is not None else None) or (
            warc.get_header("WARC-Identified-Payload-Type") or warc.get_header("Content-Type")
        )
        return cls(
            id=(warc.get_header("WARC-Record-ID") or "").strip() or fallback_id,
            type=(record.rec_type or "").strip().lower(),
            uri=(warc.get_header("WARC-Target-URI") or "").strip(),
            date=(warc.get_header("WARC-Date") or "").strip(),
            status=status,
            declared=(declared or "").strip().lower(),
            page_id=(warc.get_header("WARC-Page-ID") or "").strip(),
        )

    @property
    def declares_media(self) -> bool:
        return self.declared.startswith(("image/", "video/"))


def at_key(cap: Capture) -> str:
    return f"{cap.uri} {cap.date}"


def all_values(headers: Any, name: str) -> list[str]:
    lower = name.lower()
    return [value.strip() for key, value in headers.headers if key.lower() == lower]
