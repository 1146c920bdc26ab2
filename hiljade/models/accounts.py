"""Accounts of the reviewers' desk: the users and the record of login attempts (for throttling).

The tables join ``Base.metadata`` here; migration 0007 creates them. Queries take the caller's
connection; only services open transactions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    Connection,
    Index,
    Integer,
    String,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from hiljade.models.schema import Base, UTCDateTime

ROLES = ("reviewer", "admin")


class UserAccount(Base):
    """A person who may log in to the reviewers' desk."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    session_version: Mapped[int] = mapped_column(Integer, default=1)


class LoginAttempt(Base):
    """One login attempt, kept to throttle guessing per account name and per client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_account_at", "account", "at"),
        Index("ix_login_attempts_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)


@dataclass(frozen=True)
class User:
    """A user as the services and the web see it (never the password hash)."""

    id: int
    name: str
    role: str
    disabled: bool
    created_at: dt.datetime
    session_version: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


USER_COLUMNS = (
    UserAccount.id,
    UserAccount.name,
    UserAccount.role,
    UserAccount.disabled,
    UserAccount.created_at,
    UserAccount.session_version,
)


def _user(row: object) -> User:
    return User(row.id, row.name, row.role, bool(row.disabled), row.created_at, int(row.session_version))  # type: ignore[attr-defined]


def add_user(conn: Connection, name: str, role: str, password_hash: str, now: dt.datetime) -> int:
    """Insert a user; returns its id."""
    result = conn.execute(
        insert(UserAccount).values(
            name=name, role=role, password_hash=password_hash, disabled=False, created_at=now,
            session_version=1,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def user_by_name(conn: Connection, name: str) -> tuple[User, str] | None:
    """The user called ``name`` and its password hash, or None."""
    row = conn.execute(
        select(*USER_COLUMNS, UserAccount.password_hash).where(UserAccount.name == name)
    ).one_or_none()
    return None if row is None else (_user(row), row.password_hash)


def user_by_id(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(*USER_COLUMNS).where(UserAccount.id == user_id)).one_or_none()
    return None if row is None else _user(row)


def all_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(*USER_COLUMNS).order_by(UserAccount.name))]


def change_user(conn: Connection, user_id: int, **values: object) -> None:
    """Set columns of a user and end its sessions (a new session_version)."""
    conn.execute(
        update(UserAccount)
        .where(UserAccount.id == user_id)
        .values(session_version=UserAccount.session_version + 1, **values)
    )


def record_attempt(conn: Connection, account: str, client: str, at: dt.datetime, ok: bool) -> None:
    conn.execute(insert(LoginAttempt).values(account=account, client=client, at=at, ok=ok))


def failures_since(conn: Connection, *, since: dt.datetime, account: str | None = None,
                   client: str | None = None) -> int:
    """Failed attempts at or after ``since`` for the account name (after its last success) or the client."""
    where = [LoginAttempt.at >= since, LoginAttempt.ok.is_(False)]
    if account is not None:
        last_ok = conn.execute(
            select(func.max(LoginAttempt.at))
            .where(LoginAttempt.account == account, LoginAttempt.ok.is_(True))
        ).scalar_one()
        where.append(LoginAttempt.account == account)
        if last_ok is not None:
            where.append(LoginAttempt.at > last_ok)
    if client is not None:
        where.append(LoginAttempt.client == client)
    return int(conn.execute(select(func.count()).select_from(LoginAttempt).where(*where)).scalar_one())


def forget_attempts(conn: Connection, before: dt.datetime) -> int:
    """Delete the attempts older than ``before``; returns how many."""
    return int(conn.execute(delete(LoginAttempt).where(LoginAttempt.at < before)).rowcount or 0)
