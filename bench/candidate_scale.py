"""The whole candidate stage of a photo query (PDQ search and ORB vote together) over an
index of N items made from pictures: latency, recall, memory, build and open time.

Items: ``--pictures`` generated pictures (``bench/orb_vote_scale.py``'s, whose cached
descriptors it shares) with their stored PDQ hashes (whole picture and content boxes,
as ingest stores them; cached in ``--cache``), then synthetic items made chunk by chunk
of real ones (each 16-bit chunk of each code is the same chunk of a randomly drawn real
code): 64 ORB descriptors and 2 PDQ rows each, with the bucket sizes of real codes but
no near copies of the real pictures (see ``bench/orb_vote_scale.py``).

Queries: ``--queries`` of the real pictures re-posted (crop 20 %, resize 0.8, JPEG 85,
every third mirrored), hashed as ingest hashes a query. The time of a query is
``photo.candidates`` (its PDQ search, its ORB votes and the PDQ distance of voted items)
on one core, after the query's own features are computed. ``found``: the share of
queries whose picture is among the candidates; ``vote found``: among the most voted
(what ``bench/orb_vote_scale.py`` reports).

Memory: ``bytes/item`` is the index's arrays (``NearDupIndex.nbytes``) plus its Python
``items`` list and ``position`` dict, per item. Build: sorting both multi-indexes;
save/open: ``NearDupIndex.save`` and ``load`` of the cache (a folder of ``.npy`` files
memory-mapped on open).

Run: ``python -m bench.candidate_scale [N ...]`` (default 1,000 10,000 100,000; 1M
takes about 15 minutes and 10 GB).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.orb_vote_scale import descriptors, picture, reposts
from ingest.extraction import picture_hashes
from ingest.photo import features as feat
from registry.similarity.config import MatchConfig
from registry.similarity.index import NearDupIndex
from registry.similarity.photo import Query, candidates

#: PDQ rows stored per synthetic item (a whole-picture hash and a content box).
SYNTHETIC_PDQ = 2


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pdq_rows(n: int, cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stored PDQ rows of pictures 0..n-1: codes, owners, quality."""
    if cache.exists():
        with np.load(cache) as data:
            if int(data["pictures"][0]) >= n:
                keep = data["owner"] < n
                return data["code"][keep], data["owner"][keep], data["quality"][keep]
    codes, owners, quality = [], [], []
    started = time.perf_counter()
    for i in range(n):
        for h in picture_hashes(picture(i)):
            if h["alg"] == "pdq":
                codes.append(np.frombuffer(bytes.fromhex(h["hex"]), np.uint8))
                owners.append(i)
                quality.append(int(h.get("quality") or 0))
    log(f"hashed {n:,} pictures in {time.perf_counter() - started:.0f} s (cached in {cache})")
    out = np.array(codes), np.array(owners, np.int32), np.array(quality, np.int16)
    np.savez(cache, code=out[0], owner=out[1], quality=out[2], pictures=np.array([n]))
    return out


