"""A worker's view of the registry's near-duplicate index: the index cache as the run
found it, brought up to date from the custody log.

The coordinator writes the index cache (``index/neardup.npz``) before the run starts
and, after every commit, publishes how far the custody log is committed (vault copies
moved, catalogue written) in ``index/feed.json`` (``publish``). Before it matches a file,
a worker reads that offset and adds to its index every item the log recorded since it
last looked (``metadata.extracted`` entries carry the hashes): the log is the feed, so
nothing else has to be written for the workers. What the worker has seen is reported
with its matches as the log offset it read up to; the coordinator matches the file
against what came after (``registry.similarity.window``).

A view that cannot be trusted (the cache was replaced by another writer, the log has
an unreadable line, an item's hashes were changed by ``reindex``) stops matching, and the
coordinator matches those files itself.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ingest import Extracted
from registry.custody import (
    HASHES_UPDATED,
    HEAD_FILE,
    LOG_FILE,
    METADATA_EXTRACTED,
    CustodyLog,
    KeyRing,
)
from registry.similarity import (
    INDEX_FILE,
    MatchConfig,
    NearDupIndex,
    Query,
    find_matches,
    read_picture,
    trim_sides,
)
from registry.store import Vault

if TYPE_CHECKING:
    from PIL import Image

FEED_FILE = os.path.join("index", "feed.json")


def publish(root: str, offset: int) -> None:
    """Tell workers that the log is committed up to ``offset`` (a hint: a lost or old
    feed only makes workers see less, and the coordinator match more)."""
    path = os.path.join(root, FEED_FILE)
    tmp = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"log_offset": offset}, fh)
        os.replace(tmp, path)


def published(root: str) -> int | None:
    try:
        with open(os.path.join(root, FEED_FILE), encoding="utf-8") as fh:
            return int(json.load(fh)["log_offset"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class View:
    """One worker's near-duplicate index of a registry (see the module docstring).

    Args:
        root: The registry folder.
        stamp: The stamp of the index cache the run started from.
        start: The log offset that cache reflects.
        load: False for a view that matches nothing (its index could not be loaded).
    """

    def __init__(self, root: str, stamp: str, start: int, *, load: bool = True) -> None:
        self.root = root
        self.index: NearDupIndex | None = (
            NearDupIndex.load(os.path.join(root, INDEX_FILE), stamp) if load else None
        )
        self.position = start
        self._log = CustodyLog(
            os.path.join(root, LOG_FILE),
            os.path.join(root, HEAD_FILE),
            KeyRing(os.path.join(root, "keys")),
        )
        self._vault = Vault(os.path.join(root, "vault"))
        self._sides: OrderedDict[str, Any] = OrderedDict()

    def refresh(self) -> None:
        """Add the items the log has committed since the view last looked."""
        end = published(self.root)
        if self.index is None or end is None or end <= self.position:
            return
        position = self.position
        for raw in self._log.lines(self.position):
            if raw.offset >= end:
                break
            if raw.entry is None or not raw.complete:
                self.index = None  # an unreadable line: this view cannot be trusted
                return
            action, sha = raw.entry.get("action"), raw.entry.get("sha256")
            if action == HASHES_UPDATED:
                self.index = None  # hashes changed under us: the coordinator matches
                return
            if action == METADATA_EXTRACTED and sha:
                self.index.add(sha, (raw.entry.get("details") or {}).get("hashes") or [])
            position = raw.end
        self.position = position

    def knows(self, sha256: str) -> bool:
        return self.index is not None and sha256 in self.index

    def picture(self, sha256: str) -> Image.Image | None:
        """A stored item's picture at hashing size (from the vault: every item in the
        view is committed)."""
        return read_picture(self._vault.path(sha256))

    def match(
        self, rec: Extracted, config: MatchConfig
    ) -> tuple[list[dict[str, Any]], Query] | None:
        """The photo's near-duplicates among the items of the view, and the query as
        prepared for them (its sides and vote sets: the coordinator's search of the
        window reuses them). None when the view cannot be trusted, or there is no
        picture."""
        if self.index is None or rec.picture is None:
            return None
        query = Query(rec.picture, rec.hashes, rec.features)
        found = find_matches(
            query, self.index, self.picture, config, exclude=[rec.sha256 or ""], cache=self._sides
        )
        trim_sides(self._sides)
        return [m.to_dict() for m in found], query
