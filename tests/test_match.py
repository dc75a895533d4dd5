"""Matching re-posted photos: every transform family is found, with the right transform
named, on generated and real photos; different photos, even of the same scene from a few
steps away, never match."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CORPUS
from ingest.photo.image import decode_image
from ingest.photo.perceptual import hash_picture
from registry.similarity.config import MatchConfig
from registry.similarity.index import NearDupIndex
from registry.similarity.photo import Query, find_matches
from registry.similarity.verification import Side, lower_bound, verify
from support.media import scene
from support.synthetic import viewpoint_pair
from support.transforms import TRANSFORMS, by_name

CORPUS_PHOTOS = ["gps/DSCN0021.jpg", "exif-org/fujifilm-mx1700.jpg"]
HARD_PAIRS = 3


def _reposted(picture: Image.Image) -> Image.Image:
    """Through a JPEG file and the registry's decoder, as a real re-post arrives."""
    buf = io.BytesIO()
    picture.convert("RGB").save(buf, "JPEG", quality=90)
    return decode_image(buf.getvalue()).picture


class Registered:
    """A little registry: pictures by name, indexed."""

    def __init__(self) -> None:
        self.index = NearDupIndex()
        self.pictures: dict[str, Image.Image] = {}
        self.sides: dict[str, Side] = {}

    def add(self, name: str, picture: Image.Image) -> None:
        picture = _reposted(picture)
        self.pictures[name] = picture
        self.index.add(name, hash_picture(picture))

    def match(self, picture: Image.Image, config: MatchConfig | None = None, **kw):
        query = Query(picture, hash_picture(picture))
        return find_matches(query, self.index, self.pictures.get, config, cache=self.sides, **kw)


@pytest.fixture(scope="module")
def registered() -> Registered:
    reg = Registered()
    for seed in range(3):
        reg.add(f"scene-{seed}", scene(100 + seed))
    for i in range(HARD_PAIRS):
        a, b = viewpoint_pair(i)
        reg.add(f"view-{i}-a", a)
        reg.add(f"view-{i}-b", b)
    if CORPUS.is_dir():
        for name in CORPUS_PHOTOS:
            reg.add(name, decode_image((CORPUS / "photos" / name).read_bytes()).picture)
    reg.index.orb.sort()
    return reg


def _source(name: str) -> Image.Image:
    if name.startswith("scene-"):
        return scene(100 + int(name.split("-")[1]))
    return decode_image((CORPUS / "photos" / name).read_bytes(), size=1024).picture


@pytest.mark.parametrize("transform", [t.name for t in TRANSFORMS])
@pytest.mark.parametrize("source", ["scene-0", "scene-1"])
def test_every_transform_of_a_generated_photo_is_found(
    registered: Registered, transform: str, source: str
) -> None:
    copy = by_name(transform).apply(_source(source), np.random.default_rng(len(transform)))
    matches = registered.match(_reposted(copy))
    assert [m.sha256 for m in matches] == [source], transform
    assert matches[0].score >= MatchConfig().min_score


FAMILIES = sorted({t.family for t in TRANSFORMS})


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("photo", CORPUS_PHOTOS)
def test_each_transform_family_on_real_photos(
    registered: Registered, corpus: Path, family: str, photo: str
) -> None:
    for t in [t for t in TRANSFORMS if t.family == family][::2]:
        copy = t.apply(_source(photo), np.random.default_rng(3))
        matches = registered.match(_reposted(copy))
        assert [m.sha256 for m in matches] == [photo], t.name


@pytest.mark.parametrize(
    ("transform", "named"),
    [
        ("jpeg q50", "identity"),
        ("mirror", "mirror"),
        ("flip vertical", "flip"),
        ("rotate 90", "rotate90"),
        ("rotate 180", "rotate180"),
        ("rotate 270", "rotate270"),
        ("rotate +5°", "rotate+5°"),
        ("crop 20 %", "crop"),
        ("pad 20 %", "pad"),
        ("phone screenshot", "screenshot"),
        ("crop 10 % + mirror + q50", "mirror+crop"),
    ],
)
def test_the_transform_is_named(registered: Registered, transform: str, named: str) -> None:
    copy = by_name(transform).apply(_source("scene-2"), np.random.default_rng(5))
    (match,) = registered.match(_reposted(copy))
    assert named in match.transform.split("+") or match.transform == named, match.transform
    assert match.method == "orb+ransac"
    assert match.details["inliers"] >= MatchConfig().min_inliers


