"""Stored places: the gazetteer's rows and the geocoder's answers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select

from hiljade.models.posts import insert_ignore
from hiljade.models.schema import GazetteerBuild, GazetteerEntry, GeocodeAnswer, PostLocation

ROW_KEYS = ("kind", "name", "variants", "geometry", "properties")
# verdicts (``post_locations.outcome``) of posts that wait: the next `hiljade process` looks again
GEOCODER_WAITING = "waiting_geocoder"  # the geocoder failed or refused us while asked about it
GAZETTEER_WAITING = "waiting_gazetteer"  # processed without a gazetteer, nothing found without one


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


def newest_build(conn: Connection) -> tuple[int, str] | None:
    """The newest build's id and the fingerprint of its rows, or None when no gazetteer was built."""
    query = select(GazetteerBuild.id, GazetteerBuild.fingerprint).order_by(GazetteerBuild.id.desc()).limit(1)
    row = conn.execute(query).first()
    return (int(row.id), str(row.fingerprint)) if row is not None else None


def gazetteer_rows(conn: Connection) -> list[dict[str, Any]]:
    """The stored gazetteer's rows, in the order they were stored (empty when none was built)."""
    table = GazetteerEntry.__table__
    return [{k: r._mapping[k] for k in ROW_KEYS} for r in conn.execute(select(table).order_by(table.c.id))]


def load_gazetteer_rows(conn: Connection) -> tuple[int | None, list[dict[str, Any]]]:
    """The newest build id and its rows (empty when no gazetteer was built)."""
    build = conn.execute(select(func.max(GazetteerBuild.id))).scalar_one_or_none()
    return build, gazetteer_rows(conn)


def geocode_answer(conn: Connection, key: str) -> list[dict[str, Any]] | None:
    """The cached answer to a geocoder query key ("not found" is an empty list), or None."""
    query = select(GeocodeAnswer.results).where(GeocodeAnswer.key == _key(key))
    return conn.execute(query).scalar_one_or_none()


def save_geocode_answer(conn: Connection, key: str, results: list[dict[str, Any]], now: dt.datetime) -> None:
    """Keep a geocoder answer (a key answered before keeps its first answer)."""
    insert_ignore(
        conn,
        GeocodeAnswer.__table__,
        {"key": _key(key), "query": key, "results": results, "fetched_at": now},
        ("key",),
    )


def waiting_posts(conn: Connection) -> dict[str, int]:
    """How many posts wait for the geocoder and for the gazetteer, by verdict."""
    pl = PostLocation.__table__
    query = select(pl.c.outcome, func.count()).where(pl.c.outcome.in_((GEOCODER_WAITING, GAZETTEER_WAITING)))
    counts = dict(conn.execute(query.group_by(pl.c.outcome)).all())
    return {outcome: int(counts.get(outcome, 0)) for outcome in (GEOCODER_WAITING, GAZETTEER_WAITING)}


def _key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
