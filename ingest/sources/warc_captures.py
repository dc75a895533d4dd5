"""The media captures of one document, indexed for the ``revisit`` records that refer
back to them: by record id, by target URI and date, by payload digest, and (for
``server-not-modified``) by URI. Each ``ok`` payload is kept alive by a private hard link
(a copy where links are not supported) in a hidden folder of the spool, removed when the
document is done: a revisit gets its own copy even after the first one was deleted."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

from ingest.sources.warc_fields import Capture, digest_key, warc_date


@dataclass(frozen=True)
class Origin:
    """What became of an earlier capture (``keep`` holds its payload when ``"ok"``)."""

    status: str  # "ok", "skipped", or "none" (declared image or video, but it was not)
    keep: str = ""
    suffix: str = ""
    reason: str = ""


class Captures:
    """The media captures of one document (every WARC of a WACZ), for its revisits."""

    def __init__(self, spool: str) -> None:
        self.spool = spool
        self._keep_dir: str | None = None
        self._kept = 0
        self._index: dict[tuple[str, ...], Origin] = {}

    def remember(self, record: Any, cap: Capture, origin: Origin) -> None:
        keys = [("id", cap.id), ("at", cap.uri, warc_date(cap.date) or cap.date)]
        keys.append(("uri", cap.uri))
        digest = digest_key(record.rec_headers.get_header("WARC-Payload-Digest"))
        if digest:
            keys.append(("digest", digest))
        for key in keys:
            self._index[key] = origin

    def find(self, record: Any, cap: Capture) -> Origin | None:
        """The capture a revisit refers to, or None when the document does not hold it."""
        warc = record.rec_headers
        keys: list[tuple[str, ...]] = []
        if refers := (warc.get_header("WARC-Refers-To") or "").strip():
            keys.append(("id", refers))
        uri = (warc.get_header("WARC-Refers-To-Target-URI") or "").strip()
        if uri and (date := (warc.get_header("WARC-Refers-To-Date") or "").strip()):
            keys.append(("at", uri, warc_date(date) or date))
        digest = digest_key(warc.get_header("WARC-Payload-Digest"))
        if digest:
            keys.append(("digest", digest))
        # The latest capture of the URI: only when the payload is the same by definition
        # (not modified) or nothing else is named; a digest revisit must match its digest.
        profile = (warc.get_header("WARC-Profile") or "").lower()
        if "server-not-modified" in profile or not digest:
            keys.append(("uri", uri or cap.uri))
        return next((self._index[k] for k in keys if k in self._index), None)

    def keep(self, path: str, suffix: str) -> Origin:
        """An ``ok`` origin whose payload outlives ``path`` (which the caller deletes)."""
        if self._keep_dir is None:
            self._keep_dir = tempfile.mkdtemp(prefix=".warc-originals-", dir=self.spool)
        self._kept += 1
        kept = os.path.join(self._keep_dir, str(self._kept))
        try:
            os.link(path, kept)
        except OSError:
            shutil.copyfile(path, kept)
        return Origin("ok", keep=kept, suffix=suffix)

    def copy(self, origin: Origin) -> str:
        """A new spool file holding ``origin``'s payload."""
        fd, path = tempfile.mkstemp(prefix="warc-", suffix=origin.suffix, dir=self.spool)
        os.close(fd)
        try:
            shutil.copyfile(origin.keep, path)
        except BaseException:
            remove(path)
            raise
        return path

    def close(self) -> None:
        """Remove the private links (the spooled files of the references stay)."""
        if self._keep_dir is not None:
            shutil.rmtree(self._keep_dir, ignore_errors=True)
            self._keep_dir = None
        self._index.clear()


def remove(path: str) -> None:
    """Delete a spool file, if it is there."""
    with contextlib.suppress(OSError):
        os.remove(path)
