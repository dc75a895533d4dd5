"""Benchmark: find edited copies and compilations of real videos, with their time offsets.

Builds queries from the shared corpus's real videos with PyAV (trim, a compilation of
several sources with one clip twice, low-bitrate re-encode, resize, mirror, letterbox and
pillarbox, a logo, all of them together, and the short ASL clips), hashes them and the
originals with ``ingest.video.frames``, aligns every query against every original with
``registry.similarity.align.align`` and reports, per edit type:

- segment-level precision and recall as in VCSL (He et al., CVPR 2022): for each
  query/reference pair, the overlap of found and true segments measured along both time
  axes (query and reference), the two axes' ratios multiplied; averaged over the pairs
  that truly share content;
- the error of the found time offsets (|found - true| of ``match - query`` time);
- false matches: segments found between videos that share nothing.

Also frames exported as JPEG photos, and phone screenshots of frames (status bars, app
chrome, captions: ``bench/video_stills.py``), are looked up among the originals, and
videos that show a photo (with borders; a screen recording) among photos, all through
``video_matches`` as the registry calls it, stills checked on the videos' pixels.

    python bench/video_matching.py            # ~3 queries per edit type
    python bench/video_matching.py --quick    # 1 query per edit type
    python bench/video_matching.py --stills-only --quick   # the photo rows only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from PIL import Image  # noqa: E402
from video_stills import (  # noqa: E402
    Registry,
    hashed_quality,
    photo_videos,
    screenshot_stills,
    still_error,
    table_rows,
    video_registry,
)
from videokit import (  # noqa: E402
    CORPUS,
    Composed,
    Piece,
    compose,
    duration,
    logo,
    mirror,
    read_frames,
)

from ingest.extraction import picture_hashes  # noqa: E402
from ingest.photo.image import decode_image  # noqa: E402
from ingest.video.frames import hash_video_frames  # noqa: E402
from registry.similarity.align import align  # noqa: E402
from registry.similarity.video import photo_pdq  # noqa: E402

LONG = ("car-detection.mp4", "bottle-detection.mp4", "one-by-one-person-detection.mp4")
SHORT = ("again.mkv", "book.mkv", "eat.mkv", "help.mkv", "milk.mkv", "night.mkv")


@dataclass
class Query:
    kind: str
    composed: Composed


def build_queries(work: Path, per_kind: int, seed: int) -> list[Query]:
    rng = np.random.default_rng(seed)
    long = [CORPUS / n for n in LONG]
    short = [CORPUS / n for n in SHORT]
    lengths = {p: duration(p) for p in long + short}
    queries: list[Query] = []

    def piece(src: Path, lo: float = 8.0, hi: float = 14.0) -> Piece:
        length = float(rng.uniform(lo, min(hi, lengths[src] - 1)))
        start = float(rng.uniform(0, lengths[src] - length))
        return Piece(src, round(start, 2), round(start + length, 2))

    def add(kind: str, n: int, pieces: list[Piece], **kw) -> None:
        slug = "".join(ch if ch.isalnum() else "_" for ch in kind)
        path = work / f"{slug}-{n}.mp4"
        queries.append(Query(kind, compose(path, pieces, **kw)))

    for n in range(per_kind):
        src = long[n % len(long)]
        others = [s for s in long if s != src]
        add("trim", n, [piece(src)], size=(640, 360), crf=23)
        first = piece(src, 6, 10)
        add(
            "compilation",
            n,
            [
                piece(others[0], 6, 10),
                Piece(None, seconds=1.0),
                first,
                Piece(short[n % len(short)]),
                piece(others[1], 6, 10),
                Piece(None, seconds=0.5),
                first,  # the same clip twice
            ],
            size=(640, 360),
        )
        add("re-encode 150 kb/s", n, [piece(src)], size=(640, 360), bit_rate=150_000)
        add("resize 256x144", n, [piece(src)], size=(256, 144))
        add("mirror", n, [piece(src)], size=(640, 360), edit=mirror)
        canvas = [(640, 640), (360, 640), (960, 360)][n % 3]
        add("letterbox/pillarbox", n, [piece(src)], size=canvas, fit="pad")
        add("logo + caption", n, [piece(src)], size=(640, 360), edit=logo)
        add(
            "all of the above",
            n,
            [piece(others[0], 6, 10), Piece(None, seconds=1.0), piece(src)],
            size=(640, 640),
            fit="pad",
            edit=lambda rgb: logo(mirror(rgb)),
            bit_rate=300_000,
        )
        add("dip to black", n, [Piece(*_span(piece(src)), fade=0.5)], size=(640, 360))
    for n, src in enumerate(short[: max(2, per_kind * 2)]):
        add("short ASL clip", n, [Piece(src)], size=(480, 360), crf=28)
    return queries


def _span(p: Piece) -> tuple[Path | None, float, float | None]:
    return p.source, p.start_s, p.end_s


# --- metrics (VCSL's segment-level precision and recall) ------------------------------------


def _union(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, -np.inf
    for a, b in sorted(spans):
        a = max(a, end)
        if b > a:
            total += b - a
            end = b
    return total


def _boxes_pr(pred: list[tuple], truth: list[tuple]) -> tuple[float, float]:
    """Precision and recall of boxes (q0, q1, m0, m1), both axes multiplied (as VCSL)."""
    if not truth:
        return (0.0 if pred else 1.0), 1.0
    if not pred:
        return 1.0, 0.0

    def covered(a: list[tuple], b: list[tuple]) -> tuple[float, float]:
        # For each box of a, the union of its intersections with boxes of b, per axis.
        hit_q = hit_m = 0.0
        for q0, q1, m0, m1 in a:
            inter = []
            for r0, r1, s0, s1 in b:
                iq = (max(q0, r0), min(q1, r1))
                im = (max(m0, s0), min(m1, s1))
                if iq[1] > iq[0] and im[1] > im[0]:
                    inter.append((iq, im))
            hit_q += _union([i[0] for i in inter])
            hit_m += _union([i[1] for i in inter])
        total_q = sum(q1 - q0 for q0, q1, _, _ in a)
        total_m = sum(m1 - m0 for _, _, m0, m1 in a)
        return hit_q / max(total_q, 1e-6), hit_m / max(total_m, 1e-6)

    pq, pm = covered(pred, truth)
    rq, rm = covered(truth, pred)
    return pq * pm, rq * rm


def evaluate(queries: list[Query], refs: dict[str, list], durations: dict[str, float]):
    rows: dict[str, dict] = defaultdict(
        lambda: {"p": [], "r": [], "err": [], "n": 0, "fp": 0, "neg": 0}
    )
    for query in queries:
        hashes = hash_video_frames(query.composed.path).hashes
        row = rows[query.kind]
        row["n"] += 1
        for name, ref_hashes in refs.items():
            truth = [
                (t.query_start_s, t.query_end_s, t.match_start_s, t.match_end_s)
                for t in query.composed.truth
                if t.source == name
            ]
            found = align(
                hashes,
                ref_hashes,
                query_duration_s=query.composed.duration_s,
                candidate_duration_s=durations[name],
            )
            pred = [
                (s.query_start_s, s.query_end_s, s.match_start_s, s.match_end_s)
                for s in (found.segments if found else [])
            ]
            if not truth:
                row["neg"] += 1
                row["fp"] += bool(pred)
                if pred:
                    print(f"  false match: {query.composed.path.name} ~ {name}: {pred}")
                continue
            precision, recall = _boxes_pr(pred, truth)
            row["p"].append(precision)
            row["r"].append(recall)
            for q0, q1, m0, _ in truth:
                overlapping = [
                    (min(q1, b[1]) - max(q0, b[0]), b)
                    for b in pred
                    if min(q1, b[1]) > max(q0, b[0])
                ]
                # The found segment for this true one: same place in the reference first.
                same = [o for o in overlapping if abs((o[1][2] - o[1][0]) - (m0 - q0)) < 3]
                if same or overlapping:
                    _, b = max(same or overlapping)
                    row["err"].append(abs((b[2] - b[0]) - (m0 - q0)))
                else:
                    row["err"].append(None)
            if recall < 0.9:
                print(f"  low recall {recall:.2f}: {query.composed.path.name} ~ {name}")
                print(f"    truth {[tuple(round(v, 1) for v in t) for t in truth]}")
                print(f"    found {[tuple(round(v, 1) for v in t) for t in pred]}")
    return rows


def stills(reg: Registry, work: Path, per_source: int, seed: int) -> dict:
    """Frames exported as JPEG (some at half size, some mirrored) looked up in every video,
    as the registry looks a photo up (``video_matches``)."""
    rng = np.random.default_rng(seed + 1)
    out = {"total": 0, "low_quality": 0, "found": 0, "errors": [], "false": 0}
    out["in_tie"] = 0
    for name in LONG:
        path = CORPUS / name
        wanted = sorted(rng.uniform(0, duration(path) - 1, per_source).tolist())
        for t, rgb in read_frames(path):
            if not wanted or t < wanted[0]:
                continue
            wanted.pop(0)
            variant = out["total"] % 3
            picture = Image.fromarray(rgb)
            if variant == 1:
                picture = picture.resize((picture.width // 2, picture.height // 2))
            if variant == 2:
                picture = Image.fromarray(mirror(rgb))
            jpeg = work / f"still-{name}-{out['total']}.jpg"
            picture.save(jpeg, quality=80)
            picture = decode_image(jpeg.read_bytes()).picture
            hashes = picture_hashes(picture)
            out["total"] += 1
            if photo_pdq(hashes)["quality"] < 50:
                # Never matched, by design (an empty car park, a dark frame).
                out["low_quality"] += 1
                continue
            found = reg.match("image", hashes, picture=picture)
            out["false"] += sum(m["sha256"] != name for m in found)
            mine = [m for m in found if m["sha256"] == name]
            if hashed_quality(reg, name, t) < 50:  # its own hash in the video is not indexed
                out["flat"] = out.get("flat", 0) + 1
                out["flat_found"] = out.get("flat_found", 0) + bool(mine)
            if not mine:
                kind = ("as is", "half size", "mirrored")[variant]
                out.setdefault("missed", []).append(f"{name}@{t:.1f} ({kind})")
            if mine:
                out["found"] += 1
                error, in_tie = still_error(mine[0], t)
                out["errors"].append(error)
                out["in_tie"] += in_tie
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 query per edit type")
    parser.add_argument("--per-kind", type=int, default=None, help="queries per edit type")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="keep the built videos here")
    parser.add_argument(
        "--stills-only",
        action="store_true",
        help="only the photo rows (stills, screenshots, videos of photos): no video edits",
    )
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} is absent")
    per_kind = args.per_kind or (1 if args.quick else 3)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        queries = [] if args.stills_only else build_queries(work, per_kind, args.seed)
        built = time.perf_counter()
        names = LONG + SHORT
        refs = {n: hash_video_frames(CORPUS / n).hashes for n in names}
        durations = {n: duration(CORPUS / n) for n in names}
        rows = evaluate(queries, refs, durations) if not args.stills_only else {}
        reg = video_registry(names, refs)
        still = stills(reg, work, per_kind * 3, args.seed)
        shots = screenshot_stills(reg, LONG, SHORT, per_kind * 3, args.seed)
        videos = photo_videos(work, args.seed)
    elapsed = time.perf_counter() - started
    print(_table(rows, still))
    print("\n".join(table_rows(shots, videos)))
    print(
        f"\n{len(queries)} queries x {len(refs)} originals; built in {built - started:.0f} s, "
        f"total {elapsed:.0f} s"
    )


def _table(rows: dict, still: dict) -> str:
    head = (
        "| edit | queries | precision | recall | offset error mean / max (s) "
        "| offsets within 1 s | false matches |\n|---|---|---|---|---|---|---|"
    )
    lines = [head]
    total_fp = total_neg = 0
    for kind, row in rows.items():
        errs = [e for e in row["err"] if e is not None]
        within = sum(e <= 1.0 for e in errs) / len(row["err"]) if row["err"] else float("nan")
        err_txt = f"{np.mean(errs):.2f} / {max(errs):.2f}" if errs else "-"
        total_fp += row["fp"]
        total_neg += row["neg"]
        lines.append(
            f"| {kind} | {row['n']} | {np.mean(row['p']):.3f} | {np.mean(row['r']):.3f} "
            f"| {err_txt} | {within:.0%} | {row['fp']} of {row['neg']} |"
        )
    e = still["errors"]
    usable = still["total"] - still["low_quality"]
    lines.append(
        f"| still: JPEG of a frame (1/3 half size, 1/3 mirrored) | {usable} "
        f"| - | {still['found'] / max(1, usable):.3f} "
        f"| {np.mean(e) if e else float('nan'):.2f} / {max(e) if e else float('nan'):.2f} "
        f"| {sum(x <= 1 for x in e) / max(1, usable):.0%} of usable, "
        f"{sum(x <= 1 for x in e) / max(1, len(e)):.0%} of found "
        f"| {still['false']} of {usable * 8} |"
    )
    lines.append(
        f"\nStills: {still['low_quality']} of {still['total']} exported frames have PDQ quality "
        f"< 50 and are never matched (by design); the true time lies within 1 s of the "
        f"first match's span of equally fitting frames (tie_start_s to "
        f"tie_end_s) for {still['in_tie']} of {still['found']}."
    )
    if still.get("flat"):
        usable = still["total"] - still["low_quality"]
        others = (still["found"] - still["flat_found"]) / max(1, usable - still["flat"])
        lines.append(
            f"\nOf the usable stills, {still['flat']} are frames whose own hash in the video "
            f"has PDQ quality < 50 (not indexed, by design; {still['flat_found']} found); "
            f"recall over the other {usable - still['flat']}: {others:.3f}."
        )
    if still.get("missed"):
        lines.append("\nJPEG stills missed: " + ", ".join(still["missed"]) + ".")
    lines.append(f"\nUnrelated pairs matched: {total_fp} of {total_neg}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
