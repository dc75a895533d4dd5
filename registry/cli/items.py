"""Commands that store and read items: ``init``, ``ingest``, ``show`` and ``list``."""

from __future__ import annotations

import sys
from typing import Any

import click

from ingest import MAX_PIXELS, Limits
from registry.cli.base import (
    _dump,
    _match_summary,
    _open,
    actor_option,
    cli,
    handle_errors,
    json_option,
    threshold_options,
    worker_options,
)
from registry.core import init_registry
from registry.ingesting import Submission
from registry.schema import FIRST_SEEN_FIELDS, credentials_note
from registry.similarity import MatchConfig


@cli.command()
@actor_option
@json_option
@click.pass_context
@handle_errors
def init(ctx: click.Context, actor: str, as_json: bool) -> None:
    """Create a registry (ingest also creates one on first use).

    Example: evidence --registry ./reg init --actor alice
    """
    reg = init_registry(ctx.obj, actor=actor)
    info = reg.info
    if as_json:
        click.echo(_dump({"registry": reg.root, **info}))
    else:
        click.echo(f"created registry {reg.root}")
        click.echo(f"installation key {info['installation_key']}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--case", help="Case or investigation id.")
@actor_option
@click.option("--source-url", help="Where the files were found (post or channel URL).")
@click.option("--posted-at", help="When the source says it was posted (ISO 8601).")
@click.option("--forwarded-from", help="The post it was forwarded from (re-post chain).")
@click.option("--note", help="Free-text note recorded with the sighting.")
@worker_options
@click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=MAX_PIXELS,
    show_default=True,
    help="Refuse images with more pixels (decompression bombs).",
)
@threshold_options
@json_option
@click.pass_context
@handle_errors
def ingest(
    ctx: click.Context,
    paths: tuple[str, ...],
    case: str | None,
    actor: str,
    source_url: str | None,
    posted_at: str | None,
    forwarded_from: str | None,
    note: str | None,
    workers: int,
    time_limit: float,
    max_pixels: int,
    as_json: bool,
    thresholds: MatchConfig,
) -> None:
    """Ingest files and folders (walked recursively) into the registry.

    Exit code 0 when every file was stored, 1 when some failed (the rest are stored).

    Example: evidence ingest ~/Downloads/telegram --case UA-031 --source-url
    https://t.me/somechannel/4567 --posted-at 2022-03-16T10:50:00+02:00
    """
    try:
        sub = Submission(
            actor=actor,
            case=case,
            source_url=source_url,
            posted_at=posted_at,
            forwarded_from=forwarded_from,
            note=note,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--posted-at") from exc
    reg = _open(ctx, create=True, actor=actor)
    counts = {"new": 0, "known": 0, "error": 0}
    incomplete = 0
    with _progress_bar() as bar:
        limits = Limits(seconds=time_limit, max_pixels=max_pixels)
        for result in reg.iter_ingest(
            paths, sub, config=thresholds, workers=workers, isolate=True, limits=limits
        ):
            counts[result.status] += 1
            incomplete += bool(result.failed_steps)
            bar.update(1)
            if as_json:
                line = _dump(result.to_dict())
            elif result.status == "error":
                line = f"error  {result.path}: {result.error}"
            else:
                kind = result.media_type or "-"
                line = f"{result.status:<6} {result.sha256[:16]}  {kind:<5}  {result.path}"
                for m in result.near_duplicates or []:
                    line += f"\n       near-duplicate of {m['sha256'][:16]}  {_match_summary(m)}"
                for w in result.failed_steps:
                    line += f"\n       step failed: {w['step']}: {w['message']}"
                if result.c2pa and result.c2pa.get("state") not in ("absent", "unsupported"):
                    line += f"\n       content credentials {credentials_note(result.c2pa)}"
            bar.clear()
            click.echo(line)
    partly = f", {incomplete} stored with a failed step" if incomplete else ""
    click.echo(
        f"{counts['new']} new, {counts['known']} known, {counts['error']} failed{partly}"
        f" -> {reg.root}",
        err=True,
    )
    if counts["error"] or incomplete:
        sys.exit(1)


class _NoBar:
    """What ``ingest`` asks of a progress bar, doing nothing."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None

    def clear(self) -> None:
        return None


def _progress_bar() -> Any:
    """A bar only where someone watches (a terminal), never into logs or pipes; without
    one, tqdm is not even imported."""
    if not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(unit="file", desc="ingest", delay=1.0, file=sys.stderr, leave=False)


@cli.command()
@click.argument("ref")
@json_option
@click.pass_context
@handle_errors
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show one item by SHA-256 or a unique prefix of it.

    Example: evidence show 3f2a9c
    """
    item = _open(ctx).show(ref)
    if as_json:
        click.echo(_dump(item))
        return
    click.echo(_format_item(item))


@cli.command("list")
@click.option("--case", help="Only items sighted in this case.")
@click.option(
    "--sort",
    "order",
    type=click.Choice(["stored", "sha256"]),
    default="stored",
    show_default=True,
    help="Order: as first stored (streams, fastest), or by SHA-256.",
)
@json_option
@click.pass_context
@handle_errors
def list_(ctx: click.Context, case: str | None, order: str, as_json: bool) -> None:
    """List items (JSON Lines with --json, one item per line).

    Example: evidence list --case UA-031 --sort sha256 --json
    """
    for item in _open(ctx).list_items(case, order):
        if as_json:
            click.echo(_dump(item))
        else:
            first = item["first_seen"] or {}
            name = item["sightings"][0]["original_name"] if item["sightings"] else ""
            click.echo(
                f"{item['sha256'][:16]}  {item['media_type'] or '-':<5} {item['size']:>10}  "
                f"captured {first.get('captured_at') or '-':<29}  "
                f"seen {first.get('observed_at', '')[:19]}  {name}"
            )


def _format_item(item: dict[str, Any]) -> str:
    lines = [
        f"sha256      {item['sha256']}",
        f"sha1        {item['sha1']}",
        f"md5         {item['md5']}",
        f"size        {item['size']:,} bytes",
        f"type        {item['media_type']} ({item['mime']})",
    ]
    if item.get("width"):
        lines.append(f"dimensions  {item['width']}×{item['height']}")
    if item.get("duration_s") is not None:
        lines.append(f"duration    {item['duration_s']:.2f} s")
    lines.append("metadata")
    for key, value in (item.get("metadata") or {}).items():
        if value not in (None, "", {}) and key != "c2pa":
            lines.append(f"  {key:<22}{_dump(value) if isinstance(value, dict) else value}")
    if item.get("media_type") in ("image", "video"):
        lines += _credentials_lines((item.get("metadata") or {}).get("c2pa"))
    first = item.get("first_seen") or {}
    lines.append("first seen")
    for key in FIRST_SEEN_FIELDS:
        lines.append(f"  {key:<22}{first.get(key) or '-'}")
    lines += _timeline_lines(item.get("timeline") or [])
    near = item.get("near_duplicates") or []
    if near:
        lines.append(f"near-duplicates {len(near)}")
        for m in sorted(near, key=lambda m: -(m.get("score") or 0)):
            # ``transform`` says how the item matched (the query) differs from the one
            # it was found to copy.
            t, other = m.get("transform") or "?", m["sha256"][:16]
            relation = f"this = {t}({other})" if m.get("as") == "query" else f"{other} = {t}(this)"
            lines.append(f"  {relation:<44} {_match_summary(m, transform=False)}")
    lines.append(f"sightings   {len(item.get('sightings') or [])}")
    for s in item.get("sightings") or []:
        where = s.get("source_url") or s.get("original_path")
        lines.append(
            f"  #{s['seq']:<5} {s['observed_at'][:19]}  {s['observed_by']:<10} "
            f"{s.get('case') or '-':<10} {where}"
        )
        source = s.get("source_kind")
        claims = [
            f"{source} {s.get('channel') or ''} #{s['post_id']}".replace("  ", " ")
            if source and s.get("post_id")
            else (source or ""),
            f"posted {s['posted_at']}" if s.get("posted_at") else "",
            f"archived {s['archived_at']}" if s.get("archived_at") else "",
            f"forwarded from {s['forwarded_from']}" if s.get("forwarded_from") else "",
            f"file {s['original_name']}" if s.get("original_name") else "",
        ]
        if any(claims):
            lines.append("         " + ", ".join(c for c in claims if c))
    for w in item.get("warnings") or []:
        lines.append(f"warning     {w['step']}: {w['message']}")
    return "\n".join(lines)


def _credentials_lines(c2pa: dict[str, Any] | None) -> list[str]:
    """What the file's Content Credentials (C2PA) say, as read at ingest."""
    lines = [f"content credentials  {credentials_note(c2pa)}"]
    if not c2pa or c2pa.get("state") not in ("valid", "invalid"):
        return lines
    signer = c2pa.get("signer") or {}
    who = signer.get("issuer") or "-"
    if signer.get("common_name"):
        who += f" ({signer['common_name']})"
    actions = [a.get("action") or "?" for a in c2pa.get("actions") or []]
    ingredients = [
        f"{i.get('title') or '?'} ({i.get('relationship') or '?'})"
        for i in c2pa.get("ingredients") or []
    ]
    rows = [
        ("claim_generator", c2pa.get("claim_generator")),
        ("signer", who),
        ("signed_at", c2pa.get("signed_at")),
        ("manifests", c2pa.get("manifests")),
        ("actions", ", ".join(actions)),
        ("ingredients", ", ".join(ingredients)),
        ("ingredient_codes", ", ".join(c2pa.get("ingredient_codes") or [])),
    ]
    lines += [f"  {k:<22}{v}" for k, v in rows if v not in (None, "")]
    return lines


def _timeline_lines(events: list[dict[str, Any]]) -> list[str]:
    """The item's timeline, earliest first, one moment a line."""
    if not events:
        return []
    lines = ["timeline"]
    for e in events:
        where = e.get("source_url") or e.get("source_kind") or ""
        who = f" by {e['by']}" if e.get("by") else ""
        note = f"  ({e['note']})" if e.get("note") else ""
        lines.append(f"  {e['event']:<9} {e['at']:<33} {where}{who}{note}")
    return lines
