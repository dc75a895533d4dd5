"""Browser sessions of the review UI, and their CSRF tokens.

A session *is* a token of the team server: logging in at ``/login`` checks the password
as ``POST /api/v1/login`` does (``login.sign_in``: Argon2, attempts rate-limited) and
makes a token that lives ``ServerConfig.session_hours`` (a ``token.created`` entry by
the user: every login is in the custody log); logging out revokes it
(``token.revoked``). The cookie holds that token, so what is kept at rest is only the
SHA-256 of its secret, a session expires when its token does, and a session is checked
exactly as a bearer token is (``registry.accounts.authenticate``). The cookie is
``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it)
and ``Secure`` when the server is reached over HTTPS.

CSRF: every form and every script's POST carries a token derived from the session's
secret (an HMAC of it), checked in constant time; nobody without the cookie can compute
it, and nothing needs to be stored. The login form, before there is a session, uses a
random token that is both a cookie and a form field (double submit). ``OriginCheck``
(``app``) refuses cross-origin writes before any of this is reached.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from registry.accounts import Identity, accounts_view, authenticate
from registry.accounts.secrets import split_token
from registry.server.state import server_of

SESSION_COOKIE = "evidence_session"
LOGIN_COOKIE = "evidence_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to ``/login``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class BadCsrf(Exception):
    """A write without the session's CSRF token (403)."""


def csrf_of(token: str) -> str:
    """The CSRF token of a session token ('' for a malformed one)."""
    parts = split_token(token)
    if parts is None:
        return ""
    return hmac.new(parts[1].encode("ascii"), b"evidence-csrf", hashlib.sha256).hexdigest()


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def session_user(request: Request) -> Identity | None:
    """The user of the request's session cookie, or None (none, expired, revoked)."""
    token = session_token(request)
    if not token:
        return None
    server = server_of(request)
    user = authenticate(accounts_view(server.registry().catalog), token)
    if user is not None and not server.limiter.allow(user.token_id):
        from fastapi import HTTPException

        raise HTTPException(429, "too many requests", {"Retry-After": "1"})
    return user


def page_user(request: Request) -> Identity:
    """Dependency of every page: the session's user, or a redirect to the login."""
    user = session_user(request)
    if user is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise LoginRequired(request.url.path + query)
    return user


async def writing_user(request: Request) -> Identity:
    """Dependency of every page's POST: ``page_user`` with a valid CSRF token (form
    field ``csrf`` or header ``X-CSRF-Token``)."""
    user = page_user(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    expected = csrf_of(session_token(request) or "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise BadCsrf()
    return user


def start(response: Response, request: Request, token: str, hours: float) -> None:
    """Set the session cookie (see the module docstring)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")


def end(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def login_csrf(request: Request, response: Response) -> str:
    """The login form's token: the one in its cookie, or a new one (set here)."""
    token = request.cookies.get(LOGIN_COOKIE)
    if not token or len(token) != 43:
        token = secrets.token_urlsafe(32)
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/login",
        )
    return token


def login_csrf_ok(request: Request, sent: str | None) -> bool:
    kept = request.cookies.get(LOGIN_COOKIE) or ""
    return bool(sent and kept) and hmac.compare_digest(str(sent), kept)


def local(path: str | None, default: str = "/") -> str:
    """``path`` if it is a path on this server (a redirect target), else ``default``."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def login_url(path: str) -> str:
    return "/login?next=" + quote(local(path), safe="/")
