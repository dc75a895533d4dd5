"""The fuzz harness's target on random and mutated media: only named errors come out."""

from __future__ import annotations

import importlib.util
import io
import random
from pathlib import Path

from PIL import Image

from support.media import write_video

_spec = importlib.util.spec_from_file_location(
    "fuzz_ingest", Path(__file__).parent / "fuzz" / "fuzz_ingest.py"
)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)


def _mutations(seed: bytes, rng: random.Random, n: int):
    for _ in range(n):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            pos = rng.randrange(len(data)) if data else 0
            if op < 0.5 and data:
                data[pos] = rng.randrange(256)
            elif op < 0.75:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            else:
                del data[pos : pos + rng.randint(1, 64)]
        yield bytes(data)


def test_harness_target_on_mutated_inputs(tmp_path: Path) -> None:
    rng = random.Random(7)
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), (90, 140, 30)).save(buf, "JPEG")
    jpeg = buf.getvalue()
    video = write_video(tmp_path / "v.mp4", 1, seconds=0.5).read_bytes()
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG")
    seeds = [jpeg, video, buf.getvalue(), b""]
    runs = 0
    for seed in seeds:
        for data in _mutations(seed, rng, 40):
            fuzz.check(data)
            runs += 1
    for _ in range(40):
        fuzz.check(bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))))
        runs += 1
    assert runs == 200
