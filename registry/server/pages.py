"""The review UI's frame: templates (Jinja2, ``templates/``), static files
(``static/``: one stylesheet, one script, no build step, nothing from another host),
the headers every page carries, error pages, and the pages that are not about evidence:
login, logout, the list of one's cases, preferences.

Pages follow the API's rules: the same ``Scope`` (``registry.accounts``) cuts what they
show, the same functions do what they do, **404 for anything the user may not see**
(the same page whether it exists or not), 403 when a role forbids an action, and every
page that shows evidence is one ``access.*`` custody entry (``Server.log``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from registry.accounts import Identity, revoke_token
from registry.errors import RegistryError
from registry.server import sessions
from registry.server.gallery import Galleries
from registry.server.login import sign_in
from registry.server.media import Pictures
from registry.server.prefs import Prefs
from registry.server.state import server_of

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
STATIC = os.path.join(HERE, "static")
#: Nothing a page loads comes from another host; no inline script or style runs.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    # Not "no-referrer": with it, browsers send "Origin: null" on form posts, which
    # OriginCheck rightly refuses. No referrer ever leaves for another host either way.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)
PageUser = Annotated[Identity, Depends(sessions.page_user)]
WritingUser = Annotated[Identity, Depends(sessions.writing_user)]


@dataclass
class UI:
    """What the pages share: gallery rows, the picture cache, preferences, templates."""

    galleries: Galleries
    pictures: Pictures
    prefs: Prefs
    env: jinja2.Environment


def make_ui(root: str, config: Any) -> UI:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(short=short, link=link, when=when, size=size, shown=shown)
    return UI(Galleries(config.match), Pictures(root), Prefs(root), env)


def ui_of(request: Request) -> UI:
    return server_of(request).ui


# --- template helpers ---------------------------------------------------------------------


def short(sha: Any, n: int = 12) -> str:
    return str(sha or "")[:n]


def link(url: Any) -> Markup:
    """A source link: an anchor for http(s) URLs (never followed by the server; no
    referrer sent), plain text for anything else."""
    text = str(url or "")
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https"):
        return Markup("<span class='url'>{}</span>").format(text)
    return Markup(
        "<a class='url' href='{}' rel='noreferrer noopener' target='_blank'>{}</a>"
    ).format(text, text)


def when(value: Any) -> str:
    text = str(value or "")
    return text.replace("T", " ")[:25] if text else "–"


def shown(value: Any) -> str:
    """A metadata value as text: JSON for structures, a dash for nothing."""
    if value is None or value == "" or value == {} or value == []:
        return "–"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:299] + "…"


def size(value: Any) -> str:
    try:
        return f"{int(value):,} bytes"
    except (TypeError, ValueError):
        return "–"


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page: ``templates/name`` with the user, the CSRF token and preferences."""
    ui = ui_of(request)
    user = context.pop("user", None)
    token = sessions.session_token(request) or ""
    base = {
        "user": user,
        "csrf": sessions.csrf_of(token) if user else "",
        "prefs": ui.prefs.of(user.name) if user else dict(reveal=False),
        "roles": dict(sorted(user.roles.items())) if user else {},
        "case": None,
        "path": request.url.path,
        "thresholds": server_of(request).config.match,
    }
    html = ui.env.get_template(name).render({**base, **context})
    return HTMLResponse(html, status, headers=HEADERS)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    user = None
    try:
        user = sessions.session_user(request)
    except (HTTPException, RegistryError):
        user = None
    return render(request, "error.html", status, user=user, code=status, message=message)


def secure(response: Response) -> Response:
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)
    return response


# --- login, logout, cases, preferences ----------------------------------------------------


@router.get("/login")
def get_login(request: Request, next: str = "/") -> Response:
    response = HTMLResponse("")
    token = sessions.login_csrf(request, response)
    page = render(request, "login.html", login_csrf=token, next=sessions.local(next), error=None)
    for value in response.headers.getlist("set-cookie"):
        page.headers.append("set-cookie", value)
    return page


@router.post("/login")
def post_login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = sessions.local(next)
    if not sessions.login_csrf_ok(request, csrf):
        return _login_again(request, target, "The form had expired: please sign in again.", 403)
    if not username or not password:
        return _login_again(request, target, "Name and password, please.", 401)
    server = server_of(request)
    try:
        made = sign_in(server, username, password, server.config.session_hours / 24)
    except HTTPException as exc:
        return _login_again(request, target, str(exc.detail).capitalize() + ".", exc.status_code)
    response = RedirectResponse(target, 303)
    sessions.start(response, request, made["token"], server.config.session_hours)
    return secure(response)


def _login_again(request: Request, target: str, message: str, status: int) -> Response:
    response = HTMLResponse("")
    token = sessions.login_csrf(request, response)
    page = render(request, "login.html", status, login_csrf=token, next=target, error=message)
    for value in response.headers.getlist("set-cookie"):
        page.headers.append("set-cookie", value)
    return page


@router.post("/logout")
def post_logout(request: Request, user: WritingUser) -> Response:
    server = server_of(request)
    revoke_token(server.registry(), user.token_id, actor=user.name)
    response = RedirectResponse("/login", 303)
    sessions.end(response)
    return secure(response)


@router.get("/")
def get_cases(request: Request, user: PageUser) -> Response:
    server = server_of(request)
    reg = server.registry()
    ui = ui_of(request)
    cases = []
    for case, role in sorted(user.roles.items()):
        rows = ui.galleries.of(reg, case)
        waiting, _ = rows.waiting(0, 1)
        cases.append({"case": case, "role": role, "items": len(rows.rows), "waiting": waiting})
    return render(request, "cases.html", user=user, cases=cases)


@router.get("/prefs")
def get_prefs(request: Request, user: PageUser) -> Response:
    return render(request, "prefs.html", user=user, saved=False)


@router.post("/prefs")
def post_prefs(
    request: Request, user: WritingUser, reveal: Annotated[str, Form()] = ""
) -> Response:
    ui_of(request).prefs.set(user.name, reveal=reveal == "on")
    return render(request, "prefs.html", user=user, saved=True)
