"""What the routes share (``Server``) and who is asking (``current_user``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from registry.accounts import Identity, Scope, accounts_view, authenticate
from registry.core import Registry
from registry.custody import access
from registry.server.accesslog import AccessLog
from registry.server.config import UPLOADS, Registries, ServerConfig
from registry.server.limits import RateLimiter

_bearer = HTTPBearer(auto_error=False, description="evd_... token (`evidence token create`)")


@dataclass
class Server:
    """What the routes share: the configuration, the per-thread registries, the
    access log and the rate limiter."""

    config: ServerConfig
    registries: Registries
    access: AccessLog
    limiter: RateLimiter
    logins: RateLimiter

    @property
    def uploads(self) -> str:
        return os.path.join(self.config.registry, UPLOADS)

    def registry(self) -> Registry:
        """This thread's registry (call in the thread that uses it)."""
        return self.registries.get()

    def scope(self, reg: Registry, user: Identity) -> Scope:
        return Scope(reg.catalog, user.roles)

    def log(
        self,
        user: Identity,
        action: str,
        request: Request,
        details: dict[str, Any],
        sha256: str | None = None,
    ) -> dict[str, Any]:
        """Log one access entry of this request (durably, before the answer leaves)."""
        query = f"?{request.url.query}" if request.url.query else ""
        details = {"request": f"{request.method} {request.url.path}{query}", **details}
        [entry] = self.access.record([access(user.name, action, details, sha256)])
        return entry


def server_of(request: Request) -> Server:
    return request.app.state.server


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The user of a valid bearer token (401 otherwise; 429 over the rate)."""
    server = server_of(request)
    user = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        user = authenticate(accounts_view(server.registry().catalog), credentials.credentials)
    if user is None:
        raise HTTPException(401, "a valid bearer token is needed", {"WWW-Authenticate": "Bearer"})
    if not server.limiter.allow(user.token_id):
        raise HTTPException(429, "too many requests for this token", {"Retry-After": "1"})
    return user
