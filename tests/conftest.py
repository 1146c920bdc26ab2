"""Shared test fixtures: where ../shared is, and skipping cleanly when it is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HILJADE_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"
SKIP_NO_SHARED = "../shared/data is absent (fresh clone): the recorded third-party data is not here"


@pytest.fixture
def shared_data() -> Path:
    """The read-only third-party data folder, or skip with a stated reason."""
    if not SHARED_DATA.is_dir():
        pytest.skip(SKIP_NO_SHARED)
    return SHARED_DATA


@pytest.fixture
def shared_eval() -> Path:
    """The evaluation sets, or skip with a stated reason."""
    path = SHARED / "eval"
    if not path.is_dir():
        pytest.skip("../shared/eval is absent (fresh clone): no evaluation set here")
    return path


PG_ADMIN_URL = os.environ.get("HILJADE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin():  # noqa: ANN202
    import psycopg

    return psycopg.connect(
        PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=5
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    import uuid

    try:
        admin = _pg_admin()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server here"
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
    name = f"hiljade_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hiljade.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs on SQLite and on the real PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def write_config(directory: Path, db_url: str, servers: list, **extra: object) -> Path:
    """A config file for tests: the given servers, no pacing, a fixed pseudonym key file."""
    import yaml

    data = {
        "database": {"url": db_url},
        "hashtags": ["hiljadekamera"],
        "sources": {"mastodon": {"servers": servers, "min_interval_seconds": 0, "max_retries": 2,
                                 "timeout_seconds": 5, "backfill_since": "2000-01-01"}},
        "privacy": {"secret_file": str(directory / "hiljade.secret")},
        "geocoder": {"enabled": False},
    }
    for dotted, value in extra.items():
        node = data
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
