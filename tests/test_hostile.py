"""One bad file never sinks a batch: pictures of every size and shape in every supported
format, degenerate videos, and what web archives and channel dumps hold (tracking pixels,
animated GIFs of thousands of frames, decompression bombs, broken tiles, moov boxes that
declare years, odd names) all get a record; the batch commits; the registry verifies;
and match, dupes, reindex and every export format go through them."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pillow_heif
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import run_cli, write_jpeg
from registry import Registry, export_items, make_checkpoint
from registry.export import FORMATS

pillow_heif.register_heif_opener()

#: Pillow's name for each format the registry takes in, and the file suffix.
IMAGE_FORMATS = {
    "JPEG": "jpg",
    "PNG": "png",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
    "WEBP": "webp",
    "HEIF": "heic",
    "AVIF": "avif",
}
#: WebP cannot hold a side longer than this.
WEBP_MAX_SIDE = 16383
EXTREME_SIZES = [(1, 20000), (20000, 1), (1, 1), (2, 2)]


def write_image(path: Path, fmt: str, width: int, height: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    picture = Image.fromarray(pixels)
    if fmt == "WEBP" and max(width, height) > WEBP_MAX_SIDE:
        picture = picture.resize((min(width, WEBP_MAX_SIDE), min(height, WEBP_MAX_SIDE)))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        picture.save(path, fmt)
    except RuntimeError:  # x265/AV1 encoders refuse sides beyond their limit
        long_side = max(width, height)
        picture = picture.resize(
            (max(1, width * 4096 // long_side), max(1, height * 4096 // long_side))
        )
        picture.save(path, fmt)
    return path


def write_frames(path: Path, frames: int, width: int, height: int) -> Path:
    """An H.264 MP4 of ``frames`` noise frames (0: a container with no frame at all)."""
    rng = np.random.default_rng(frames * 1000 + width)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("h264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        out.start_encoding()
        for _ in range(frames):
            noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(noise, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def exercise(reg: Registry, folder: Path, files: list[Path], tmp: Path) -> None:
    """Ingest ``folder`` in one batch and run everything else over what it stored."""
    results = reg.ingest([folder], isolate=True)
    assert sorted(r.path for r in results) == sorted(str(p) for p in files)
    for r in results:
        assert r.error_code != "InternalError", (r.path, r.error)
        assert r.failed_steps == [], (r.path, r.failed_steps)
    stored = {r.sha256 for r in results if r.status in ("new", "known")}
    logged = {e["sha256"] for e in reg.custody() if e["action"] in ("item.stored", "ingest.failed")}
    assert {r.sha256 for r in results if r.sha256} <= logged  # every file has an entry
    for sha in stored:  # nothing stored is lost: the vault holds the very bytes
        assert hashlib.sha256(Path(reg.vault.path(sha)).read_bytes()).hexdigest() == sha
    assert reg.verify().ok
    matched = list(reg.match([folder]))
    assert len(matched) == len(files)
    assert all(m.get("error_code") != "StepFailed" for m in matched), matched
    reg.dupes()
    summary = reg.reindex(everything=True)
    assert summary["failed"] == [] or all(f["sha256"] not in stored for f in summary["failed"])
    make_checkpoint(reg, actor="tester")
    for fmt in FORMATS:
        result = export_items(reg, fmt, str(tmp / f"export-{fmt}"), actor="tester")
        assert result.items == sorted(result.items)  # a real selection came back
    assert reg.verify().ok


sizes = st.one_of(st.tuples(st.integers(1, 64), st.integers(1, 64)), st.sampled_from(EXTREME_SIZES))
images = st.lists(
    st.tuples(st.sampled_from(sorted(IMAGE_FORMATS)), sizes, st.integers(0, 2**16)),
    min_size=1,
    max_size=8,
)


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=images)
def test_any_picture_size_and_degenerate_videos_in_one_batch(
    tmp_path_factory: pytest.TempPathFactory, specs: list[tuple[str, tuple[int, int], int]]
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    folder = tmp / "in"
    files = [
        write_image(folder / f"{i}-{w}x{h}.{IMAGE_FORMATS[fmt]}", fmt, w, h, seed)
        for i, (fmt, (w, h), seed) in enumerate(specs)
    ]
    files += [
        write_frames(folder / "one-frame.mp4", 1, 64, 48),
        write_frames(folder / "two-by-two.mp4", 10, 2, 2),
        write_frames(folder / "zero-frames.mp4", 0, 64, 48),
    ]
    event(f"{len(specs)} pictures + 3 videos")
    reg = Registry.open(str(tmp / "reg"), create=True)
    exercise(reg, folder, files, tmp)
    by_name = {Path(i["sightings"][0]["original_path"]).name: i for i in reg.list_items()}
    for name, item in by_name.items():
        if item["media_type"] == "image" and min(item["width"], item["height"]) < 32:
            steps = {w["step"]: w["code"] for w in item["warnings"]}
            assert steps.get("perceptual_hash.orb") == "PictureTooSmall", name


# --- what web archives and channel dumps hold ---------------------------------------------


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` pixels, with a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def animated_gif(frames: int) -> bytes:
    rng = np.random.default_rng(frames)
    pictures = [
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).convert("P")
        for _ in range(frames)
    ]
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=20, loop=0)
    return out.getvalue()


def broken_middle(data: bytes, keep_head: int = 64) -> bytes:
    """The same file with a run of bytes in its middle overwritten (broken tiles)."""
    cut = max(keep_head, len(data) // 2)
    return data[:cut] + bytes(range(256)) * 4 + data[cut + 1024 :]


def long_moov(path: Path) -> bytes:
    """An MP4 whose movie, track and media headers declare 136 years (a time scale of 1
    and a duration of 2**32 - 1)."""
    data = bytearray(path.read_bytes())
    for box, at_scale in ((b"mvhd", 12), (b"mdhd", 12)):
        at = data.find(box)
        assert at > 0 and data[at + 4] == 0  # version 0: 32-bit times
        struct.pack_into(">II", data, at + 4 + at_scale, 1, 0xFFFFFFFF)
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0
    struct.pack_into(">I", data, at + 4 + 20, 0xFFFFFFFF)
    return bytes(data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "in"
    folder.mkdir()
    spacer = Image.new("RGBA", (1, 1), (0, 0, 0, 0))
    spacer.save(folder / "spacer.gif", "GIF")
    spacer.save(folder / "pixel.png", "PNG")
    Image.new("RGB", (1, 1), (255, 255, 255)).save(folder / "RIFF.webp", "WEBP")
    (folder / "animated.gif").write_bytes(animated_gif(3000))
    (folder / "bomb.png").write_bytes(png_bomb(50_000, 50_000))
    photo = np.random.default_rng(5).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    for fmt, name in (("WEBP", "tiles.webp"), ("HEIF", "tiles.heic")):
        out = io.BytesIO()
        Image.fromarray(photo).save(out, fmt, quality=90)
        (folder / name).write_bytes(broken_middle(out.getvalue()))
    clip = write_frames(folder.parent / "clip.mp4", 20, 64, 48)
    (folder / "years.mp4").write_bytes(long_moov(clip))
    write_jpeg(folder / "   ", 3, size=(120, 90))  # a name of spaces alone
    write_jpeg(folder / ("n" * 251 + ".jpg"), 4, size=(120, 90))  # 255 bytes
    write_jpeg(folder / ("é" * 125 + "x.jpg"), 5, size=(120, 90))  # 255 bytes of UTF-8
    write_jpeg(folder / "photo.jpg", 6, size=(320, 240))
    return folder


@pytest.mark.slow
def test_hostile_files_from_archives_and_dumps_cost_only_themselves(
    hostile: Path, tmp_path: Path
) -> None:
    files = sorted(p for p in hostile.iterdir())
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    exercise(reg, hostile, files, tmp_path)
    outcome = {Path(r["path"]).name: r for r in _ingest_json(hostile, tmp_path / "cli")}
    assert outcome["bomb.png"]["error_code"] == "TooLarge"
    assert outcome["animated.gif"]["status"] == "new"
    for name in ("spacer.gif", "pixel.png", "RIFF.webp", "photo.jpg", "   "):
        assert outcome[name]["status"] == "new", outcome[name]
    assert outcome["n" * 251 + ".jpg"]["status"] == "new"
    assert outcome["é" * 125 + "x.jpg"]["status"] == "new"
    years = outcome["years.mp4"]
    assert years["status"] == "new" or years["error_code"] in {"CorruptMedia", "TooLarge"}
    for name in ("tiles.webp", "tiles.heic"):  # stored with a warning, or refused by name
        assert outcome[name]["status"] == "new" or outcome[name]["error_code"], outcome[name]


def _ingest_json(folder: Path, reg: Path) -> list[dict]:
    proc = run_cli("ingest", str(folder), "--json", registry=reg)
    assert proc.returncode == 1, proc.stderr  # the bomb failed; nothing else may crash
    assert "Traceback" not in proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_one_pixel_thin_pictures_do_not_sink_the_batch(tmp_path: Path) -> None:
    """The reported crash: a 1xN or Nx1 picture in a folder failed inside OpenCV in the
    parent and no file of the batch was stored, run after run."""
    folder = tmp_path / "in"
    write_image(folder / "thin.jpg", "JPEG", 1, 20000, 1)
    write_image(folder / "flat.png", "PNG", 20000, 1, 2)
    write_image(folder / "dot.webp", "WEBP", 1, 1, 3)
    original = write_jpeg(folder / "original.jpg", 7, size=(480, 360))
    Image.open(original).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "mirror.jpg")
    proc = run_cli("ingest", str(folder), "--json", registry=tmp_path / "reg")
    assert proc.returncode == 0, proc.stderr
    results = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert {r["status"] for r in results.values()} == {"new"}
    for name in ("thin.jpg", "flat.png", "dot.webp"):
        codes = {w["step"]: w["code"] for w in results[name]["warnings"]}
        assert codes["perceptual_hash.orb"] == "PictureTooSmall"
        assert codes["near_duplicates.verification"] == "PictureTooSmall"
    found = results["mirror.jpg"]["near_duplicates"] or results["original.jpg"]["near_duplicates"]
    assert found and found[0]["transform"] == "mirror"  # the rest of the batch is matched
    assert run_cli("verify", registry=tmp_path / "reg").returncode == 0
