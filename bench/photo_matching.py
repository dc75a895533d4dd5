"""Benchmark: does a re-posted photo still match its original, and never another photo?

A thorn/perception-style run. Every base photo (the shared corpus's camera photos and
generated pictures) is registered; each is then re-posted through every transform in
``support.transforms`` (re-encoding, resizing, mirroring, rotations, crops, padding,
logos, brightness/contrast/gamma, screenshots, combinations), saved as a JPEG and
matched against all registered photos. A pair is positive when the query came from that
photo; every other registered photo is a negative, including the *hard negatives*: for
each generated 3D scene, a second photo from a few steps away (``viewpoint_pair``).

Per transform the table gives the recall at the threshold that keeps precision at or
above 99.99 % for that transform's queries (as thorn/perception reports it), for plain
pHash (imagehash, 64 bits), plain PDQ (256 bits, no rotations) and PDQ with its 8
dihedral variants; and for this registry's matcher the recall at its fixed, calibrated
default thresholds, with the number of wrong items it reported.

Run: ``python -m bench.photo_matching`` (about 4 minutes on 2 cores) or ``--quick``.
Timing figures are informational; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from ingest.extraction import picture_hashes
from ingest.photo.image import decode_image
from ingest.photo.perceptual import hamming
from registry.similarity.config import MatchConfig
from registry.similarity.index import NearDupIndex
from registry.similarity.photo import Query, find_matches
from registry.similarity.verification import Side
from support.synthetic import flat_scene, viewpoint_pair
from support.transforms import TRANSFORMS, Named

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpus from the repository; git worktrees (wt/<name>) sit one level deeper.
DEFAULT_CORPUS = next(
    (
        p
        for p in (ROOT.parent / "shared" / "corpus", ROOT.parents[1] / "shared" / "corpus")
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "corpus",
)
PRECISION = 0.9999
#: Corpus photos big enough to be re-posted (the tiny 100 px thumbnails are left out).
CORPUS_MIN_SIDE = 300


@dataclass
class Base:
    name: str
    data: bytes
    kind: str  # "corpus" | "flat" | "viewpoint"


@dataclass
class Database:
    bases: list[Base]
    pictures: list[Image.Image] = field(default_factory=list)
    phash: list[str] = field(default_factory=list)
    pdq: list[str] = field(default_factory=list)
    index: NearDupIndex = field(default_factory=NearDupIndex)


def _jpeg(img: Image.Image, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def corpus_photos(corpus: Path, quick: bool) -> list[Base]:
    photos = corpus / "photos"
    if not photos.is_dir():
        return []
    paths = []
    for path in sorted(photos.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".tif", ".tiff", ".heic", ".heif"):
            continue
        # The orientation set is one photo eight times: keep the first of each.
        if "orientation" in path.parts and not path.stem.endswith("_1"):
            continue
        try:
            with Image.open(path) as im:
                big_enough = max(im.size) >= CORPUS_MIN_SIDE
        except Exception:
            continue
        if big_enough:
            paths.append(path)
    if quick:
        paths = paths[::3]
    return [Base(str(p.relative_to(photos)), p.read_bytes(), "corpus") for p in paths]


def generated(quick: bool) -> list[Base]:
    flats, pairs = (5, 4) if quick else (15, 10)
    out = [Base(f"flat-{i}", _jpeg(flat_scene(1000 + i)), "flat") for i in range(flats)]
    for i in range(pairs):
        a, b = viewpoint_pair(i)
        out.append(Base(f"scene-{i}-a", _jpeg(a), "viewpoint"))
        out.append(Base(f"scene-{i}-b", _jpeg(b), "viewpoint"))
    return out


def build(bases: list[Base]) -> Database:
    db = Database(bases)
    for base in bases:
        pic = decode_image(base.data).picture
        db.pictures.append(pic)
        hashes = picture_hashes(pic)
        db.index.add(base.name, hashes)
        db.pdq.append(next(h["hex"] for h in hashes if h["alg"] == "pdq" and "region" not in h))
        db.phash.append(str(imagehash.phash(pic)))
    db.index.orb.sort()
    return db


# --- queries (run in worker processes) ---------------------------------------------------

_DB: Database | None = None
_SIDES: dict[str, Side] = {}
_CONFIG = MatchConfig()


def _init(db: Database, config: MatchConfig) -> None:
    global _DB, _CONFIG
    _DB, _CONFIG = db, config


def _load(name: str) -> Image.Image | None:
    assert _DB is not None
    position = _DB.index.position[name]
    # Distractors (``--distractors``) are hashes without pixels: not verifiable.
    return _DB.pictures[position] if position < len(_DB.pictures) else None


@dataclass
class Outcome:
    row: str
    family: str
    truth: int
    matched: list[tuple[int, float]]  # (base index, score) reported by our matcher
    phash: np.ndarray
    pdq: np.ndarray
    pdq8: np.ndarray
    seconds: float
    #: The base that is the query's hard negative (other viewpoint), or -1.
    partner: int = -1


def run_query(row: str, family: str, truth: int, data: bytes) -> Outcome:
    """Match one re-posted file against the database with every method."""
    assert _DB is not None
    started = time.perf_counter()
    pic = decode_image(data).picture
    hashes = picture_hashes(pic)
    matches = find_matches(Query(pic, hashes), _DB.index, _load, _CONFIG, cache=_SIDES)
    elapsed = time.perf_counter() - started
    whole = next(h for h in hashes if h["alg"] == "pdq" and "region" not in h)
    ph = str(imagehash.phash(pic))
    return Outcome(
        row,
        family,
        truth,
        [(_DB.index.position[m.sha256], m.score) for m in matches],
        np.array([hamming(ph, other) for other in _DB.phash]),
        np.array([hamming(whole["hex"], other) for other in _DB.pdq]),
        np.array([min(hamming(v, other) for v in whole["dihedral"]) for other in _DB.pdq]),
        elapsed,
        _partner(truth),
    )


def _partner(truth: int) -> int:
    """The other viewpoint of a viewpoint pair's photo (its hard negative), or -1."""
    assert _DB is not None
    base = _DB.bases[truth]
    if base.kind != "viewpoint":
        return -1
    other = base.name[:-1] + ("b" if base.name.endswith("a") else "a")
    return next((i for i, b in enumerate(_DB.bases) if b.name == other), -1)


