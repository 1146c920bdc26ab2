"""Stored places: the gazetteer's rows and the geocoder's answers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select

from hiljade.models.posts import insert_ignore
from hiljade.models.schema import GazetteerBuild, GazetteerEntry, GeocodeAnswer
from hiljade.models.store import Store

ROW_KEYS = ("kind", "name", "variants", "geometry", "properties")


def replace_gazetteer(
    conn: Connection, rows: Sequence[dict[str, Any]], sources: Sequence[dict[str, Any]], now: dt.datetime
) -> int:
    """Replace the stored gazetteer with ``rows`` (one transaction); returns the build id."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([row[k] for k in ROW_KEYS], sort_keys=True, ensure_ascii=False).encode())
    conn.execute(delete(GazetteerEntry.__table__))
    table = GazetteerEntry.__table__
    batch = [{k: row[k] for k in ROW_KEYS} for row in rows]
    for start in range(0, len(batch), 1000):
        conn.execute(table.insert(), batch[start : start + 1000])
    result = conn.execute(
        GazetteerBuild.__table__.insert().values(
            built_at=now, sources=list(sources), entries=len(rows), fingerprint=digest.hexdigest()
        )
    )
    return int(result.inserted_primary_key[0])


def load_gazetteer_rows(conn: Connection) -> tuple[int | None, list[dict[str, Any]]]:
    """The newest build id and its rows (empty when no gazetteer was built)."""
    build = conn.execute(select(func.max(GazetteerBuild.id))).scalar_one_or_none()
    table = GazetteerEntry.__table__
    rows = [{k: r._mapping[k] for k in ROW_KEYS} for r in conn.execute(select(table).order_by(table.c.id))]
    return build, rows


class StoredGeocodeCache:
    """The geocoder's cache in the store: every answer kept, "not found" (an empty list) included."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str) -> list[dict[str, Any]] | None:
        with self.store.connect() as conn:
            return conn.execute(
                select(GeocodeAnswer.results).where(GeocodeAnswer.key == _key(key))
            ).scalar_one_or_none()

    def put(self, key: str, results: list[dict[str, Any]]) -> None:
        with self.store.transaction() as conn:
            insert_ignore(
                conn,
                GeocodeAnswer.__table__,
                {"key": _key(key), "query": key, "results": results, "fetched_at": dt.datetime.now(dt.UTC)},
                ("key",),
            )


def _key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
