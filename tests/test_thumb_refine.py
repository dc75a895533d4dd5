"""Thumbnails next to PDQ hashes (ingest.thumb) and the re-timing they allow
(registry.similarity.refine): a still scene or a dominating overlay, where PDQ ties."""

from __future__ import annotations

import cv2
import numpy as np
import pdqhash
import pytest
from PIL import Image

from ingest.photo.perceptual import DIHEDRAL, pdq
from ingest.photo.thumb import SIZE, parse_thumb, thumb_hex, thumbnail
from registry.similarity.align import align, still_in_video
from registry.similarity.frames import distances, frame_sequence
from registry.similarity.refine import orient, rank_still, refine_offset

STEP = 0.5


def room(n: int, seed: int = 3, moving: bool = True) -> np.ndarray:
    """n thumbnails of a fixed camera on a room where one small thing wanders about."""
    rng = np.random.default_rng(seed)
    background = rng.uniform(60, 180, (SIZE, SIZE))
    out = np.repeat(background[None], n, axis=0)
    if moving:
        y, x = 6.0, 6.0
        for i in range(n):
            y = float(np.clip(y + rng.normal(0, 1.2), 0, SIZE - 3))
            x = float(np.clip(x + rng.normal(0, 1.2), 0, SIZE - 3))
            out[i, int(y) : int(y) + 3, int(x) : int(x) + 3] = 240
    return out


def frames(thumbs: np.ndarray, start: float = 0.0, hexa: str | None = None) -> list[tuple]:
    # One hash for every frame: PDQ cannot tell the instants apart at all.
    same = hexa or "ab" * 32
    return [
        (start + i * STEP, same, 100, None, np.clip(t, 0, 255).astype(np.uint8).tobytes().hex())
        for i, t in enumerate(thumbs)
    ]


def with_overlay(thumbs: np.ndarray) -> np.ndarray:
    """A caption strip and a logo on a brighter, lower-contrast re-encode."""
    out = thumbs * 0.8 + 20 + np.random.default_rng(1).normal(0, 1.0, thumbs.shape)
    out[:, 13:15, :] = 25
    out[:, 1:4, 11:15] = 200
    return out


def test_thumbnail_round_trips_and_rejects_bad_text() -> None:
    gray = np.random.default_rng(0).integers(0, 256, (90, 160), dtype=np.uint8)
    hexa = thumb_hex(gray)
    assert len(hexa) == 2 * SIZE * SIZE
    assert np.array_equal(parse_thumb(hexa), thumbnail(gray).astype(np.float32))
    with pytest.raises(ValueError):
        parse_thumb("abcd")


def test_photo_and_frame_hashes_carry_a_thumbnail() -> None:
    picture = Image.fromarray(np.full((40, 60, 3), 90, np.uint8))
    assert parse_thumb(pdq(picture)["thumb"]).max() == pytest.approx(90, abs=1)


@pytest.mark.parametrize("variant", DIHEDRAL)
def test_orient_turns_a_thumbnail_as_pdq_turns_the_picture(variant: str) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (64, 64)).astype(np.uint8)
    gray = cv2.GaussianBlur(noise, (9, 9), 3)
    variants, _ = pdqhash.compute_dihedral(np.repeat(gray[:, :, None], 3, axis=2))
    turned = np.ascontiguousarray(orient(gray, variant))
    plain, _ = pdqhash.compute(np.repeat(turned[:, :, None], 3, axis=2))
    assert int(np.sum(plain != variants[DIHEDRAL.index(variant)])) == 0


def test_tied_offset_is_retimed_by_moving_content_under_an_overlay() -> None:
    original = room(200)
    q = frame_sequence(frames(with_overlay(original[60:90]), start=0.2))
    c = frame_sequence(frames(original))
    dist = distances(q.bits[0], c.bits[0])
    rows = np.arange(len(q))
    true = 60 * STEP - 0.2
    assert refine_offset(q, c, dist, rows, 5.0, "identity") == pytest.approx(true, abs=0.3)
    mirrored = frame_sequence(frames(with_overlay(original[60:90])[:, :, ::-1], start=0.2))
    assert refine_offset(mirrored, c, dist, rows, 5.0, "flip_y") == pytest.approx(true, abs=0.3)


def test_offset_kept_when_nothing_moves_or_pdq_decides() -> None:
    still = room(200, moving=False)
    q = frame_sequence(frames(still[60:90]))
    c = frame_sequence(frames(still))
    rows = np.arange(len(q))
    assert refine_offset(q, c, distances(q.bits[0], c.bits[0]), rows, 5.0, "identity") == 5.0
    # Moving content, but PDQ clearly prefers the offset found: no tie, no change.
    original = room(200)
    q = frame_sequence(frames(original[60:90]))
    c = frame_sequence(frames(original))
    dist = np.full((len(q), len(c)), 120, np.int16)
    dist[rows, rows + 10] = 10
    assert refine_offset(q, c, dist, rows, 5.0, "identity") == 5.0
    # Without thumbnails nothing changes.
    bare = frame_sequence([f[:3] for f in frames(original)])
    assert refine_offset(q, bare, dist, rows, 5.0, "identity") == 5.0


def test_align_places_a_clip_of_a_still_scene_by_its_thumbnails() -> None:
    original = room(200, seed=8)
    clip = frames(with_overlay(original[100:124]))
    seg = only(align(clip, frames(original)))
    assert seg.offset_s == pytest.approx(100 * STEP, abs=0.5)


def test_rank_still_prefers_the_frame_the_photo_was_taken_from() -> None:
    scene = room(40, seed=4)
    photo = scene[17] * 1.1 - 12  # full-range grey levels against the video's
    scores = rank_still(photo, scene[10:30])
    assert int(np.argmax(scores)) == 7


def only(match):
    assert match is not None and len(match.segments) == 1, match
    return match.segments[0]


def test_still_in_a_still_scene_is_placed_by_its_thumbnail() -> None:
    scene = room(120, seed=6)
    video = frames(scene)
    photo_thumb = np.clip(scene[77][:, ::-1] * 1.1 - 12, 0, 255).astype(np.uint8)
    # The photo is mirrored: its flip_y variant is the frames' hash.
    photo = {"hex": "cd" * 32, "dihedral": ["cd" * 32] * 5 + ["ab" * 32] + ["cd" * 32] * 2}
    plain = still_in_video(photo, video)
    assert plain[0].t == 0.0 and plain[0].tie_start_s is None  # PDQ alone: all tie
    found = still_in_video({**photo, "thumb": photo_thumb.tobytes().hex()}, video)
    assert found[0].t == pytest.approx(77 * STEP) and found[0].transform == "mirror"
    assert found[0].tie_start_s <= found[0].t <= found[0].tie_end_s
    segment = found[0].segment()
    assert segment["match_start_s"] == segment["match_end_s"] == round(found[0].t, 2)
    assert {"tie_start_s", "tie_end_s"} <= set(segment)
    # PDQ's verdict stands when it is clear: a frame 20 bits closer than the rest.
    better = [
        (t, "ab" * 32 if i == 5 else "ab" * 28 + "54" * 4, q, d, th)
        for i, (t, _, q, d, th) in enumerate(video)
    ]
    assert still_in_video({**photo, "thumb": photo_thumb.tobytes().hex()}, better)[0].t == 2.5
    # Ties never reach past max_distance: the other frames are 32 bits off here.
    tight = still_in_video({**photo, "thumb": photo_thumb.tobytes().hex()}, better, max_distance=8)
    assert len(tight) == 1 and tight[0].t == 2.5 and tight[0].tie_start_s is None
