"""Logins for the reviewers' desk: the login and logout routes, the current user, role checks and
CSRF tokens.

The signed session cookie (Starlette's ``SessionMiddleware``, set up in ``web.app``) holds the user
id, the user's session version and the CSRF token; nothing lives in one process's memory. A user
whose account is disabled, whose password changed or who logged out elsewhere (a new session
version) is logged out on the next request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hiljade.errors import AccountError
from hiljade.services.accounts import (
    ROLES,
    User,
    disable,
    end_sessions,
    list_users,
    login,
    user_for_session,
)
from hiljade.web import templating  # templating imports this module too: call it as templating.render
from hiljade.web.i18n import language, register, t

__all__ = ["User", "check_csrf", "csrf_token", "current_user", "require", "routes"]

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
AFTER_LOGIN = "/review"
MAX_FIELD = 1024

register({
    "login.title": {"sr": "Prijava", "en": "Log in"},
    "login.intro": {"sr": "Prijava za recenzente.", "en": "Log in to review reports."},
    "login.name": {"sr": "Korisničko ime", "en": "User name"},
    "login.password": {"sr": "Lozinka", "en": "Password"},
    "login.submit": {"sr": "Prijavi se", "en": "Log in"},
    "login.logout": {"sr": "Odjavi se", "en": "Log out"},
    "login.wrong": {"sr": "Pogrešno ime ili lozinka.", "en": "Wrong name or password."},
    "login.throttled": {
        "sr": "Previše neuspelih pokušaja. Pokušajte ponovo kasnije.",
        "en": "Too many failed attempts. Try again later.",
    },
    "login.csrf": {
        "sr": "Obrazac je istekao ili nije sa ovog sajta. Osvežite stranicu i pokušajte ponovo.",
        "en": "The form has expired or did not come from this site. Reload the page and try again.",
    },
    "login.forbidden": {
        "sr": "Ova stranica je samo za administratore.", "en": "This page is for admins only.",
    },
    "users.title": {"sr": "Korisnici", "en": "Users"},
    "users.role": {"sr": "Uloga", "en": "Role"},
    "users.role.reviewer": {"sr": "recenzent", "en": "reviewer"},
    "users.role.admin": {"sr": "administrator", "en": "admin"},
    "users.state": {"sr": "Stanje", "en": "State"},
    "users.active": {"sr": "aktivan", "en": "active"},
    "users.disabled": {"sr": "onemogućen", "en": "disabled"},
    "users.added": {"sr": "Dodat", "en": "Added"},
    "users.disable": {"sr": "Onemogući", "en": "Disable"},
    "users.disabled_now": {
        "sr": "Korisnik je onemogućen i odjavljen.", "en": "The user is disabled and logged out.",
    },
    "users.not_self": {"sr": "Ne možete onemogućiti sebe.", "en": "You cannot disable yourself."},
    "users.unknown": {"sr": "Nema takvog korisnika.", "en": "No such user."},
    "users.cli": {
        "sr": "Nove korisnike i lozinke dodajte komandom hiljade users add / hiljade users passwd.",
        "en": "Add users and set passwords with hiljade users add / hiljade users passwd.",
    },
})


def _session(request: Request) -> dict[str, Any] | None:
    """The signed session, or None when the app runs without one."""
    return request.session if "session" in request.scope else None


def current_user(request: Request) -> User | None:
    """The logged-in user of this request, or None (a stale session is emptied)."""
    if "hiljade_user" in request.scope:
        return request.scope["hiljade_user"]
    session = _session(request)
    user = None
    if session and isinstance(session.get("user_id"), int) and isinstance(session.get("version"), int):
        if _fresh(request, session.get("since")):
            user = user_for_session(request.app.state.store, session["user_id"], session["version"])
        if user is None:
            session.clear()
    request.scope["hiljade_user"] = user
    return user


def _fresh(request: Request, since: object) -> bool:
    """Whether a login made at ``since`` (seconds) is younger than ``web.session_max_age_seconds``:
    a session ends that long after the login, however active (the cookie alone would slide)."""
    max_age = int(request.app.state.config.get("web.session_max_age_seconds"))
    return isinstance(since, int) and 0 <= time.time() - since <= max_age


def require(request: Request, role: str = "reviewer") -> User:
    """The logged-in user allowed ``role`` (an admin is also a reviewer). Not logged in: an HTTP 303
    to /login (coming back here after a GET); logged in with too small a role: HTTP 403."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    user = current_user(request)
    if user is None:
        target = "/login"
        if request.method == "GET":
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target += "?next=" + quote(here, safe="")
        raise HTTPException(status_code=303, headers={"Location": target})
    if role == "admin" and user.role != "admin":
        raise HTTPException(status_code=403, detail=t(language(request), "login.forbidden"))
    return user


