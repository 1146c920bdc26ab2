"""The review queue, one sighting's full view, and one decision in one transaction (CLI and web)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import Point
from sqlalchemy import select

from hiljade.config import Config
from hiljade.models.review_queue import (
    QueueItem,
    SightingView,
    describe,
    evidence_text,
    queue,
    queue_size,
    quoted,
    render,
)
from hiljade.models.schema import Site
from hiljade.models.store import Store
from hiljade.pipeline.geometry import distance_m, metres_per_degree
from hiljade.services.basemap import named_areas
from hiljade.services.gazetteer import load_area
from hiljade.services.review import MERGED, Decision, Review

__all__ = ["QueuePage", "decide", "evidence_text", "nearby_sites", "queue_page", "quoted", "render",
           "sighting_view", "waiting", "waiting_total"]
NEARBY_M = 250.0  # sites shown around a sighting on the review page


def waiting(store: Store, *, status: str = "pending_review", limit: int | None = None) -> list[QueueItem]:
    """Sightings with ``status`` that wait for a reviewer, oldest first."""
    with store.connect() as conn:
        return queue(conn, status=status, limit=limit)


def waiting_total(store: Store, *, status: str = "pending_review") -> int:
    """How many sightings with ``status`` wait in all (what ``waiting`` lists without a limit)."""
    with store.connect() as conn:
        return queue_size(conn, status=status)


def sighting_view(store: Store, sighting_id: int) -> SightingView:
    """A sighting with its post, every candidate, its site and the review history (ReviewError if unknown)."""
    with store.connect() as conn:
        return describe(conn, sighting_id)


def decide(config: Config, store: Store, reviewer: str, act: Callable[[Review], Decision]) -> Decision:
    """Run one reviewer's decision (``act`` on a Review) in one transaction, now."""
    area = load_area(config)
    with store.transaction() as conn:
        return act(Review(conn, reviewer, config.get("sites"), dt.datetime.now(dt.UTC), area=area))


@dataclass
class QueuePage:
    """The desk's queue: the items shown, how many match, and counts by method and by named area."""

    items: list[tuple[QueueItem, str]]  # (item, its named area or "")
    total: int
    by_method: dict[str, int] = field(default_factory=dict)
    by_area: dict[str, int] = field(default_factory=dict)


def queue_page(
    store: Store, *, method: str | None = None, area: str | None = None, limit: int = 100
) -> QueuePage:
    """Pending sightings oldest first, filtered by method and named area, with counts of the whole queue."""
    shapes = named_areas(store)
    placed: list[tuple[QueueItem, str]] = []
    for item in waiting(store):
        point = Point(item.lon, item.lat)
        placed.append((item, next((name for name, shape in shapes if shape.covers(point)), "")))
    by_method = Counter(item.method for item, _ in placed)
    by_area = Counter(name for _, name in placed)
    chosen = [(i, a) for i, a in placed if (not method or i.method == method) and (area is None or a == area)]
    return QueuePage(chosen[:limit], len(chosen), dict(sorted(by_method.items())),
                     dict(sorted(by_area.items())))


def nearby_sites(config: Config, store: Store, lat: float, lon: float) -> list[dict[str, Any]]:
    """Live sites within NEARBY_M metres of a point, nearest first; ``joins`` marks the one a sighting
    there would join (the nearest within sites.radius_m)."""
    radius = float(config.get("sites.radius_m"))
    reach = max(NEARBY_M, radius)
    dlat = reach / metres_per_degree(0.0)
    dlon = reach / max(1.0, metres_per_degree(lat))
    t = Site.__table__
    with store.connect() as conn:
        rows = conn.execute(
            select(t.c.id, t.c.lat, t.c.lon, t.c.status, t.c.reports, t.c.independent_reports)
            .where(t.c.status != MERGED, t.c.lat.between(lat - dlat, lat + dlat),
                   t.c.lon.between(lon - dlon, lon + dlon))
        ).all()
    found = sorted(
        ({**dict(r._mapping), "distance_m": round(distance_m(lat, lon, r.lat, r.lon), 1)} for r in rows),
        key=lambda site: (site["distance_m"], site["id"]),
    )
    found = [site for site in found if site["distance_m"] <= reach]
    for site in found:
        site["joins"] = False
    if found and found[0]["distance_m"] <= radius:
        found[0]["joins"] = True
    return found
