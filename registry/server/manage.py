"""Pages for a case's managers (``audit`` and ``export`` in ``registry.accounts.roles``):
the case's custody entries, a verification run, and exports started from the browser.

The custody view shows the entries that belong to the case alone (``Scope`` of that
one case: what ``GET /api/v1/custody`` would give a member of only this case), newest
first, one bounded page at a time; verify runs ``Registry.verify`` (a ``verify.run``
entry by the user) and shows the report as the API's ``GET /verify`` does; exports are
``writes.export_response`` (an ``export`` and an ``access.exported`` entry).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, Response

from registry.accounts import Scope
from registry.custody import ACCESS_VIEWED, summarize
from registry.export import FORMATS
from registry.server.pages import PageUser, WritingUser, render, secure
from registry.server.review import _int
from registry.server.state import server_of
from registry.server.writes import export_response

router = APIRouter(include_in_schema=False)
CUSTODY_PAGE = 100


@router.get("/cases/{case}/custody")
def get_custody(request: Request, user: PageUser, case: str) -> Response:
    server = server_of(request)
    reg = server.registry()
    role = server.scope(reg, user).require(case, "audit")
    params = request.query_params
    number = _int(params.get("page"), 1, 1, 10**7)
    action = (params.get("action") or "").strip()[:64]
    mine = Scope(reg.catalog, {case: role})
    entries = [e for e in mine.entries(reg.custody()) if not action or e["action"] == action]
    entries.reverse()
    total = len(entries)
    start = (number - 1) * CUSTODY_PAGE
    shown = [{**e, "summary": summarize(e)} for e in entries[start : start + CUSTODY_PAGE]]
    server.log(user, ACCESS_VIEWED, request, {"case": case})
    return render(
        request,
        "custody.html",
        user=user,
        case=case,
        entries=shown,
        total=total,
        number=number,
        size=CUSTODY_PAGE,
        action=action,
        formats=FORMATS,
        may_export=case in server.scope(reg, user).cases_allowing("export"),
    )


@router.post("/cases/{case}/verify")
def post_verify(request: Request, user: WritingUser, case: str) -> Response:
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    scope.require(case, "audit")
    report = scope.verify_report(reg.verify(actor=user.name))
    return render(request, "verify.html", user=user, case=case, report=report)


@router.post("/cases/{case}/export")
def post_export(
    request: Request,
    user: WritingUser,
    case: str,
    format: Annotated[str, Form(max_length=20)],
) -> FileResponse:
    return secure(export_response(request, user, format, case))
