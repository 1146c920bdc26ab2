"""Opening the configured store, creating it, the pseudonym key, and the run lock."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from hiljade.config import Config
from hiljade.errors import StoreError
from hiljade.models.ledger import interrupt_running
from hiljade.models.posts import AuthorPolicy
from hiljade.models.runlock import RunLock, run_lock
from hiljade.models.store import Store
from hiljade.privacy import ensure_secret, load_secret, secret_path

__all__ = ["Store", "author_policy", "hold_run_lock", "init", "key_path", "open_store"]


def open_store(config: Config, *, check: bool = True) -> Store:
    """The configured store; with ``check``, StoreError unless `hiljade init` has run."""
    store = Store(config.database_url, busy_timeout_seconds=config.get("database.busy_timeout_seconds"))
    if check:
        store.check_schema()
    return store


def key_path(config: Config) -> Path:
    """Where the generated pseudonym key lives."""
    return secret_path(config.get("privacy.secret_file"), config.database_url)


def init(config: Config) -> tuple[Store, str | None, str, bool]:
    """Create or upgrade the database and the pseudonym key; returns (store, before, after, key created)."""
    store = open_store(config, check=False)
    before, after = store.migrate()
    created = ensure_secret(key_path(config))
    return store, before, after, created


def author_policy(config: Config) -> AuthorPolicy:
    return AuthorPolicy(
        secret=load_secret(key_path(config)), store_handles=bool(config.get("privacy.store_handles"))
    )


@contextlib.contextmanager
def hold_run_lock(
    config: Config, command: str, *, wait: float, should_stop: Callable[[], bool] | None = None
) -> Iterator[RunLock]:
    """The run lock of the configured database for ``command`` (one writer at a time); LockBusy names
    the holder when it is not free within ``wait`` seconds (or once ``should_stop`` says so). Once it
    is taken, ledger rows left ``running`` by a run that died are marked ``interrupted``."""
    with run_lock(config.database_url, command=command, wait=wait, should_stop=should_stop) as lock:
        interrupt_dead_runs(config, command)
        yield lock


def interrupt_dead_runs(config: Config, command: str) -> int:
    """Mark the ledger rows of runs that died ``interrupted`` (call it holding the run lock)."""
    store = open_store(config, check=False)
    try:
        with store.transaction() as conn:
            return interrupt_running(conn, dt.datetime.now(dt.UTC), by=command)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot write the ledger of {store.safe_url}: {exc}") from exc
    finally:
        store.close()