def mixed(pool: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` synthetic codes, each chunk drawn from the same chunk of ``pool``."""
    chunks = pool.view(np.uint16)
    out = np.empty((count, 16), np.uint16)
    for c in range(16):
        out[:, c] = chunks[rng.integers(0, len(chunks), count), c]
    return out.view(np.uint8).reshape(-1, 32)


def build(
    real_orb: np.ndarray, real_pdq: tuple[np.ndarray, ...], n: int, rng: np.random.Generator
) -> tuple[NearDupIndex, float]:
    """An index of ``n`` items, and the seconds sorting its multi-indexes took."""
    per = feat.STORED_DESCRIPTORS
    k = min(n, len(real_orb))
    code, owner, quality = (a[real_pdq[1] < k] for a in real_pdq)
    orb = [real_orb[:k].reshape(-1, 32)]
    if n > k:
        log(f"{n:,} items: making {n - k:,} synthetic items")
        orb.append(mixed(real_orb.reshape(-1, 32), (n - k) * per, rng))
        extra = (n - k) * SYNTHETIC_PDQ
        code = np.concatenate([code, mixed(real_pdq[0], extra, rng)])
        owner = np.concatenate([owner, np.repeat(np.arange(k, n, dtype=np.int32), SYNTHETIC_PDQ)])
        quality = np.concatenate([quality, np.full(extra, 100, np.int16)])
    index = NearDupIndex()
    index.items = [f"{i:064x}" for i in range(n)]
    index.position = {s: i for i, s in enumerate(index.items)}
    kinds = np.zeros(len(code), np.int8)
    index.set_pdq(code, owner, kinds, np.full(len(code), np.nan, np.float32), quality)
    orb_codes = np.concatenate(orb)
    del orb
    log(f"{n:,} items: sorting")
    started = time.perf_counter()
    index.orb.replace(orb_codes, np.repeat(np.arange(n, dtype=np.int32), per))  # sorts
    index.sort()  # the PDQ multi-index (beyond PDQ_EXACT_ROWS)
    return index, time.perf_counter() - started


def add_distractors(index: NearDupIndex, n: int, pictures: int = 3_000, seed: int = 7) -> None:
    """Add ``n`` unrelated items to ``index`` at once (named ``distractor-<i>``): codes
    made chunk by chunk of the descriptors and PDQ hashes of ``pictures`` generated
    pictures (cached as ``main`` caches them), 64 descriptors and 2 PDQ rows each."""
    tmp = Path(tempfile.gettempdir())
    real_orb = descriptors(pictures, tmp / "orb_vote_scale.npz").reshape(-1, 32)
    real_pdq = pdq_rows(pictures, tmp / "candidate_scale_pdq.npz")[0]
    rng = np.random.default_rng(seed)
    first = len(index.items)
    names = [f"distractor-{i}" for i in range(n)]
    index.items.extend(names)
    index.position.update((s, first + i) for i, s in enumerate(names))
    owners = np.arange(first, first + n, dtype=np.int32)
    per = feat.STORED_DESCRIPTORS
    extra = n * SYNTHETIC_PDQ
    index.set_pdq(
        np.concatenate([index.pdq, mixed(real_pdq, extra, rng)]),
        np.concatenate([index.pdq_owner, np.repeat(owners, SYNTHETIC_PDQ)]),
        np.concatenate([index.pdq_kind, np.zeros(extra, np.int8)]),
        np.concatenate([index.pdq_t, np.full(extra, np.nan, np.float32)]),
        np.concatenate([index.pdq_quality, np.full(extra, 100, np.int16)]),
    )
    index.orb.replace(
        np.concatenate([index.orb.codes, mixed(real_orb, n * per, rng)]),
        np.concatenate([index.orb.owners, np.repeat(owners, per)]),
    )
    index.sort()


def queries(count: int, pictures: int) -> list[tuple[int, Query]]:
    """Re-posted pictures as queries, with their vote descriptor sets computed once
    (``Query`` keeps them), so that the time measured is the candidate stage's."""
    out = []
    for truth, img in reposts(count, pictures):
        query = Query(img, picture_hashes(img))
        query.orb_sets()
        out.append((truth, query))
    return out


def items_bytes(index: NearDupIndex) -> int:
    """The ``items`` list and ``position`` dict: strings, list and dict."""
    strings = sum(sys.getsizeof(s) for s in index.items)
    return strings + sys.getsizeof(index.items) + sys.getsizeof(index.position)


def main(argv: list[str]) -> int:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000, 10_000, 100_000])
    parser.add_argument("--pictures", type=int, default=3_000, help="distinct pictures")
    parser.add_argument("--queries", type=int, default=30)
    tmp = Path(tempfile.gettempdir())
    parser.add_argument("--cache", type=Path, default=tmp / "candidate_scale_pdq.npz")
    parser.add_argument("--orb-cache", type=Path, default=tmp / "orb_vote_scale.npz")
    parser.add_argument("--no-save", action="store_true", help="skip the save/open timing")
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    config = MatchConfig()
    real_orb = descriptors(args.pictures, args.orb_cache)
    real_pdq = pdq_rows(args.pictures, args.cache)
    qs = queries(args.queries, min(args.pictures, min(args.sizes)))
    rng = np.random.default_rng(0)
    print(
        f"{args.pictures:,} real pictures, then synthetic items; {len(qs)} queries (crop 20 % "
        "+ resize 0.8 + JPEG 85, every third mirrored); one core."
    )
    print(
        "| items | PDQ rows | ORB rows | sort (s) | candidates p50 (ms) | p99 (ms) | found | "
        "vote found | bytes/item | save (s) | open (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        index, sort_s = build(real_orb, real_pdq, n, rng)
        index.search_pdq(index.pdq[:1], 0)  # the flat table of pending rows, loaded once
        times, found, voted = [], 0, 0
        for truth, query in qs:
            started = time.perf_counter()
            chosen = candidates(query, index, config)
            times.append(time.perf_counter() - started)
            found += any(c.owner == truth for c in chosen)
            voted += any(c.owner == truth and max(c.votes, c.mirrored_votes) for c in chosen)
        ms = np.array(times) * 1000
        per_item = (index.nbytes() + items_bytes(index)) / n
        save_s = open_s = float("nan")
        if not args.no_save:
            with tempfile.TemporaryDirectory(dir=tmp) as folder:
                path = str(Path(folder) / "neardup.json")
                started = time.perf_counter()
                index.save(path)
                save_s = time.perf_counter() - started
                started = time.perf_counter()
                loaded = NearDupIndex.load(path, index.stamp)
                open_s = time.perf_counter() - started
                if loaded is None:
                    raise RuntimeError("the saved index did not load")
                del loaded
        print(
            f"| {n:,} | {len(index.pdq):,} | {len(index.orb):,} | {sort_s:.1f} | "
            f"{np.percentile(ms, 50):.0f} | {np.percentile(ms, 99):.0f} | "
            f"{found / len(qs):.2f} | {voted / len(qs):.2f} | {per_item:,.0f} | "
            f"{save_s:.1f} | {open_s:.2f} |",
            flush=True,
        )
        del index
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
