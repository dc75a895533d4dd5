"""What a review of N near-duplicate pairs costs in the browser: clicks, keystrokes and
wall seconds, three ways.

Builds a registry of ``--pairs`` generated photos and a cropped, resized re-post of
each (``support.team.original``/``variant``), ingested so that the matcher finds the
pairs; serves it with ``--auto-confirm 1.0`` so that every pair waits for a person;
then, in headless Chromium (Playwright), a reviewer who is logged in already:

* **queue, keyboard**: opens the queue (one click), ``j`` once, then ``c`` per pair
  (each ``c`` confirms the current pair and moves to the next);
* **queue, bulk**: opens the queue, ticks "all on this page", clicks "Confirm selected";
* **compare, one by one**: opens "Review one by one" (one click), then per pair
  ``space`` (reveal both copies, the overlay and frames) and ``c`` (confirm, go on to the
  next pair's compare page).

Each way starts from a fresh copy of the same registry; afterwards the custody log must
hold one ``neardup.confirmed`` per pair. Prints a markdown table.

    python bench/review_cost.py               # 100 pairs
    python bench/review_cost.py --pairs 20
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry import Registry, Submission, init_registry
from registry.accounts import add_user, grant
from support import review, team
from support.server import serving


def build(folder: Path, pairs: int) -> Path:
    media = folder / "media"
    files = []
    for i in range(pairs):
        seed = 5000 + i
        files.append(team.original(seed, media / f"{i:04d}-a.jpg"))
        files.append(team.variant(seed, media / f"{i:04d}-b.jpg", 0.1))
    root = folder / "reg"
    reg = init_registry(str(root), actor="operator")
    sub = Submission(actor="collector", case=review.CASE, source_url="https://t.me/bench/1")
    failed = [r for r in reg.ingest(files, sub, workers=2) if r.status not in ("new", "known")]
    if failed:
        raise SystemExit(f"{len(failed)} files failed to ingest")
    add_user(reg, "alice", review.PASSWORD, actor="operator")
    grant(reg, "alice", review.CASE, "editor", actor="operator")
    return root


def waiting_pairs(root: Path) -> int:
    reg = Registry.open(str(root))
    found = set()
    for sha in reg.catalog.shas(review.CASE):
        for p in reg.show(sha)["near_duplicates"]:
            if p.get("decision") is None:
                found.add(tuple(sorted((sha, p["sha256"]))))
    return len(found)


def confirmed(root: Path) -> int:
    reg = Registry.open(str(root))
    return sum(1 for e in reg.custody() if e["action"] == "neardup.confirmed")


def queue_keyboard(page, base: str, n: int) -> tuple[int, int]:
    page.goto(f"{base}/cases/{review.CASE}/queue?size=200")
    page.wait_for_selector("table.queue tr.pair")
    page.keyboard.press("j")
    for i in range(n):
        page.keyboard.press("c")
        page.wait_for_function(
            "k => document.querySelectorAll('tr.pair.decided').length >= k", arg=i + 1
        )
    return 1, 1 + n


def queue_bulk(page, base: str, n: int) -> tuple[int, int]:
    page.goto(f"{base}/cases/{review.CASE}/queue?size=200")
    page.wait_for_selector("table.queue tr.pair")
    page.check("input.select-all")
    page.click("[data-action=bulk-confirm]")
    page.wait_for_selector("text=Nothing waits for review")
    return 3, 0


def compare_one_by_one(page, base: str, n: int) -> tuple[int, int]:
    page.goto(f"{base}/cases/{review.CASE}/queue")
    page.click("text=Review one by one")
    for _ in range(n):
        page.wait_for_selector(".page-decide")
        here = page.url
        page.keyboard.press(" ")
        page.wait_for_selector("main .media.revealed")
        page.keyboard.press("c")
        page.wait_for_url(lambda url, here=here: url != here)
    page.wait_for_selector("text=Nothing waits for review")
    return 2, 2 * n


WAYS = {
    "queue, keyboard (j, then c per pair)": queue_keyboard,
    "queue, bulk (select all, confirm selected)": queue_bulk,
    "compare, one by one (space + c per pair)": compare_one_by_one,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100)
    args = parser.parse_args(argv)
    why = review.chromium_missing()
    if why:
        raise SystemExit(why)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="review-cost-") as tmp:
        started = time.perf_counter()
        built = build(Path(tmp) / "built", args.pairs)
        n = waiting_pairs(built)
        print(f"built {args.pairs * 2} photos, {n} pairs, in {time.perf_counter() - started:.0f} s")
        rows = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=review.CHROMIUM)
            for name, way in WAYS.items():
                root = Path(tmp) / name.split(",")[0].replace(" ", "") / str(len(rows))
                shutil.copytree(built, root)
                with serving(root, "--workers", "1", "--auto-confirm", "1.0") as server:
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    page.set_default_timeout(300_000)
                    review.login(page, server.url, "alice")
                    began = time.perf_counter()
                    clicks, keys = way(page, server.url, n)
                    seconds = time.perf_counter() - began
                    context.close()
                done = confirmed(root)
                if done != n:
                    raise SystemExit(f"{name}: {done} decisions recorded, {n} expected")
                rows.append((name, clicks, keys, seconds, n))
            browser.close()
    print(f"\n| way | clicks | keystrokes | per pair | wall s ({n} pairs) | s per pair |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, clicks, keys, seconds, count in rows:
        per = (clicks + keys) / count
        print(f"| {name} | {clicks} | {keys} | {per:.2f} | {seconds:.1f} | {seconds / count:.2f} |")


if __name__ == "__main__":
    main()
