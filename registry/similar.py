"""Near-duplicates in a registry: the index's life cycle, the check of each new item at
ingest, matching files without ingesting them, and re-hashing stored items.

The index (``registry.neardup``) is a view of the catalogue. It is cached in
``index/neardup.npz``, stamped with the number of items and the sequence number of the
last custody entry that set any item's hashes, so any change made by another process
(or a rebuilt catalogue) is noticed and the index rebuilt. Pictures of candidates are
read from the vault (or from staging, for items of the batch being committed) and
decoded at reduced size.

Every near-duplicate found is a ``neardup.found`` custody entry; the catalogue folds it
into both items' ``near_duplicates``.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from PIL import Image

from ingest import Extracted, extract_all, walk
from ingest.errors import EvidenceError
from ingest.image import decode_image
from ingest.perceptual import versions_tag
from ingest.pipeline import rehash_image, rehash_video
from ingest.video_frames import METHOD_VERSION as FRAME_METHOD_VERSION

from .match import Match, MatchConfig, Query, Side, find_matches
from .neardup import NearDupIndex
from .video_near import video_matches

if TYPE_CHECKING:
    from ingest.features import Features

    from .catalog import Catalog
    from .core import Registry

INDEX_FILE = os.path.join("index", "neardup.npz")
#: Prepared candidate pictures kept in memory (each ~0.3 MB).
PICTURE_CACHE = 64
#: Items re-hashed per custody-log append during ``reindex``.
REINDEX_BATCH = 64


def index_stamp(catalog: Catalog) -> str:
    return f"{len(catalog)}:{catalog.hash_seq}"


class NearDuplicates:
    """The near-duplicate machinery of one registry (``Registry.near``)."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.path = os.path.join(reg.root, INDEX_FILE)
        self._index: NearDupIndex | None = None
        self._dirty = False
        self._sides: OrderedDict[str, Side] = OrderedDict()

    # --- the index ----------------------------------------------------------------------

    def index(self) -> NearDupIndex:
        """The index of the catalogue as it is now (loaded, or rebuilt and cached)."""
        catalog = self.reg.catalog
        stamp = index_stamp(catalog)
        if self._index is not None and self._index.stamp == stamp:
            return self._index
        self._sides.clear()
        index = NearDupIndex.load(self.path, stamp)
        if index is None:
            index = NearDupIndex.from_catalog(catalog.iter_items(), stamp)
            self._index, self._dirty = index, True
            self.save()
        self._index = index
        return index

    def save(self) -> None:
        """Write the cached index if it changed (a failure only costs a rebuild later)."""
        if self._index is not None and self._dirty:
            with contextlib.suppress(OSError):
                self._index.save(self.path)
            self._dirty = False

    def forget(self) -> None:
        """Drop the in-memory index (after a failed batch)."""
        self._index = None
        self._sides.clear()

    # --- pictures -----------------------------------------------------------------------

    def picture(self, sha256: str) -> Image.Image | None:
        """A stored item's picture at hashing size, or None when it cannot be decoded."""
        vault = self.reg.vault
        path = vault.path(sha256)
        if not os.path.exists(path):
            path = vault.staged_path(sha256)
        try:
            with open(path, "rb") as fh:
                return decode_image(fh.read()).picture
        except (OSError, EvidenceError):
            return None

    def _find(self, query: Query, config: MatchConfig, exclude: Iterable[str]) -> list[Match]:
        return find_matches(
            query, self.index(), self.picture, config, exclude=exclude, cache=self._sides
        )

    def _trim_cache(self) -> None:
        while len(self._sides) > PICTURE_CACHE:
            self._sides.popitem(last=False)

    # --- ingest -------------------------------------------------------------------------

    def check_new(
        self, records: list[Extracted], actor: str, config: MatchConfig
    ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """Near-duplicates of freshly staged items (call under the writer lock, before
        their events are recorded).

        Each item is matched against the registry and the items before it in the batch,
        then added to the index. Returns the ``neardup.found`` events and, per item, the
        matches as shown in ``ingest --json``.
        """
        index = self.index()
        events: list[dict[str, Any]] = []
        found: dict[str, list[dict[str, Any]]] = {}
        batch: dict[str, dict[str, Any]] = {}
        for rec in records:
            if rec.sha256 is None:
                continue
            picture = features = None
            if rec.media_type == "image" and rec.hashes:
                # The worker's decode of these very bytes (checked against the vault
                # copy's hash), else the vault copy decoded again.
                features = rec.features if rec.picture is not None else None
                picture = rec.picture or self.picture(rec.sha256)
            rec.picture = rec.features = None
            matches = self._matches(rec, picture, config, [rec.sha256], batch, features)
            found[rec.sha256] = matches
            events += [found_event(rec.sha256, m, actor) for m in matches]
            batch[rec.sha256] = {
                "media_type": rec.media_type,
                "hashes": rec.hashes,
                "duration_s": rec.duration_s,
            }
            index.add(rec.sha256, rec.hashes)
            self._dirty = True
            self._trim_cache()
        return events, found

    def committed(self) -> None:
        """The batch is in the log and catalogue: the index now reflects them."""
        if self._index is not None:
            self._index.stamp = index_stamp(self.reg.catalog)

    def _matches(
        self,
        rec: Extracted,
        picture: Image.Image | None,
        config: MatchConfig,
        exclude: list[str],
        batch: dict[str, dict[str, Any]],
        features: Features | None = None,
    ) -> list[dict[str, Any]]:
        """``rec``'s near-duplicates, best first and none in ``exclude``: as a photo (when
        its ``picture`` is given) and as a still of videos, or as a video by its frames."""
        photo: list[dict[str, Any]] = []
        if picture is not None:
            query = Query(picture, rec.hashes, features)
            photo = [m.to_dict() for m in self._find(query, config, exclude=exclude)]
        skip = set(exclude)
        return [m for m in self._with_video(rec, photo, batch) if m["sha256"] not in skip]

    def _with_video(
        self,
        rec: Extracted,
        photo_matches: list[dict[str, Any]],
        batch: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Photo matches (videos left out: they are matched by their frames) plus the
        matches that involve a video, best first."""
        catalog = self.reg.catalog

        def lookup(sha: str) -> dict[str, Any] | None:
            return batch.get(sha) or catalog.get(sha)

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
        )
        seen = {m["sha256"] for m in kept}
        merged = kept + [m for m in video if m["sha256"] not in seen]
        return sorted(merged, key=lambda m: -float(m.get("score") or 0))

    # --- matching files -----------------------------------------------------------------

    def match_paths(
        self, paths: Iterable[str | os.PathLike[str]], config: MatchConfig
    ) -> Iterator[dict[str, Any]]:
        """One result per file: ``{"path", "sha256", "exact", "matches"}`` (plus
        ``"error"`` when the file cannot be read as a photo). Nothing is written."""
        catalog = self.reg.catalog
        for rec in extract_all(walk(paths)):
            out: dict[str, Any] = {
                "path": rec.path,
                "sha256": rec.sha256,
                "exact": bool(rec.sha256 and rec.sha256 in catalog),
                "matches": [],
            }
            if rec.error is not None:
                out["error"] = rec.error["message"]
                out["error_code"] = rec.error["code"]
            elif rec.media_type == "video":
                out["matches"] = self._with_video(rec, [], {})
            else:
                try:
                    picture = rec.picture
                    if picture is None:
                        with open(rec.source or rec.path, "rb") as fh:
                            picture = decode_image(fh.read()).picture
                except (OSError, EvidenceError) as exc:
                    out["error"] = f"cannot decode the photo again: {exc}"
                    out["error_code"] = type(exc).__name__
                else:
                    query = Query(picture, rec.hashes)
                    matches = self._find(query, config, exclude=[rec.sha256 or ""])
                    out["matches"] = self._with_video(rec, [m.to_dict() for m in matches], {})
                    self._trim_cache()
            yield out
        self.save()

    # --- re-hashing ---------------------------------------------------------------------

    def reindex(
        self, actor: str, config: MatchConfig, *, everything: bool = False, find: bool = True
    ) -> dict[str, Any]:
        """Re-hash items from the vault with the current hashers (photos) and frame-hashing
        method (videos), then look for near-duplicates among them. Every change is a
        custody entry (``hashes.updated``, ``neardup.found``) and the run is summed up in
        a ``reindex.run`` entry.

        Args:
            actor: Who runs it.
            config: Matching thresholds.
            everything: Re-hash every item, not only those hashed by other versions (and
                retry videos whose frames could not be hashed).
            find: Look for near-duplicates of the re-hashed items afterwards.
        """
        tag = versions_tag()
        summary: dict[str, Any] = {
            "hashers": tag,
            "frame_method": FRAME_METHOD_VERSION,
            "images": 0,
            "videos": 0,
            "rehashed": 0,
            "updated": 0,
            "failed": [],
            "near_duplicates": 0,
        }
        reg = self.reg
        todo: list[str] = []
        with reg.writing(actor) as catalog:
            for doc in catalog.iter_items():
                kind = doc.get("media_type")
                if kind not in ("image", "video"):
                    continue
                summary["images" if kind == "image" else "videos"] += 1
                if everything or _stale(doc, tag):
                    todo.append(doc["sha256"])
        rehashed: list[str] = []
        for start in range(0, len(todo), REINDEX_BATCH):
            with reg.writing(actor) as catalog:
                events = []
                for sha in todo[start : start + REINDEX_BATCH]:
                    doc = catalog.get(sha) or {}
                    try:
                        rec = _rehash(reg.vault.path(sha), doc.get("media_type"))
                    except OSError as exc:
                        summary["failed"].append({"sha256": sha, "error": str(exc)})
                        continue
                    if rec.error is not None:
                        summary["failed"].append({"sha256": sha, "error": rec.error["message"]})
                        continue
                    frames = (rec.metadata or {}).get("frame_hashes")
                    if doc.get("media_type") == "video" and frames is None:
                        # Frames that could not be hashed now never replace stored ones.
                        why = "; ".join(w["message"] for w in rec.warnings)
                        summary["failed"].append(
                            {"sha256": sha, "error": why or "no frame could be hashed"}
                        )
                        continue
                    summary["rehashed"] += 1
                    rehashed.append(sha)
                    old_frames = (doc.get("metadata") or {}).get("frame_hashes")
                    if (
                        rec.hashes != doc.get("hashes")
                        or rec.tools != doc.get("tools")
                        or (frames is not None and frames != old_frames)
                    ):
                        summary["updated"] += 1
                        details = {
                            "hashes": rec.hashes,
                            "tools": rec.tools,
                            "warnings": rec.warnings,
                            "reason": "reindex",
                        }
                        if frames is not None:
                            details["frame_hashes"] = frames
                        events.append(
                            {
                                "actor": actor,
                                "action": "hashes.updated",
                                "sha256": sha,
                                "details": details,
                            }
                        )
                if events:
                    reg.record(events)
                    reg.save()
        if find and rehashed:
            summary["near_duplicates"] = self._find_among(rehashed, actor, config)
        with reg.writing(actor):
            failed = summary["failed"]
            details = {**summary, "failed": failed[:100], "thresholds": config.to_dict()}
            reg.record([{"actor": actor, "action": "reindex.run", "details": details}])
            reg.save()
        self.save()
        return summary

    def _matches_of(
        self, doc: dict[str, Any], config: MatchConfig, exclude: list[str]
    ) -> list[dict[str, Any]]:
        """A stored item's near-duplicates among the others, as ``check_new`` finds them
        (a photo by its picture and as a still of videos; a video by its frames)."""
        rec = Extracted(
            path="",
            sha256=doc["sha256"],
            media_type=doc.get("media_type"),
            hashes=doc.get("hashes") or [],
            duration_s=doc.get("duration_s"),
        )
        picture = None
        if rec.media_type == "image":
            picture = self.picture(rec.sha256 or "")
            if picture is None:
                return []
        return self._matches(rec, picture, config, exclude, {})

    def _find_among(self, shas: list[str], actor: str, config: MatchConfig) -> int:
        """Log near-duplicate pairs of ``shas`` not yet known; returns how many."""
        total = 0
        logged: set[frozenset[str]] = set()  # pairs found in this run, either way round
        for start in range(0, len(shas), REINDEX_BATCH):
            with self.reg.writing(actor) as catalog:
                events = []
                for sha in shas[start : start + REINDEX_BATCH]:
                    doc = catalog.get(sha) or {}
                    known = {p["sha256"] for p in doc.get("near_duplicates") or []}
                    for m in self._matches_of(doc, config, exclude=[sha, *known]):
                        if frozenset((sha, m["sha256"])) not in logged:
                            logged.add(frozenset((sha, m["sha256"])))
                            events.append(found_event(sha, m, actor))
                    self._trim_cache()
                if events:
                    self.reg.record(events)
                    self.reg.save()
                    total += len(events)
        return total


def _stale(doc: dict[str, Any], tag: str) -> bool:
    """Hashed by other versions than the current code's (a video whose frames could not
    be hashed at all is retried only when everything is re-hashed)."""
    if doc.get("media_type") == "image":
        return ((doc.get("tools") or {}).get("hashers")) != tag
    frames = (doc.get("metadata") or {}).get("frame_hashes")
    return frames is not None and frames.get("v") != FRAME_METHOD_VERSION


def _rehash(path: str, media_type: str | None) -> Extracted:
    if media_type == "video":
        return rehash_video(path)
    with open(path, "rb") as fh:
        return rehash_image(fh.read())


def found_event(sha256: str, match: Match | dict[str, Any], actor: str) -> dict[str, Any]:
    """The custody entry for one near-duplicate pair (the agreed ``neardup.found``)."""
    details = dict(match.to_dict() if isinstance(match, Match) else match)
    details["match"] = details.pop("sha256")
    return {"actor": actor, "action": "neardup.found", "sha256": sha256, "details": details}