def make_query(base_index: int, transform: Named, seed: int) -> tuple[str, str, int, bytes]:
    assert _DB is not None
    big = decode_image(_DB.bases[base_index].data, size=1024).picture
    rng = np.random.default_rng(seed)
    return transform.name, transform.family, base_index, _jpeg(transform.apply(big, rng), 90)


def _job(args: tuple[int, int, int]) -> Outcome:
    base_index, t_index, seed = args
    return run_query(*make_query(base_index, TRANSFORMS[t_index], seed))


def _file_job(args: tuple[str, str, int, bytes]) -> Outcome:
    return run_query(*args)


# --- scoring ------------------------------------------------------------------------------


def recall_at_precision(outcomes: list[Outcome], attr: str, n: int) -> float:
    """Recall at the largest distance threshold whose precision is ≥ ``PRECISION``."""
    pos = np.array([getattr(o, attr)[o.truth] for o in outcomes])
    neg = np.concatenate([np.delete(getattr(o, attr), o.truth) for o in outcomes] or [np.zeros(0)])
    best = 0.0
    for t in range(n + 1):
        tp = int((pos <= t).sum())
        fp = int((neg <= t).sum())
        if tp + fp and tp / (tp + fp) >= PRECISION:
            best = max(best, tp / len(pos))
        elif tp + fp:
            break  # precision only falls as the threshold grows past here
    return best


def ours(outcomes: list[Outcome]) -> tuple[float, int, int]:
    """Recall at the default thresholds, wrong items reported, and of those the hard
    negatives (the other viewpoint of the query's scene: same scene, different shot)."""
    hits = sum(any(i == o.truth for i, _ in o.matched) for o in outcomes)
    wrong = sum(sum(i != o.truth for i, _ in o.matched) for o in outcomes)
    hard = sum(sum(i == o.partner for i, _ in o.matched) for o in outcomes if o.partner >= 0)
    return hits / len(outcomes), wrong, hard


