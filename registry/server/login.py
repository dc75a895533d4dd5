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
from registry.server.state import Server, server_of

router = APIRouter()
LOGIN_DAYS = 1.0


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login", summary="Exchange a password for a bearer token (one day)")
def post_login(request: Request, body: Credentials) -> dict[str, Any]:
    made = sign_in(server_of(request), body.name, body.password, LOGIN_DAYS)
    return {"id": made["id"], "token": made["token"], "expires_at": made["expires_at"]}


def sign_in(server: Server, name: str, password: str, days: float) -> dict[str, Any]:
    """A fresh token of ``days`` for ``name`` when ``password`` is theirs (the API's
    login and the review UI's: the UI's session cookie holds that token).

    Raises:
        HTTPException: 429 over the attempts of this account, 401 for a wrong pair.
    """
    if not server.logins.allow(name):
        raise HTTPException(429, "too many attempts for this account", {"Retry-After": "1"})
    reg = server.registry()
    if not login(accounts_view(reg.catalog), name, password):
        raise HTTPException(401, "wrong name or password")
    return create_token(reg, name, actor=name, expires_days=days)
