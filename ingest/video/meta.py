"""Video container metadata: size, duration, codec, rotation, capture time, device and GPS.

This module owns reading what a video file *says about itself* through PyAV (FFmpeg's
demuxers) and normalising it into the record's ``metadata`` vocabulary. It decodes at most
one keyframe (see ``_display_rotation``) and writes nothing.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ingest.errors import CorruptMedia, EvidenceError, NotAFile, UnreadableFile
from ingest.lazy import lazy_import

if TYPE_CHECKING:
    import av
else:
    av = lazy_import("av")

MAX_TAGS = 500
MAX_TAG_CHARS = 2000
MAX_KEY_CHARS = 200

# FFmpeg's own defaults, pinned so a later default change cannot make probing unbounded;
# the timeouts (seconds) stop a demuxer that spins on a hostile file.
_OPEN_OPTIONS = {"probesize": "5000000", "analyzeduration": "5000000"}
_TIMEOUT = (10.0, 5.0)
# The first keyframe is normally the first packet; give up well before reading a whole file.
_MAX_PACKETS_FOR_ROTATION = 300
_NO_MATRIX = -1

# Tag names are looked up lower-cased: Matroska stores them upper-case (``MAKE``).
_CAPTURED_AT_TAGS = ("com.apple.quicktime.creationdate", "creation_time")
_MAKE_TAGS = ("com.apple.quicktime.make", "make", "com.android.manufacturer")
_MODEL_TAGS = ("com.apple.quicktime.model", "model", "com.android.model")
_SOFTWARE_TAGS = ("com.apple.quicktime.software", "software", "encoder")
_LOCATION_TAGS = ("com.apple.quicktime.location.iso6709", "location", "location-eng")
_SERIAL_RE = re.compile(r"(?:^|[.:])(?:camera[._-]?)?serial(?:[._-]?(?:number|no))?$")

# ISO 6709 point: latitude, longitude, optional altitude, optional CRS, solidus.
# ASCII only: float() would also accept other scripts' digits.
_ISO6709_RE = re.compile(
    r"([+-][0-9]+(?:\.[0-9]+)?)([+-][0-9]+(?:\.[0-9]+)?)([+-][0-9]+(?:\.[0-9]+)?)?"
    r"(?:CRS[A-Za-z0-9_:]+)?/?",
    re.ASCII,
)


@dataclass(frozen=True)
class VideoInfo:
    """What a video container states about itself.

    Attributes:
        width, height: Display size in pixels (swapped when rotated by 90 or 270 degrees).
        duration_s: Duration in seconds, or None when the container does not state it.
        metadata: Normalised values; every key is present, None when unknown.
        tags: Raw container tags, and stream tags prefixed ``stream<index>:``, as strings.
    """

    width: int | None
    height: int | None
    duration_s: float | None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def read_video_metadata(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video file's container and stream metadata without decoding its content.

    Args:
        path: The video file.

    Returns:
        The display size, duration, normalised metadata and raw tags.

    Raises:
        CorruptMedia: The file is empty, cannot be parsed, or has no video stream.
        UnreadableFile: The file is missing or cannot be opened for reading.
        NotAFile: The path is not a regular file (a FIFO would block FFmpeg forever).
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UnreadableFile(_one_line(exc)) from exc
    if not stat.S_ISREG(st.st_mode):
        raise NotAFile(os.fsdecode(path))
    if st.st_size == 0:
        raise CorruptMedia("file is empty (zero bytes)")
    try:
        return _read(os.fsdecode(path))
    except EvidenceError:
        raise
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise UnreadableFile(_one_line(exc)) from exc
    except Exception as exc:
        # Anything FFmpeg or PyAV raises on a hostile file means the same to the caller.
        raise CorruptMedia(_one_line(exc)) from exc


def parse_iso6709(text: str) -> dict[str, float | None] | None:
    """Parse an ISO 6709 point such as ``+48.8577+002.2950+035.000/``.

    Degrees, degrees-minutes (``+4851.46+00217.70/``) and degrees-minutes-seconds forms are
    accepted; the form is told by the number of integer digits, as the standard defines.

    Args:
        text: The tag value.

    Returns:
        ``{"lat", "lon", "alt"}`` in signed decimal degrees and metres (``alt`` may be None),
        or None when the text is not a valid point or is out of range.
    """
    if not isinstance(text, str) or len(text) > 100:
        return None
    match = _ISO6709_RE.fullmatch(text.strip())
    if match is None:
        return None
    lat = _sexagesimal(match[1], degree_digits=2)
    lon = _sexagesimal(match[2], degree_digits=3)
    alt = float(match[3]) if match[3] else None
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    if alt is not None and not math.isfinite(alt):
        return None
    return {"lat": round(lat, 7), "lon": round(lon, 7), "alt": alt}


def _sexagesimal(token: str, degree_digits: int) -> float | None:
    sign = -1.0 if token[0] == "-" else 1.0
    whole, _, frac = token[1:].partition(".")
    fraction = float("0." + frac) if frac else 0.0
    n = len(whole)
    if n <= degree_digits:
        return sign * (int(whole) + fraction)
    if n == degree_digits + 2:
        degrees, minutes, seconds = int(whole[:-2]), int(whole[-2:]) + fraction, 0.0
    elif n == degree_digits + 4:
        degrees, minutes = int(whole[:-4]), int(whole[-4:-2])
        seconds = int(whole[-2:]) + fraction
    else:
        return None
    if minutes >= 60 or seconds >= 60:
        return None
    return sign * (degrees + minutes / 60 + seconds / 3600)


def _read(path: str) -> VideoInfo:
    with av.open(path, metadata_errors="ignore", options=_OPEN_OPTIONS, timeout=_TIMEOUT) as c:
        # Cover art in audio files is a video stream too; it is not footage.
        videos = [
            s for s in c.streams.video if not s.disposition & av.stream.Disposition.attached_pic
        ]
        if not videos:
            raise CorruptMedia("no video stream")
        video = videos[0]
        ctx = video.codec_context
        audio = c.streams.audio[0] if c.streams.audio else None
        tags = _collect_tags(c)
        # Container tags first; stream tags only fill gaps (some cameras tag only the track).
        lookup = {k.lower(): v[:MAX_TAG_CHARS] for k, v in video.metadata.items()}
        lookup.update({k.lower(): v[:MAX_TAG_CHARS] for k, v in c.metadata.items()})

        width = (ctx.width or None) if ctx is not None else None
        height = (ctx.height or None) if ctx is not None else None
        duration = _duration(c, video)
        rate = video.average_rate or video.guessed_rate
        fps = round(float(rate), 3) if rate else None
        frame_count, estimated = video.frames or None, False
        if frame_count is None and duration and fps:
            frame_count, estimated = round(duration * fps), True
        rotation = _display_rotation(c, video)
        if rotation is None or rotation == _NO_MATRIX:
            # No matrix: the legacy tag, else upright when a frame decoded, else unknown.
            tagged = _rotate_tag(lookup.get("rotate"))
            if tagged is not None:
                rotation = tagged
            elif rotation == _NO_MATRIX:
                rotation = 0
        if rotation in (90, 270):
            width, height = height, width

        metadata: dict[str, Any] = {
            "captured_at": _first(lookup, _CAPTURED_AT_TAGS, _iso_datetime),
            "make": _first(lookup, _MAKE_TAGS),
            "model": _first(lookup, _MODEL_TAGS),
            "software": _first(lookup, _SOFTWARE_TAGS),
            "serial": _serial(lookup),
            "orientation": None,
            "gps": _first(lookup, _LOCATION_TAGS, parse_iso6709),
            "codec": ctx.name if ctx is not None else None,
            "fps": fps,
            "rotation": rotation,
            "frame_count": frame_count,
            "frame_count_estimated": estimated,
            "audio_codec": audio.codec_context.name if audio and audio.codec_context else None,
            "bit_rate": c.bit_rate or None,
            "container": c.format.name,
            "pixel_format": ctx.pix_fmt if ctx is not None else None,
        }
        return VideoInfo(width, height, duration, metadata, tags)


def _collect_tags(c: av.container.InputContainer) -> dict[str, str]:
    items = [(k, v) for k, v in c.metadata.items()]
    for s in c.streams:
        items += [(f"stream{s.index}:{k}", v) for k, v in s.metadata.items()]
    return {str(k)[:MAX_KEY_CHARS]: str(v)[:MAX_TAG_CHARS] for k, v in items[:MAX_TAGS]}


def _duration(c: av.container.InputContainer, video: av.VideoStream) -> float | None:
    if c.duration is not None and c.duration > 0:
        return c.duration / av.time_base
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    return None


def _display_rotation(c: av.container.InputContainer, video: av.VideoStream) -> int | None:
    """Clockwise degrees from the stream's display matrix.

    av 18 can write a stream's display matrix but offers no way to read it back from the
    stream; FFmpeg's decoder copies it onto every frame, so decode the first keyframe alone.

    Returns:
        The rotation; ``_NO_MATRIX`` when a frame decoded without one; None when no frame
        could be decoded.
    """
    ctx = video.codec_context
    if ctx is None:
        return None
    try:
        ctx.skip_frame = "NONKEY"
        for n, packet in enumerate(c.demux(video)):
            if n >= _MAX_PACKETS_FOR_ROTATION:
                return None
            if packet.size and packet.is_keyframe:
                # Flushing right away returns this frame without waiting for reorder delay.
                frames = ctx.decode(packet) + ctx.decode(None)
                break
        else:
            return None
        if not frames:
            return None
        if not any(
            sd.type == av.sidedata.sidedata.Type.DISPLAYMATRIX for sd in frames[0].side_data
        ):
            return _NO_MATRIX
        # frame.rotation is counter-clockwise; the legacy ``rotate`` tag and phones use
        # clockwise, so the record keeps clockwise.
        return _snap(-frames[0].rotation)
    except (av.error.FFmpegError, ValueError, RuntimeError):
        return None


def _rotate_tag(value: str | None) -> int | None:
    # FFmpeg no longer writes or reads this tag, but older files (and Matroska) carry it.
    try:
        degrees = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return _snap(degrees) if math.isfinite(degrees) else None


def _snap(degrees: float) -> int:
    return round(degrees / 90) % 4 * 90


def _first(
    lookup: dict[str, str], names: tuple[str, ...], parse: Callable[[str], Any] | None = None
) -> Any:
    for name in names:
        value = lookup.get(name, "").strip()
        parsed = parse(value) if parse and value else value
        if parsed:
            return parsed
    return None


def _serial(lookup: dict[str, str]) -> str | None:
    # No common video tag carries a serial number; take one only when a tag says so.
    for key, value in lookup.items():
        if _SERIAL_RE.search(key) and value.strip():
            return value.strip()
    return None


def _iso_datetime(text: str) -> str | None:
    """Normalise FFmpeg's ``2018-04-19T10:12:03.000000Z`` (or Apple's ``+0200``) form."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    # isoformat drops the fraction when it is zero, which is the form the record keeps.
    return moment.isoformat()


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = f"{type(exc).__name__}: {' '.join(str(text).split())}"
    return text[:300]
