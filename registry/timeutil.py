"""Instants as ISO 8601 text: parsing user input and comparing claimed times."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601 (``Z`` allowed); a time without an offset is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def parse_instant_strict(text: str) -> datetime:
    """Parse ISO 8601 (``Z`` allowed) and keep a missing offset missing."""
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))


def normalise_instant(text: str) -> str:
    """User-supplied time as ISO 8601 with an explicit offset (UTC when none was given).

    Raises:
        ValueError: Not an ISO 8601 date or date-time.
    """
    return parse_instant(text).isoformat()
