"""Clusters of near-duplicates: membership, first sighting over all copies, and what
differs between the copies."""

from __future__ import annotations

from typing import Any

from registry.similarity.clusters import clusters
from registry.store.catalog import Catalog


def _entry(seq: int, action: str, sha: str | None, details: dict[str, Any], time: str) -> dict:
    return {
        "seq": seq,
        "time": time,
        "actor": "alice",
        "action": action,
        "sha256": sha,
        "details": details,
    }


def _catalog() -> Catalog:
    """Four items: A (camera original, EXIF+GPS), B and C copies of A, D unrelated."""
    cat = Catalog(None)
    seq = 0

    def log(action: str, sha: str | None, details: dict[str, Any], time: str) -> None:
        nonlocal seq
        seq += 1
        cat.apply(_entry(seq, action, sha, details, time), entry_hash=f"{seq}", end_offset=seq)

    items = {
        "a" * 64: (
            {
                "captured_at": "2022-03-16T10:41:07",
                "gps": {"lat": 50.4, "lon": 30.5},
                "make": "Canon",
            },
            {"Image Make": "Canon", "GPS GPSLatitude": "50"},
            "2024-01-03T00:00:00+00:00",
            None,
            3000,
            "jpeg",
        ),
        "b" * 64: (
            {"captured_at": "2022-03-16T11:00:00"},
            {"EXIF DateTimeOriginal": "x"},
            "2024-01-02T00:00:00+00:00",
            "2022-03-16T12:00:00+00:00",
            1000,
            "jpeg",
        ),
        "c" * 64: ({}, {}, "2024-01-05T00:00:00+00:00", "2022-03-16T09:00:00+00:00", 900, "png"),
        "d" * 64: ({}, {}, "2024-01-01T00:00:00+00:00", None, 800, "jpeg"),
    }
    for sha, (meta, exif, seen, posted, size, fmt) in items.items():
        log("item.stored", sha, {"size": size, "format": fmt, "media_type": "image"}, seen)
        log(
            "metadata.extracted",
            sha,
            {"metadata": meta, "exif": exif, "width": 640, "height": 480},
            seen,
        )
        log(
            "sighting.added",
            sha,
            {
                "posted_at": posted,
                "source_url": f"https://t.me/{sha[0]}",
                "original_name": f"{sha[0]}.jpg",
            },
            seen,
        )
    pair = {"score": 0.95, "distance": 40, "method": "orb+ransac", "segments": []}
    log(
        "neardup.found",
        "b" * 64,
        {"match": "a" * 64, "transform": "crop", **pair},
        "2024-01-06T00:00:00+00:00",
    )
    log(
        "neardup.found",
        "c" * 64,
        {"match": "b" * 64, "transform": "screenshot", **pair},
        "2024-01-06T00:00:00+00:00",
    )
    return cat


def test_neardup_events_are_folded_into_both_items() -> None:
    cat = _catalog()
    a = cat.get("a" * 64)["near_duplicates"]
    b = cat.get("b" * 64)["near_duplicates"]
    assert [(p["sha256"][0], p["as"], p["transform"]) for p in a] == [("b", "match", "crop")]
    assert {(p["sha256"][0], p["as"]) for p in b} == {("a", "query"), ("c", "match")}
    assert cat.get("d" * 64)["near_duplicates"] == []


def test_one_cluster_with_the_earliest_sighting_of_any_copy() -> None:
    (cluster,) = clusters(_catalog().iter_items())
    assert cluster["members"] == ["b" * 64, "a" * 64, "c" * 64]  # by first observation
    first = cluster["first_seen"]
    assert first["observed"] == {
        "at": "2024-01-02T00:00:00+00:00",
        "sha256": "b" * 64,
        "by": "alice",
    }
    assert first["claimed_posted"]["sha256"] == "c" * 64
    assert first["claimed_posted"]["source_url"] == "https://t.me/c"
    assert first["captured"] == {"at": "2022-03-16T10:41:07", "sha256": "a" * 64}


def test_differences_between_the_copies() -> None:
    (cluster,) = clusters(_catalog().iter_items())
    diff = cluster["differences"]
    assert cluster["most_metadata"] == "a" * 64
    assert diff["gps_kept_by"] == ["a" * 64]
    assert set(diff["exif_kept_by"]) == {"a" * 64, "b" * 64}
    assert diff["exif_stripped_from"] == ["c" * 64]
    assert diff["captured_at_disagree"] is True
    assert diff["formats"] == ["jpeg", "png"]
    assert diff["sizes"] == [900, 1000, 3000]
    assert {(link["query"][0], link["match"][0]) for link in cluster["links"]} == {
        ("b", "a"),
        ("c", "b"),
    }


def test_case_filter() -> None:
    assert clusters(_catalog().iter_items(), case="nope") == []
