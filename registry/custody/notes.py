"""Notes on items: an analyst's annotation, logged as a ``note.added`` custody event and
folded into the item's ``notes`` in the catalogue (so it survives ``rebuild``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from registry.custody.events import note_added

if TYPE_CHECKING:
    from registry.session import Session

#: Notes are annotations, not documents; a longer text belongs in a file ingested as such.
MAX_NOTE_CHARS = 20_000


def add_note(
    reg: Session, ref: str, text: str, *, actor: str, case: str | None = None
) -> dict[str, Any]:
    """Annotate the item ``ref`` (a SHA-256 or unique prefix) and return the log entry.

    ``case``: the case the note belongs to (users of the team server see only the notes
    of their cases); None for a note of the registry's operator.

    Raises:
        ItemNotFound, AmbiguousPrefix: ``ref`` names no single item.
        ValueError: The text is empty or too long.
    """
    if not text.strip():
        raise ValueError("note text is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise ValueError(f"note is {len(text)} characters, the limit is {MAX_NOTE_CHARS}")
    with reg.writing(actor) as catalog:
        sha = catalog.resolve(ref)
        [entry] = reg.record([note_added(actor, sha, text, case)])
        reg.save()
    return entry
