"""The review UI's evidence pages: the case gallery and the item page (with the pictures
and videos they show, and notes).

Each page is one ``access.viewed`` entry naming the items it showed; pictures come
inside the page (``media``), originals (the item page's full picture, a video's bytes,
Range requests) through ``reads.send_original``, one ``access.downloaded`` each.
Everything shown of an item comes from the user's ``Scope``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from registry.accounts import Identity, NotVisible, Scope
from registry.custody import ACCESS_VIEWED, summarize
from registry.server.gallery import DATE_FIELDS, MAX_PAGE, PAGE, CaseRows, Filter
from registry.server.pages import PageUser, WritingUser, render, secure, ui_of
from registry.server.reads import send_original
from registry.server.state import Server, server_of
from registry.server.writes import note_item
from registry.similarity import MatchConfig

router = APIRouter(include_in_schema=False)
SHA = re.compile(r"^[0-9a-f]{64}$")


def sha_or_404(value: str) -> str:
    """A full SHA-256 from a URL (anything else is not found, like an unseen item)."""
    if not SHA.match(value):
        raise NotVisible("not a sha256")
    return value


def context_case(scope: Scope, wanted: str | None, *shas: str) -> str | None:
    """The case a page works in: ``wanted`` when the user has it and it holds every
    item of ``shas``, else the first such case of the user's (None: none holds all)."""
    common = set(scope.cases)
    for sha in shas:
        common &= set(scope.cases_of(sha))
    if wanted in common:
        return wanted
    return min(common) if common else None


# --- gallery ----------------------------------------------------------------------------


def _day(value: str | None, end: bool = False) -> float | None:
    """A YYYY-MM-DD field as the epoch of that day's start (of the next day: ``end``)."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return (start + dt.timedelta(days=1 if end else 0)).timestamp()


def _filter(params: Any) -> Filter:
    return Filter(
        media_type=params.get("type") if params.get("type") in ("image", "video") else "",
        gps=params.get("gps") if params.get("gps") in ("yes", "no") else "",
        date_on=params.get("date_on") if params.get("date_on") in DATE_FIELDS else "observed",
        date_from=_day(params.get("from")),
        date_to=_day(params.get("to"), end=True),
        unreviewed=params.get("unreviewed") == "on",
        q=(params.get("q") or "").strip()[:200],
        newest_first=params.get("sort") == "newest",
    )


def _int(value: Any, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value)))
    except (TypeError, ValueError):
        return default


def card(server: Server, reg: Any, scope: Scope, sha: str, config: MatchConfig) -> dict:
    """What a gallery card or a queue side shows of a visible item."""
    item = scope.item(sha)
    first = item.get("first_seen") or {}
    pairs = item.get("near_duplicates") or []
    states = [config.review(p) for p in pairs]
    return {
        "sha256": sha,
        "item": item,
        "thumb": server.ui.pictures.thumbnail(reg, item),
        "captured": (item.get("metadata") or {}).get("captured_at"),
        "posted": first.get("claimed_posted_at"),
        "observed": first.get("observed_at"),
        "copies": sum(1 for s in states if s != "rejected"),
        "waiting": sum(1 for s in states if s == "waiting"),
        "gps": bool((item.get("metadata") or {}).get("gps")),
    }


@dataclass
class CaseView:
    """What a page of one case works with: the user's scope (their role in the case
    checked), the case's current rows, and the page asked for."""

    server: Server
    reg: Any
    scope: Scope
    rows: CaseRows
    size: int
    number: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def case_view(request: Request, user: Identity, case: str, page_size: int) -> CaseView:
    """Raises NotVisible (404) unless the user has a role in ``case``."""
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    scope.require(case)
    params = request.query_params
    size = _int(params.get("size"), page_size, 1, MAX_PAGE)
    number = _int(params.get("page"), 1, 1, 10**7)
    return CaseView(server, reg, scope, ui_of(request).galleries.of(reg, case), size, number)


