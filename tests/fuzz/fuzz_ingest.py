"""Fuzz harness for the parsers that read hostile bytes: sniffing, EXIF, image decoding,
and the whole ``extract`` of a file (which includes the container parser).

With atheris installed (``pip install atheris``), run coverage-guided fuzzing::

    python tests/fuzz/fuzz_ingest.py -max_total_time=600 [corpus_dir]

Any exception other than the tool's named ``EvidenceError`` is a finding. The same
``check`` function is exercised on random and mutated bytes by
``tests/test_fuzz_harness.py`` so the harness cannot rot.
"""

from __future__ import annotations

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import contextlib

from ingest.errors import EvidenceError
from ingest.extraction import extract
from ingest.photo.exif import read_exif
from ingest.photo.image import decode_image
from ingest.sniff import HEAD_SIZE, sniff

_TMP = tempfile.mkdtemp(prefix="fuzz-ingest-")
_PATH = os.path.join(_TMP, "input")


def check(data: bytes) -> None:
    """Feed one input to every parser; only named errors may come out."""
    with contextlib.suppress(EvidenceError):
        sniff(data[:HEAD_SIZE])
    with contextlib.suppress(EvidenceError):
        read_exif(data)
    with contextlib.suppress(EvidenceError):
        decode_image(data, max_pixels=20_000_000)
    with open(_PATH, "wb") as fh:
        fh.write(data)
    rec = extract(_PATH, max_pixels=20_000_000)
    if rec.error is not None and rec.error["code"] == "InternalError":
        raise AssertionError(f"unexpected failure: {rec.error['message']}")


def main() -> None:
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
