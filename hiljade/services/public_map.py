"""What the public sees: sites of the public statuses, a site's facts and its reports counted by
platform and month, and the statistics. Never an author, a post text or a post address."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point
from sqlalchemy import Integer, Select, cast, func, literal_column, select

from hiljade.models.schema import Post, Sighting, Site
from hiljade.models.store import Store
from hiljade.services.basemap import named_areas

BBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
CLUSTER_CELLS = 48  # grid squares across the longer side of a box too full to send site by site

# the facts of a site anyone may see (no reviewer name: verified_by stays out)
PUBLIC_FIELDS = (
    "id", "lat", "lon", "status", "independent_reports", "camera_count", "camera_type", "camera_mount",
    "camera_model", "camera_direction", "first_seen", "last_seen",
)


@dataclass(frozen=True)
class SiteQuery:
    """Which sites a map view asks for."""

    statuses: tuple[str, ...]
    bbox: BBox | None = None
    camera_type: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 5000


def _public(row: Any) -> dict[str, Any]:
    out = {name: getattr(row, name) for name in PUBLIC_FIELDS}
    for key in ("first_seen", "last_seen"):
        out[key] = out[key].date().isoformat() if out[key] is not None else None
    out["reports"] = out.pop("independent_reports")
    return out


def _matching(stmt: Select[Any], query: SiteQuery) -> Select[Any]:
    """``stmt`` limited to the sites of ``query`` (statuses, box, type, dates)."""
    t = Site.__table__
    stmt = stmt.where(t.c.status.in_(query.statuses))
    if query.bbox is not None:
        minlon, minlat, maxlon, maxlat = query.bbox
        stmt = stmt.where(t.c.lon.between(minlon, maxlon), t.c.lat.between(minlat, maxlat))
    if query.camera_type:
        stmt = stmt.where(t.c.camera_type == query.camera_type)
    if query.since is not None:
        stmt = stmt.where(t.c.last_seen >= query.since)
    if query.until is not None:
        stmt = stmt.where(t.c.first_seen < query.until)
    return stmt


def public_sites(store: Store, query: SiteQuery) -> tuple[list[dict[str, Any]], bool]:
    """The sites of ``query`` (at most ``limit``, by id) and whether more were left out."""
    t = Site.__table__
    fields = select(*(t.c[name] for name in PUBLIC_FIELDS))
    stmt = _matching(fields, query).order_by(t.c.id).limit(query.limit + 1)
    with store.connect() as conn:
        rows = [_public(r) for r in conn.execute(stmt)]
    return rows[: query.limit], len(rows) > query.limit


def site_clusters(store: Store, query: SiteQuery, cells: int = CLUSTER_CELLS) -> dict[str, Any]:
    """All sites of ``query`` for the map: each site when at most ``limit`` are in the box, else the
    sites counted on a grid of ``cells`` squares across the box's longer side (count, centroid and
    extent of each square, computed by the database). A cluster names no site and no person."""
    t = Site.__table__
    with store.connect() as conn:
        # counting stops at limit + 1: a full city need not be counted twice
        some = _matching(select(t.c.id), query).limit(query.limit + 1).subquery()
        full = conn.execute(select(func.count()).select_from(some)).scalar_one() > query.limit
        if not full or query.bbox is None:
            stmt = _matching(select(*(t.c[name] for name in PUBLIC_FIELDS)), query).order_by(t.c.id)
            rows = [_public(r) for r in conn.execute(stmt.limit(query.limit))]
            return {"sites": rows, "clusters": [], "total": len(rows)}
        minlon, minlat, maxlon, maxlat = query.bbox
        size = max(maxlon - minlon, maxlat - minlat, 1e-9) / cells
        # one whole number per square (column * (cells + 2) + row; rows run from 0 to cells): SQLite
        # groups one integer twice as fast as two columns; round() means the same in both databases.
        # GROUP BY by position: PostgreSQL would not see one expression in two copies of its parameters
        col, row = func.round((t.c.lon - minlon) / size), func.round((t.c.lat - minlat) / size)
        square = cast(col * (cells + 2) + row, Integer)
        stmt = _matching(
            select(square, func.count(), func.avg(t.c.lat), func.avg(t.c.lon),
                   func.min(t.c.lat), func.min(t.c.lon), func.max(t.c.lat), func.max(t.c.lon)),
            query,
        ).group_by(literal_column("1"))
        groups = conn.execute(stmt).all()
    clusters = [
        {"count": n, "lat": round(lat, 6), "lon": round(lon, 6),
         "bbox": [round(w, 6), round(s, 6), round(e, 6), round(no, 6)]}
        for _, n, lat, lon, s, w, no, e in groups
    ]
    return {"sites": [], "clusters": clusters, "total": sum(c["count"] for c in clusters)}


def camera_types(store: Store, statuses: tuple[str, ...]) -> list[str]:
    """The camera types known among the public sites, for the filter."""
    t = Site.__table__
    stmt = (
        select(t.c.camera_type).where(t.c.status.in_(statuses), t.c.camera_type.is_not(None))
        .distinct().order_by(t.c.camera_type)
    )
    with store.connect() as conn:
        return [r[0] for r in conn.execute(stmt)]


def public_site(store: Store, site_id: int, statuses: tuple[str, ...]) -> dict[str, Any] | None:
    """One public site with its reports counted by platform and month, or None (unknown or not public)."""
    t = Site.__table__
    with store.connect() as conn:
        row = conn.execute(
            select(*(t.c[name] for name in PUBLIC_FIELDS)).where(t.c.id == site_id, t.c.status.in_(statuses))
        ).first()
        if row is None:
            return None
        reports = conn.execute(
            select(Post.platform, Post.created_at)
            .join(Sighting, Sighting.post_id == Post.id)
            .where(Sighting.site_id == site_id, Sighting.status != "rejected")
            .distinct()
        ).all()
    site = _public(row)
    counts = Counter((platform, f"{created:%Y-%m}") for platform, created in reports)
    site["report_counts"] = [
        {"platform": platform, "month": month, "reports": n}
        for (platform, month), n in sorted(counts.items())
    ]
    return site


def week_start(when: dt.datetime) -> dt.date:
    """The Monday of ``when``'s week."""
    day = when.date()
    return day - dt.timedelta(days=day.weekday())


