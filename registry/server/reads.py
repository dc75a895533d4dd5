"""Read endpoints: cases, items (as ``show --json`` and ``list --json``), originals,
clusters, custody entries and verification. Each answer goes through the user's
``Scope`` (the permission filter) and each read of evidence is one ``access.*``
custody entry, logged before the answer leaves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse

from registry.accounts import Identity, NotVisible, accounts_view
from registry.custody import ACCESS_DOWNLOADED, ACCESS_VIEWED
from registry.server.state import current_user, server_of

router = APIRouter()
SHA256 = r"^[0-9a-f]{64}$"
Sha = Annotated[str, Path(pattern=SHA256, description="The item's full SHA-256 (hex).")]
User = Annotated[Identity, Depends(current_user)]


@router.get("/cases", summary="Your cases, your role in each, their items and members")
def get_cases(request: Request, user: User) -> dict[str, Any]:
    server = server_of(request)
    catalog = server.registry().catalog
    members = accounts_view(catalog)
    cases = [
        {
            "case": case,
            "role": role,
            "items": len(catalog.shas(case)),
            "members": members.members(case),
        }
        for case, role in sorted(user.roles.items())
    ]
    return {"cases": cases}


@router.get("/items", summary="The items of a case, as `list --json`")
def get_items(
    request: Request, user: User, case: Annotated[str, Query(min_length=1)]
) -> dict[str, Any]:
    server = server_of(request)
    scope = server.scope(server.registry(), user)
    scope.require(case)
    items = list(scope.items(case))
    server.log(user, ACCESS_VIEWED, request, {"case": case, "items": [i["sha256"] for i in items]})
    return {"items": items}


@router.get("/items/{sha256}", summary="One item, as `show --json`")
def get_item(request: Request, user: User, sha256: Sha) -> dict[str, Any]:
    server = server_of(request)
    scope = server.scope(server.registry(), user)
    item = scope.item(sha256)
    server.log(user, ACCESS_VIEWED, request, {"cases": scope.cases_of(sha256)}, sha256)
    return item


@router.get(
    "/items/{sha256}/original",
    summary="The original bytes from the vault (Range requests supported)",
    response_class=FileResponse,
)
def get_original(request: Request, user: User, sha256: Sha) -> FileResponse:
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    doc = scope.doc(sha256)
    path = reg.vault.path(sha256)
    details = {"cases": scope.cases_of(sha256)}
    if request.headers.get("range"):
        details["range"] = request.headers["range"][:100]
    server.log(user, ACCESS_DOWNLOADED, request, details, sha256)
    return FileResponse(
        path,
        media_type=doc.get("mime") or "application/octet-stream",
        filename=f"{sha256}.{doc.get('format') or 'bin'}",
        content_disposition_type="attachment",
    )


@router.get("/dupes", summary="Clusters of near-duplicates, as `dupes --json`")
def get_dupes(
    request: Request, user: User, case: Annotated[str | None, Query(min_length=1)] = None
) -> dict[str, Any]:
    server = server_of(request)
    scope = server.scope(server.registry(), user)
    if case is not None:
        scope.require(case)
    elif not user.roles:
        raise NotVisible("no case")
    found = scope.clusters(case)
    members = sorted({m for c in found for m in c["members"]})
    where = {"case": case} if case is not None else {"cases": sorted(scope.cases)}
    server.log(user, ACCESS_VIEWED, request, {**where, "items": members})
    return {"clusters": found}


@router.get("/custody", summary="Custody entries (of one item), as `custody --json`")
def get_custody(
    request: Request,
    user: User,
    sha256: Annotated[str | None, Query(pattern=SHA256)] = None,
) -> dict[str, Any]:
    server = server_of(request)
    reg = server.registry()
    scope = server.scope(reg, user)
    if (sha256 is not None and not scope.sees(sha256)) or not user.roles:
        raise NotVisible(sha256 or "no case")
    entries = list(scope.entries(reg.custody(sha256)))
    if sha256 is not None:
        server.log(user, ACCESS_VIEWED, request, {"cases": scope.cases_of(sha256)}, sha256)
    else:
        server.log(user, ACCESS_VIEWED, request, {"cases": sorted(scope.cases)})
    return {"entries": entries}


@router.get("/verify", summary="Verify the registry (problems of your items in full)")
def get_verify(request: Request, user: User) -> dict[str, Any]:
    server = server_of(request)
    reg = server.registry()
    if not user.roles:
        raise NotVisible("no case")
    report = reg.verify(actor=user.name)
    return server.scope(reg, user).verify_report(report)
