"""Stored sites: the queries behind placing sightings on sites and keeping each site's aggregates.

Which sightings make sites (``qualifying``): per post, a reviewer's point (method `manual`, not
rejected; the newest) or else its chosen sighting when that is `auto` or `confirmed`. Never a
`pending_review` one (a street-only mention is a line, not a point, until a reviewer gives it one),
never a `rejected` one, never one of a deleted post.

Reviewer decisions: a site with `verified_by`, with a status a reviewer set (`rejected`, `merged`)
or named by a `review_log` row (target `site`: verify, merge, split) is pinned (``REVIEWED``).
``hiljade.services.sites`` decides what to place where; these functions read and write.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, exists, func, insert, select, text, update

from hiljade.models.schema import Media, Post, ReviewLog, Sighting, Site
from hiljade.pipeline.sites import Point
from hiljade.pipeline.sites import Site as Cluster

CHUNK = 500

_s = Sighting.__table__
_p = Post.__table__
_site = Site.__table__
# Sightings that may make a site; per post one of them does (``qualifying``).
MAYBE = (_s.c.chosen.is_(True) & _s.c.status.in_(("auto", "confirmed"))) | (
    (_s.c.method == "manual") & (_s.c.status != "rejected")
)

LIVE = ("unverified", "verified", "rejected")  # statuses of sites sightings may join (not `merged`)
REVIEWED = (
    _site.c.verified_by.is_not(None)
    | _site.c.status.not_in(("unverified", "verified"))
    | exists().where(ReviewLog.target == "site", ReviewLog.target_id == _site.c.id)
)


def lock_sites(conn: Connection) -> None:
    """One site writer at a time on PostgreSQL (SQLite serialises writers itself)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE sites IN SHARE ROW EXCLUSIVE MODE"))


def count_sites(conn: Connection) -> int:
    """How many sites are stored."""
    return int(conn.execute(select(func.count()).select_from(_site)).scalar_one())


def qualifying(conn: Connection) -> list[tuple[Point, int | None]]:
    """The sightings that make sites, one per post (a reviewer's newest point, else the chosen one),
    as points in clustering order (report time, then id), each with its current site. Plain
    queries, so the plan does not hinge on fresh table statistics."""
    query = (
        select(*(_s.c[k] for k in ("id", "post_id", "method", "lat", "lon", "precision_m", "site_id")))
        .add_columns(_p.c.created_at)
        .select_from(_s.join(_p, _p.c.id == _s.c.post_id))
        .where(MAYBE, _p.c.deleted_at.is_(None))
    )
    best: dict[int, Any] = {}
    for r in conn.execute(query):
        held = best.get(r.post_id)
        if held is None or (r.method == "manual", r.id) > (held.method == "manual", held.id):
            best[r.post_id] = r
    rows = [
        (Point(r.id, r.lat, r.lon, r.precision_m, r.created_at.timestamp()), r.site_id) for r in best.values()
    ]
    rows.sort(key=lambda row: (row[0].time, row[0].id))
    return rows


def detach(conn: Connection, qualifying: Iterable[tuple[Point, int | None]]) -> tuple[int, set[int]]:
    """Take sightings that no longer qualify off their sites: (how many, which sites)."""
    keep = {point.id for point, site in qualifying if site is not None}
    placed = conn.execute(select(_s.c.id, _s.c.site_id).where(_s.c.site_id.is_not(None)))
    gone = [(i, site) for i, site in placed if i not in keep]
    ids = sorted(i for i, _ in gone)
    for start in range(0, len(ids), CHUNK):
        conn.execute(update(_s).where(_s.c.id.in_(ids[start : start + CHUNK])).values(site_id=None))
    return len(ids), {site for _, site in gone}


def members(conn: Connection, site_ids: Iterable[int]) -> dict[int, list[Point]]:
    """The sightings of these sites as points, in clustering order."""
    found: dict[int, list[Point]] = defaultdict(list)
    ids = sorted(site_ids)
    query = select(_s.c.id, _s.c.lat, _s.c.lon, _s.c.precision_m, _s.c.site_id, _p.c.created_at).select_from(
        _s.join(_p, _p.c.id == _s.c.post_id)
    )
    for r in _in_chunks(conn, query, _s.c.site_id, ids):
        found[r.site_id].append(Point(r.id, r.lat, r.lon, r.precision_m, r.created_at.timestamp()))
    for points in found.values():
        points.sort(key=lambda p: (p.time, p.id))
    return found


def insert_sites(conn: Connection, sites: Sequence[Cluster], now: dt.datetime) -> dict[int, int]:
    """Insert new sites in order; returns {clustering id: stored id}."""
    if not sites:
        return {}
    blank = {
        "status": "unverified",
        "reports": 0,
        "independent_reports": 0,
        "created_at": now,
        "updated_at": now,
    }
    rows = [{**blank, "lat": s.lat, "lon": s.lon} for s in sites]
    stmt = insert(_site).returning(_site.c.id, sort_by_parameter_order=True)
    stored = list(conn.execute(stmt, rows).scalars())
    return {s.id: int(new) for s, new in zip(sites, stored, strict=True)}


def place(conn: Connection, site_of: dict[int, int]) -> None:
    """Set sightings' sites: {sighting id: site id}."""
    if site_of:
        stmt = update(_s).where(_s.c.id == bindparam("b_id")).values(site_id=bindparam("b_site"))
        conn.execute(stmt, [{"b_id": k, "b_site": v} for k, v in sorted(site_of.items())])


