"""Opening the configured store, creating it, and the pseudonym key."""

from __future__ import annotations

from pathlib import Path

from hiljade.config import Config
from hiljade.models.posts import AuthorPolicy
from hiljade.models.store import Store
from hiljade.privacy import ensure_secret, load_secret, secret_path


def open_store(config: Config, *, check: bool = True) -> Store:
    """The configured store; with ``check``, StoreError unless `hiljade init` has run."""
    store = Store(config.database_url, busy_timeout_seconds=config.get("database.busy_timeout_seconds", 30))
    if check:
        store.check_schema()
    return store


def key_path(config: Config) -> Path:
    """Where the generated pseudonym key lives."""
    return secret_path(config.get("privacy.secret_file", ""), config.database_url)


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


