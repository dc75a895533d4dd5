"""Per-frame PDQ hashes of a video, with timestamps.

This module owns turning a video file into the time series of frame hashes that video
matching (``registry.similarity.align``) works on:

1. ``ingest.frame_sampling`` decodes the video once, cheaply, and keeps a frame every
   ``interval_s`` seconds, the first frame after each cut, and during fast motion every
   frame that changed enough since the last one kept, as small upright greyscale pictures.
2. ``ingest.letterbox`` finds letterbox/pillarbox bars across those pictures; they are cut
   off, so a re-post in a larger canvas hashes like the original. A video that shows a
   framed picture (a photo with borders, a screen recording: ``ingest.video.content``)
   also gets, per frame, the hash of the picture inside its content box (``"region"``
   and ``"box"`` as a photo's content hashes have them).
3. Each picture is reduced to 64x64 and hashed with PDQ and its 8 dihedral variants.
   Blank frames (black, constant colour, faded out) are dropped; frames of PDQ quality
   < 50 are kept but flagged by their quality, so that matching never starts from them
   (they would match every other dark or empty frame). Each hash carries the frame's
   16x16 greyscale thumbnail (``ingest.thumb``), for finer timing than PDQ can give.

Long videos get a coarser interval (at most ``max_frames`` grid frames), and a video that
decodes too slowly for the time budget falls back to keyframes only. Every limit that was
hit is reported as a problem, never silently applied.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest.errors import EvidenceError, FrameDecodeErrors, LowFrameRate
from ingest.lazy import lazy_import
from ingest.photo import bits_to_hex, thumb_hex
from ingest.video.content import Boxes, colour_boxes, frame_boxes, framed
from ingest.video.letterbox import Crop, find_crop
from ingest.video.sampling import FrameOptions, SampledFrame, Sampling, sample_frames

if TYPE_CHECKING:
    import cv2
    import numpy as np
    import pdqhash
else:
    cv2 = lazy_import("cv2")
    np = lazy_import("numpy")
    pdqhash = lazy_import("pdqhash")

__all__ = [
    "FrameDecodeErrors",
    "FrameHashes",
    "FrameOptions",
    "LowFrameRate",
    "SampledFrame",
    "Sampling",
    "hash_sampling",
    "hash_video_frames",
    "pdq_frame",
    "sample_frames",
]

#: Version of the frame-hashing method (sampling, crop, filters); bump when hashes change.
#: 2: each frame's hash carries its 16x16 thumbnail (finer timing; v1 records lack it).
#: 3: a video whose frames show a framed picture (``ingest.video.content``) also gets the
#: hash of the picture inside each frame's content box.
#: 4: content boxes as ``pdq_content`` v3 finds them (chrome edges at full resolution).
METHOD_VERSION = 4


@dataclass
class FrameHashes:
    """A video's frame hashes and a summary of how they were made.

    Attributes:
        hashes: PDQ hashes of the usable frames, each ``{"alg", "v", "hex", "quality",
            "dihedral", "thumb", "t"}`` in time order; a frame's content box, when the
            video has them, follows its frame with ``"region"`` and ``"box"`` too.
        summary: Kept in the record's ``metadata["frame_hashes"]``.
        problems: Named errors for limits that were hit (recorded as warnings).
    """

    hashes: list[dict[str, Any]]
    summary: dict[str, Any]
    problems: list[EvidenceError] = field(default_factory=list)


def hash_video_frames(
    path: str | os.PathLike[str],
    *,
    rotation: int | None = None,
    duration_s: float | None = None,
    options: FrameOptions | None = None,
) -> FrameHashes:
    """Sample a video's frames and hash them with PDQ.

    Args:
        path: The video file.
        rotation: Clockwise display rotation in degrees (``metadata["rotation"]``); None
            reads it from each frame's display matrix.
        duration_s: The container's duration, to choose the interval up front.
        options: Sampling and filtering settings.

    Returns:
        The usable frames' hashes (possibly none, e.g. for an all-black video) and a summary.

    Raises:
        CorruptMedia: No frame could be decoded.
        UnreadableFile, NotAFile: The file cannot be opened.
    """
    opts = options or FrameOptions()
    sampling = sample_frames(path, rotation=rotation, duration_s=duration_s, options=opts)

    def in_colour(times: list[float]) -> dict[float, Boxes]:
        try:
            return colour_boxes(path, times, rotation=rotation, max_decoded=sampling.decoded)
        except Exception:
            # An optional second pass must never cost the frame hashes already made
            # (a decoder error, an unreadable file): the greyscale frames' boxes serve.
            return {}

    return hash_sampling(sampling, opts, in_colour)


def hash_sampling(
    sampling: Sampling,
    options: FrameOptions | None = None,
    in_colour: Callable[[list[float]], Mapping[float, Boxes]] | None = None,
) -> FrameHashes:
    """Crop, filter and hash sampled frames (the pure second half of ``hash_video_frames``).

    ``in_colour``: the content boxes of the frames at some times, found on the video's
    colour frames (``ingest.video.content.colour_boxes``), asked for when the video is
    framed; frames it has no answer for get the boxes of their greyscale picture.
    """
    opts = options or FrameOptions()
    pictures = [f.gray for f in sampling.frames]
    crop = find_crop(pictures) if opts.crop and pictures else Crop()
    # Content boxes are looked for in the whole frames: letterbox bars of the colour of a
    # status bar (white above and below) are part of the chrome around the picture.
    boxed = opts.crop and bool(pictures) and framed(pictures)
    found = in_colour([f.t for f in sampling.frames]) if boxed and in_colour else {}
    hashes: list[dict[str, Any]] = []
    blank = low = boxes = 0
    for frame in sampling.frames:
        picture = crop.apply(frame.gray)
        if picture.size == 0 or float(picture.std()) < opts.min_std:
            # Black, constant colour, the dark end of a fade: its hash would be noise.
            blank += 1
            continue
        value = _frame_hash(picture, frame.t)
        # Kept, but its quality flags it: matching never starts from such a frame, it only
        # lets a match found on better frames run on through it (empty street, sky).
        low += value["quality"] < opts.min_quality
        hashes.append(value)
        for kind, box in _boxes(frame, found) if boxed else ():
            inner = _inside(frame.gray, box)
            if inner.size and float(inner.std()) >= opts.min_std:
                region = _frame_hash(inner, frame.t)
                region["region"], region["box"] = kind, [round(v, 4) for v in box]
                hashes.append(region)
                boxes += 1
    height, width = pictures[0].shape[:2] if pictures else (1, 1)
    summary = {
        "method": "pdq-frames",
        "v": METHOD_VERSION,
        "interval_s": round(sampling.interval_s, 3),
        "decoded": sampling.decoded,
        "sampled": len(sampling.frames),
        "scene_cuts": sum(f.scene for f in sampling.frames),
        "motion": sum(f.motion for f in sampling.frames),
        "hashed": len(hashes) - boxes,
        "content_boxes": boxes,
        "blank": blank,
        "low_quality": low,
        "crop": crop.shares(width, height),
        "complete": sampling.complete,
        "keyframes_only_from_s": sampling.keyframes_only_from_s,
        "decode_errors": sampling.decode_errors,
    }
    problems: list[EvidenceError] = []
    if sampling.decode_errors:
        problems.append(FrameDecodeErrors(f"{sampling.decode_errors} packets failed"))
    if not sampling.complete or sampling.keyframes_only_from_s is not None:
        problems.append(LowFrameRate(_limit_note(sampling)))
    return FrameHashes(hashes=hashes, summary=summary, problems=problems)


def _boxes(frame: SampledFrame, found: Mapping[float, Boxes]) -> Boxes:
    """A frame's content boxes: the colour pass's answer, else its greyscale picture's."""
    return found[frame.t] if frame.t in found else frame_boxes(frame.gray)


