"""What every ``evidence`` command shares: the Click group ``cli``, its shared options
(``--json``, ``--actor``, the near-duplicate thresholds), error handling, opening the
registry and printing JSON.

The command modules (``items``, ``near``, ``log``, ``export``) import from here only and
add their commands to ``cli``; the package's ``__init__`` imports them all.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from ingest import EvidenceError
from registry.core import DEFAULT_ACTOR, Registry
from registry.custody import set_invocation
from registry.similarity import MatchConfig
from registry.store import redact
from registry.version import __version__

DEFAULT_REGISTRY = "./evidence-registry"
#: Where the group keeps ``--catalog`` for the commands (``ctx.obj`` is the registry folder).
CATALOG_KEY = "evidence.catalog"


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


def worker_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--workers`` and ``--time-limit``: the supervised extraction processes."""
    func = click.option(
        "--time-limit",
        type=click.FloatRange(1),
        default=120.0,
        show_default=True,
        help="Seconds per file (plus 1 s per 4 MiB) before its worker is stopped.",
    )(func)
    return click.option(
        "--workers",
        type=click.IntRange(1, 256),
        default=os.cpu_count() or 1,
        show_default="CPU count",
        help="Worker processes for extraction.",
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


# --- the group --------------------------------------------------------------------------


class _Recorded(click.Group):
    """The ``evidence`` group: records its arguments in the custody entries it causes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # A catalogue URL's password must never reach the custody log.
        set_invocation([redact(a) for a in args])
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
@click.option(
    "--catalog",
    "catalog_url",
    envvar="EVIDENCE_CATALOG",
    metavar="URL",
    help="Keep the catalogue in PostgreSQL (postgresql://user@host/db, or set "
    "EVIDENCE_CATALOG); default: the registry's own files. Either is a view of the "
    "custody log: fill or refresh it with `evidence rebuild --catalog URL`.",
)
@click.version_option(__version__, prog_name="evidence")
@click.pass_context
def cli(ctx: click.Context, registry_path: str, catalog_url: str | None) -> None:
    """Evidence registry for photos and videos: hashes, metadata, first sightings and a
    signed chain of custody.

    Example: evidence --registry ./reg ingest downloads/ --case UA-031 --actor alice
    """
    ctx.obj = registry_path
    ctx.meta[CATALOG_KEY] = catalog_url or None


def catalog_of(ctx: click.Context) -> str | None:
    """The ``--catalog`` URL given to the group (None: the registry's own catalogue)."""
    return ctx.meta.get(CATALOG_KEY)


def _open(
    ctx: click.Context,
    create: bool = False,
    actor: str = DEFAULT_ACTOR,
    catalog: str | None = None,
) -> Registry:
    return Registry.open(ctx.obj, create=create, actor=actor, catalog=catalog or catalog_of(ctx))