@pytest.mark.parametrize("i", range(HARD_PAIRS))
def test_another_viewpoint_of_the_same_scene_never_matches(registered: Registered, i: int) -> None:
    for view, other in (("a", "b"), ("b", "a")):
        picture = registered.pictures[f"view-{i}-{view}"]
        matches = registered.match(picture, exclude=[f"view-{i}-{view}"])
        assert f"view-{i}-{other}" not in [m.sha256 for m in matches]
        # Nor any re-post of it.
        for name in ("jpeg q50", "crop 10 %", "resize 0.5×", "mirror"):
            copy = by_name(name).apply(picture, np.random.default_rng(i))
            found = [m.sha256 for m in registered.match(_reposted(copy))]
            assert found == [f"view-{i}-{view}"], name


def test_verification_explains_why_a_viewpoint_pair_is_rejected(registered: Registered) -> None:
    a = Side.of(registered.pictures["view-0-a"])
    b = Side.of(registered.pictures["view-0-b"])
    v = verify(a, b, MatchConfig(), mirrored_query=a.mirrored())
    assert not v.ok and v.conclusive
    assert v.inliers >= MatchConfig().min_inliers  # the scene is the same ...
    assert v.score < MatchConfig().min_score  # ... the photo is not
    assert v.reason in (
        "content disagrees after alignment",
        "partial overlap: neither picture contains the other",
    )


def test_photos_taken_near_each_other_do_not_match(corpus: Path) -> None:
    reg = Registered()
    names = sorted(p.name for p in (corpus / "photos" / "gps").glob("DSCN*.jpg"))
    for name in names:
        reg.add(name, decode_image((corpus / "photos" / "gps" / name).read_bytes()).picture)
    reg.index.orb.sort()
    for name in names:
        assert reg.match(reg.pictures[name], exclude=[name]) == []


def test_exif_orientations_are_the_same_photo(corpus: Path) -> None:
    reg = Registered()
    folder = corpus / "photos" / "orientation"
    reg.add("landscape_1", decode_image((folder / "landscape_1.jpg").read_bytes()).picture)
    reg.add("portrait_1", decode_image((folder / "portrait_1.jpg").read_bytes()).picture)
    reg.index.orb.sort()
    for stem in ("landscape", "portrait"):
        for k in range(2, 9):
            picture = decode_image((folder / f"{stem}_{k}.jpg").read_bytes()).picture
            (match,) = reg.match(picture)
            assert match.sha256 == f"{stem}_1"
            assert match.transform == "identity"
            assert match.distance <= 31  # PDQ's own match threshold


def test_thresholds_can_be_tightened(registered: Registered) -> None:
    copy = by_name("logo 20 %").apply(_source("scene-0"), np.random.default_rng(0))
    picture = _reposted(copy)
    (match,) = registered.match(picture)
    assert registered.match(picture, MatchConfig(min_score=match.score + 0.01)) == []


def test_flat_pictures_fall_back_on_pdq_with_quality() -> None:
    reg = Registered()
    flat = Image.new("RGB", (400, 300), (200, 40, 40))
    flat.paste(Image.new("RGB", (200, 150), (30, 30, 220)), (100, 75))
    reg.add("flat", flat)
    reg.index.orb.sort()
    # Too little texture to verify, and PDQ says its quality is too low to trust.
    assert reg.match(_reposted(flat.resize((200, 150)))) == []


def test_lower_bound_needs_more_evidence_from_fewer_blocks() -> None:
    assert lower_bound(1.0, 400) > 0.99
    assert lower_bound(1.0, 12) < 0.8
    assert lower_bound(0.8, 400) == pytest.approx(0.758, abs=0.005)
    assert lower_bound(0.5, 0) == 0.0
