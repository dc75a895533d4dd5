"""Stills and videos of photos, for ``bench/video_matching.py``: screenshots of video
frames looked up among the videos, and videos that show a registered photo looked up
among the photos, both through ``registry.similarity.video.video_matches`` as the
registry calls it (candidates from an index, then the still-in-video check).

- Screenshot stills: a frame of a corpus video shown on a phone (``support.screens``:
  status bars of several heights and colours, app chrome, captions above or below, a
  portrait app or a full-width player), saved as a low-quality JPEG. Truth: the video
  and the frame's time. Every other video is a negative; the six ASL clips (one room,
  different people and signs) are each other's hard negatives.
- Videos of photos: a photo shown with borders of another colour, off-centre, with a
  ticker; and a screen recording of the photo in a phone app (status bar with a clock,
  chrome, caption, the picture scrolling a little). Truth: the photo. The registered
  photos include the corpus's GPS series (photos of one place taken minutes apart) and
  generated viewpoint pairs (one scene from two positions): hard negatives.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw
from videokit import CORPUS, duration, read_frames

from ingest.extraction import picture_hashes
from ingest.photo.image import decode_image
from ingest.photo.perceptual import pdq
from ingest.video.frames import hash_video_frames, pdq_frame
from ingest.video.window import decode_window
from registry.similarity.config import MatchConfig
from registry.similarity.index import NearDupIndex
from registry.similarity.still_check import StillCheck
from registry.similarity.video import video_matches
from support.media import encode_h264
from support.screens import STYLES, Style, as_jpeg, phone_screenshot
from support.synthetic import viewpoint_pair

PHOTOS = CORPUS.parent / "photos"
#: Corpus photos shown in videos (textured, 300 px or more).
SHOWN = (
    "Canon_PowerShot_S40.jpg",
    "Reconyx_HC500_Hyperfire.jpg",
    "gps/DSCN0021.jpg",
    "gps/DSCN0038.jpg",
    "exif-org/fujifilm-mx1700.jpg",
)
VIEWPOINT_PAIRS = 3


class Registry:
    """An index of media and their documents, as ``video_matches`` needs them, and the
    pictures and files that still matches are checked on (``StillCheck``)."""

    def __init__(self) -> None:
        self.index = NearDupIndex()
        self.docs: dict[str, dict[str, Any]] = {}
        self.pictures: dict[str, Image.Image] = {}
        self.paths: dict[str, Path] = {}

    def add(
        self,
        name: str,
        media_type: str,
        hashes: list[dict],
        seconds: float | None,
        source: Image.Image | Path | None = None,
    ) -> None:
        self.index.add(name, hashes)
        self.docs[name] = {"media_type": media_type, "hashes": hashes, "duration_s": seconds}
        if isinstance(source, Path):
            self.paths[name] = source
        elif source is not None:
            self.pictures[name] = source

    def match(
        self,
        media_type: str,
        hashes: list[dict],
        seconds: float | None = None,
        *,
        picture: Image.Image | None = None,
        video: Path | None = None,
    ) -> list:
        self.index.sort()
        check = StillCheck(
            MatchConfig(),
            self.pictures.get,
            lambda sha: (str(self.paths[sha]), None) if sha in self.paths else None,
            query_picture=picture,
            query_video=(str(video), None) if video else None,
        )
        return video_matches(media_type, hashes, seconds, self.index, self.docs.get, check=check)


def video_registry(names: tuple[str, ...], refs: dict[str, list]) -> Registry:
    reg = Registry()
    for name in names:
        reg.add(name, "video", refs[name], duration(CORPUS / name), CORPUS / name)
    return reg


def _photo(data: bytes) -> tuple[list[dict], Image.Image]:
    picture = decode_image(data).picture
    return picture_hashes(picture), picture


# --- screenshots of video frames ------------------------------------------------------------


def screenshot_stills(
    reg: Registry, long: tuple[str, ...], short: tuple[str, ...], per_source: int, seed: int
) -> dict[str, dict]:
    """Each sampled frame shown in every style of ``STYLES``, looked up in every video."""
    rng = np.random.default_rng(seed + 2)
    rows: dict[str, dict] = defaultdict(
        lambda: {"n": 0, "found": 0, "errors": [], "in_tie": 0, "false": 0, "neg": 0}
    )
    skipped = 0
    for name in long + short:
        path = CORPUS / name
        count = per_source if name in long else 1
        wanted = sorted(rng.uniform(0, duration(path) - 1, count).tolist())
        for t, rgb in read_frames(path):
            if not wanted or t < wanted[0]:
                continue
            wanted.pop(0)
            frame = Image.fromarray(rgb)
            if pdq(decode_image(as_jpeg(frame, 80)).picture)["quality"] < 50:
                skipped += 1  # a flat frame is never matched, by design (as the plain stills)
                continue
            flat = hashed_quality(reg, name, t) < 50
            for label, style in STYLES:
                shot = phone_screenshot(frame, style, clock=f"{int(t) // 60:02d}:{int(t) % 60:02d}")
                hashes, picture = _photo(as_jpeg(shot, style.quality))
                started = time.perf_counter()
                found = reg.match("image", hashes, picture=picture)
                rows["_time"].setdefault("ms", []).append(1000 * (time.perf_counter() - started))
                _score_still(rows[label], found, name, t, len(reg.docs) - 1, f"{name}@{t:.1f}")
                if flat:  # its own hash in the video is not indexed: counted apart too
                    rows[label]["flat"] = rows[label].get("flat", 0) + 1
                    rows[label]["flat_found"] = rows[label].get("flat_found", 0) + any(
                        m["sha256"] == name for m in found
                    )
                for m in found:
                    if m["sha256"] != name:
                        print(
                            f"  false match: {label} of {name} at {t:.1f} s ~ {m['sha256']} "
                            f"(distance {m['distance']}, verified {m.get('verified_score')})"
                        )
                if not any(m["sha256"] == name for m in found):
                    rows[label].setdefault("missed", []).append(f"{name}@{t:.1f}")
    rows["_skipped"] = {"n": skipped}
    return rows


def hashed_quality(reg: Registry, name: str, t: float) -> int:
    """The PDQ quality of the frame at ``t`` as the video's frames are hashed: its own
    frame hash when the sampler kept that frame, else the sampler's 160-px luma reduced
    to 64x64 (without the letterbox crop). Under 50 the registry never indexes it."""
    for h in reg.docs[name]["hashes"]:
        if not h.get("region") and h.get("t") is not None and abs(h["t"] - t) < 0.005:
            return int(h["quality"])
    frames = decode_window(reg.paths[name], t - 0.02, t + 0.02, size=160)
    if not frames:
        return 0
    gray = min(frames, key=lambda f: abs(f[0] - t))[1]
    return int(pdq_frame(cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA))["quality"])


def _score_still(
    row: dict, found: list[dict], name: str, t: float, negatives: int, tag: str = ""
) -> None:
    row["n"] += 1
    row["neg"] += negatives
    row["false"] += sum(m["sha256"] != name for m in found)
    mine = [m for m in found if m["sha256"] == name]
    if not mine:
        return
    row.setdefault("scores", []).append(mine[0].get("verified_score"))
    row["found"] += 1
    error, in_tie = still_error(mine[0], t)
    row["errors"].append(error)
    row["in_tie"] += in_tie
    if not in_tie:
        placed = mine[0]["segments"][0]["match_start_s"]
        row.setdefault("off", []).append(f"{tag} placed at {placed:.1f} s")


def still_error(match: dict, t: float) -> tuple[float, bool]:
    """How far the nearest of a still match's reported times is from the true time
    ``t``, and whether ``t`` lies within 1 s of a reported span (the first segment's tie
    span; the other segments, the other times the still may equally be from)."""
    segments = match["segments"]
    error = min(abs(seg["match_start_s"] - t) for seg in segments)
    in_tie = any(
        seg.get("tie_start_s", seg["match_start_s"]) - 1.0
        <= t
        <= seg.get("tie_end_s", seg["match_start_s"]) + 1.0
        for seg in segments
    )
    return error, in_tie


# --- videos showing a photo -------------------------------------------------------------------


def _write(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    return encode_h264(path, frames, fps, crf="26")


def bordered_video(photo: Image.Image, rng: np.random.Generator, seconds: float = 4.0) -> list:
    """The photo on a 16:9 canvas of one colour, off-centre, with a ticker below it."""
    width, height = 640, 360
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    scale = min(0.8 * width / photo.width, float(rng.uniform(0.6, 0.8)) * height / photo.height)
    shown = photo.resize((round(photo.width * scale), round(photo.height * scale)))
    x = int(rng.integers(4, width - shown.width - 4))
    y = int(rng.integers(4, max(5, height - shown.height - 40)))
    frames = []
    for n in range(round(seconds * 10)):
        canvas = Image.new("RGB", (width, height), colour)
        canvas.paste(shown, (x, y))
        draw = ImageDraw.Draw(canvas)
        ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
        draw.text((10 - n * 4, height - 26), "LIVE  breaking news  " * 4, fill=ink)
        frames.append(np.asarray(canvas))
    return frames


def recorded_video(photo: Image.Image, style: Style, seconds: float = 4.0) -> list:
    """A screen recording of the photo in a phone app, scrolled a little as it plays."""
    frames = []
    screen = phone_screenshot(photo, style)
    for n in range(round(seconds * 10)):
        clock = f"10:{n // 10:02d}"
        shot = phone_screenshot(photo, style, clock=clock) if n % 10 == 0 else screen
        screen = shot
        # Scrolling: the whole screen below the status bar moves up a few pixels.
        arr = np.asarray(shot).copy()
        bar = style.status[0]
        step = min(n * 2, 60)
        arr[bar : arr.shape[0] - step] = arr[bar + step :]
        small = Image.fromarray(arr).resize((360, 780), Image.Resampling.BILINEAR)
        frames.append(np.asarray(small))
    return frames


def photo_videos(work: Path, seed: int) -> dict[str, dict]:
    """Videos showing a registered photo, looked up among the photos."""
    rng = np.random.default_rng(seed + 3)
    reg = Registry()
    sources: dict[str, Image.Image] = {}
    for path in sorted((PHOTOS / "gps").glob("*.jpg")) + [PHOTOS / n for n in SHOWN]:
        name = str(path.relative_to(PHOTOS))
        if name in reg.docs or not path.exists():
            continue
        data = path.read_bytes()
        hashes, picture = _photo(data)
        reg.add(name, "image", hashes, None, picture)
        sources[name] = decode_image(data, size=1024).picture
    shown = [n for n in SHOWN if n in sources]
    for i in range(VIEWPOINT_PAIRS):
        a, b = viewpoint_pair(i)
        for tag, picture in (("a", a), ("b", b)):
            hashes, decoded = _photo(as_jpeg(picture, 95))
            reg.add(f"scene-{i}-{tag}", "image", hashes, None, decoded)
        sources[f"scene-{i}-a"] = a
        shown.append(f"scene-{i}-a")
    rows: dict[str, dict] = defaultdict(lambda: {"n": 0, "found": 0, "false": 0, "neg": 0})
    styles = [s for _, s in STYLES if s.screen == "portrait"]
    for k, name in enumerate(shown):
        photo = sources[name]
        made = {
            "video of the photo with borders": bordered_video(photo, rng),
            "screen recording of the photo": recorded_video(photo, styles[k % len(styles)]),
        }
        for label, frames in made.items():
            slug = "".join(ch if ch.isalnum() else "_" for ch in f"{label}-{name}")
            path = _write(work / f"{slug}.mp4", frames)
            hashed = hash_video_frames(path)
            found = reg.match("video", hashed.hashes, len(frames) / 10, video=path)
            row = rows[label]
            row["n"] += 1
            row["neg"] += len(reg.docs) - 1
            row["found"] += any(m["sha256"] == name for m in found)
            if not any(m["sha256"] == name for m in found):
                print(f"  missed: {label} of {name}")
            wrong = [m["sha256"] for m in found if m["sha256"] != name]
            row["false"] += len(wrong)
            if wrong:
                print(f"  false match: {label} of {name} ~ {wrong}")
    return rows


def _listed(shots: dict[str, dict], key: str, title: str) -> list[str]:
    """A note listing every row's ``key`` entries (``label: entry``), or nothing."""
    entries = [f"{label}: {m}" for label, row in shots.items() for m in row.get(key, [])]
    return [f"\n{title}: " + ", ".join(entries) + "."] if entries else []


