"""Reconciliation queries: sites by status, the placed rows of an official list, OSM's surveillance
nodes, and the stored results (``reconciliations`` and their ``reconciliation_pairs``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from hiljade.models.posts import insert_chunked
from hiljade.models.schema import Site
from hiljade.models.schema_reconcile import (
    OfficialList,
    OfficialRow,
    OsmSurveillance,
    Reconciliation,
    ReconciliationPair,
)
from hiljade.pipeline.reconcile import Located, Pair

CHUNK = 5000
PLACED = "placed"
UNPLACED = ("street_only", "not_placed", "outside_area")  # counted apart; duplicates are left out

_site = Site.__table__
_row = OfficialRow.__table__
_osm = OsmSurveillance.__table__
_rec = Reconciliation.__table__
_pair = ReconciliationPair.__table__


def site_points(conn: Connection, statuses: Sequence[str]) -> list[Located]:
    """The sites with one of ``statuses``, as points."""
    query = select(_site.c.id, _site.c.lat, _site.c.lon).where(_site.c.status.in_(list(statuses)))
    return [
        Located(i, lat, lon) for i, lat, lon in conn.execute(query) if lat is not None and lon is not None
    ]


def official_list_id(conn: Connection, name: str) -> int | None:
    """The id of the official list called ``name``, or None."""
    return conn.execute(select(OfficialList.id).where(OfficialList.name == name)).scalar_one_or_none()


def official_list_names(conn: Connection) -> list[str]:
    """The names of the stored official lists."""
    return list(conn.execute(select(OfficialList.name).order_by(OfficialList.name)).scalars())


def official_points(conn: Connection, list_id: int) -> tuple[list[Located], list[int]]:
    """The rows of a list placed at a point, and the ids of the rows without one (street only, not
    placed, outside the area); duplicate rows are in neither."""
    query = select(_row.c.id, _row.c.lat, _row.c.lon, _row.c.status).where(_row.c.list_id == list_id)
    placed, unplaced = [], []
    for ident, lat, lon, status in conn.execute(query.order_by(_row.c.id)):
        if status == PLACED and lat is not None and lon is not None:
            placed.append(Located(ident, lat, lon))
        elif status in UNPLACED or status == PLACED:
            unplaced.append(ident)
    return placed, unplaced


def osm_points(conn: Connection) -> list[Located]:
    """OSM's surveillance nodes as points (by their row id)."""
    return [Located(i, lat, lon) for i, lat, lon in conn.execute(select(_osm.c.id, _osm.c.lat, _osm.c.lon))]


def save_osm_nodes(conn: Connection, nodes: Sequence[Mapping[str, Any]], now: dt.datetime) -> dict[str, int]:
    """Insert new nodes and update changed ones (by OSM type and id); counts new, changed, unchanged."""
    stored = {
        (t, i): (ident, lat, lon, tags)
        for ident, t, i, lat, lon, tags in conn.execute(
            select(_osm.c.id, _osm.c.osm_type, _osm.c.osm_id, _osm.c.lat, _osm.c.lon, _osm.c.tags)
        )
    }
    new, changed, unchanged = [], [], 0
    for node in nodes:
        old = stored.get((node["osm_type"], node["osm_id"]))
        if old is None:
            new.append({**node, "imported_at": now})
        elif (old[1], old[2], old[3]) != (node["lat"], node["lon"], dict(node["tags"])):
            changed.append(
                {
                    "row_id": old[0],
                    "lat": node["lat"],
                    "lon": node["lon"],
                    "tags": dict(node["tags"]),
                    "imported_at": now,
                }
            )
        else:
            unchanged += 1
    insert_chunked(conn, _osm, new, CHUNK)
    for row in changed:
        conn.execute(
            update(_osm)
            .where(_osm.c.id == row["row_id"])
            .values(lat=row["lat"], lon=row["lon"], tags=row["tags"], imported_at=row["imported_at"])
        )
    return {"new": len(new), "changed": len(changed), "unchanged": unchanged}


def save_reconciliation(
    conn: Connection,
    *,
    kind: str,
    list_name: str | None,
    radius_m: float,
    statuses: Sequence[str],
    counts: Mapping[str, Any],
    pairs: Sequence[Pair],
    now: dt.datetime,
) -> int:
    """Store a result with its pairs, replacing the earlier result of the same comparison; its id."""
    same = (_rec.c.kind == kind) & (
        _rec.c.list_name.is_(None) if list_name is None else _rec.c.list_name == list_name
    )
    old = list(conn.execute(select(_rec.c.id).where(same)).scalars())
    if old:
        conn.execute(delete(_pair).where(_pair.c.reconciliation_id.in_(old)))
        conn.execute(delete(_rec).where(_rec.c.id.in_(old)))
    rec_id = conn.execute(
        insert(_rec)
        .values(
            kind=kind,
            list_name=list_name,
            radius_m=radius_m,
            statuses=list(statuses),
            run_at=now,
            counts=dict(counts),
        )
        .returning(_rec.c.id)
    ).scalar_one()
    rows = [
        {
            "reconciliation_id": rec_id,
            "site_id": p.site_id,
            "other_id": p.other_id,
            "class": p.kind,
            "distance_m": p.distance_m,
            "area": p.area,
        }
        for p in pairs
    ]
    insert_chunked(conn, _pair, rows, CHUNK)
    return int(rec_id)


def latest_reconciliation(conn: Connection, kind: str, list_name: str | None) -> dict[str, Any] | None:
    """The stored result of one comparison (id, radius, statuses, run time, counts), or None."""
    same = (_rec.c.kind == kind) & (
        _rec.c.list_name.is_(None) if list_name is None else _rec.c.list_name == list_name
    )
    row = conn.execute(select(_rec).where(same).order_by(_rec.c.run_at.desc(), _rec.c.id.desc())).first()
    return dict(row._mapping) if row is not None else None
