"""Near-duplicate commands (issue 3): ``match``, ``dupes`` and ``reindex``."""

from __future__ import annotations

import sys
from typing import Any

import click

from registry.cli.base import (
    _dump,
    _match_summary,
    _open,
    actor_option,
    cli,
    handle_errors,
    json_option,
    threshold_options,
)
from registry.similarity import MatchConfig


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
    failed = False
    for result in reg.match(paths, thresholds):
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
        archived = first.get("archived")
        if archived:
            where = archived.get("source_url") or archived.get("source_kind") or ""
            click.echo(f"  earliest archive capture {archived['at']} {where}")
        diff = c["differences"]
        if diff["captured_at_disagree"]:
            click.echo(f"  capture times disagree: {_dump(diff['captured_at'])}")
        for line in _credentials_summary(c["credentials"]):
            click.echo(f"  {line}")
        for copy in c["copies"]:
            marks = _credential_marks(copy, c["credentials"])
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


def _credentials_summary(creds: dict[str, list[str]]) -> list[str]:
    """The cluster's Content Credentials in a line each: which copy still carries valid
    ones, which no longer match their content, which lost them."""
    said = {
        "valid": "content credentials valid in",
        "altered": "content credentials no longer match the content of",
        "invalid": "content credentials invalid in",
        "remote": "content credentials stored remotely (not fetched) for",
        "lost_by": "content credentials lost by",
    }
    return [f"{text} {', '.join(s[:12] for s in creds[k])}" for k, text in said.items() if creds[k]]


def _credential_marks(copy: dict[str, Any], creds: dict[str, list[str]]) -> list[str]:
    sha = copy["sha256"]
    if sha in creds["valid"]:
        return ["C2PA valid"]
    if sha in creds["altered"]:
        return ["C2PA altered"]
    if sha in creds["invalid"]:
        return ["C2PA invalid"]
    if sha in creds["remote"]:
        return ["C2PA remote"]
    if sha in creds["lost_by"]:
        return ["C2PA lost"]
    return []


@cli.command()
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Re-hash every item, not only stale ones (and retry videos whose frames failed), "
    "and read every item's Content Credentials again.",
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
    and frame-hashing method, read the Content Credentials (C2PA) of items stored before
    they were read (--all: of every item), all logged, then look for near-duplicates
    among the re-hashed items.

    Example: evidence reindex --all
    """
    reg = _open(ctx, actor=actor)
    summary = reg.reindex(actor=actor, config=thresholds, everything=everything, find=not no_match)
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
        creds = summary["credentials"]
        if creds["read"]:
            states = ", ".join(f"{n} {state}" for state, n in sorted(creds["states"].items()))
            click.echo(
                f"Content Credentials read for {creds['read']} item(s) ({states}), "
                f"{creds['updated']} recorded"
            )
    if summary["failed"]:
        sys.exit(1)
