"""``POST /api/v1/login``: a password for a bearer token (the way a browser, such as the
review UI of issue 16, gets one). The password is checked with Argon2 (in a pool thread:
it is slow on purpose); attempts per account are rate-limited like requests per token.
The token lives ``LOGIN_DAYS`` and is logged as ``token.created`` by the account itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from registry.accounts import accounts_view, create_token, login
from registry.server.state import server_of

router = APIRouter()
LOGIN_DAYS = 1.0


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login", summary="Exchange a password for a bearer token (one day)")
def post_login(request: Request, body: Credentials) -> dict[str, Any]:
    server = server_of(request)
    if not server.logins.allow(body.name):
        raise HTTPException(429, "too many attempts for this account", {"Retry-After": "1"})
    reg = server.registry()
    if not login(accounts_view(reg.catalog), body.name, body.password):
        raise HTTPException(401, "wrong name or password")
    made = create_token(reg, body.name, actor=body.name, expires_days=LOGIN_DAYS)
    return {"id": made["id"], "token": made["token"], "expires_at": made["expires_at"]}