def table(outcomes: list[Outcome]) -> tuple[list[str], dict[str, dict[str, float]]]:
    rows: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        rows[o.row].append(o)
    header = (
        "| transform | queries | pHash | PDQ | PDQ ×8 | **this registry** | wrong matches "
        "| of them hard negatives |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = header.split("\n")
    figures = {}
    for row, group in rows.items():
        r_ph = recall_at_precision(group, "phash", 64)
        r_pdq = recall_at_precision(group, "pdq", 256)
        r_pdq8 = recall_at_precision(group, "pdq8", 256)
        r_ours, wrong, hard = ours(group)
        figures[row] = {
            "queries": len(group),
            "phash": r_ph,
            "pdq": r_pdq,
            "pdq8": r_pdq8,
            "ours": r_ours,
            "wrong": wrong,
            "hard_negatives": hard,
            "hard_negative_queries": sum(o.partner >= 0 for o in group),
        }
        lines.append(
            f"| {row} | {len(group)} | {r_ph:.3f} | {r_pdq:.3f} | {r_pdq8:.3f} | "
            f"**{r_ours:.3f}** | {wrong} | {hard} of {sum(o.partner >= 0 for o in group)} |"
        )
    return lines, figures


def orientation_queries(corpus: Path, names: list[str]) -> list[tuple[str, str, int, bytes]]:
    """The corpus's EXIF-orientation set: the same photo stored 8 ways, each a query for
    the first one (applied orientation makes them visually identical)."""
    folder = corpus / "photos" / "orientation"
    out = []
    for stem in ("landscape", "portrait"):
        name = f"orientation/{stem}_1.jpg"
        if name not in names:
            continue
        for k in range(2, 9):
            path = folder / f"{stem}_{k}.jpg"
            if path.exists():
                row = ("EXIF orientation 2–8", "orientation", names.index(name))
                out.append((*row, path.read_bytes()))
    return out


def hard_negatives(db: Database) -> dict[str, int]:
    """Untouched second viewpoints against the first: how often each method says 'same'."""
    position = {b.name: i for i, b in enumerate(db.bases)}
    pairs = [
        (i, position[b.name[:-1] + "b"])
        for i, b in enumerate(db.bases)
        if b.kind == "viewpoint" and b.name.endswith("-a")
    ]
    said_same = {"pairs": len(pairs), "pdq<=31": 0, "phash<=8": 0, "ours": 0}
    for a, b in pairs:
        hashes = picture_hashes(db.pictures[a])
        whole = next(h for h in hashes if h["alg"] == "pdq" and "region" not in h)
        said_same["pdq<=31"] += min(hamming(v, db.pdq[b]) for v in whole["dihedral"]) <= 31
        said_same["phash<=8"] += hamming(db.phash[a], db.phash[b]) <= 8
        q = Query(db.pictures[a], hashes)
        found = find_matches(q, db.index, _load, _CONFIG, exclude=[db.bases[a].name])
        said_same["ours"] += any(m.sha256 == db.bases[b].name for m in found)
    return said_same


def calibration(outcomes: list[Outcome]) -> None:
    """How verified scores of true and false matches fall (run with min score 0)."""
    negatives = sorted(
        ((score, o.row) for o in outcomes for i, score in o.matched if i != o.truth),
        reverse=True,
    )
    print("highest scores of wrong matches:", [(round(s, 3), r) for s, r in negatives[:8]])
    rows: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        rows[o.row].append(max((s for i, s in o.matched if i == o.truth), default=0.0))
    print("| transform | min | 5 % | median |")
    print("|---|---:|---:|---:|")
    for row, scores in rows.items():
        a = np.array(scores)
        print(f"| {row} | {a.min():.3f} | {np.percentile(a, 5):.3f} | {np.median(a):.3f} |")
    everything = np.array([s for scores in rows.values() for s in scores])
    for t in (0.6, 0.65, 0.7, 0.75, 0.8, 0.85):
        wrong = sum(s >= t for s, _ in negatives)
        print(f"min score {t:.2f}: recall {np.mean(everything >= t):.4f}, wrong {wrong}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos (about a minute)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only the transforms whose name contains TEXT (repeatable); the EXIF "
        "orientation row runs when TEXT is 'orientation'",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="draw the transforms' random crops, positions and colours afresh (0: the "
        "figures of the README); another seed is a held-out set of the same edits",
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--distractors",
        type=int,
        default=0,
        help="also index this many unrelated items (descriptors and PDQ hashes made of "
        "generated pictures', as bench/candidate_scale.py makes them); a match to one "
        "is a wrong match",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="accept every geometric match (min score 0) and print how the scores of "
        "true and false matches fall, to choose --min-score",
    )
    args = parser.parse_args(argv)
    config = MatchConfig(min_score=0.0) if args.calibrate else MatchConfig()

    started = time.perf_counter()
    bases = corpus_photos(args.corpus, args.quick) + generated(args.quick)
    db = build(bases)
    if args.distractors:
        from bench.candidate_scale import add_distractors

        add_distractors(db.index, args.distractors)
    _init(db, config)
    names = [b.name for b in bases]
    chosen = [
        ti
        for ti, t in enumerate(TRANSFORMS)
        if not args.only or any(text in t.name for text in args.only)
    ]
    jobs = [
        (bi, ti, 7919 * bi + ti + 1_000_003 * args.seed)
        for bi in range(len(bases))
        for ti in chosen
    ]
    files = orientation_queries(args.corpus, names)
    if args.only and "orientation" not in args.only:
        files = []
    print(
        f"{len(bases)} photos ({sum(b.kind == 'corpus' for b in bases)} from the corpus, "
        f"{sum(b.kind == 'viewpoint' for b in bases)} in viewpoint pairs), "
        f"{len(jobs) + len(files)} queries, {args.workers} workers, "
        f"{args.distractors:,} distractors",
        file=sys.stderr,
    )
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(db, config)) as pool:
            outcomes = list(pool.map(_job, jobs, chunksize=8))
            outcomes += list(pool.map(_file_job, files))
    else:
        outcomes = [_job(j) for j in jobs] + [_file_job(f) for f in files]
    if args.calibrate:
        calibration(outcomes)
        return 0
    lines, figures = table(outcomes)
    hard = hard_negatives(db)
    total_hits = sum(any(i == o.truth for i, _ in o.matched) for o in outcomes)
    total_wrong = sum(sum(i != o.truth for i, _ in o.matched) for o in outcomes)
    negatives = sum(len(bases) - 1 for _ in outcomes)
    seconds = np.array([o.seconds for o in outcomes])
    misses = [
        {"transform": o.row, "photo": bases[o.truth].name}
        for o in outcomes
        if not any(i == o.truth for i, _ in o.matched)
    ]
    print("\n".join(lines))
    print()
    print(
        f"This registry, default thresholds, all {len(outcomes)} queries: recall "
        f"{total_hits / len(outcomes):.4f}, {total_wrong} wrong matches among {negatives:,} "
        f"negative pairs (precision {total_hits / max(1, total_hits + total_wrong):.4f})."
    )
    print(
        f"Hard negatives (second viewpoint of the same scene, untouched): {hard['pairs']} pairs; "
        f"said 'same photo': this registry {hard['ours']}, PDQ ≤ 31 {hard['pdq<=31']}, "
        f"pHash ≤ 8 {hard['phash<=8']}."
    )
    print("Missed: " + ", ".join(f"{m['photo']} ({m['transform']})" for m in misses) + ".")
    print(
        f"Matching time per query: median {np.median(seconds) * 1000:.0f} ms, "
        f"95th percentile {np.percentile(seconds, 95) * 1000:.0f} ms; "
        f"whole run {time.perf_counter() - started:.0f} s."
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": figures,
                    "hard_negatives": hard,
                    "recall": total_hits / len(outcomes),
                    "wrong": total_wrong,
                    "negative_pairs": negatives,
                    "misses": misses,
                    "thresholds": _CONFIG.to_dict(),
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
