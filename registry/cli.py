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

from ingest.batch import Limits
from ingest.errors import EvidenceError
from ingest.photo.image import MAX_PIXELS
from registry.core import DEFAULT_ACTOR, Registry, init_registry
from registry.custody.log import set_invocation, summarize
from registry.ingesting import Submission
from registry.similarity.config import MatchConfig
from registry.version import __version__

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


# --- near-duplicate thresholds (issue 3) ------------------------------------------------


def _thresholds(**values: Any) -> MatchConfig:
    defaults = MatchConfig()
    return MatchConfig(
        **{k: (v if v is not None else getattr(defaults, k)) for k, v in values.items()}
    )


def threshold_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Near-duplicate thresholds (defaults calibrated by bench/photo_matching.py);
    passed to the command as one ``thresholds`` argument."""
    d = MatchConfig()
    options = [
        click.option(
            "--min-score",
            type=click.FloatRange(0, 1),
            help="Verified matches need this score: the lower 95 % bound of the share of "
            f"blocks that agree after alignment [default: {d.min_score}].",
        ),
        click.option(
            "--max-distance",
            type=click.IntRange(0, 256),
            help="PDQ distance accepted without pixel verification (pictures too flat "
            f"to verify) [default: {d.pdq_distance}].",
        ),
        click.option(
            "--min-inliers",
            type=click.IntRange(4),
            help=f"Matched keypoints a verified match needs [default: {d.min_inliers}].",
        ),
        click.option(
            "--max-candidates",
            type=click.IntRange(1),
            help=f"Candidates verified per photo [default: {d.max_candidates}].",
        ),
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["thresholds"] = _thresholds(
            min_score=kwargs.pop("min_score"),
            pdq_distance=kwargs.pop("max_distance"),
            min_inliers=kwargs.pop("min_inliers"),
            max_candidates=kwargs.pop("max_candidates"),
        )
        return func(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _match_summary(m: dict[str, Any], transform: bool = True) -> str:
    distance = "-" if m.get("distance") is None else m["distance"]
    text = f"score {m.get('score', 0):.2f}  pdq {distance:<3}  {m.get('method')}"
    return f"{text}  {m.get('transform') or ''}" if transform else text


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
    reg.match_config = thresholds
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
                for m in result.near_duplicates or []:
                    line += f"\n       near-duplicate of {m['sha256'][:16]}  {_match_summary(m)}"
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
                f"{entry['action']:<20} {sha:<12} {summarize(entry)}"
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


# --- near-duplicates (issue 3) -----------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@threshold_options
@json_option
@click.pass_context
@handle_errors
def match(
    ctx: click.Context, paths: tuple[str, ...], as_json: bool, thresholds: MatchConfig
) -> None:
    """Compare photos with the registry without ingesting them.

    Prints one result per file (JSON Lines with --json: path, sha256, exact, matches
    best first). Exit code 0 whether or not anything matched; 1 when a file could not
    be read.

    Example: evidence match suspicious.jpg --json
    """
    reg = _open(ctx)
    reg.match_config = thresholds
    failed = False
    for result in reg.match(paths):
        failed |= "error" in result
        if as_json:
            click.echo(_dump(result))
            continue
        if "error" in result:
            click.echo(f"error  {result['path']}: {result['error']}")
            continue
        sha = (result["sha256"] or "")[:16]
        state = "exact" if result["exact"] else f"{len(result['matches'])} match(es)"
        click.echo(f"{result['path']}  {sha}  {state}")
        for m in result["matches"]:
            click.echo(f"  {m['sha256'][:16]}  {_match_summary(m)}")
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--case", help="Only clusters with a copy sighted in this case.")
@json_option
@click.pass_context
@handle_errors
def dupes(ctx: click.Context, case: str | None, as_json: bool) -> None:
    """Clusters of near-duplicates: first sighting of any copy and what differs.

    Example: evidence dupes --json
    """
    found = _open(ctx).dupes(case)
    if as_json:
        click.echo(_dump({"clusters": found}))
        return
    if not found:
        click.echo("no near-duplicates")
    for i, c in enumerate(found, 1):
        first = c["first_seen"]
        observed = first.get("observed") or {}
        click.echo(
            f"cluster {i}: {len(c['members'])} copies, first seen {observed.get('at', '-')[:19]}"
            f" ({(observed.get('sha256') or '')[:12]})"
        )
        claimed = first.get("claimed_posted")
        if claimed:
            click.echo(f"  earliest claimed post {claimed['at']} {claimed.get('source_url') or ''}")
        diff = c["differences"]
        if diff["captured_at_disagree"]:
            click.echo(f"  capture times disagree: {_dump(diff['captured_at'])}")
        for copy in c["copies"]:
            marks = []
            if copy["has_exif"]:
                marks.append(f"EXIF({copy['exif_tags']})")
            if copy["has_gps"]:
                marks.append("GPS")
            if copy["sha256"] == c["most_metadata"]:
                marks.append("most metadata")
            click.echo(
                f"  {copy['sha256'][:16]}  {copy['format'] or '-':<5} {copy['width']}×"
                f"{copy['height']}  {copy['size']:>9} bytes  {copy['captured_at'] or '-':<25}"
                f"  {' '.join(marks)}"
            )


@cli.command()
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Re-hash every item, not only stale ones (and retry videos whose frames failed).",
)
@click.option("--no-match", is_flag=True, help="Do not look for new near-duplicates after.")
@threshold_options
@actor_option
@json_option
@click.pass_context
@handle_errors
def reindex(
    ctx: click.Context,
    everything: bool,
    no_match: bool,
    actor: str,
    as_json: bool,
    thresholds: MatchConfig,
) -> None:
    """Re-hash stored photos and videos from the vault with the current hash versions
    and frame-hashing method (logged), then look for near-duplicates among them.

    Example: evidence reindex --all
    """
    reg = _open(ctx, actor=actor)
    reg.match_config = thresholds
    summary = reg.reindex(actor=actor, everything=everything, find=not no_match)
    if as_json:
        click.echo(_dump(summary))
    else:
        click.echo(
            f"{summary['rehashed']} of {summary['images']} photos and {summary['videos']} "
            f"videos re-hashed ({summary['hashers']}, frames v{summary['frame_method']}), "
            f"{summary['updated']} changed, "
            f"{summary['near_duplicates']} new near-duplicate pair(s), "
            f"{len(summary['failed'])} failed"
        )
    if summary["failed"]:
        sys.exit(1)


def main() -> None:
    cli(prog_name="evidence")


# Commands defined in their own modules register themselves on ``cli`` when imported.
from registry import cli_custody  # noqa: E402, F401
