"""``evidence import``: the collections investigators make, with exact sightings."""

from __future__ import annotations

import sys

import click

from ingest import Limits
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
from registry.importing import FORMATS, ImportResult
from registry.ingesting import Submission
from registry.similarity import MatchConfig

STATUSES = ("new", "known", "missing", "skipped", "error")


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="The kind of collection; auto recognises each by its content.",
)
@click.option("--case", help="Case or investigation id.")
@actor_option
@click.option(
    "--channel-username",
    help="The Telegram channel's public @name (exports lack it): URLs become t.me/<name>/<id>.",
)
@worker_options
@threshold_options
@json_option
@click.pass_context
@handle_errors
def import_(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    case: str | None,
    actor: str,
    channel_username: str | None,
    workers: int,
    time_limit: float,
    thresholds: MatchConfig,
    as_json: bool,
) -> None:
    """Import Telegram Desktop exports, yt-dlp downloads, auto-archiver runs and web
    archives (WARC, WACZ): every post's media becomes an item with the sighting its
    source states (URL, posting and capture times, channel, provenance), and the
    export's own documents are stored in the vault too.

    Exit code 0 when every media file that is present was stored (missing and skipped
    references are not failures), 1 when some failed or an export cannot be read.

    Example: evidence import ~/exports/ChatExport_2022-03-16 --case UA-031
    --channel-username example_channel
    """
    reg = _open(ctx, create=True, actor=actor)
    counts = dict.fromkeys(STATUSES, 0)
    incomplete = 0
    results = reg.iter_import(
        paths,
        Submission(actor=actor, case=case),
        fmt=fmt,
        channel_username=channel_username,
        config=thresholds,
        workers=workers,
        limits=Limits(seconds=time_limit),
    )
    for result in results:
        counts[result.status] += 1
        incomplete += any(w.get("code") == "StepFailed" for w in result.warnings)
        click.echo(_dump(result.to_dict()) if as_json else _line(result))
    summary = ", ".join(f"{counts[s]} {'failed' if s == 'error' else s}" for s in STATUSES)
    click.echo(f"{summary} -> {reg.root}", err=True)
    if counts["error"] or incomplete:
        sys.exit(1)


def _line(r: ImportResult) -> str:
    s = r.sighting
    where = s.get("source_url") or s.get("channel") or ""
    when = s.get("posted_at") or s.get("archived_at") or "-"
    if r.status in ("new", "known"):
        head = f"{r.status:<7} {(r.sha256 or '')[:16]}  {r.media_type or '-':<5}  {r.path}"
        line = f"{head}\n        {where}  {when}".rstrip()
        for m in r.near_duplicates or []:
            line += f"\n        near-duplicate of {m['sha256'][:16]}  {_match_summary(m)}"
        return line
    reason = f": {r.error}" if r.error else ""
    return f"{r.status:<7} {r.path}{reason}" + (f"\n        {where}  {when}" if where else "")
