"""Where the photo is inside a re-posted picture: borders, letterbox bars and screenshots.

Re-posts often add uniform borders (padding, letterbox bars) or show the photo inside a
phone screenshot (status bar, channel header, caption, buttons). Whole-image hashes of
such copies share little with the original's; hashing the *content box* instead brings
them back together. Two finders, because no single rule fits both:

- ``border_box`` trims rows and columns that are (almost) one colour, the colour of the
  picture's edge. Exact for padding and letterboxing; keeps a photo whose edge is sky.
- ``band_box`` finds the largest block of rows, then columns, that mostly differ from
  the background. It skips a status bar's sparse text and a caption, so it finds the
  photo in a screenshot; it can cut into a photo with large areas of background colour,
  which is why both boxes are hashed when they differ.
- ``chrome_box`` peels flat lines off each edge on its own: a status bar, an app's
  header, a caption strip, each of its own colour and height (a screenshot of a video
  player: the frame across the full width, bars above and below it of other colours than
  each other). Neither finder above sees those: the edges share no background colour.
  A line is flat when most of its pixels have the line's colour (sparse text and icons
  allowed); a few busier lines (a caption's text) are bridged when flat lines follow.

Boxes are ``(x0, y0, x1, y1)`` fractions of the picture's width and height.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.errors import PictureTooSmall
from ingest.lazy import lazy_import

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image
else:
    np = lazy_import("numpy")
    Image = lazy_import("PIL.Image")

Box = tuple[float, float, float, float]
FULL: Box = (0.0, 0.0, 1.0, 1.0)

#: Work on a copy this small: borders are large features.
ANALYSIS_SIZE = 256
#: Pictures smaller than this on a side are not searched for borders or bands.
MIN_PICTURE_SIDE = 16
#: A pixel differs from the background colour when a channel differs by more than this.
COLOUR_TOLERANCE = 24
#: A border line may hold this fraction of differing pixels (noise, JPEG ringing).
BORDER_LINE_FILL = 0.02
#: A content line in a screenshot has at least this fraction of differing pixels.
BAND_LINE_FILL = 0.5
#: At least this fraction of the lines around a screenshot's photo are background.
BAND_FRAME = 0.6
#: Boxes that keep more than this fraction of the area are not worth a hash of their own.
MIN_TRIM = 0.97
#: Boxes smaller than this fraction of either side are noise, not the photo.
MIN_SIDE = 0.15
#: Chrome: a pixel has its line's colour when every channel is within this of the line's
#: median. App chrome is drawn flat: its pixels are that colour or far from it (text,
#: icons), where a flat area of a photo (a wall, the sky) spreads a little around it.
CHROME_EXACT = 3
#: Chrome: share of a line's pixels that must have its colour (text and icons allowed).
CHROME_LINE_SHARE = 0.6
#: Chrome: a line is not chrome when more than this share of its pixels lie a little off
#: its colour (within ``CHROME_NEAR`` but not ``CHROME_EXACT``): the noise of a picture.
CHROME_SPREAD = 0.15
CHROME_NEAR = 12
#: Chrome: busier lines bridged inside a bar (a caption's text), as a share of the side.
CHROME_BRIDGE = 0.06
#: Chrome: at most this share of a side is peeled off one edge.
CHROME_MAX_SHARE = 0.8
#: Chrome: a bar's colour runs on into the picture when this share of the pixels of the
#: ``CHROME_BEYOND`` lines past it are within ``CHROME_NEAR`` of it (see ``_peels``).
CHROME_RUNS_ON = 0.5
CHROME_BEYOND = 2


def _small(picture: Image.Image) -> np.ndarray:
    img = picture.convert("RGB")
    if max(img.size) > ANALYSIS_SIZE:
        img = img.copy()
        img.thumbnail((ANALYSIS_SIZE, ANALYSIS_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.int16)


def _differs(arr: np.ndarray) -> np.ndarray:
    """Pixels that differ from the background colour (the median colour of the edges):
    some channel is more than ``COLOUR_TOLERANCE`` from it."""
    edges = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    background = np.median(edges, axis=0)
    # |value - median| > tolerance, in integers: a median of integers is a whole or a
    # half number, so twice it is whole and the test is exact (and several times faster
    # than in floating point, per channel rather than with a max over the last axis).
    twice = (2 * background).astype(np.int16)
    doubled = 2 * arr
    out = np.zeros(arr.shape[:2], bool)
    for c in range(arr.shape[2]):
        channel = doubled[:, :, c]
        out |= channel > twice[c] + 2 * COLOUR_TOLERANCE
        out |= channel < twice[c] - 2 * COLOUR_TOLERANCE
    return out


def _as_box(x0: int, y0: int, x1: int, y1: int, width: int, height: int) -> Box | None:
    w, h = (x1 - x0) / width, (y1 - y0) / height
    if w < MIN_SIDE or h < MIN_SIDE or w * h > MIN_TRIM:
        return None
    return (x0 / width, y0 / height, x1 / width, y1 / height)


def border_box(picture: Image.Image) -> Box | None:
    """The box inside uniform borders, or None when there are none worth trimming."""
    return _border(_differs(_small(picture)))


def _border(differs: np.ndarray) -> Box | None:
    height, width = differs.shape
    rows = np.nonzero(differs.mean(axis=1) > BORDER_LINE_FILL)[0]
    cols = np.nonzero(differs.mean(axis=0) > BORDER_LINE_FILL)[0]
    if len(rows) == 0 or len(cols) == 0:
        return None
    return _as_box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1, width, height)


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """Start and end (exclusive) of the longest run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    steps = np.diff(padded)
    starts, ends = np.nonzero(steps == 1)[0], np.nonzero(steps == -1)[0]
    if len(starts) == 0:
        return 0, 0
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i])


