"""Deciding near-duplicates in the browser: the compare page (side by side, an overlay
aligned by the match's fit, a video pair's matched segments with frames from both,
what differs, both timelines), the decide form and buttons, and a case's review queue
(the pairs waiting for a person, with bulk confirm or reject).

Decisions go through ``writes.decide_pairs`` (as ``POST /api/v1/neardups/decision``):
``neardup.confirmed`` / ``neardup.rejected`` entries with the user as actor.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from registry.accounts import Identity, Scope
from registry.custody import ACCESS_VIEWED
from registry.schema import DESCRIPTION_FIELDS, instant_key
from registry.server import sessions
from registry.server.gallery import MAX_PAGE
from registry.server.pages import PageUser, WritingUser, render, secure, shown, ui_of
from registry.server.review import (
    _int,
    card,
    case_view,
    context_case,
    decided,
    segments,
    sha_or_404,
)
from registry.server.review import transform_text as said
from registry.server.state import Server, server_of
from registry.server.writes import decide_pairs

router = APIRouter(include_in_schema=False)
#: Frames shown per matched segment of a video pair (start, middle, end), and segments.
FRAMES = (0.0, 0.5, 1.0)
MAX_SEGMENTS = 3
QUEUE_PAGE = 100


def _pair(scope: Scope, a: str, b: str) -> dict[str, Any] | None:
    for pair in scope.doc(a)["near_duplicates"]:
        if pair["sha256"] == b:
            return pair
    return None


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(field, a's value, b's value)`` of every description or metadata field on
    which the two copies differ (frame hashes left out: they always do)."""
    out = []
    for key in DESCRIPTION_FIELDS[3:]:
        if a.get(key) != b.get(key):
            out.append((key, shown(a.get(key)), shown(b.get(key))))
    ma, mb = a.get("metadata") or {}, b.get("metadata") or {}
    for key in sorted((set(ma) | set(mb)) - {"frame_hashes"}):
        if ma.get(key) != mb.get(key):
            out.append((key, shown(ma.get(key)), shown(mb.get(key))))
    ea, eb = len(a.get("exif") or {}), len(b.get("exif") or {})
    if ea != eb:
        out.append(("EXIF tags", str(ea), str(eb)))
    return out


