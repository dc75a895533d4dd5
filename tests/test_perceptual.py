"""Perceptual hashes: stored form, versions, golden values, and how each transform family
moves the whole-image PDQ (which the matcher relies on for its candidates)."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.extraction import extract, picture_hashes, rehash_image
from ingest.photo import features
from ingest.photo.image import decode_image, fit_size
from ingest.photo.perceptual import (
    DIHEDRAL,
    HASH_VERSIONS,
    HASHERS,
    hamming,
    hash_picture,
    orb,
    pdq,
    pdq_content,
    phash,
    versions_tag,
)
from support.media import scene
from support.transforms import by_name

# Golden values: a change to the decoder, the scene generator or a hasher shows up here.
GOLDEN_PDQ_SCENE_1 = "29eb0d1606ea81ea046fd97b1815e7990e17e3d65e246d5ef834742ca9439eb9"
GOLDEN_PHASH_SCENE_1 = "e3cee19a963d1215"


def test_golden_pdq_and_phash_of_a_generated_picture() -> None:
    picture = scene(1)
    assert pdq(picture)["hex"] == GOLDEN_PDQ_SCENE_1
    assert phash(picture)["hex"] == GOLDEN_PHASH_SCENE_1


def test_every_hash_carries_algorithm_version_and_quality() -> None:
    hashes = hash_picture(scene(2))
    assert {h["alg"] for h in hashes} == {"pdq", "phash", "orb"}
    for h in hashes:
        assert {"alg", "v", "hex", "quality"} <= set(h)
        assert h["v"] == 1
        bytes.fromhex(h["hex"])  # round-trips as hex
    assert set(HASHERS) == set(HASH_VERSIONS)
    assert versions_tag() == "pdq/1 phash/1 pdq_content/3 orb/1"


def test_pdq_dihedral_variants_undo_rotations_and_mirrors() -> None:
    picture = scene(3)
    original = pdq(picture)["hex"]
    for name, expected_variant in [
        ("mirror", "flip_y"),
        ("flip vertical", "flip_x"),
        ("rotate 90", "rotate270"),
        ("rotate 180", "rotate180"),
        ("rotate 270", "rotate90"),
    ]:
        copy = by_name(name).apply(picture, np.random.default_rng(0))
        variants = pdq(copy)["dihedral"]
        distances = [hamming(v, original) for v in variants]
        assert DIHEDRAL[int(np.argmin(distances))] == expected_variant, name
        assert min(distances) <= 16, name


@pytest.mark.parametrize(
    "name",
    ["jpeg q20", "resize 0.25×", "brightness 1.4", "contrast 0.6", "gamma 2.0", "logo 5 %"],
)
def test_global_edits_keep_the_whole_image_pdq_close(name: str) -> None:
    picture = scene(4)
    copy = by_name(name).apply(picture, np.random.default_rng(1))
    assert hamming(pdq(copy)["hex"], pdq(picture)["hex"]) <= 31


def test_padding_is_undone_by_the_content_hash() -> None:
    picture = scene(5)
    padded = by_name("pad 30 %").apply(picture, np.random.default_rng(2))
    assert hamming(pdq(padded)["hex"], pdq(picture)["hex"]) > 31  # whole image: lost
    content = pdq_content(padded)
    assert content and content[0]["region"] == "border"
    assert min(hamming(h["hex"], pdq(picture)["hex"]) for h in content) <= 31
    assert pdq_content(picture) == []


def test_orb_hash_holds_spread_descriptors() -> None:
    h = orb(scene(6))
    assert h["quality"] == features.STORED_DESCRIPTORS
    assert len(bytes.fromhex(h["hex"])) == 32 * features.STORED_DESCRIPTORS
    found = features.spread(features.detect(scene(6)))
    cells = {(int(x * 4 / 640), int(y * 4 / 480)) for x, y in found.points}
    assert len(cells) >= 12  # spread over most of the 4×4 grid


def test_a_failing_hasher_is_a_warning_not_a_lost_record(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.photo import perceptual
    from ingest.record import Extracted

    def broken(picture: object) -> dict:
        raise RuntimeError("boom")

    monkeypatch.setitem(perceptual.HASHERS, "orb", broken)
    rec = Extracted(path="x")
    hashes = picture_hashes(scene(7), rec)
    assert {h["alg"] for h in hashes} == {"pdq", "phash"}
    assert rec.warnings[0]["step"] == "perceptual_hash.orb"


def test_decode_gives_elongated_pictures_more_pixels() -> None:
    assert fit_size(640, 480) == (512, 384)
    assert fit_size(3264, 2448) == (512, 384)
    width, height = fit_size(720, 1560)
    assert height > 512 and width > 256


def test_orientation_is_applied_before_hashing(corpus) -> None:
    folder = corpus / "photos" / "orientation"
    for stem in ("landscape", "portrait"):
        first = extract(folder / f"{stem}_1.jpg")
        reference = next(h for h in first.hashes if h["alg"] == "pdq")["hex"]
        for k in range(2, 9):
            rec = extract(folder / f"{stem}_{k}.jpg")
            value = next(h for h in rec.hashes if h["alg"] == "pdq")["hex"]
            assert hamming(value, reference) <= 31, (stem, k)  # PDQ's match threshold


def test_rehash_image_matches_extract(corpus) -> None:
    path = corpus / "photos" / "gps" / "DSCN0010.jpg"
    assert rehash_image(path.read_bytes()).hashes == extract(path).hashes
    assert decode_image(path.read_bytes()).picture.size == (512, 384)