def stale_sites(conn: Connection) -> set[int]:
    """Sites whose stored report count no longer matches their members (a reprocess replaced some)."""
    n = func.count(_s.c.post_id.distinct()).label("n")
    counts = select(_s.c.site_id, n).where(_s.c.site_id.is_not(None)).group_by(_s.c.site_id).subquery()
    query = select(_site.c.id).outerjoin(counts, counts.c.site_id == _site.c.id)
    return set(conn.execute(query.where(_site.c.reports != func.coalesce(counts.c.n, 0))).scalars())


def remove_empty(conn: Connection) -> int:
    """Delete sites without sightings that no reviewer decided on; how many."""
    empty = ~exists().where(_s.c.site_id == _site.c.id)
    return int(conn.execute(delete(_site).where(empty, ~REVIEWED)).rowcount or 0)


def store_centres(conn: Connection, sites: Iterable[Cluster]) -> None:
    """Set these sites' centres."""
    rows = [{"b_id": s.id, "b_lat": s.lat, "b_lon": s.lon} for s in sites]
    if rows:
        stmt = update(_site).where(_site.c.id == bindparam("b_id"))
        conn.execute(stmt.values(lat=bindparam("b_lat"), lon=bindparam("b_lon")), rows)


@dataclass
class SiteFacts:
    """What one site's aggregates are computed from."""

    site: Any  # the sites row
    members: list[Point]
    posts: dict[int, Any]  # post id -> (created_at, text)
    alts: dict[int, list[str]]
    bearings: list[float]


def _in_chunks(conn: Connection, query: Any, column: Any, ids: Sequence[int]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(ids), CHUNK):
        out.extend(conn.execute(query.where(column.in_(ids[start : start + CHUNK]))))
    return out


def site_facts(conn: Connection, ids: Sequence[int]) -> list[SiteFacts]:
    """The facts of these sites, read in a few queries."""
    found = {
        r.id: SiteFacts(r, [], {}, defaultdict(list), [])
        for r in conn.execute(select(_site).where(_site.c.id.in_(ids)))
    }
    rows = conn.execute(
        select(_s.c.id, _s.c.post_id, _s.c.lat, _s.c.lon, _s.c.precision_m, _s.c.site_id)
        .where(_s.c.site_id.in_(ids))
        .order_by(_s.c.id)
    ).all()
    site_of_post: dict[int, set[int]] = defaultdict(set)
    for r in rows:
        found[r.site_id].members.append(Point(r.id, r.lat, r.lon, r.precision_m))
        site_of_post[r.post_id].add(r.site_id)
    post_ids = sorted(site_of_post)
    for r in _in_chunks(conn, select(_p.c.id, _p.c.created_at, _p.c.text), _p.c.id, post_ids):
        for site_id in site_of_post[r.id]:
            found[site_id].posts[r.id] = (r.created_at, r.text)
    media = Media.__table__
    query = select(media.c.post_id, media.c.alt_text).where(media.c.alt_text.is_not(None))
    query = query.order_by(media.c.post_id, media.c.position)
    for r in _in_chunks(conn, query, media.c.post_id, post_ids):
        for site_id in site_of_post[r.post_id]:
            found[site_id].alts[r.post_id].append(r.alt_text)
    query = select(_s.c.post_id, _s.c.evidence).where(_s.c.method == "exif", _s.c.status != "rejected")
    for r in _in_chunks(conn, query.order_by(_s.c.id), _s.c.post_id, post_ids):
        bearing = (r.evidence or {}).get("direction")
        if isinstance(bearing, int | float) and not isinstance(bearing, bool):
            for site_id in site_of_post[r.post_id]:
                found[site_id].bearings.append(float(bearing))
    return [found[i] for i in sorted(found)]


def top_site_id(conn: Connection) -> int:
    """The highest site id (0 without sites)."""
    return int(conn.execute(select(func.max(_site.c.id))).scalar_one() or 0)


def live_centres(conn: Connection) -> list[tuple[int, float, float]]:
    """(id, lat, lon) of every site sightings may join."""
    query = select(_site.c.id, _site.c.lat, _site.c.lon).where(_site.c.status.in_(LIVE))
    return [(r.id, r.lat, r.lon) for r in conn.execute(query)]


def site_rows(conn: Connection) -> dict[int, Any]:
    """Every site: id -> (id, lat, lon, status, ``rv``: whether a reviewer decided on it)."""
    query = select(_site.c.id, _site.c.lat, _site.c.lon, _site.c.status, REVIEWED.label("rv"))
    return {r.id: r for r in conn.execute(query)}


def delete_sites(conn: Connection, site_ids: Iterable[int]) -> None:
    """Delete these sites, taking their sightings off them first."""
    ids = sorted(site_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        conn.execute(update(_s).where(_s.c.site_id.in_(chunk)).values(site_id=None))
        conn.execute(delete(_site).where(_site.c.id.in_(chunk)))


def update_sites(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk update of sites: each row has ``b_id`` and ``b_<column>`` values (the same keys in all)."""
    if rows:
        values = {k[2:]: bindparam(k) for k in rows[0] if k != "b_id"}
        conn.execute(update(_site).where(_site.c.id == bindparam("b_id")).values(**values), rows)
