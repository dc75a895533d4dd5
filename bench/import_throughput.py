"""Import benchmark: a synthetic Telegram Desktop channel export, imported in one command.

The export is written as Telegram Desktop writes one (``result.json`` with the chat's
``name``, ``type`` and ``id`` before its ``messages``, each message with ``date`` and
``date_unixtime``, ``from``/``from_id``, ``text`` and ``text_entities``; photos under
``photos/`` with the exporter's ``*_thumb.jpg`` thumbnails beside them; service messages
and text-only posts in between), then imported with ``Registry.import_``. Prints
messages/s, media/s and the peak memory of the importing process and of its workers.

    python bench/import_throughput.py                        # 20,000 messages, 2,000 photos
    python bench/import_throughput.py --messages 2000 --photos 200 --keep /tmp/channel
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry import Registry, Submission  # noqa: E402
from support.media import write_jpeg  # noqa: E402

CHANNEL_ID = 1_234_567_890
START = 1_647_420_067  # 2022-03-16 08:41:07 UTC


def write_export(folder: Path, messages: int, photos: int) -> Path:
    """A channel export of ``messages`` messages, ``photos`` of them with a photo."""
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    every = max(1, messages // max(1, photos))
    with open(folder / "result.json", "w", encoding="utf-8") as out:
        head = {"name": "Example channel", "type": "public_channel", "id": CHANNEL_ID}
        out.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "messages": [\n')
        made = 0
        for i in range(1, messages + 1):
            when = START + 37 * i
            message: dict = {
                "id": i,
                "type": "message",
                "date": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "date_unixtime": str(when),
                "from": "Example channel",
                "from_id": f"channel{CHANNEL_ID}",
            }
            if i % every == 0 and made < photos:
                made += 1
                name = f"photo_{made}@{datetime.fromtimestamp(when, UTC):%d-%m-%Y_%H-%M-%S}.jpg"
                write_jpeg(folder / "photos" / name, made, size=(640, 480), quality=85)
                thumb = folder / "photos" / name.replace(".jpg", "_thumb.jpg")
                write_jpeg(thumb, made, size=(90, 68), quality=70)
                message.update({"photo": f"photos/{name}", "width": 640, "height": 480})
            elif i % 97 == 0:
                message.update({"type": "service", "actor": "Example channel", "action": "pin"})
            caption = f"Post {i}: shelling reported near the station"
            message["text"] = [caption, {"type": "hashtag", "text": "#update"}]
            message["text_entities"] = [
                {"type": "plain", "text": caption},
                {"type": "hashtag", "text": "#update"},
            ]
            sep = ",\n" if i < messages else "\n"
            out.write("  " + json.dumps(message, ensure_ascii=False) + sep)
        out.write(" ]\n}\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--photos", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", help="write the export here and keep it")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="evidence-import-bench-"))
    export = Path(args.keep) if args.keep else work / "ChatExport"
    started = time.perf_counter()
    if not (export / "result.json").exists():
        write_export(export, args.messages, args.photos)
    made = time.perf_counter() - started
    size = (export / "result.json").stat().st_size
    reg = Registry.open(str(work / "reg"), create=True, actor="bench")
    started = time.perf_counter()
    results = reg.import_(
        [export], Submission(actor="bench", case="BENCH"), fmt="telegram", workers=args.workers
    )
    took = time.perf_counter() - started
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"export: {args.messages:,} messages, {args.photos:,} photos, result.json {size:,} bytes")
    print(f"(written in {made:.1f} s)")
    print()
    columns = ("messages", "photos", "workers", "seconds", "messages/s", "photos/s")
    print("| " + " | ".join((*columns, "peak RSS parent", "peak RSS worker")) + " |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.messages:,} | {counts.get('new', 0):,} | {args.workers} | {took:.1f} |"
        f" {args.messages / took:,.0f} | {counts.get('new', 0) / took:.1f} |"
        f" {parent:.0f} MB | {children:.0f} MB |"
    )
    print()
    print("results:", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    ok = reg.verify(actor="bench").ok
    print(f"verify: {'ok' if ok else 'FAILED'}")
    shutil.rmtree(work / "reg", ignore_errors=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
