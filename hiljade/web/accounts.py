"""Logins for the reviewers' desk: the login and logout routes and the admins' users page (the
current user, role checks and CSRF tokens are in ``web.sessions``).

The signed session cookie (Starlette's ``SessionMiddleware``, set up in ``web.app``) holds the user
id, the user's session version and the CSRF token; nothing lives in one process's memory. A user
whose account is disabled, whose password changed or who logged out elsewhere (a new session
version) is logged out on the next request.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hiljade.errors import AccountError
from hiljade.services.accounts import (
    disable,
    end_sessions,
    list_users,
    login,
)
from hiljade.web.i18n import language, register, t
from hiljade.web.sessions import (
    check_csrf,
    client_address,
    csrf_token,
    current_user,
    local_path,
    require,
)
from hiljade.web.templating import render

__all__ = ["routes"]

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


async def login_page(request: Request) -> Response:
    """GET /login: the form."""
    return _form(request, local_path(request.query_params.get("next")))


def _form(request: Request, next_path: str, error: str = "", status_code: int = 200,
          name: str = "") -> Response:
    csrf_token(request, create=True)
    return render(
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
    return render(
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
