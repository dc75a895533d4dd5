"""Endpoints that take uploads or change the registry: ingest and match (files streamed
to disk, then the same supervised pipeline as ``evidence ingest`` and ``match``),
near-duplicate decisions, notes, roles, and exports. Each calls the Python API function
the command line calls; what comes back goes through the user's ``Scope``."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from ingest import Limits
from registry.accounts import Identity, NotVisible, Scope, decide, grant, revoke
from registry.core import Registry
from registry.custody import ACCESS_EXPORTED, ACCESS_SEARCHED, add_note
from registry.export import FORMATS, export
from registry.ingesting import Submission
from registry.server.state import Server, current_user, server_of
from registry.server.uploads import BadForm, Upload
from registry.similarity import MatchConfig
from registry.store import RunStaging

router = APIRouter()
User = Annotated[Identity, Depends(current_user)]
SHA256 = r"^[0-9a-f]{64}$"
#: The OpenAPI description of an upload body (parsed by ``uploads``, not by FastAPI).
_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "source_url": {"type": "string"},
                        "posted_at": {"type": "string", "description": "ISO 8601"},
                        "forwarded_from": {"type": "string"},
                        "note": {"type": "string"},
                    },
                }
            }
        },
    }
}


async def _spool(request: Request, server: Server, work: Callable[[Upload], Any]) -> Any:
    """Stream the request's files to disk, then run ``work`` on them in a thread."""
    with Upload(server.uploads, server.config.max_upload) as upload:
        await upload.receive(request)
        if not upload.files:
            raise BadForm("no file in the form (field 'files')")
        return await run_in_threadpool(work, upload)


def _limits(server: Server) -> Limits:
    return Limits(seconds=server.config.time_limit)


@router.post(
    "/ingest", summary="Ingest uploaded files into a case, as `ingest --json`", openapi_extra=_FORM
)
async def post_ingest(
    request: Request, user: User, case: Annotated[str, Query(min_length=1)]
) -> dict[str, Any]:
    server = server_of(request)
    Scope(None, user.roles).require(case, "ingest")  # before a byte is spooled

    def work(upload: Upload) -> dict[str, Any]:
        reg = server.registry()
        fields = upload.fields
        sub = Submission(  # ValueError (422) for a posted_at that is not ISO 8601
            actor=user.name,
            case=case,
            source_url=fields.get("source_url") or None,
            posted_at=fields.get("posted_at") or None,
            forwarded_from=fields.get("forwarded_from") or None,
            note=fields.get("note") or None,
        )
        before = Scope(reg.catalog, user.roles)
        seen = {f.sha256: before.sees(f.sha256) for f in upload.files}
        results = list(
            reg.iter_ingest(
                [upload.folder],
                sub,
                workers=server.config.workers,
                isolate=True,
                limits=_limits(server),
            )
        )
        after = server.scope(reg, user)
        names = _names(upload)
        out = []
        for result in results:
            record = _tidy(result.to_dict(), upload, names)
            out.append(after.ingest_result(record, seen.get(result.sha256 or "", False)))
        return {"results": out}

    return await _spool(request, server, work)


@router.post(
    "/match",
    summary="Compare uploaded files with your cases, as `match --json`",
    openapi_extra=_FORM,
)
async def post_match(
    request: Request, user: User, case: Annotated[str | None, Query(min_length=1)] = None
) -> dict[str, Any]:
    server = server_of(request)

    def work(upload: Upload) -> dict[str, Any]:
        reg = server.registry()
        roles = user.roles
        if case is not None:
            Scope(None, roles).require(case)
            roles = {case: roles[case]}
        if not roles:
            raise NotVisible("no case")
        names = _names(upload)
        found = list(reg.match([upload.folder], MatchConfig(), limits=_limits(server)))
        scope = Scope(reg.catalog, roles)
        results = []
        for record in found:
            tidy = _tidy(record, upload, names)
            results.append(scope.match_result(tidy, tidy["path"]))
        details = {
            "cases": sorted(roles),
            "files": [{"name": r["path"], "sha256": r.get("sha256")} for r in results],
            "items": sorted({m["sha256"] for r in results for m in r["matches"]}),
        }
        server.log(user, ACCESS_SEARCHED, request, details)
        return {"results": results}

    return await _spool(request, server, work)


def _names(upload: Upload) -> dict[str, str]:
    """The client's name of each spooled file, by its path in the spool."""
    return {f.path: f.name for f in upload.files}


def _tidy(record: dict[str, Any], upload: Upload, names: dict[str, str]) -> dict[str, Any]:
    """A record with the client's file name for the spool path (also inside errors)."""
    out = dict(record)
    path = str(out.get("path") or "")
    name = names.get(path) or os.path.basename(path)
    out["path"] = name
    for key in ("error",):
        if isinstance(out.get(key), str):
            out[key] = out[key].replace(path, name).replace(upload.folder, "")
    return out


