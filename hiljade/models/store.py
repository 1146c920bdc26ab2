"""The store: one database (SQLite file or PostgreSQL), its migrations, and its connections."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from hiljade.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"  # where alembic keeps the database's revision (env.py keeps the default)
# The newest migration's revision: what `check_schema` expects of a database. Written here so that a
# command need not load alembic to read the migration scripts (a quarter of a second at every start);
# `tests/test_store.py` checks it against alembic's own reading, so a new migration cannot forget it.
SCHEMA_HEAD = "0009"


def _alembic_config(connection: Connection | None = None) -> AlembicConfig:
    # deferred: alembic is heavy and only `hiljade init` needs it
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def make_engine(url: str, *, busy_timeout_seconds: float = 30) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout_seconds})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(parsed, pool_pre_ping=True)


class Store:
    """The database behind hiljade: migrations, schema checks and transactions."""

    def __init__(self, url: str, *, busy_timeout_seconds: float = 30) -> None:
        self.url = url
        try:
            self.engine = make_engine(url, busy_timeout_seconds=busy_timeout_seconds)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open database {self.safe_url}: {exc}") from exc

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> tuple[str | None, str]:
        """Create or upgrade the schema to the newest revision; returns (before, after)."""
        # deferred: alembic is heavy and only `hiljade init` migrates
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.begin() as conn:
                before = MigrationContext.configure(conn).get_current_revision()
                command.upgrade(_alembic_config(conn), "head")
                after = MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise StoreError(f"cannot reach database {self.safe_url}: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"migrating {self.safe_url} failed: {exc}") from exc
        return before, after or ""

    def check_schema(self) -> None:
        """Raise StoreError with the fix when the database is missing or behind the code."""
        head = SCHEMA_HEAD
        try:
            with self.engine.connect() as conn:
                stored = (
                    conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
                    if inspect(conn).has_table(VERSION_TABLE)
                    else []
                )
        except OperationalError as exc:
            raise StoreError(f"cannot reach database {self.safe_url}: {exc.orig}") from exc
        if len(stored) > 1:
            raise StoreError(
                f"database {self.safe_url} records {len(stored)} schema revisions at once, the code needs "
                f"{head}; run `hiljade init`"
            )
        current = stored[0] if stored else None
        if current is None:
            raise StoreError(f"database {self.safe_url} is not initialised; run `hiljade init` first")
        if current != head:
            raise StoreError(
                f"database {self.safe_url} is at schema {current}, the code needs {head}; run `hiljade init`"
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back on any error; a database
        error (a lock, a lost connection, a constraint) comes out as a StoreError."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read connection (database errors come out as a StoreError)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: SQLAlchemyError) -> StoreError:
        """A StoreError in plain words: the database's own message, not the statement or its values."""
        reason = getattr(exc, "orig", None) or exc
        text = " ".join(str(reason).split())[:300]
        return StoreError(f"database {self.safe_url}: {text}")

    def close(self) -> None:
        self.engine.dispose()