def verified_per_week(
    store: Store, weeks: int = 26, today: dt.date | None = None
) -> list[tuple[dt.date, int]]:
    """New verified sites in each of the last ``weeks`` weeks (oldest first), empty weeks included."""
    t = Site.__table__
    end = week_start(dt.datetime.combine(today or dt.datetime.now(dt.UTC).date(), dt.time()))
    first = end - dt.timedelta(weeks=weeks - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    with store.connect() as conn:
        times = conn.execute(
            select(t.c.verified_at).where(t.c.status == "verified", t.c.verified_at >= since)
        ).scalars().all()
    counts = Counter(week_start(when) for when in times)
    starts = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    return [(start, counts.get(start, 0)) for start in starts]


def sites_per_area(store: Store, statuses: tuple[str, ...]) -> list[tuple[str, int]]:
    """Public sites per named area of the gazetteer (most first); sites in none count as ""."""
    areas = named_areas(store)
    t = Site.__table__
    with store.connect() as conn:
        points = conn.execute(select(t.c.lon, t.c.lat).where(t.c.status.in_(statuses))).all()
    counts: Counter[str] = Counter()
    for lon, lat in points:
        point = Point(lon, lat)
        names = [name for name, shape in areas if shape.contains(point)]
        for name in names or [""]:
            counts[name] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def status_counts(store: Store) -> dict[str, int]:
    """How many sites have each status."""
    t = Site.__table__
    with store.connect() as conn:
        return dict(conn.execute(select(t.c.status, func.count()).group_by(t.c.status)).all())
