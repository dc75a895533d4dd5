"""Importers of the collections investigators make (Telegram Desktop exports, yt-dlp
downloads, auto-archiver runs, web archives): each finds its documents in a path by
their content and yields one ``MediaRef`` per media reference, with the sighting facts
the source states (``model``)."""

from ingest.sources.model import MAX_TEXT, SIGHTING_KEYS, Document, MediaRef, Options, inside

__all__ = ["MAX_TEXT", "SIGHTING_KEYS", "Document", "MediaRef", "Options", "inside"]
