"""Reconciliation: camera sites against another set of points (an official list, OSM's nodes).

Pure and one to one: every candidate pair within the radius is ranked by distance (ties by site id,
then the other side's id), and the nearest pairs are taken first, each side at most once. A pair
further than the radius is no match. Rows without a position (street only, not placed) never match;
the caller passes them apart and they are counted as ``not_placed``. Each pair is counted in the named
area (a municipality of the gazetteer) that holds its site, or its other point when it has no site.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from hiljade.pipeline.geometry import M_PER_DEG, metres_per_degree

BOTH, ONLY_CITIZENS, ONLY_OTHER, NOT_PLACED = "both", "only_citizens", "only_other", "not_placed"
CLASSES = (BOTH, ONLY_CITIZENS, ONLY_OTHER, NOT_PLACED)


class Located(NamedTuple):
    """One item with a position: a site, an official row or an OSM node."""

    id: int
    lat: float
    lon: float


class Pair(NamedTuple):
    """One line of the result: a matched pair, or an item of one side alone, with its class."""

    kind: str  # both, only_citizens, only_other, not_placed
    site_id: int | None
    other_id: int | None
    distance_m: float | None = None
    area: str | None = None


@dataclass(frozen=True)
class Reconciliation:
    """Every pair and unmatched item, and the counts overall and per named area."""

    pairs: list[Pair]
    counts: dict[str, int]
    areas: dict[str, dict[str, int]] = field(default_factory=dict)


def _arrays(points: Sequence[Located]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ids, latitudes and longitudes as arrays."""
    table = np.array([(p.lat, p.lon) for p in points], dtype=float).reshape(-1, 2)
    return np.array([p.id for p in points], dtype=np.int64), table[:, 0], table[:, 1]


def match(
    sites: Sequence[Located], others: Sequence[Located], radius_m: float
) -> list[tuple[int, int, float]]:
    """One-to-one matches (site id, other id, metres), nearest pairs first (ties by site id, then the
    other's id), none beyond ``radius_m``. The others are put in a grid of radius-sized cells; each
    site looks into its cell and the eight around it."""
    if not (radius_m > 0 and math.isfinite(radius_m)):
        raise ValueError("the radius must be a positive number of metres")
    if not sites or not others:
        return []
    site_ids, site_lat, site_lon = _arrays(sites)
    other_ids, other_lat, other_lon = _arrays(others)
    # fsum: the same scale whatever the order of the others, so equal distances tie the same way
    kx, ky = metres_per_degree(math.fsum(other_lat.tolist()) / len(other_lat)), M_PER_DEG
    sx, sy, ox, oy = site_lon * kx, site_lat * ky, other_lon * kx, other_lat * ky
    si, oi = _neighbours((sx, sy), (ox, oy), radius_m)
    dist = np.hypot(sx[si] - ox[oi], sy[si] - oy[oi])
    near = dist <= radius_m
    si, oi, dist = si[near], oi[near], dist[near]
    ranked = np.lexsort((other_ids[oi], site_ids[si], dist))
    used_sites: set[int] = set()
    used_others: set[int] = set()
    out: list[tuple[int, int, float]] = []
    for sid, oid, d in zip(
        site_ids[si[ranked]].tolist(), other_ids[oi[ranked]].tolist(), dist[ranked].tolist(), strict=True
    ):
        if sid in used_sites or oid in used_others:
            continue
        used_sites.add(sid)
        used_others.add(oid)
        out.append((sid, oid, d))
    return out


def _neighbours(
    grid: tuple[np.ndarray, np.ndarray], queries: tuple[np.ndarray, np.ndarray], cell: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (grid point, query point) in the same or a neighbouring cell of size ``cell``."""
    gcx, gcy = (np.floor(v / cell).astype(np.int64) for v in grid)
    qcx, qcy = (np.floor(v / cell).astype(np.int64) for v in queries)
    low = min(gcy.min(), qcy.min()) - 1
    width = int(max(gcy.max(), qcy.max()) - low) + 2
    keys = gcx * width + (gcy - low)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    grid_parts, query_parts = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            key = (qcx + dx) * width + (qcy + dy - low)
            lo = np.searchsorted(sorted_keys, key, side="left")
            counts = np.searchsorted(sorted_keys, key, side="right") - lo
            hit = np.nonzero(counts)[0]
            if not len(hit):
                continue
            reps = counts[hit]
            query_parts.append(np.repeat(hit, reps))
            starts = np.repeat(lo[hit] - np.cumsum(reps) + reps, reps)
            grid_parts.append(order[starts + np.arange(int(reps.sum()))])
    if not grid_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(grid_parts), np.concatenate(query_parts)


def area_names(points: Sequence[Located], areas: Sequence[tuple[str, BaseGeometry]]) -> list[str | None]:
    """The name of the first area (in the given order) that covers each point, or None."""
    if not points or not areas:
        return [None] * len(points)
    _, lat, lon = _arrays(points)
    first = np.full(len(points), len(areas), dtype=np.int64)
    for index, (_, geom) in enumerate(areas):
        x0, y0, x1, y1 = geom.bounds
        todo = np.nonzero((first == len(areas)) & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))[0]
        if len(todo):
            inside = shapely.intersects_xy(geom, lon[todo], lat[todo])  # the boundary counts as inside
            first[todo[inside]] = index
    names = [name for name, _ in areas] + [None]
    return [names[a] for a in first.tolist()]


def reconcile(
    sites: Sequence[Located],
    others: Sequence[Located],
    radius_m: float,
    *,
    not_placed: Iterable[int] = (),
    areas: Sequence[tuple[str, BaseGeometry]] = (),
) -> Reconciliation:
    """Match ``sites`` to ``others`` one to one and class every item: both, only_citizens, only_other;
    the ids in ``not_placed`` (other rows without a position) are classed ``not_placed``."""
    matches = match(sites, others, radius_m)
    site_at = {s.id: s for s in sites}
    matched_sites = {sid for sid, _, _ in matches}
    matched_others = {oid for _, oid, _ in matches}
    rows: list[tuple[str, int | None, int | None, float | None, Located]] = [
        (BOTH, sid, oid, round(d, 2), site_at[sid]) for sid, oid, d in matches
    ]
    rows += [
        (ONLY_CITIZENS, s.id, None, None, s)
        for s in sorted(sites, key=lambda s: s.id)
        if s.id not in matched_sites
    ]
    rows += [
        (ONLY_OTHER, None, o.id, None, o)
        for o in sorted(others, key=lambda o: o.id)
        if o.id not in matched_others
    ]
    names = area_names([r[4] for r in rows], areas)
    pairs = [Pair(kind, sid, oid, d, name) for (kind, sid, oid, d, _), name in zip(rows, names, strict=True)]
    pairs += [Pair(NOT_PLACED, None, oid) for oid in sorted(set(not_placed))]
    counts = Counter(p.kind for p in pairs)
    per_area: dict[str, dict[str, int]] = {}
    for p in pairs:
        if p.area is not None:
            per_area.setdefault(p.area, dict.fromkeys((BOTH, ONLY_CITIZENS, ONLY_OTHER), 0))[p.kind] += 1
    return Reconciliation(
        pairs=pairs,
        counts={"sites": len(sites), "others": len(others), **{k: counts.get(k, 0) for k in CLASSES}},
        areas=dict(sorted(per_area.items())),
    )