@router.get("/cases/{case}")
def get_gallery(request: Request, user: PageUser, case: str) -> Response:
    view = case_view(request, user, case, PAGE)
    server, reg, scope, number = view.server, view.reg, view.scope, view.number
    params = request.query_params
    page = view.rows.select(_filter(params), view.offset, view.size)
    cards = [card(server, reg, scope, sha, server.config.match) for sha in page.shas]
    server.log(user, ACCESS_VIEWED, request, {"case": case, "items": page.shas})
    query = {k: v for k, v in params.items() if k != "page"}
    return render(
        request,
        "gallery.html",
        user=user,
        case=case,
        cards=cards,
        page=page,
        number=number,
        params=params,
        query=query,
    )


# --- item page ----------------------------------------------------------------------------


def transform_text(pair: dict[str, Any]) -> str:
    """The pair's transform, said from this item's side (the matcher states it as the
    edit that made the query from the registered copy)."""
    name = pair.get("transform")
    if not name:
        return "–"
    if pair.get("as") == "query":
        return f"{name} (this copy from the other)"
    return f"{name} (the other copy from this one)"


def segments(pair: dict[str, Any]) -> list[dict[str, float]]:
    """A video pair's matched segments as ``this``/``other`` times and their offset."""
    mine, theirs = ("query", "match") if pair.get("as") == "query" else ("match", "query")
    out = []
    for seg in pair.get("segments") or []:
        try:
            a0, a1 = float(seg[f"{mine}_start_s"]), float(seg[f"{mine}_end_s"])
            b0, b1 = float(seg[f"{theirs}_start_s"]), float(seg[f"{theirs}_end_s"])
        except (KeyError, TypeError, ValueError):
            continue
        out.append({"a_start": a0, "a_end": a1, "b_start": b0, "b_end": b1, "offset": b0 - a0})
    return out


def decided(pair: dict[str, Any]) -> dict[str, Any] | None:
    """The latest decision on a pair in the user's cases (``Scope`` kept only those)."""
    mine = pair.get("decisions") or {}
    return max(mine.values(), key=lambda d: d["seq"], default=None)


def pair_rows(server: Server, reg: Any, scope: Scope, item: dict[str, Any]) -> list[dict]:
    config = server.config.match
    rows = []
    for pair in sorted(item.get("near_duplicates") or [], key=lambda p: -(p.get("score") or 0)):
        other = scope.doc(pair["sha256"])
        rows.append(
            {
                "pair": pair,
                "other": other,
                "thumb": server.ui.pictures.thumbnail(reg, other),
                "state": config.review(pair),
                "decided": decided(pair),
                "transform": transform_text(pair),
                "segments": segments(pair),
            }
        )
    return rows


@router.get("/items/{sha256}")
def get_item(request: Request, user: PageUser, sha256: str, case: str | None = None) -> Response:
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    item = scope.item(sha_or_404(sha256))
    here = context_case(scope, case, sha256)
    pairs = pair_rows(server, reg, scope, item)
    entries = [{**e, "summary": summarize(e)} for e in scope.entries(reg.custody(sha256))]
    details = {"cases": scope.cases_of(sha256), "items": [p["other"]["sha256"] for p in pairs]}
    server.log(user, ACCESS_VIEWED, request, details, sha256)
    return render(
        request,
        "item.html",
        user=user,
        case=here,
        item=item,
        thumb=server.ui.pictures.thumbnail(reg, item),
        pairs=pairs,
        entries=entries,
        note_cases=[c for c in scope.cases_of(sha256) if c in scope.cases_allowing("note")],
        may_decide=bool(scope.cases_allowing("decide")),
    )


@router.get("/media/{sha256}/original")
def get_original(request: Request, user: PageUser, sha256: str) -> FileResponse:
    return secure(send_original(request, user, sha_or_404(sha256)))


@router.post("/items/{sha256}/notes")
def post_note(
    request: Request,
    user: WritingUser,
    sha256: str,
    case: Annotated[str, Form(min_length=1, max_length=200)],
    text: Annotated[str, Form(min_length=1, max_length=20_000)],
) -> Response:
    note_item(server_of(request), user, sha_or_404(sha256), case, text)
    return secure(RedirectResponse(f"/items/{sha256}?case={case}#notes", 303))
