"""A still that fits two stretches of a video equally (an empty room before and after a
person crossed it) is reported at both times, each checked on its own pixels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from registry.similarity.config import MatchConfig
from registry.similarity.stills import StillMatch
from registry.similarity.video import best_still, frame_seqs


def _hex(bits: np.ndarray) -> str:
    return np.packbits(bits).tobytes().hex()


def _room(rng: np.random.Generator) -> tuple[dict, list[dict]]:
    """A photo's PDQ record, and a 20 s video whose frames at 2 s and 15 s are the
    photo within a few bits (the rest unrelated)."""
    photo = rng.integers(0, 2, 256).astype(np.uint8)
    frames = []
    for k in range(41):
        t = k * 0.5
        bits = rng.integers(0, 2, 256).astype(np.uint8)
        if t in (2.0, 15.0):
            bits = photo.copy()
            bits[rng.choice(256, 4 if t == 2.0 else 6, replace=False)] ^= 1
        frames.append({"alg": "pdq", "hex": _hex(bits), "quality": 100, "t": t})
    return {"alg": "pdq", "hex": _hex(photo), "quality": 100}, frames


def _check(scores: dict[float, float | None]):
    """A pixel check that verifies the frame at each time with the given score."""
    calls: list[float] = []

    def check(sha: str, still: StillMatch, photo_is_query: bool, box) -> StillMatch | None:
        calls.append(still.t)
        score = scores.get(still.t)
        return None if score is None else replace(still, verified_score=score)

    return check, calls


def test_a_second_stretch_that_verifies_as_well_is_a_segment_too() -> None:
    photo, frames = _room(np.random.default_rng(1))
    check, calls = _check({2.0: 0.95, 15.0: 0.94})
    found = best_still([photo], frame_seqs(frames), MatchConfig(), check, "v")
    assert found is not None and found.t == 2.0 and calls == [2.0, 15.0]
    segments = found.details()["segments"]
    assert [s["match_start_s"] for s in segments] == [2.0, 15.0]
    assert segments[1]["verified_score"] == 0.94


def test_a_second_stretch_that_verifies_worse_or_not_at_all_is_left_out() -> None:
    photo, frames = _room(np.random.default_rng(2))
    for other in (0.80, None):
        check, calls = _check({2.0: 0.95, 15.0: other})
        found = best_still([photo], frame_seqs(frames), MatchConfig(), check, "v")
        assert found is not None and found.also == () and calls == [2.0, 15.0]
        assert len(found.details()["segments"]) == 1


def test_without_a_verified_still_no_other_stretch_is_checked() -> None:
    # Too flat to verify: PDQ decides alone, and says nothing about other times.
    photo, frames = _room(np.random.default_rng(3))
    calls: list[float] = []

    def flat(sha: str, still: StillMatch, photo_is_query: bool, box) -> StillMatch | None:
        calls.append(still.t)
        return still

    found = best_still([photo], frame_seqs(frames), MatchConfig(), flat, "v")
    assert found is not None and found.also == () and calls == [2.0]
