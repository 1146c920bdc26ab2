"""Stored official lists and their rows: the queries of ``hiljade official``. Queries take the
caller's connection; only services open transactions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from hiljade.models.posts import insert_chunked
from hiljade.models.schema_reconcile import OfficialList, OfficialRow
from hiljade.pipeline.official import PlacedRow

CHUNK = 1000

_lists = OfficialList.__table__
_rows = OfficialRow.__table__


def find_list(conn: Connection, name: str) -> dict[str, Any] | None:
    """The list called ``name`` (its columns as a dict), or None."""
    row = conn.execute(select(_lists).where(_lists.c.name == name)).mappings().first()
    return dict(row) if row else None


def stored_lists(conn: Connection) -> list[dict[str, Any]]:
    """Every list, by name, with the number of rows stored for it (``rows``)."""
    stored = select(_rows.c.list_id, func.count().label("rows")).group_by(_rows.c.list_id).subquery()
    query = (
        select(_lists, func.coalesce(stored.c.rows, 0).label("rows"))
        .outerjoin(stored, stored.c.list_id == _lists.c.id)
        .order_by(_lists.c.name)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def delete_list(conn: Connection, list_id: int) -> None:
    """Remove a list and its rows."""
    conn.execute(delete(_rows).where(_rows.c.list_id == list_id))
    conn.execute(delete(_lists).where(_lists.c.id == list_id))


def save_list(
    conn: Connection,
    *,
    name: str,
    source: str | None,
    date: dt.date | None,
    file_name: str,
    sha256: str,
    imported_at: dt.datetime,
    counts: dict[str, Any],
    rows: Sequence[PlacedRow],
) -> int:
    """Store a list and every one of its rows; returns the list's id."""
    list_id = conn.execute(
        insert(_lists)
        .values(
            name=name,
            source=source,
            date=date,
            file_name=file_name,
            sha256=sha256,
            imported_at=imported_at,
            counts=counts,
        )
        .returning(_lists.c.id)
    ).scalar_one()
    values = [
        {
            "list_id": list_id,
            "line": r.line,
            "original": r.original,
            "address": r.address,
            "lat": r.lat,
            "lon": r.lon,
            "method": r.method,
            "precision_m": r.precision_m,
            "status": r.status,
            "reason": r.reason,
        }
        for r in rows
    ]
    insert_chunked(conn, _rows, values, CHUNK)
    return int(list_id)


def list_rows(conn: Connection, list_id: int) -> list[dict[str, Any]]:
    """The rows of a list, by line."""
    query = select(_rows).where(_rows.c.list_id == list_id).order_by(_rows.c.line)
    return [dict(r) for r in conn.execute(query).mappings()]