def band_box(picture: Image.Image) -> Box | None:
    """The largest block of content lines (a photo inside a screenshot), or None."""
    return _band(_differs(_small(picture)))


def _band(differs: np.ndarray) -> Box | None:
    height, width = differs.shape
    content = differs.mean(axis=1) > BAND_LINE_FILL
    y0, y1 = _longest_run(content)
    if y1 - y0 < 2 or not _framed(content, y0, y1):
        return None
    # Within the band every column shows some of the photo: a lower bar, no frame needed.
    x0, x1 = _longest_run(differs[y0:y1].mean(axis=0) > BORDER_LINE_FILL * 5)
    if x1 - x0 < 2:
        return None
    return _as_box(x0, y0, x1, y1, width, height)


def chrome_box(picture: Image.Image) -> Box | None:
    """The picture inside flat bars of any colours at its edges (a screenshot's status
    bar, app header and caption strips), or None."""
    small = _small(picture)
    box = _chrome(small)
    return None if box is None else _refined(picture, box, small)


def _flat_lines(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``arr`` (H×W×3), whether it is drawn flat (most of its pixels have
    exactly the row's colour, and few are merely close to it), and the row's colour."""
    colour = np.median(arr, axis=1, keepdims=True)
    deviation = np.abs(arr - colour).max(axis=2)
    exact = (deviation <= CHROME_EXACT).mean(axis=1)
    near = (deviation <= CHROME_NEAR).mean(axis=1)
    return (exact >= CHROME_LINE_SHARE) & (near - exact <= CHROME_SPREAD), colour[:, 0]


def _peel(flat: np.ndarray) -> int:
    """How many leading lines are chrome: flat lines, and runs of at most
    ``CHROME_BRIDGE`` busier lines that more flat lines follow."""
    limit = int(len(flat) * CHROME_MAX_SHARE)
    bridge = max(1, round(len(flat) * CHROME_BRIDGE))
    end = i = 0
    while i < limit:
        if flat[i]:
            i += 1
            end = i
            continue
        busy = i
        while busy < len(flat) and not flat[busy] and busy - i <= bridge:
            busy += 1
        if busy - i > bridge or busy >= limit or not flat[busy]:
            break
        i = busy
    return end


def _ends(lines: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """``_peels`` of both ends of ``lines`` (N×W×3): from its first line, and from its
    last; the flat lines are found once for both."""
    flat, colours = _flat_lines(lines)
    return _peels(lines, flat, colours), _peels(lines[::-1], flat[::-1], colours[::-1])


def _peels(lines: np.ndarray, flat: np.ndarray, colours: np.ndarray) -> tuple[int, int]:
    """How many leading lines of ``lines`` (N×W×3, the edge's line first; ``flat`` and
    ``colours`` from ``_flat_lines``) are chrome, as ``(sure, all)``: ``all`` peels every
    flat bar (``_peel``); ``sure`` keeps the innermost bar when its colour runs on into
    the picture beyond it. A bar drawn above a picture ends where the picture starts; a
    flat wall or an overcast sky at the top of the picture itself is flat for a while,
    then fades into the rest of it (``sure`` is then the bars before it, the whole edge
    when there is no other)."""
    end = _peel(flat)
    beyond = lines[end + 1 : end + 1 + CHROME_BEYOND]  # the line at ``end`` blends both
    if end == 0 or not len(beyond):
        return end, end
    last = colours[end - 1]
    start = end - 1
    # Bars are drawn in colours of their own (a nav bar 10 levels off the background).
    while start > 0 and not (
        flat[start - 1] and np.abs(colours[start - 1] - last).max() > 2 * CHROME_EXACT
    ):
        start -= 1
    runs_on = (np.abs(beyond - last).max(axis=2) <= CHROME_NEAR).mean()
    return (start if runs_on >= CHROME_RUNS_ON else end), end


def _chrome(arr: np.ndarray) -> Box | None:
    boxes = _chromes(arr)
    return boxes[0] if boxes else None


def _chromes(arr: np.ndarray) -> list[Box]:
    """The inside of the chrome, surest first (``_peels``): the bars that end where
    the picture starts; then every flat bar peeled, when that differs; and, when lines
    were peeled off both the top and the bottom, the inside of the top's alone: a drawn
    picture (a cartoon's road, a chart's axis) can end in flat lines of its own, and a
    status bar above is the common case."""
    height, width = arr.shape[:2]
    tops, bottoms = _ends(arr)
    tried = [(tops[0], bottoms[0], 0), (tops[1], bottoms[1], 1)]
    if tops[1] and bottoms[1]:
        tried.append((tops[1], 0, 1))
    out: list[Box] = []
    for top, b, which in dict.fromkeys(tried):
        if top + b >= height:
            continue
        lefts, rights = _ends(arr[top : height - b].transpose(1, 0, 2))
        left, right = lefts[which], rights[which]
        if not (top or b or left or right) or left + right >= width:
            continue
        # The line where a bar meets the picture blends both after downscaling: drop it.
        y0, y1 = top + (top > 0), height - b - (b > 0)
        x0, x1 = left + (left > 0), width - right - (right > 0)
        box = _as_box(x0, y0, x1, y1, width, height) if y1 - y0 >= 2 and x1 - x0 >= 2 else None
        if box is not None and box not in out:
            out.append(box)
    return out


def _refined(picture: Image.Image, box: Box, small: np.ndarray) -> Box:
    """``box`` (found on ``small``, the analysis copy) with each edge inside the picture
    moved to the line, at the picture's own resolution, where the bar outside it ends.

    A line of the small copy spans several of the picture's: an edge found there is up
    to two of them off, and the hash of a flat picture (a wall at its top) moves by tens
    of bits when a few per cent of it are cut off or a sliver of bar is kept.
    """
    img = picture if picture.mode == "RGB" else picture.convert("RGB")
    width, height = img.size
    rows, cols = small.shape[:2]
    x0, y0, x1, y1 = box
    out = []
    # (edge as a fraction, lines of the small copy across it, inwards, rows or columns)
    for frac, lines, step, along in (
        (y0, rows, 1, True),
        (y1, rows, -1, True),
        (x0, cols, 1, False),
        (x1, cols, -1, False),
    ):
        size = height if along else width
        edge = frac * size
        line = round(frac * lines)
        if line in (0, lines):
            out.append(edge)
            continue
        lo, hi = (x0 * width, x1 * width) if along else (y0 * height, y1 * height)
        scale = size / lines
        window = (round(edge - step * 3 * scale), round(edge + step * 2 * scale))
        found = None
        # The bar's colour: its last line on the small copy (the one after it was dropped
        # as a blend), or the line before when that one blends the two as well.
        for back in (2, 3):
            outside = min(lines - 1, max(0, line - back if step > 0 else line + back - 1))
            bar = small[outside] if along else small[:, outside]
            found = _bar_end(img, along, window, step, (round(lo), round(hi)), bar)
            if found is not None:
                break
        out.append(edge if found is None else found)
    return (out[2] / width, out[0] / height, out[3] / width, out[1] / height)


def _bar_end(
    img: Image.Image,
    rows: bool,
    window: tuple[int, int],
    step: int,
    span: tuple[int, int],
    bar: np.ndarray,
) -> int | None:
    """Where a bar ends inside ``window`` (from its first line towards its second, rows
    or columns over ``span`` across them; ``step`` is the direction): after a line whose
    pixels mostly have the bar's colour (the median of ``bar``), the first that has not.
    The box's edge, or None when the window shows no such end."""
    limit = img.height if rows else img.width
    first, last = sorted(max(0, min(limit - 1, v)) for v in window)
    if last - first < 2 or span[1] - span[0] < 2:
        return None
    if rows:
        strip = np.asarray(img.crop((span[0], first, span[1], last + 1)), np.int16)
    else:
        strip = np.asarray(img.crop((first, span[0], last + 1, span[1])), np.int16)
        strip = strip.transpose(1, 0, 2)
    if step < 0:
        strip = strip[::-1]
    colour = np.median(bar, axis=0)
    near = (np.abs(strip - colour).max(axis=2) <= COLOUR_TOLERANCE).mean(axis=1) >= 0.5
    inside = np.flatnonzero(near)
    if not len(inside):
        return None
    ends = np.flatnonzero(~near[inside[0] :])
    if not len(ends):
        return None
    # The first line off the bar's colour still blends both (ringing, resampling).
    i = min(len(near) - 1, int(inside[0] + ends[0]) + 1)
    return (first + i) if step > 0 else (last - i + 1)


def _framed(content: np.ndarray, start: int, end: int) -> bool:
    """True when the lines outside ``start:end`` are mostly background, as around a
    photo in a screenshot (a photo's own uniform areas are not)."""
    outside = np.concatenate([content[:start], content[end:]])
    return len(outside) == 0 or float(outside.mean()) <= 1 - BAND_FRAME


def content_boxes(picture: Image.Image) -> list[tuple[str, Box]]:
    """The distinct content boxes worth hashing on their own, as ``(kind, box)`` with
    kind ``"border"``, ``"band"`` or ``"chrome"`` (often none).

    Raises:
        PictureTooSmall: Under ``MIN_SIDE`` pixels on a side: no room for a frame.
    """
    if min(picture.size) < MIN_PICTURE_SIDE:
        size = f"{picture.width}x{picture.height} px"
        raise PictureTooSmall(f"{size}; content boxes need {MIN_PICTURE_SIDE} px a side")
    boxes: list[tuple[str, Box]] = []
    small = _small(picture)
    differs = _differs(small)  # one analysis serves the first two finders
    found = [("border", _border(differs)), ("band", _band(differs))]
    # Chrome edges are placed at full resolution (``_refined``); border and band boxes
    # keep the small copy's, a line into the background: a flat photo (a blue square on
    # white) hashed tight to its edges is all one colour, and its hash is noise.
    found += [("chrome", _refined(picture, box, small)) for box in _chromes(small)]
    for kind, box in found:
        if box is not None and all(_differ(box, other) for _, other in boxes):
            boxes.append((kind, box))
    return boxes


def content_box(picture: Image.Image) -> Box:
    """The one box most likely to hold the photo: the screenshot band when there is
    one (it is the tighter), else the inside of the borders, else the whole picture."""
    boxes = dict(content_boxes(picture))
    return boxes.get("band") or boxes.get("border") or FULL


def _differ(a: Box, b: Box, tolerance: float = 0.02) -> bool:
    return any(abs(p - q) > tolerance for p, q in zip(a, b, strict=True))


def crop_box(picture: Image.Image, box: Box) -> Image.Image:
    """The part of ``picture`` inside ``box`` (fractions)."""
    w, h = picture.size
    x0, y0, x1, y1 = box
    return picture.crop((round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h)))
