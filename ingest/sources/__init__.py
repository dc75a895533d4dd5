"""Importers of the collections investigators make (Telegram Desktop exports, yt-dlp
downloads, auto-archiver runs, web archives): each finds its documents in a path by
their content and yields one ``MediaRef`` per media reference, with the sighting facts
the source states (``model``). ``SOURCES`` maps each kind to its importer; a new kind of
collection is one module and one entry there."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from ingest.errors import EvidenceError, UnreadableExport
from ingest.sources.autoarchiver import AutoArchiverSource
from ingest.sources.model import (
    MAX_TEXT,
    SIGHTING_KEYS,
    Document,
    MediaRef,
    Options,
    Source,
    inside,
)
from ingest.sources.telegram import TelegramSource
from ingest.sources.warc import WarcSource
from ingest.sources.ytdlp import YtdlpSource

#: Every kind of collection, in the order ``--format auto`` asks them.
SOURCES: dict[str, Source] = {
    "telegram": TelegramSource(),
    "auto-archiver": AutoArchiverSource(),
    "ytdlp": YtdlpSource(),
    "warc": WarcSource(),
}


def find_documents(
    paths: Iterable[str], fmt: str = "auto"
) -> Iterator[tuple[str, list[Document], EvidenceError | None]]:
    """For each path, the documents found there: ``(path, documents, None)``, or
    ``(path, [], error)`` when the path holds no export of the kind asked for.

    With ``fmt="auto"`` every source looks at the path and a document is taken by the
    first that recognises it (in ``SOURCES`` order).

    Raises:
        ValueError: ``fmt`` is neither ``"auto"`` nor a kind in ``SOURCES``.
    """
    if fmt != "auto" and fmt not in SOURCES:
        raise ValueError(f"unknown format {fmt!r} (auto or one of {', '.join(SOURCES)})")
    kinds = list(SOURCES.values()) if fmt == "auto" else [SOURCES[fmt]]
    for path in paths:
        if not os.path.exists(path):
            yield path, [], UnreadableExport(f"{path}: no such file or folder")
            continue
        taken: dict[str, Document] = {}
        for source in kinds:
            try:
                found = source.find(path)
            except Exception as exc:  # one source failing on a path must not stop the others
                yield path, [], UnreadableExport(f"{path}: {source.kind}: {exc}")
                found = []
            for doc in found:
                taken.setdefault(doc.path, doc)
        if not taken:
            what = "export" if fmt == "auto" else f"{fmt} export"
            yield path, [], UnreadableExport(f"{path}: no {what} found there")
            continue
        yield path, sorted(taken.values(), key=lambda d: d.path), None


__all__ = [
    "MAX_TEXT",
    "SIGHTING_KEYS",
    "SOURCES",
    "Document",
    "MediaRef",
    "Options",
    "Source",
    "find_documents",
    "inside",
]