def csrf_token(request: Request, *, create: bool = False) -> str:
    """This session's CSRF token; made when ``create`` or when someone is logged in (an anonymous
    visitor of the public pages gets no session cookie). Empty when there is none."""
    session = _session(request)
    if session is None:
        return ""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        if not (create or current_user(request)):
            return ""
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf(request: Request, form: Mapping[str, Any]) -> None:
    """Refuse (HTTP 403) a state-changing request without this session's CSRF token, in the form
    field ``csrf`` or the ``X-CSRF-Token`` header."""
    session = _session(request)
    expected = session.get(CSRF_FIELD) if session is not None else None
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if (not isinstance(expected, str) or not expected or not isinstance(given, str)
            or not secrets.compare_digest(given.encode(), expected.encode())):
        raise HTTPException(status_code=403, detail=t(language(request), "login.csrf"))


def local_path(target: str | None, default: str = AFTER_LOGIN) -> str:
    """``target`` when it is a path on this site, else ``default``: no redirect to another host."""
    if not target or len(target) > 2048:
        return default
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\"))
            or any(c in target for c in "\\\r\n\t") or not target.isprintable()):
        return default
    return target


def client_address(request: Request) -> str:
    """The client's address (behind a reverse proxy, as uvicorn's ``--proxy-headers`` gives it)."""
    return request.client.host if request.client else "unknown"


async def login_page(request: Request) -> Response:
    """GET /login: the form."""
    return _form(request, local_path(request.query_params.get("next")))


def _form(request: Request, next_path: str, error: str = "", status_code: int = 200,
          name: str = "") -> Response:
    csrf_token(request, create=True)
    return templating.render(
        request, "login.html", status_code=status_code, next=next_path, error=error, typed_name=name
    )


async def login_submit(request: Request) -> Response:
    """POST /login: check the CSRF token, the throttle, the name and password; then a new session."""
    form = await request.form()
    next_path = local_path(_text(form.get("next")))
    lang = language(request)
    try:
        check_csrf(request, form)
    except HTTPException:
        return _form(request, next_path, t(lang, "login.csrf"), 403)
    name = _text(form.get("name"))
    result = login(
        request.app.state.config, request.app.state.store, name, _text(form.get("password")),
        client_address(request),
    )
    if result.throttled:
        return _form(request, next_path, t(lang, "login.throttled"), 429, name)
    if result.user is None:
        return _form(request, next_path, t(lang, "login.wrong"), 401, name)
    session = request.session
    session.clear()
    session.update(user_id=result.user.id, version=result.user.session_version,
                   since=int(time.time()), csrf=secrets.token_urlsafe(32))
    request.scope["hiljade_user"] = result.user
    return RedirectResponse(next_path, status_code=303)


async def logout(request: Request) -> Response:
    """POST /logout: ends every session of the user (on every device) and empties this one."""
    form = await request.form()
    check_csrf(request, form)
    user = current_user(request)
    if user is not None:
        end_sessions(request.app.state.store, user.id)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


async def users_page(request: Request) -> Response:
    """GET /users (admins): every account, with a button to disable it."""
    require(request, "admin")
    done = t(language(request), "users.disabled_now") if request.query_params.get("done") else ""
    return _users(request, done=done)


def _users(request: Request, error: str = "", done: str = "", status_code: int = 200) -> Response:
    accounts = list_users(request.app.state.store)
    return templating.render(
        request, "users.html", status_code=status_code, accounts=accounts, error=error, done=done
    )


async def users_disable(request: Request) -> Response:
    """POST /users/disable (admins): disable an account; its open sessions end."""
    user = require(request, "admin")
    form = await request.form()
    check_csrf(request, form)
    lang = language(request)
    name = _text(form.get("name"))
    if name == user.name:
        return _users(request, error=t(lang, "users.not_self"), status_code=400)
    try:
        disable(request.app.state.store, name)
    except AccountError:
        return _users(request, error=t(lang, "users.unknown"), status_code=404)
    return RedirectResponse("/users?done=1", status_code=303)


def _text(value: Any) -> str:
    """A form field as text (a file upload or an oversized field counts as empty)."""
    return value if isinstance(value, str) and len(value) <= MAX_FIELD else ""


routes: list[BaseRoute] = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login_submit, methods=["POST"], name="login_submit"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/users", users_page, methods=["GET"], name="users"),
    Route("/users/disable", users_disable, methods=["POST"], name="users_disable"),
]
