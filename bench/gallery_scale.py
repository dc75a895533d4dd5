"""The case gallery at scale: page renders over a catalogue of ``--items`` items.

The catalogue is written directly (``Catalog.put``, no vault files, no custody entries
for the items: a cheap stand-in of the documents a real ingest folds), with
sightings, claimed postings, capture times, GPS on some, videos among them, and a
near-duplicate pair waiting for review on one item in ten. The user and their role are
real custody entries. Pages are rendered in-process (FastAPI's TestClient, a session
cookie), each one a real ``access.viewed`` entry; no thumbnails exist, so this measures
the index, filters, paging and templates, not picture decoding.

    python bench/gallery_scale.py --items 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hashlib
import resource

from registry import init_registry
from registry.accounts import add_user, create_token, grant
from registry.schema import first_seen, new_item

CASE = "UA-100K"


def _sha(i: int) -> str:
    return hashlib.sha256(f"item-{i}".encode()).hexdigest()


def doc(i: int, n: int) -> dict:
    sha = _sha(i)
    video = i % 7 == 0
    d = new_item(
        sha,
        {
            "size": 100_000 + i,
            "media_type": "video" if video else "image",
            "mime": "video/mp4" if video else "image/jpeg",
            "format": "mp4" if video else "jpeg",
        },
        time="2024-01-01T00:00:00+00:00",
        seq=i + 10,
    )
    day = 1 + i % 28
    d["metadata"] = {"captured_at": f"2022-03-{day:02d}T10:00:00"} if i % 3 else {}
    if i % 5 == 0:
        d["metadata"]["gps"] = {"lat": 50.0, "lon": 30.0, "alt": None}
    d["sightings"] = [
        {
            "seq": i + 10,
            "observed_at": f"2024-{1 + i % 12:02d}-{day:02d}T{i % 24:02d}:00:00+00:00",
            "observed_by": "collector",
            "case": CASE,
            "source_url": f"https://t.me/channel_{i % 500}/{i}",
            "posted_at": f"2022-03-{day:02d}T09:00:00+02:00",
            "original_name": f"IMG_{i:06d}.jpg",
        }
    ]
    d["cases"] = [CASE]
    if i % 10 == 0 and i + 1 < n:
        d["near_duplicates"] = [
            {"sha256": _sha(i + 1), "as": "query", "score": 0.9, "method": "orb+ransac"}
        ]
    elif i % 10 == 1:
        d["near_duplicates"] = [
            {"sha256": _sha(i - 1), "as": "match", "score": 0.9, "method": "orb+ransac"}
        ]
    d["first_seen"] = first_seen(d["sightings"], d["metadata"])
    return d


def build(root: Path, n: int) -> tuple[str, float]:
    reg = init_registry(str(root), actor="operator")
    add_user(reg, "alice", None, actor="operator")
    grant(reg, "alice", CASE, "editor", actor="operator")
    token = create_token(reg, "alice", actor="alice")["token"]
    started = time.perf_counter()
    with reg.writing("operator") as catalog:
        for i in range(n):
            catalog.put(doc(i, n))
            catalog.add_case(_sha(i), CASE)
            if i % 10_000 == 9_999:
                reg.save()
        reg.save()
    return token, time.perf_counter() - started


def timed(client, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url)
    took = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return took, len(response.content)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args(argv)
    from fastapi.testclient import TestClient

    from registry.server import ServerConfig, create_app
    from registry.server.sessions import SESSION_COOKIE, csrf_of

    with tempfile.TemporaryDirectory(prefix="gallery-scale-") as tmp:
        token, built = build(Path(tmp) / "reg", args.items)
        print(f"catalogue of {args.items:,} items written in {built:.1f} s")
        app = create_app(ServerConfig(registry=str(Path(tmp) / "reg"), workers=1, rate=1e6))
        client = TestClient(app)
        client.cookies.set(SESSION_COOKIE, token)
        deep = args.items // 48 // 2
        urls = [
            ("first page, cold (builds the case's rows)", f"/cases/{CASE}"),
            ("first page, warm", f"/cases/{CASE}"),
            (f"page {deep:,} (offset {deep * 48 - 48:,})", f"/cases/{CASE}?page={deep}"),
            ("newest first", f"/cases/{CASE}?sort=newest"),
            ("videos with GPS", f"/cases/{CASE}?type=video&gps=yes"),
            (
                "captured 2022-03-05..07",
                f"/cases/{CASE}?date_on=captured&from=2022-03-05&to=2022-03-07",
            ),
            ("has unreviewed matches", f"/cases/{CASE}?unreviewed=on"),
            ("search a URL", f"/cases/{CASE}?q=t.me/channel_123/"),
            ("search a hash prefix", f"/cases/{CASE}?q={_sha(4242)[:8]}"),
            ("200 per page", f"/cases/{CASE}?size=200"),
            ("review queue (100 pairs)", f"/cases/{CASE}/queue"),
        ]
        print("\n| page | ms | KB |")
        print("| --- | ---: | ---: |")
        for name, url in urls:
            took, size = timed(client, url)
            print(f"| {name} | {took * 1000:.0f} | {size / 1024:.0f} |")
        a, b = _sha(0), _sha(1)
        client.post(
            "/decide",
            data={"a": a, "b": b, "decision": "confirmed", "csrf": csrf_of(token)},
        )
        took, size = timed(client, f"/cases/{CASE}?unreviewed=on")
        name = "after a decision (rows caught up from the log)"
        print(f"| {name} | {took * 1000:.0f} | {size / 1024:.0f} |")
        # The rows' own share of a page: filtering, sorting and cutting one page.
        from registry import Registry
        from registry.server.gallery import Filter

        rows = app.state.server.ui.galleries.of(Registry.open(str(Path(tmp) / "reg")), CASE)
        print("\n| filter over the rows only (`CaseRows.select`) | ms |")
        print("| --- | ---: |")
        for name, wanted, offset in (
            ("everything, first page", Filter(), 0),
            ("everything, offset 49,920", Filter(), 49_920),
            ("newest first", Filter(newest_first=True), 0),
            ("videos with GPS", Filter(media_type="video", gps="yes"), 0),
            ("has unreviewed matches", Filter(unreviewed=True), 0),
            ("search a URL", Filter(q="t.me/channel_123/"), 0),
            ("search a hash prefix", Filter(q=_sha(4242)[:8]), 0),
        ):
            started = time.perf_counter()
            rows.select(wanted, offset)
            print(f"| {name} | {(time.perf_counter() - started) * 1000:.0f} |")
        started = time.perf_counter()
        Registry.open(str(Path(tmp) / "reg")).catalog.get(_sha(1))
        print(f"\nopening the catalogue (its index.json): {time.perf_counter() - started:.2f} s")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak RSS of the process (catalogue writer, server, client): {rss:.0f} MB")


if __name__ == "__main__":
    main()