def _timing(ms: list[float]) -> list[str]:
    """The lookup times of the screenshots (informational: nothing asserts on them)."""
    median, p90 = (np.median(ms), np.percentile(ms, 90)) if ms else (0, 0)
    note = "Lookup of a screenshot (candidates, PDQ, the pixel check)"
    return [
        f"\n{note}: median {median:.0f} ms, 90th percentile {p90:.0f} ms, over {len(ms)} lookups."
    ]


def table_rows(shots: dict[str, dict], videos: dict[str, dict]) -> list[str]:
    """Rows for ``video_matching``'s table (its columns), and a note."""
    lines = []
    for label, row in shots.items():
        if label.startswith("_"):
            continue
        e = row["errors"]
        err = f"{np.mean(e):.2f} / {max(e):.2f}" if e else "-"
        within = sum(x <= 1 for x in e)
        recall = row["found"] / max(1, row["n"])
        lines.append(
            f"| still: screenshot, {label} | {row['n']} | - | {recall:.3f} "
            f"| {err} | {within / max(1, row['n']):.0%} of usable, {row['in_tie']} of "
            f"{row['found']} found within 1 s of the tie span | {row['false']} of {row['neg']} |"
        )
    for label, row in videos.items():
        lines.append(
            f"| {label} (query: video, match: photo) | {row['n']} | - "
            f"| {row['found'] / max(1, row['n']):.3f} | - | - | {row['false']} of {row['neg']} |"
        )
    scores = sorted(s for row in shots.values() for s in row.get("scores", []) if s is not None)
    if scores:
        lines.append(
            f"\nVerified scores of the screenshot stills found: lowest {scores[:5]}, "
            f"{sum(s is None for row in shots.values() for s in row.get('scores', []))} "
            f"found by PDQ alone (too flat to verify)."
        )
    lines += _listed(shots, "missed", "Screenshot stills missed")
    flat = [row for label, row in shots.items() if not label.startswith("_") and row.get("flat")]
    if flat:
        others = [(r["found"] - r["flat_found"]) / max(1, r["n"] - r["flat"]) for r in flat]
        lines.append(
            f"\nScreenshots of frames whose own hash in the video has PDQ quality < 50 (not "
            f"indexed, by design): {flat[0]['flat']} per style, "
            f"{sum(r['flat_found'] for r in flat)} found in all; recall over the other "
            f"frames {min(others):.3f}-{max(others):.3f} per style."
        )
    lines += _timing(shots.get("_time", {}).get("ms", []))
    lines += _listed(shots, "off", "Screenshot stills placed more than 1 s outside their tie span")
    skipped = shots.get("_skipped", {}).get("n", 0)
    lines.append(
        f"\nScreenshot stills: {skipped} sampled frames have PDQ quality < 50 and were left "
        f"out (never matched, by design); each other frame is shown in all {len(STYLES)} "
        f"styles."
    )
    return lines
