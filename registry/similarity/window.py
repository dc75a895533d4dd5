"""The items an ingest run stored last, which its workers may not have seen yet.

Ingest workers match each new photo against their own view of the registry: the index
cache as it was when the run started, plus every item the custody log had published
when they took the file (``registry.intake.view``). What they cannot have seen is what
the coordinator stored after that: items of the last commits, and the earlier files of
the batch being committed. ``Window`` keeps those items, by the log offset at which each
commit ended, in a small index of their own, so the coordinator matches a photo against
exactly the items its worker did not see: a few dozen, whatever the size of the
registry. The window keeps the last ``KEEP_ITEMS`` items; a worker that saw less than
the window reaches back (it lagged behind, or another process wrote meanwhile) has its
photo matched against the whole registry by the coordinator instead.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from registry.similarity.index import NearDupIndex

#: Items kept in the window (committed ones; the batch being committed comes on top).
KEEP_ITEMS = 512


class Window:
    """The last items an ingest run stored (see the module docstring).

    Args:
        start: The log offset the run's workers start from (the end of the log when
            the run began): every item stored before it is in their view.
    """

    def __init__(self, start: int) -> None:
        self.start = start
        self._commits: deque[tuple[int, list[str]]] = deque()
        self._pending: list[str] = []
        self._hashes: dict[str, list[dict[str, Any]]] = {}
        self._index: NearDupIndex | None = None

    def add(self, sha256: str, hashes: list[dict[str, Any]]) -> None:
        """An item of the batch being committed."""
        if sha256 in self._hashes:
            return
        self._pending.append(sha256)
        self._hashes[sha256] = hashes
        if self._index is not None:
            self._index.add(sha256, hashes)

    def committed(self, offset: int) -> None:
        """The batch is logged; the log ended at ``offset``."""
        self.start = min(self.start, offset)
        if self._pending:
            self._commits.append((offset, self._pending))
            self._pending = []
        kept = sum(len(shas) for _, shas in self._commits)
        while self._commits and kept - len(self._commits[0][1]) >= KEEP_ITEMS:
            end, shas = self._commits.popleft()
            kept -= len(shas)
            self.start = end
            for sha in shas:
                self._hashes.pop(sha, None)
            self._index = None

    def restart(self) -> None:
        """Another writer stored items: only workers that saw the log after the next
        commit can be matched against the window alone."""
        self._commits.clear()
        self._pending = []
        self._hashes.clear()
        self._index = None
        self.start = 1 << 62  # until ``committed`` says where the log ends

    def forget(self) -> None:
        """The batch failed: its items will not be stored."""
        for sha in self._pending:
            self._hashes.pop(sha, None)
        self._pending = []
        self._index = None

    def covers(self, seen: int | None) -> bool:
        """Whether a worker that saw the log up to ``seen`` missed only window items."""
        return seen is not None and seen >= self.start

    def unseen(self, seen: int) -> set[str]:
        """Items a worker that saw the log up to ``seen`` has not seen."""
        out = set(self._pending)
        for end, shas in self._commits:
            if end > seen:
                out.update(shas)
        return out

    @property
    def index(self) -> NearDupIndex:
        """The window's items as a near-duplicate index of their own."""
        if self._index is None:
            index = NearDupIndex()
            for sha in [s for _, shas in self._commits for s in shas] + self._pending:
                index.add(sha, self._hashes[sha])
            self._index = index
        return self._index
