"""The team server's ASGI app: authentication, errors, limits, and the routes of
``reads`` and ``writes`` under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``).

* 401 without a valid bearer token (malformed, unknown, revoked, expired); 429 over the
  per-token rate; 404 for anything the user may not see (never saying whether it
  exists); 403 when the user sees the case but the role forbids the action; 413 over
  the body limits; 422 for bad fields.
* Tokens are read from the ``Authorization`` header only (never a query string, which
  ends up in access logs), checked in constant time, and never logged.
* Cross-site requests: a browser's write request whose ``Origin`` is not this server's
  is refused (403) by ``OriginCheck``. That is the hook for the review UI's forms
  (issue 16): a cookie session added there must also check a CSRF token in
  ``OriginCheck.check``; bearer tokens are never sent by a browser on its own.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from ingest import EvidenceError
from registry.accounts import (
    AccountExists,
    NotPermitted,
    NotVisible,
    UnknownAccount,
)
from registry.custody import set_invocation
from registry.errors import (
    AmbiguousPrefix,
    ExportError,
    ItemNotFound,
    RegistryLocked,
    RegistryNotWritable,
)
from registry.server import login, reads, writes
from registry.server.accesslog import AccessLog
from registry.server.config import MAX_JSON_BYTES, Registries, ServerConfig
from registry.server.limits import LOGIN_BURST, LOGIN_RATE, RateLimiter
from registry.server.state import Server, current_user
from registry.server.uploads import BadForm, TooLarge, clear_dead
from registry.version import __version__

API = "/api/v1"
#: Endpoints whose bodies are uploads (the upload limit applies, not the JSON one).
UPLOAD_PATHS = (f"{API}/ingest", f"{API}/match")


class BodyLimit:
    """ASGI middleware: 413 for a declared body over the limit (uploads have theirs;
    their streamed bytes are counted again while they are spooled, ``uploads``)."""

    def __init__(self, app: Any, config: ServerConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            limit = self.config.max_upload if path in UPLOAD_PATHS else MAX_JSON_BYTES
            declared = dict(scope.get("headers") or []).get(b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                response = JSONResponse({"detail": f"request body over {limit} bytes"}, 413)
                await response(scope, receive, send)
                return
            query = scope.get("query_string", b"").decode("latin-1")
            # Entries the request writes record it (as the CLI's record its arguments).
            target = path + (f"?{query}" if query else "")
            set_invocation(["serve", scope.get("method", ""), target])
        await self.app(scope, receive, send)


class OriginCheck:
    """ASGI middleware: refuse a write request sent by a browser page of another origin
    (see the module docstring: the CSRF hook of issue 16)."""

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: Any) -> None:
        self.app = app

    @staticmethod
    def check(scope: dict[str, Any]) -> bool:
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin")
        if origin is None or scope.get("method") in OriginCheck.SAFE:
            return True
        host = headers.get(b"host", b"")
        return origin.split(b"://", 1)[-1] == host

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self.check(scope):
            response = JSONResponse({"detail": "cross-origin write refused"}, 403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


#: How the library's errors become HTTP answers. Not-found never says what was looked
#: for (it may be another case's).
_STATUS: list[tuple[type[BaseException], int, str | None]] = [
    (NotVisible, 404, "Not found"),
    (ItemNotFound, 404, "Not found"),
    (AmbiguousPrefix, 404, "Not found"),
    (UnknownAccount, 404, "Not found"),
    (NotPermitted, 403, None),
    (AccountExists, 409, None),
    (TooLarge, 413, None),
    (BadForm, 422, None),
    (ExportError, 422, None),
    (ValueError, 422, None),
    (RegistryLocked, 503, None),
    (RegistryNotWritable, 503, None),
    (EvidenceError, 400, None),
]


def _handler(status: int, fixed: str | None) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        detail = fixed or (exc.message if isinstance(exc, EvidenceError) else str(exc))
        return JSONResponse({"detail": detail}, status)

    return handle


def create_app(config: ServerConfig) -> FastAPI:
    """The app serving ``config.registry`` (``evidence serve`` runs it with uvicorn)."""
    config.check()
    registries = Registries(config)
    server = Server(
        config,
        registries,
        AccessLog(registries),
        RateLimiter(config.rate),
        RateLimiter(LOGIN_RATE, LOGIN_BURST),
    )
    os.makedirs(server.uploads, exist_ok=True)
    clear_dead(server.uploads)
    app = FastAPI(
        title="evidence registry",
        version=__version__,
        description="Team server of an evidence registry: every access is a custody entry.",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    app.state.server = server
    for kind, status, fixed in _STATUS:
        app.add_exception_handler(kind, _handler(status, fixed))
    app.include_router(login.router, prefix=API)
    app.include_router(reads.router, prefix=API, dependencies=[Depends(current_user)])
    app.include_router(writes.router, prefix=API, dependencies=[Depends(current_user)])
    app.add_middleware(OriginCheck)
    app.add_middleware(BodyLimit, config=config)
    return app


def run(config: ServerConfig, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve with uvicorn (``evidence serve``)."""
    import uvicorn

    app = create_app(config)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