def both_timelines(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    events = [{**e, "side": "A"} for e in a.get("timeline") or []]
    events += [{**e, "side": "B"} for e in b.get("timeline") or []]
    return sorted(events, key=instant_key)


def segment_frames(
    server: Server, reg: Any, a: dict[str, Any], b: dict[str, Any], pair: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each matched segment (at most ``MAX_SEGMENTS``) with frames of both videos at
    its start, middle and end."""
    pictures = server.ui.pictures
    out = []
    for seg in segments(pair)[:MAX_SEGMENTS]:
        frames = []
        for share in FRAMES:
            ta = seg["a_start"] + share * (seg["a_end"] - seg["a_start"])
            tb = seg["b_start"] + share * (seg["b_end"] - seg["b_start"])
            # The last frame is just before the segment's end.
            ta, tb = (max(0.0, ta - 0.05), max(0.0, tb - 0.05)) if share == 1.0 else (ta, tb)
            a_frame, b_frame = pictures.frame(reg, a, ta), pictures.frame(reg, b, tb)
            frames.append({"a_at": ta, "b_at": tb, "a": a_frame, "b": b_frame})
        out.append({**seg, "frames": frames})
    return out


@router.get("/compare/{a}/{b}")
def get_compare(
    request: Request, user: PageUser, a: str, b: str, case: str | None = None, queue: str = ""
) -> Response:
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    item_a, item_b = scope.item(sha_or_404(a)), scope.item(sha_or_404(b))
    pair = _pair(scope, a, b)
    here = context_case(scope, queue or case, a, b)
    pictures = server.ui.pictures
    video = item_a.get("media_type") == "video" and item_b.get("media_type") == "video"
    aligned = None if video else pictures.aligned(reg, item_a, item_b)
    cases = sorted(set(scope.cases_of(a)) | set(scope.cases_of(b)))
    server.log(user, ACCESS_VIEWED, request, {"cases": cases, "items": [a, b]}, a)
    return render(
        request,
        "compare.html",
        user=user,
        case=here,
        a=item_a,
        b=item_b,
        pair=pair,
        state=server.config.match.review(pair) if pair else None,
        decided=decided(pair) if pair else None,
        transform=said(pair) if pair else "–",
        previews={"a": pictures.preview(reg, item_a), "b": pictures.preview(reg, item_b)},
        thumbs={"a": pictures.thumbnail(reg, item_a), "b": pictures.thumbnail(reg, item_b)},
        aligned=aligned,
        video=video,
        segments=segment_frames(server, reg, item_a, item_b, pair) if pair and video else [],
        differences=differences(item_a, item_b),
        timeline=both_timelines(item_a, item_b),
        queue=here if queue and here == queue else "",
        may_decide=bool(here and here in scope.cases_allowing("decide")),
    )


# --- deciding -------------------------------------------------------------------------------

Decision = Literal["confirmed", "rejected"]


@router.post("/decide")
def post_decide(
    request: Request,
    user: WritingUser,
    a: Annotated[str, Form()],
    b: Annotated[str, Form()],
    decision: Annotated[Decision, Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
    case: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    server = server_of(request)
    pair = (sha_or_404(a), sha_or_404(b))
    [entry] = decide_pairs(server, user, [pair], decision, reason.strip(), case or None)
    if "application/json" in request.headers.get("accept", ""):
        return secure(JSONResponse({"seq": entry["seq"], "decision": decision, "a": a, "b": b}))
    return secure(RedirectResponse(sessions.local(next, f"/items/{a}"), 303))


def _pairs(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        a, _, b = value.partition(":")
        out.append((sha_or_404(a), sha_or_404(b)))
    return out


@router.post("/cases/{case}/queue")
async def post_bulk(request: Request, user: WritingUser, case: str) -> Response:
    """Bulk confirm or reject of the queue's selected pairs (``pair`` = ``a:b``)."""
    form = await request.form()
    decision = str(form.get("decision") or "")
    if decision not in ("confirmed", "rejected"):
        raise ValueError("decision must be confirmed or rejected")
    reason = str(form.get("reason") or "").strip()[:2000]
    pairs = _pairs([str(v) for v in form.getlist("pair")][:MAX_PAGE])
    server = server_of(request)
    await run_in_threadpool(_bulk, server, user, case, pairs, decision, reason)
    return secure(RedirectResponse(f"/cases/{case}/queue?done={len(pairs)}", 303))


def _bulk(
    server: Server,
    user: Identity,
    case: str,
    pairs: list[tuple[str, str]],
    decision: str,
    reason: str,
) -> None:
    server.scope(server.registry(), user).require(case)
    decide_pairs(server, user, pairs, decision, reason, case)


# --- the queue ------------------------------------------------------------------------------


@router.get("/cases/{case}/queue")
def get_queue(request: Request, user: PageUser, case: str) -> Response:
    view = case_view(request, user, case, QUEUE_PAGE)
    server, reg, scope, number, size = view.server, view.reg, view.scope, view.number, view.size
    params = request.query_params
    total, page = view.rows.waiting(view.offset, size)
    config = server.config.match
    found = []
    for a, b in page:
        pair = _pair(scope, a, b)
        if pair is None:
            continue
        found.append(
            {
                "a": card(server, reg, scope, a, config),
                "b": card(server, reg, scope, b, config),
                "pair": pair,
                "transform": said(pair),
            }
        )
    shown = sorted({s for p in page for s in p})
    server.log(user, ACCESS_VIEWED, request, {"case": case, "items": shown})
    return render(
        request,
        "queue.html",
        user=user,
        case=case,
        pairs=found,
        total=total,
        number=number,
        size=size,
        done=_int(params.get("done"), 0, 0, MAX_PAGE),
        may_decide=case in scope.cases_allowing("decide"),
    )


@router.get("/cases/{case}/queue/next")
def get_next(request: Request, user: PageUser, case: str) -> Response:
    """The compare page of the first pair waiting in the case (the queue when none)."""
    server = server_of(request)
    reg = server.registry()
    server.scope(reg, user).require(case)
    _, first = ui_of(request).galleries.of(reg, case).waiting(0, 1)
    if not first:
        return secure(RedirectResponse(f"/cases/{case}/queue", 303))
    a, b = first[0]
    return secure(RedirectResponse(f"/compare/{a}/{b}?queue={case}", 303))
