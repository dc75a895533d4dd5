"""The job an ingest worker runs on one file: extract it, copy a new file into the run's
staging folder, and match a new photo against the worker's view of the registry.

Done here, in the workers, the two costly steps of storing a file (the verified copy,
and the near-duplicate search with its pixel checks) run side by side on every core; the
coordinator is left with what needs the writer lock (custody entries, catalogue, index
insert, moving copies into the vault) and with matching each photo against the few
items its worker could not have seen yet (``registry.similarity.window``).

The job is pickled to each worker (a process of ``ingest.supervised_extract``, or a
cluster's): it carries paths and thresholds, never keys or open files. Each process
keeps its view of the registry between files (``_VIEWS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest import EvidenceError, Extracted, extract
from registry.intake.view import View
from registry.similarity import MatchConfig
from registry.store import RunStaging, copy_verified

#: One view per run and process (a process runs the files of one run at a time).
_VIEWS: dict[str, View] = {}


@dataclass
class IngestJob:
    """``job(path, max_pixels=...)``: an ``ingest.Job`` (see the module docstring).

    Args:
        root: The registry folder.
        staging: The run's staging folder (created and locked by the coordinator).
        config: Near-duplicate thresholds.
        stamp: The stamp of the index cache the run started from.
        start: The log offset that cache reflects.
    """

    root: str
    staging: RunStaging
    config: MatchConfig = field(default_factory=MatchConfig)
    stamp: str = ""
    start: int = 0

    def __call__(self, path: str, *, max_pixels: int) -> Extracted:
        rec = extract(path, max_pixels=max_pixels)
        if not rec.ok or not rec.sha256:
            return rec
        view = self._view()
        try:
            view.refresh()
        except Exception:  # e.g. out of memory: the coordinator matches instead
            view.index = None
        if view.knows(rec.sha256):
            return rec  # already stored: a sighting only, no copy, no search
        try:
            staged = self.staging.path_for(rec.sha256)
            rec.handover["staged"] = copy_verified(rec.source or path, rec.sha256, staged)
        except EvidenceError:
            pass  # the coordinator copies it itself, and reports a failure there
        if rec.media_type == "image":
            try:
                found = view.match(rec, self.config)
            except Exception:  # the coordinator matches instead
                found = None
            if found is not None:
                rec.handover["matches"], rec.handover["query"] = found
                rec.handover["seen"] = view.position
        return rec

    def warm_up(self) -> None:
        """Load what matching needs (called before workers are forked)."""
        import cv2  # noqa: F401
        import faiss  # noqa: F401

    def _view(self) -> View:
        view = _VIEWS.get(self.staging.folder)
        if view is None:
            _VIEWS.clear()  # a new run: the old one's view is of no use
            try:
                view = View(self.root, self.stamp, self.start)
            except Exception:  # the coordinator matches instead
                view = View(self.root, self.stamp, self.start, load=False)
            _VIEWS[self.staging.folder] = view
        return view
