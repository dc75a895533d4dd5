"""Near-duplicates in a registry: the index's life cycle, the check of new items at
ingest, and matching files or stored items against the registry. Nothing here writes
the custody log: callers turn the matches into ``neardup.found`` entries.

The index (``registry.similarity.index``) is a view of the catalogue. It is cached in
``index/neardup.json`` (a manifest naming a folder of memory-mapped arrays), stamped
with the number of items and the sequence number of the last custody entry that set any
item's hashes, so any change made by another process (or a rebuilt catalogue) is
noticed and the index rebuilt. Pictures of candidates are read from the vault (or from
staging, for items of the batch being committed) and decoded at reduced size.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ingest import (
    EvidenceError,
    Extracted,
    Features,
    Limits,
    PictureTooSmall,
    decode_image,
    extract_all,
    walk,
)
from registry.errors import StepFailed
from registry.similarity.config import MatchConfig
from registry.similarity.index import INDEX_FILE, NearDupIndex
from registry.similarity.photo import Match, Query, find_matches
from registry.similarity.still_check import StillCheck, VideoSource
from registry.similarity.verification import Side
from registry.similarity.video import video_matches
from registry.similarity.window import Window

if TYPE_CHECKING:
    from PIL import Image

#: Prepared candidate pictures kept in memory (each ~0.3 MB).
PICTURE_CACHE = 64


def read_picture(path: str) -> Image.Image | None:
    """The photo at ``path`` (a stored item's bytes) decoded at hashing size, or None
    when it cannot be read or decoded."""
    try:
        with open(path, "rb") as fh:
            return decode_image(fh.read()).picture
    except (OSError, EvidenceError):
        return None


def trim_sides(cache: OrderedDict[str, Side]) -> None:
    """Keep the ``PICTURE_CACHE`` most recently prepared pictures of ``cache``."""
    while len(cache) > PICTURE_CACHE:
        cache.popitem(last=False)


class Items(Protocol):
    """What the matcher reads of the catalogue."""

    def __len__(self) -> int: ...

    def __contains__(self, sha256: object) -> bool: ...

    def get(self, sha256: str) -> dict[str, Any] | None: ...

    def iter_items(self) -> Iterator[dict[str, Any]]: ...

    @property
    def hash_seq(self) -> int: ...


def index_stamp(items: Items) -> str:
    return f"{len(items)}:{items.hash_seq}"


class NearDuplicates:
    """The near-duplicate machinery of one registry (``Registry.near``).

    Args:
        root: The registry folder (the index is cached below it).
        items: Returns the catalogue as it is now.
        locate: Returns where a stored item's bytes are (the vault, or staging for an
            item of the batch being committed).
    """

    def __init__(self, root: str, items: Callable[[], Items], locate: Callable[[str], str]) -> None:
        self.path = os.path.join(root, INDEX_FILE)
        self._items = items
        self._locate = locate
        self._index: NearDupIndex | None = None
        self._dirty = False
        self._sides: OrderedDict[str, Side] = OrderedDict()
        # While an ingest run's workers match: what they may not have seen yet.
        self._window: Window | None = None
        # Copies of the batch being committed, outside staging proper (a run's folder).
        self._staged: dict[str, str] = {}
        self._on_disk: str | None = None  # the stamp of the cache file, when known

    # --- the index ----------------------------------------------------------------------

    def index(self) -> NearDupIndex:
        """The index of the catalogue as it is now (loaded, or rebuilt and cached)."""
        items = self._items()
        stamp = index_stamp(items)
        if self._index is not None and self._index.stamp == stamp:
            return self._index
        self._sides.clear()
        if self._index is not None and self._window is not None:
            self._window.restart()  # another writer stored items the workers never saw
        index = NearDupIndex.load(self.path, stamp)
        self._on_disk = stamp if index is not None else self._on_disk
        if index is None:
            index = NearDupIndex.from_catalog(items.iter_items(), stamp)
            self._index, self._dirty = index, True
            self.save()
        self._index = index
        return index

    def save(self) -> None:
        """Write the cached index if it changed (a failure only costs a rebuild later)."""
        if self._index is not None and self._dirty:
            with contextlib.suppress(OSError):
                self._index.save(self.path)
                self._on_disk = self._index.stamp
            self._dirty = False

    def forget(self) -> None:
        """Drop the in-memory index (after a failed batch)."""
        self._index = None
        self._sides.clear()
        self._staged.clear()
        if self._window is not None:
            self._window.forget()

    def add(self, sha256: str, hashes: list[dict[str, Any]], staged: str | None = None) -> None:
        """Index an item of the batch being committed (``staged``: where its copy is, when
        not in staging proper)."""
        self.index().add(sha256, hashes)
        self._dirty = True
        if self._window is not None:
            self._window.add(sha256, hashes)
        if staged:
            self._staged[sha256] = staged

    def committed(self, log_offset: int | None = None) -> None:
        """The batch is in the log, vault and catalogue (the log committed up to
        ``log_offset``): the index now reflects them, and workers may see them."""
        self._staged.clear()
        if self._index is not None:
            self._index.stamp = index_stamp(self._items())
        if self._window is not None and log_offset is not None:
            self._window.committed(log_offset)

    # --- ingest runs whose workers match ------------------------------------------------

    def start_run(self, log_offset: int) -> str:
        """Before workers match: write the index cache they start from, and keep a window
        of what is stored after ``log_offset`` (the log's committed end now). Returns the
        cache's stamp (a worker that finds another cache does not match)."""
        index = self.index()
        if self._on_disk != index.stamp:
            self._dirty = True
            self.save()
        self._window = Window(log_offset)
        return index.stamp or ""

    def end_run(self) -> None:
        self._window = None

    # --- pictures -----------------------------------------------------------------------

    def picture(self, sha256: str) -> Image.Image | None:
        """A stored item's picture at hashing size, or None when it cannot be decoded."""
        return read_picture(self._staged.get(sha256) or self._locate(sha256))

    def _find(self, query: Query, config: MatchConfig, exclude: Iterable[str]) -> list[Match]:
        return find_matches(
            query, self.index(), self.picture, config, exclude=exclude, cache=self._sides
        )

    def trim_cache(self) -> None:
        """Keep at most ``PICTURE_CACHE`` prepared pictures."""
        trim_sides(self._sides)

    # --- matching -----------------------------------------------------------------------

    def matches(
        self,
        rec: Extracted,
        picture: Image.Image | None,
        config: MatchConfig,
        exclude: list[str],
        batch: dict[str, dict[str, Any]],
        features: Features | None = None,
    ) -> list[dict[str, Any]]:
        """``rec``'s near-duplicates, best first and none in ``exclude``: as a photo (when
        its ``picture`` is given) and as a still of videos, or as a video by its frames.

        ``batch``: items of the batch being committed that the catalogue does not hold
        yet (``media_type``, ``hashes``, ``duration_s``); ``features``: the picture's ORB
        features when extraction handed them on. A photo that an ingest worker already
        matched against its view (``rec.handover``: ``matches``, and ``seen``, the log
        offset the view reached) is matched here only against what it did not see.
        """
        photo: list[dict[str, Any]] = []
        if picture is not None:
            query = rec.handover.pop("query", None) or Query(picture, rec.hashes, features)
            if not query.verifiable:
                size = f"{picture.width}x{picture.height} px"
                why = f"{size}; matched by hash alone, without ORB votes or pixel checks"
                rec.warn("near_duplicates.verification", PictureTooSmall(why))
            photo = self._photo_matches(query, rec, config, exclude)
        skip = set(exclude)
        check = self._still_check(rec, picture, config, batch)
        found = [
            m for m in self._with_video(rec, photo, batch, check, config) if m["sha256"] not in skip
        ]
        self.trim_cache()
        return found

    def _photo_matches(
        self, query: Query, rec: Extracted, config: MatchConfig, exclude: list[str]
    ) -> list[dict[str, Any]]:
        worker = rec.handover.get("matches")
        seen = rec.handover.get("seen")
        window = self._window
        if worker is None or window is None or not window.covers(seen):
            return [m.to_dict() for m in self._find(query, config, exclude=exclude)]
        unseen = window.unseen(int(seen))
        found = list(worker)
        if unseen:
            index = window.index
            skip = [*exclude, *(s for s in index.items if s not in unseen)]
            found += [
                m.to_dict()
                for m in find_matches(
                    query, index, self.picture, config, exclude=skip, cache=self._sides
                )
            ]
        return sorted(found, key=lambda m: (-float(m["score"]), m["sha256"]))

    def _still_check(
        self,
        rec: Extracted,
        picture: Image.Image | None,
        config: MatchConfig,
        batch: dict[str, dict[str, Any]],
    ) -> StillCheck:
        """Checks the query's stills on pixels: registered videos' frames are decoded from
        the vault (or staging), a query video's from its file."""
        items = self._items()

        def video(sha: str) -> VideoSource | None:
            doc = batch.get(sha) or items.get(sha) or {}
            rotation = (doc.get("metadata") or {}).get("rotation")
            return self._staged.get(sha) or self._locate(sha), rotation

        query_video = None
        if rec.media_type == "video" and rec.path:
            query_video = (rec.path, (rec.metadata or {}).get("rotation"))
        return StillCheck(config, self.picture, video, picture, query_video)

    def _with_video(
        self,
        rec: Extracted,
        photo_matches: list[dict[str, Any]],
        batch: dict[str, dict[str, Any]],
        check: StillCheck | None = None,
        config: MatchConfig | None = None,
    ) -> list[dict[str, Any]]:
        """Photo matches (videos left out: they are matched by their frames) plus the
        matches that involve a video, best first."""
        items = self._items()

        def lookup(sha: str) -> dict[str, Any] | None:
            return batch.get(sha) or items.get(sha)

        kept = [
            m for m in photo_matches if (lookup(m["sha256"]) or {}).get("media_type") != "video"
        ]
        video = video_matches(
            rec.media_type,
            rec.hashes,
            rec.duration_s,
            self.index(),
            lookup,
            exclude=[rec.sha256 or ""],
            check=check,
            config=config,
        )
        seen = {m["sha256"] for m in kept}
        merged = kept + [m for m in video if m["sha256"] not in seen]
        return sorted(merged, key=lambda m: -float(m.get("score") or 0))

    def stored_matches(
        self, doc: dict[str, Any], config: MatchConfig, exclude: list[str]
    ) -> list[dict[str, Any]]:
        """A stored item's near-duplicates among the others, as ingest finds them (a
        photo by its picture and as a still of videos; a video by its frames)."""
        rec = Extracted(
            # A stored video's frames are checked against photos from its vault copy.
            path=self._locate(doc["sha256"]) if doc.get("media_type") == "video" else "",
            sha256=doc["sha256"],
            media_type=doc.get("media_type"),
            hashes=doc.get("hashes") or [],
            duration_s=doc.get("duration_s"),
            metadata=dict(doc.get("metadata") or {}),
        )
        picture = None
        if rec.media_type == "image":
            picture = self.picture(rec.sha256 or "")
            if picture is None:
                return []
        return self.matches(rec, picture, config, exclude, {})

    def match_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        config: MatchConfig,
        *,
        limits: Limits | None = None,
    ) -> Iterator[dict[str, Any]]:
        """One result per file: ``{"path", "sha256", "exact", "matches"}`` (plus
        ``"error"`` when the file cannot be read as a photo). Nothing is written.

        Files are decoded in a supervised worker process (``limits``: per-file time and
        memory), so a hostile file costs only its own result.
        """
        items = self._items()
        for rec in extract_all(walk(paths), isolate=True, limits=limits):
            out: dict[str, Any] = {
                "path": rec.path,
                "sha256": rec.sha256,
                "exact": bool(rec.sha256 and rec.sha256 in items),
                "matches": [],
            }
            if rec.error is not None:
                out["error"] = rec.error["message"]
                out["error_code"] = rec.error["code"]
            elif rec.media_type == "image" and rec.picture is None:
                out["error"] = "the photo's picture could not be hashed"
                out["error_code"] = "CorruptMedia"
            else:
                try:
                    out["matches"] = self.matches(
                        rec, rec.picture, config, [rec.sha256 or ""], {}, rec.features
                    )
                except Exception as exc:  # one file's search must not stop the others
                    failed = StepFailed.because(exc, "near-duplicate search")
                    out["error"], out["error_code"] = failed.message, failed.code
            if rec.warnings:
                out["warnings"] = rec.warnings
            yield out
        self.save()
