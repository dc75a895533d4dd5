"""Videos: container metadata (``meta``), frame sampling by scene and time (``sampling``),
letterbox and pillarbox detection (``letterbox``), and frame hashes (``frames``)."""

from ingest.video.frames import METHOD_VERSION as FRAME_METHOD_VERSION
from ingest.video.frames import FrameHashes, hash_video_frames
from ingest.video.letterbox import Crop, find_crop
from ingest.video.meta import VideoInfo, read_video_metadata
from ingest.video.sampling import FrameOptions, sample_frames

__all__ = [
    "FRAME_METHOD_VERSION",
    "Crop",
    "FrameHashes",
    "FrameOptions",
    "VideoInfo",
    "find_crop",
    "hash_video_frames",
    "read_video_metadata",
    "sample_frames",
]
