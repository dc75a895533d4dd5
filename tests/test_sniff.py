"""Content sniffing: formats recognised from bytes, never from names."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ingest.errors import UnsupportedType
from ingest.sniff import HEAD_SIZE, sniff
from support.media import write_video


def _image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("GIF", "gif"),
        ("BMP", "bmp"),
        ("TIFF", "tiff"),
        ("WEBP", "webp"),
    ],
)
def test_images_made_by_pillow(fmt: str, expected: str) -> None:
    kind = sniff(_image_bytes(fmt)[:HEAD_SIZE])
    assert (kind.media_type, kind.format) == ("image", expected)


@pytest.mark.parametrize(
    ("head", "fmt", "media"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic", "image"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "heic", "image"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "heif", "image"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "mp4", "video"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "mov", "video"),
        (b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x02\x003gp4", "3gp", "video"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "mov", "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm", "video"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "mkv", "video"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "avi", "video"),
    ],
)
def test_container_signatures(head: bytes, fmt: str, media: str) -> None:
    kind = sniff(head)
    assert (kind.format, kind.media_type) == (fmt, media)


def test_generated_mp4(tmp_path) -> None:
    path = write_video(tmp_path / "v.bin", 1, seconds=0.5)  # the name says nothing
    assert sniff(path.read_bytes()[:HEAD_SIZE]).format == "mp4"


@pytest.mark.parametrize("head", [b"", b"%PDF-1.7\n", b"hello world", b"BM" + b"\x00" * 30])
def test_non_media_is_refused_with_a_description(head: bytes) -> None:
    with pytest.raises(UnsupportedType) as info:
        sniff(head)
    assert "Content is not a supported" in info.value.message


def test_corpus_heic(corpus) -> None:
    for path in (corpus / "photos" / "heic").iterdir():
        assert sniff(path.read_bytes()[:HEAD_SIZE]).format in {"heic", "heif"}


@given(st.binary(max_size=HEAD_SIZE))
def test_any_bytes_sniff_or_refuse(head: bytes) -> None:
    try:
        kind = sniff(head)
    except UnsupportedType:
        return
    assert kind.media_type in {"image", "video"}
