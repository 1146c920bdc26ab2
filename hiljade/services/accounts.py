"""User accounts of the reviewers' desk: adding, listing, disabling, passwords (Argon2), and login
with throttling per account name and per client address, recorded in the database so that every
worker process sees the same counts.

A login answers the same whether the account exists or not: an unknown name, a wrong password and
a disabled account are all "wrong name or password", and they count towards the same throttle.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from hiljade.config import Config
from hiljade.errors import AccountError, StoreError
from hiljade.models.accounts import (
    ROLES,
    User,
    add_user,
    all_users,
    change_user,
    failures_since,
    forget_attempts,
    record_attempt,
    user_by_id,
    user_by_name,
)
from hiljade.models.store import Store

__all__ = ["ROLES", "LoginResult", "User", "add", "disable", "end_sessions", "find_user",
           "generated_password", "list_users", "login", "set_password", "user_for_session"]

HASHER = PasswordHasher()
# verified when the name is unknown, so that an unknown name takes as long as a wrong password
DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))
NAME = re.compile(r"[\w.@-]{1,64}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


@dataclass(frozen=True)
class LoginResult:
    """A login's outcome: the user when it succeeded; ``throttled`` when it was not even tried."""

    user: User | None
    throttled: bool = False


def check_name(name: str) -> str:
    """A user name: 1 to 64 letters, digits and . _ - @ (no spaces)."""
    name = name.strip()
    if not NAME.fullmatch(name):
        raise AccountError("a user name is 1 to 64 letters, digits, dots, dashes, underscores or @")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


def generated_password() -> str:
    """A new random password (20 characters)."""
    return secrets.token_urlsafe(15)


def add(store: Store, name: str, role: str, password: str, *, now: dt.datetime | None = None) -> User:
    """Add a user with ``role`` (reviewer or admin) and ``password``."""
    name = check_name(name)
    if role not in ROLES:
        raise AccountError(f"unknown role {role}: use reviewer or admin")
    password_hash = HASHER.hash(check_password(password))
    try:
        with store.transaction() as conn:
            if user_by_name(conn, name) is not None:
                raise AccountError(f"a user called {name} exists already")
            user_id = add_user(conn, name, role, password_hash, now or dt.datetime.now(dt.UTC))
            user = user_by_id(conn, user_id)
    except StoreError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            raise AccountError(f"a user called {name} exists already") from exc
        raise
    assert user is not None
    return user


def list_users(store: Store) -> list[User]:
    """Every user, by name."""
    with store.connect() as conn:
        return all_users(conn)


def find_user(store: Store, name: str) -> User:
    """The user called ``name``; AccountError when there is none."""
    with store.connect() as conn:
        found = user_by_name(conn, name.strip())
    if found is None:
        raise AccountError(f"no user called {name}")
    return found[0]


def disable(store: Store, name: str) -> User:
    """Disable a user: they cannot log in, and their open sessions end."""
    user = find_user(store, name)
    with store.transaction() as conn:
        change_user(conn, user.id, disabled=True)
    return user


def set_password(store: Store, name: str, password: str) -> User:
    """Give a user a new password (it also enables a disabled user); their open sessions end."""
    user = find_user(store, name)
    password_hash = HASHER.hash(check_password(password))
    with store.transaction() as conn:
        change_user(conn, user.id, password_hash=password_hash, disabled=False)
    return user


def end_sessions(store: Store, user_id: int) -> None:
    """End every session of a user (logout): a new session version."""
    with store.transaction() as conn:
        change_user(conn, user_id)


def user_for_session(store: Store, user_id: int, session_version: int) -> User | None:
    """The user a session names, when it still may act: enabled and with the same session version."""
    with store.connect() as conn:
        user = user_by_id(conn, user_id)
    if user is None or user.disabled or user.session_version != session_version:
        return None
    return user


def login(config: Config, store: Store, name: str, password: str, client: str,
          *, now: dt.datetime | None = None) -> LoginResult:
    """Check a name and password. Refused without trying once the account name or the client
    address has ``web.login.max_failures`` failures within ``web.login.window_minutes``."""
    now = now or dt.datetime.now(dt.UTC)
    name = name.strip()[:64]
    client = client[:64]
    limit = int(config.get("web.login.max_failures"))
    since = now - dt.timedelta(minutes=float(config.get("web.login.window_minutes")))
    with store.transaction() as conn:
        forget_attempts(conn, now - dt.timedelta(days=float(config.get("web.login.keep_days"))))
        if (failures_since(conn, since=since, account=name) >= limit
                or failures_since(conn, since=since, client=client) >= limit):
            return LoginResult(None, throttled=True)
        found = user_by_name(conn, name) if password and len(password) <= MAX_PASSWORD else None
        ok = _verified(found[1] if found else None, password)
        user = found[0] if found and ok and not found[0].disabled else None
        record_attempt(conn, name, client, now, user is not None)
    return LoginResult(user)


def _verified(password_hash: str | None, password: str) -> bool:
    try:
        matches = HASHER.verify(password_hash or DUMMY_HASH, password[:MAX_PASSWORD])
        return matches and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
