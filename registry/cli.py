"""The ``evidence`` command line: thin Click wrappers over the Python API.

Each command opens the registry, calls one API function, and prints. Errors the tool
raises on purpose become a one-line message and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from ingest.errors import EvidenceError
from ingest.image import MAX_PIXELS
from ingest.supervisor import Limits

from .core import DEFAULT_ACTOR, Registry, Submission, init_registry
from .custody import set_invocation
from .version import __version__

DEFAULT_REGISTRY = "./evidence-registry"


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=False)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared ``--json`` flag."""
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


def actor_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--actor",
        default=DEFAULT_ACTOR,
        show_default=True,
        envvar="EVIDENCE_ACTOR",
        help="Who is acting (recorded in the custody log).",
    )(func)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's errors into a clean message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EvidenceError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}", err=True)
            sys.exit(1)

    return wrapper


class _Recorded(click.Group):
    """The ``evidence`` group: records its arguments in the custody entries it causes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        set_invocation(list(args))
        return super().parse_args(ctx, args)


@click.group(cls=_Recorded, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--registry",
    "registry_path",
    envvar="EVIDENCE_REGISTRY",
    default=DEFAULT_REGISTRY,
    show_default=True,
    type=click.Path(file_okay=False),
    help="Registry folder (or set EVIDENCE_REGISTRY).",
)
@click.version_option(__version__, prog_name="evidence")
@click.pass_context
def cli(ctx: click.Context, registry_path: str) -> None:
    """Evidence registry for photos and videos: hashes, metadata, first sightings and a
    signed chain of custody.

    Example: evidence --registry ./reg ingest downloads/ --case UA-031 --actor alice
    """
    ctx.obj = registry_path


def _open(ctx: click.Context, create: bool = False, actor: str = DEFAULT_ACTOR) -> Registry:
    return Registry.open(ctx.obj, create=create, actor=actor)


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
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=os.cpu_count() or 1,
    show_default="CPU count",
    help="Worker processes for extraction.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(1),
    default=120.0,
    show_default=True,
    help="Seconds per file (plus 1 s per 4 MiB) before its worker is stopped.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=MAX_PIXELS,
    show_default=True,
    help="Refuse images with more pixels (decompression bombs).",
)
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
    # A bar only where someone watches: never into logs or pipes.
    show_bar = sys.stderr.isatty()
    from tqdm import tqdm

    with tqdm(
        unit="file", desc="ingest", disable=not show_bar, delay=1.0, file=sys.stderr, leave=False
    ) as bar:
        limits = Limits(seconds=time_limit, max_pixels=max_pixels)
        for result in reg.iter_ingest(paths, sub, workers=workers, isolate=True, limits=limits):
            counts[result.status] += 1
            bar.update(1)
            if as_json:
                line = _dump(result.to_dict())
            elif result.status == "error":
                line = f"error  {result.path}: {result.error}"
            else:
                kind = result.media_type or "-"
                line = f"{result.status:<6} {result.sha256[:16]}  {kind:<5}  {result.path}"
            bar.clear() if not bar.disable else None
            click.echo(line)
    click.echo(
        f"{counts['new']} new, {counts['known']} known, {counts['error']} failed -> {reg.root}",
        err=True,
    )
    if counts["error"]:
        sys.exit(1)


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
@json_option
@click.pass_context
@handle_errors
def list_(ctx: click.Context, case: str | None, as_json: bool) -> None:
    """List items (JSON Lines with --json, one item per line).

    Example: evidence list --case UA-031 --json
    """
    for item in _open(ctx).list_items(case):
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


@cli.command()
@click.argument("ref", required=False)
@json_option
@click.pass_context
@handle_errors
def custody(ctx: click.Context, ref: str | None, as_json: bool) -> None:
    """Print the chain-of-custody log, or the entries about one item.

    Example: evidence custody 3f2a9c --json
    """
    for entry in _open(ctx).custody(ref):
        if as_json:
            click.echo(_dump(entry))
        else:
            sha = (entry.get("sha256") or "")[:12]
            click.echo(
                f"{entry['seq']:>6}  {entry['time'][:19]}  {entry['actor']:<12} "
                f"{entry['action']:<20} {sha:<12} {_summary(entry)}"
            )


@cli.command()
@actor_option
@json_option
@click.pass_context
@handle_errors
def verify(ctx: click.Context, actor: str, as_json: bool) -> None:
    """Verify the custody chain, signatures, vault fixity and catalogue.

    Exit code 0 only when everything checks out; otherwise 1 and every problem listed.

    Example: evidence verify --json
    """
    report = _open(ctx).verify(actor=actor)
    if as_json:
        click.echo(_dump(report.to_dict()))
    else:
        status = "OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
        click.echo(
            f"{status} - {report.entries} custody entries, {report.items} items, "
            f"{report.vault_files} vault files re-hashed ({report.bytes_hashed:,} bytes)"
        )
        for problem in report.problems:
            click.echo(f"  {problem.code}: {problem.message}")
        if not report.catalog_checked:
            click.echo("  (the catalogue was not compared with the damaged log)")
    if not report.ok:
        sys.exit(1)


@cli.command()
@actor_option
@json_option
@click.pass_context
@handle_errors
def rebuild(ctx: click.Context, actor: str, as_json: bool) -> None:
    """Rebuild the catalogue from the custody log (the log is the source of truth).

    Example: evidence rebuild
    """
    items = _open(ctx).rebuild(actor=actor)
    click.echo(_dump({"items": items}) if as_json else f"catalogue rebuilt: {items} items")


def _summary(entry: dict[str, Any]) -> str:
    d = entry.get("details") or {}
    action = entry["action"]
    if action == "sighting.added":
        parts = [d.get("original_name") or "", d.get("case") or "", d.get("source_url") or ""]
        return " ".join(p for p in parts if p)
    if action == "ingest.failed":
        err = d.get("error") or {}
        return f"{d.get('path')}: {err.get('message')}"
    if action == "item.stored":
        return f"{d.get('media_type')} {d.get('size')} bytes"
    if action == "verify.run":
        return "ok" if d.get("ok") else f"{len(d.get('problems') or [])} problem(s)"
    return ""


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
        if value not in (None, "", {}):
            lines.append(f"  {key:<22}{_dump(value) if isinstance(value, dict) else value}")
    first = item.get("first_seen") or {}
    lines.append("first seen")
    for key in (
        "observed_at",
        "observed_by",
        "claimed_posted_at",
        "claimed_source_url",
        "captured_at",
    ):
        lines.append(f"  {key:<22}{first.get(key) or '-'}")
    lines.append(f"sightings   {len(item.get('sightings') or [])}")
    for s in item.get("sightings") or []:
        where = s.get("source_url") or s.get("original_path")
        lines.append(
            f"  #{s['seq']:<5} {s['observed_at'][:19]}  {s['observed_by']:<10} "
            f"{s.get('case') or '-':<10} {where}"
        )
        claims = [
            f"posted {s['posted_at']}" if s.get("posted_at") else "",
            f"forwarded from {s['forwarded_from']}" if s.get("forwarded_from") else "",
            f"file {s['original_name']}" if s.get("original_name") else "",
        ]
        if any(claims):
            lines.append("         " + ", ".join(c for c in claims if c))
    for w in item.get("warnings") or []:
        lines.append(f"warning     {w['step']}: {w['message']}")
    return "\n".join(lines)


def main() -> None:
    cli(prog_name="evidence")


# Commands defined in their own modules register themselves on ``cli`` when imported.
from . import cli_custody  # noqa: E402, F401
