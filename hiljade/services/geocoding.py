"""The online geocoder as `hiljade process` uses it: its cache inside the batch's transaction, and
the ledger row `hiljade status` reads.

SQLite allows one writer at a time: while a batch's transaction is open, the cache reads and
writes through the batch's connection (``StoredGeocodeCache.bound``), so its answers commit with
the batch and never wait for the batch's own lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection

from hiljade.config import Config
from hiljade.harvester.geocoder import Geocoder
from hiljade.models.ledger import Cursor, add_to_run, finish_run, start_run
from hiljade.models.places import geocode_answer, save_geocode_answer
from hiljade.models.store import Store

UNAVAILABLE = "unavailable"  # the ledger status of a run whose geocoder did not answer
REFUSED = "refused"


class StoredGeocodeCache:
    """The geocoder's cache in the store: every answer kept, "not found" (an empty list) included."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn: Connection | None = None

    @contextlib.contextmanager
    def bound(self, conn: Connection) -> Iterator[None]:
        """Read and write through ``conn`` (a batch's open transaction) inside the block."""
        self.conn = conn
        try:
            yield
        finally:
            self.conn = None

    def get(self, key: str) -> list[dict[str, Any]] | None:
        if self.conn is not None:
            return geocode_answer(self.conn, key)
        with self.store.connect() as conn:
            return geocode_answer(conn, key)

    def put(self, key: str, results: list[dict[str, Any]]) -> None:
        if self.conn is not None:
            save_geocode_answer(self.conn, key, results, dt.datetime.now(dt.UTC))
            return
        with self.store.transaction() as conn:
            save_geocode_answer(conn, key, results, dt.datetime.now(dt.UTC))


def geocoder(
    config: Config, cache: StoredGeocodeCache, area: BaseGeometry | None
) -> Geocoder | None:
    """The online geocoder fallback, or None when `geocoder.enabled` is false."""
    section = dict(config.get("geocoder"))
    if not section.get("enabled"):
        return None
    section["user_agent"] = section.get("user_agent") or config.get("user_agent")
    return Geocoder.from_config(section, cache=cache, area=area)


def record_geocoder_run(store: Store, coder: Geocoder, errors: int, started: dt.datetime) -> None:
    """A ledger row (source ``geocoder``) for `hiljade status` when the geocoder was asked or
    refused us: ``refused``, ``unavailable`` (it failed without refusing) or ``ok``."""
    if not (coder.requests_made or coder.refusal is not None or coder.failure is not None):
        return
    problem = coder.refusal or coder.failure
    status = REFUSED if coder.refusal is not None else UNAVAILABLE if coder.failure is not None else "ok"
    with store.transaction() as conn:
        row = start_run(conn, str(uuid.uuid4()), Cursor("geocoder", coder.settings.url, ""), started)
        add_to_run(conn, row, requests=coder.requests_made, errors=errors)
        finish_run(conn, row, status, dt.datetime.now(dt.UTC), message=str(problem) if problem else None)