def _frame_hash(picture: np.ndarray, t: float) -> dict[str, Any]:
    small = _hash_size(picture)
    value = pdq_frame(small)
    value["thumb"] = thumb_hex(small)
    value["t"] = round(t, 3)
    return value


def _inside(gray: np.ndarray, box: Any) -> np.ndarray:
    height, width = gray.shape[:2]
    x0, y0, x1, y1 = box
    return gray[round(y0 * height) : round(y1 * height), round(x0 * width) : round(x1 * width)]


def _hash_size(gray: np.ndarray) -> np.ndarray:
    # PDQ works on a 64x64 reduction; giving it one made by area averaging reproduces the
    # hash PDQ computes from a full-size picture (a photo of the frame) within ~10 bits,
    # where letting it reduce a 160-pixel frame itself differs by ~16-26.
    return cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA)


def pdq_frame(gray: np.ndarray) -> dict[str, Any]:
    """PDQ with its 8 dihedral variants of one greyscale picture."""
    pixels = np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    # PDQ's 16x16 DCT once, the variants derived from it here: bit for bit what
    # pdqhash.compute_dihedral gives, in a third of its time (it is per frame).
    dct, quality = pdqhash.compute_float(pixels)
    hexes = [bits_to_hex(v) for v in dihedral_bits(dct)]
    return {"alg": "pdq", "v": 1, "hex": hexes[0], "quality": int(quality), "dihedral": hexes}


# Sign of each DCT basis function under a flip: odd frequencies change sign.
_PARITY = tuple(-1.0 if i % 2 else 1.0 for i in range(16))


def dihedral_bits(dct: Any) -> np.ndarray:
    """PDQ's 8 dihedral hashes (in ``ingest.photo.perceptual.DIHEDRAL`` order) from its DCT.

    Args:
        dct: The 256 DCT coefficients of ``pdqhash.compute_float`` (16x16, row major).

    Returns:
        An 8x256 array of 0/1 bits: a coefficient above its variant's median is a 1.
    """
    d = np.asarray(dct, np.float64).reshape(16, 16)
    parity = np.array(_PARITY)
    mirrored = d * parity[None, :]  # left-right
    flipped = d * parity[:, None]  # upside down
    both = mirrored * parity[:, None]  # turned half way
    # identity, rotate90, rotate180, rotate270, flip_x, flip_y, flip_plus1, flip_minus1
    stack = np.stack([d, mirrored.T, both, flipped.T, flipped, mirrored, d.T, both.T])
    stack = stack.reshape(8, 256)
    return (stack > np.median(stack, axis=1, keepdims=True)).astype(np.uint8)


def _limit_note(sampling: Sampling) -> str:
    parts = []
    if sampling.keyframes_only_from_s is not None:
        parts.append(f"keyframes only after {sampling.keyframes_only_from_s:.1f} s")
    if not sampling.complete:
        last = sampling.frames[-1].t if sampling.frames else 0.0
        parts.append(f"decoding stopped at {last:.1f} s (time budget)")
    return "; ".join(parts) + " to stay within the time budget"
