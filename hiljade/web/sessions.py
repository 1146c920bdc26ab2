"""Who is logged in: the current user, role checks, CSRF tokens and safe redirects, over the signed
session cookie (Starlette's ``SessionMiddleware``, set up in ``web.app``).

The cookie holds the user id, the user's session version, the login time and the CSRF token;
nothing lives in one process's memory. A user whose account is disabled, whose password changed or
who logged out elsewhere (a new session version) is logged out on the next request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request

from hiljade.services.accounts import ROLES, User, user_for_session
from hiljade.web.i18n import language, register, t

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
AFTER_LOGIN = "/review"

register({
    "login.csrf": {
        "sr": "Obrazac je istekao ili nije sa ovog sajta. Osvežite stranicu i pokušajte ponovo.",
        "en": "The form has expired or did not come from this site. Reload the page and try again.",
    },
    "login.forbidden": {
        "sr": "Ova stranica je samo za administratore.", "en": "This page is for admins only.",
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
