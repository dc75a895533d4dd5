"""Finding the same footage again: the hash index (``index``), photo matching with
verification on pixels (``photo``, ``verification``), videos by their frames (``frames``,
``align``, ``refine``, ``stills``, ``still_check``, ``video``), clusters of copies
(``clusters``), and the registry's use of them all (``near``). Thresholds are in
``config``.

Rule: nothing here imports the store, the custody log, ``registry.core`` or the CLI;
the registry hands in what these need (items, where pictures are, thresholds).
"""

from registry.similarity.align import VideoMatch, align
from registry.similarity.clusters import clusters
from registry.similarity.config import MatchConfig
from registry.similarity.index import INDEX_FILE, NearDupIndex
from registry.similarity.near import NearDuplicates, read_picture, trim_sides
from registry.similarity.photo import Match, Query, find_matches
from registry.similarity.still_check import StillCheck
from registry.similarity.stills import StillMatch, still_in_video
from registry.similarity.verification import Side, alignment, verify
from registry.similarity.video import video_matches
from registry.similarity.window import Window

__all__ = [
    "INDEX_FILE",
    "Match",
    "MatchConfig",
    "NearDupIndex",
    "NearDuplicates",
    "Query",
    "Side",
    "StillCheck",
    "StillMatch",
    "VideoMatch",
    "Window",
    "align",
    "alignment",
    "clusters",
    "find_matches",
    "read_picture",
    "still_in_video",
    "trim_sides",
    "verify",
    "video_matches",
]
