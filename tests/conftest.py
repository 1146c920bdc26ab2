"""Shared pytest fixtures: the ../shared data (skipping cleanly when absent) and the databases.

Helpers that are not fixtures live in tests/support/.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.paths import SHARED_DATA, SHARED_EVAL, SKIP_NO_SHARED


@pytest.fixture(autouse=True, scope="session")
def gazetteer_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The gazetteer cache (``HILJADE_CACHE_DIR``) of every test is a temporary folder, never ~/.cache."""
    folder = tmp_path_factory.mktemp("gazetteer-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HILJADE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture
def shared_data() -> Path:
    """The read-only third-party data folder, or skip with a stated reason."""
    if not SHARED_DATA.is_dir():
        pytest.skip(SKIP_NO_SHARED)
    return SHARED_DATA


@pytest.fixture
def shared_eval() -> Path:
    """The evaluation sets, or skip with a stated reason."""
    if not SHARED_EVAL.is_dir():
        pytest.skip("../shared/eval is absent (fresh clone): no evaluation set here")
    return SHARED_EVAL


PG_ADMIN_URL = os.environ.get("HILJADE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin() -> psycopg.Connection:
    return psycopg.connect(
        PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=5
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
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