# --- decisions, notes, roles ------------------------------------------------------------


class Decision(BaseModel):
    a: str = Field(pattern=SHA256, description="One item of the pair.")
    b: str = Field(pattern=SHA256, description="The other.")
    decision: Literal["confirmed", "rejected"]
    reason: str | None = Field(None, max_length=2000)
    case: str | None = Field(
        None, description="The case decided in (needed when several of yours hold both)."
    )


@router.post("/neardups/decision", summary="Confirm or reject a near-duplicate pair")
def post_decision(request: Request, user: User, body: Decision) -> dict[str, Any]:
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    pair = _visible_pair(scope, body.a, body.b)
    case = body.case or _case_of_pair(scope, body.a, body.b)
    scope.require(case, "decide")
    entry = decide(
        reg, body.a, body.b, body.decision, case=case, actor=user.name, reason=body.reason
    )
    pair = _visible_pair(server.scope(reg, user), body.a, body.b)
    return {"seq": entry["seq"], "a": body.a, "b": body.b, "pair": pair}


def _visible_pair(scope: Scope, a: str, b: str) -> dict[str, Any]:
    for pair in scope.doc(a)["near_duplicates"]:
        if pair["sha256"] == b:
            return pair
    raise NotVisible("pair")


def _case_of_pair(scope: Scope, a: str, b: str) -> str:
    both = sorted(set(scope.cases_of(a)) & set(scope.cases_of(b)))
    if not both:
        raise ValueError("no case of yours holds both items; decide in a case that does")
    allowed = [c for c in both if c in scope.cases_allowing("decide")]
    if len(allowed) > 1:
        raise ValueError(
            f"both items are in several of your cases ({', '.join(allowed)}): say which in 'case'"
        )
    return allowed[0] if allowed else both[0]  # a case the role forbids: 403 next


class Note(BaseModel):
    case: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=20_000)


@router.post("/items/{sha256}/notes", summary="Add a note to an item in one of your cases")
def post_note(
    request: Request, user: User, sha256: Annotated[str, Path(pattern=SHA256)], body: Note
) -> dict[str, Any]:
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    if body.case not in scope.cases_of(sha256):
        raise NotVisible(sha256)
    scope.require(body.case, "note")
    entry = add_note(reg, sha256, body.text, actor=user.name, case=body.case)
    return {"seq": entry["seq"]}


class Grant(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "editor", "manager", "owner"]


@router.post("/cases/{case}/roles", summary="Give someone a role in your case (manager+)")
def post_role(request: Request, user: User, case: str, body: Grant) -> dict[str, Any]:
    server = server_of(request)
    reg = server.registry()
    mine = server.scope(reg, user).require(case, "grant")
    entry = grant(reg, body.name, case, body.role, actor=user.name, as_role=mine)
    return {"seq": entry["seq"], "name": body.name, "case": case, "role": body.role}


@router.delete("/cases/{case}/roles/{name}", summary="Take someone's role in your case away")
def delete_role(request: Request, user: User, case: str, name: str) -> dict[str, Any]:
    server = server_of(request)
    reg = server.registry()
    mine = server.scope(reg, user).require(case, "grant")
    entry = revoke(reg, name, case, actor=user.name, as_role=mine)
    return {"seq": entry["seq"], "name": name, "case": case}


# --- exports ------------------------------------------------------------------------------


class ExportRequest(BaseModel):
    format: Literal[tuple(FORMATS)]  # type: ignore[valid-type]
    case: str = Field(min_length=1)


@router.post(
    "/exports",
    summary="Export a case (manager+): the package as a zip",
    response_class=FileResponse,
)
def post_export(request: Request, user: User, body: ExportRequest) -> FileResponse:
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    scope.require(body.case, "export")
    spool = RunStaging(server.uploads).open()
    try:
        package = _package(reg, scope, spool, body, user)
        result, archive = package
        details = {
            "case": body.case,
            "format": body.format,
            "export_seq": result.seq,
            "items": result.items,
        }
        server.log(user, ACCESS_EXPORTED, request, details)
    except BaseException:
        spool.close()
        raise
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=f"{body.case}-{body.format}.zip",
        background=BackgroundTask(spool.close),
    )


def _package(
    reg: Registry, scope: Scope, spool: RunStaging, body: ExportRequest, user: Identity
) -> tuple[Any, str]:
    out = os.path.join(spool.folder, "package")
    result = export(reg, body.format, out, case=body.case, actor=user.name, only=scope)
    archive = os.path.join(spool.folder, "package.zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder, _, files in os.walk(out):
            for name in sorted(files):
                path = os.path.join(folder, name)
                zf.write(path, os.path.relpath(path, out))
    return result, archive
