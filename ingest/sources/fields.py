"""Sighting facts read from an export's values: instants and dates as ISO 8601, text cut
to ``MAX_TEXT``, and the warnings that say why a value was not used.

Each reader takes the ``warnings`` list of the reference being built and appends to it
when a value is present but cannot be used; an absent value (None) is simply unknown.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from ingest.errors import (
    EvidenceError,
    MalformedRecord,
    TextTruncated,
    TimeWithoutOffset,
)
from ingest.sources.model import MAX_TEXT

#: Instants outside these bounds are not plausible dates of a post or a capture (a zero
#: or negative Unix time, milliseconds taken for seconds, a year typed wrong).
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

Warnings = list[dict[str, str]]

_DIGITS8 = re.compile(r"[0-9]{8}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def warning(step: str, error: EvidenceError) -> dict[str, str]:
    """A ``MediaRef`` warning: ``{"step", "code", "message"}``."""
    return {"step": step, "code": error.code, "message": error.message}


def reason(error: EvidenceError) -> dict[str, str]:
    """A ``MediaRef.error``: ``{"code", "message"}``."""
    return {"code": error.code, "message": error.message}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _implausible(step: str, shown: str, warnings: Warnings) -> None:
    detail = f"{step}: {shown} is not a plausible date (before 1990 or after 2099)"
    warnings.append(warning(step, MalformedRecord(detail)))


def text(value: Any, step: str, warnings: Warnings) -> str | None:
    """A non-empty string (an integer id is given as its digits), else None; a value of
    another type is warned about."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is not None:
        problem = MalformedRecord(f"{step}: expected text, found {type(value).__name__}")
        warnings.append(warning(step, problem))
    return None


def cut_text(value: str, warnings: Warnings, step: str = "text") -> str:
    """``value`` cut to ``MAX_TEXT`` bytes of UTF-8 on a character boundary, with a
    warning when it was longer."""
    data = value.encode("utf-8", "replace")  # lone surrogates cannot be stored as UTF-8
    if len(data) <= MAX_TEXT:
        return data.decode("utf-8")
    cut = data[:MAX_TEXT].decode("utf-8", "ignore")  # drops a character split at the end
    detail = f"{len(data)} bytes of UTF-8, cut to {len(cut.encode('utf-8'))}"
    warnings.append(warning(step, TextTruncated(detail)))
    return cut


def unix_time(value: Any, step: str, warnings: Warnings) -> str | None:
    """A Unix time (seconds) as ISO 8601 in UTC (``2021-07-20T10:00:00+00:00``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problem = MalformedRecord(f"{step}: {_show(value)} is not a Unix time")
        warnings.append(warning(step, problem))
        return None
    if not math.isfinite(value) or not EARLIEST.timestamp() <= value < LATEST.timestamp():
        _implausible(step, f"Unix time {_show(value)}", warnings)
        return None
    return datetime.fromtimestamp(value, UTC).isoformat()


def compact_date(value: Any, step: str, warnings: Warnings) -> str | None:
    """A ``YYYYMMDD`` date (yt-dlp's ``upload_date``) as ``YYYY-MM-DD``."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DIGITS8.fullmatch(value):
        problem = MalformedRecord(f"{step}: {_show(value)} is not a YYYYMMDD date")
        warnings.append(warning(step, problem))
        return None
    try:
        day = date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        warnings.append(warning(step, MalformedRecord(f"{step}: {value!r} is not a date")))
        return None
    if not EARLIEST.date() <= day < LATEST.date():
        _implausible(step, repr(value), warnings)
        return None
    return day.isoformat()


def iso_time(value: Any, step: str, warnings: Warnings, *, utc: bool = False) -> str | None:
    """An ISO 8601 instant or date as the source wrote it, normalised: the ``T``
    separator, its offset kept (``utc``: converted to UTC); a date alone stays a date.

    A number is taken as a Unix time. An instant without an offset is kept bare with a
    ``TimeWithoutOffset`` warning, except with ``utc``, where it is not used (an instant
    that must be UTC cannot be guessed).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return unix_time(value, step, warnings)
    found = _checked(value, step, warnings)
    if found is None or not isinstance(found, datetime):
        return found.isoformat() if found else None
    if found.tzinfo is None:
        if utc:
            problem = MalformedRecord(f"{step}: {_show(value)} has no offset; it is not used")
            warnings.append(warning(step, problem))
            return None
        warnings.append(warning(step, TimeWithoutOffset(f"{step}: {_show(value)}")))
        return found.isoformat()
    return (found.astimezone(UTC) if utc else found).isoformat()


def iso_day(value: Any, step: str, warnings: Warnings) -> str | None:
    """The date (``YYYY-MM-DD``) of an ISO 8601 instant or date, as the source wrote it
    (the day in the instant's own offset)."""
    found = _checked(value, step, warnings)
    if isinstance(found, datetime):
        return found.date().isoformat()
    return found.isoformat() if found else None


def _checked(value: Any, step: str, warnings: Warnings) -> date | datetime | None:
    """An ISO 8601 string parsed and within the plausible bounds, else None (warned)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problem = MalformedRecord(f"{step}: {_show(value)} is not a date")
        warnings.append(warning(step, problem))
        return None
    found = _parse_iso(value.strip())
    if found is None:
        problem = MalformedRecord(f"{step}: {_show(value)} is not an ISO 8601 date")
        warnings.append(warning(step, problem))
        return None
    if isinstance(found, datetime):
        plausible = EARLIEST <= (found if found.tzinfo else found.replace(tzinfo=UTC)) < LATEST
    else:
        plausible = EARLIEST.date() <= found < LATEST.date()
    if not plausible:
        _implausible(step, _show(value), warnings)
        return None
    return found


def _parse_iso(value: str) -> date | datetime | None:
    try:
        if _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        return None
