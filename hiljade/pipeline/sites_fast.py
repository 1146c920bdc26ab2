"""Site clustering over arrays: the rule of ``sites`` (see its docstring) run by the compiled loop
of ``sites_kernel``, for many points at once.

``place`` takes the points as arrays (``PointArrays``: ids, positions, precisions, report times)
and the existing sites as arrays (``ExistingArrays``), and returns the sites as arrays
(``SiteArrays``); ``clustering`` turns those into the ``Clustering`` that ``sites.assign`` returns.
The results are the reference engine's (``sites.Clusterer``), ids, members and centres, bit for
bit; ``applies`` says when the arrays path can run (finite positions on the globe and precisions,
finite times, a radius of a metre or more, so grid rows and columns fit in 64-bit integers), and
``sites.assign`` falls back to the reference otherwise and for a few points, where loading the
compiled loop costs more than it saves.

The grid is a dense array of cells over the bounding box of every position when that has at most
two cells a point (a city), else a hash table (points spread over the globe).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter

import numpy as np

from hiljade.pipeline import sites_kernel as kernel
from hiljade.pipeline.geometry import M_PER_DEG, metres_per_degree
from hiljade.pipeline.sites_records import Clustering, Point, Site, SiteRecord

MIN_RADIUS_M = 1.0  # below it grid keys could leave 64-bit integers somewhere on the globe


@dataclass(frozen=True)
class PointArrays:
    """Points as arrays of equal length: id, lat, lon, precision (m), report time."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    precision_m: np.ndarray
    time: np.ndarray

    @classmethod
    def of(cls, points: Sequence[Point]) -> PointArrays:
        n = len(points)
        return cls(
            np.fromiter(map(attrgetter("id"), points), np.int64, n),
            *(np.fromiter(map(attrgetter(k), points), np.float64, n) for k in ("lat", "lon", "precision_m")),
            np.fromiter(map(attrgetter("time"), points), np.float64, n),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def order(self) -> np.ndarray:
        """Indices in clustering order: report time, then id (``sites.in_order``)."""
        return np.lexsort((self.ids, self.time))


@dataclass(frozen=True)
class SiteArrays:
    """Sites by id: ``ids``, centres ``lat``/``lon``; site i's members (point ids, in the order they
    joined) are ``members[offsets[i]:offsets[i + 1]]``. ``site_of``: each given point's site id,
    in the given order; ``order``: the given points' indices in clustering order. Sites with ids
    from ``first_new`` on were started here."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    offsets: np.ndarray
    members: np.ndarray
    site_of: np.ndarray
    order: np.ndarray
    first_new: int


@dataclass(frozen=True)
class ExistingArrays:
    """Existing sites as arrays, by id: ``ids``, centres ``lat``/``lon``; site i's members (in the
    given order) are ``members`` rows ``offsets[i]:offsets[i + 1]``."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    offsets: np.ndarray
    members: PointArrays

    @classmethod
    def of(cls, existing: Iterable[SiteRecord]) -> ExistingArrays:
        records = sorted(existing, key=attrgetter("id"))
        n = len(records)
        offsets = np.zeros(n + 1, np.int64)
        groups = list(map(attrgetter("members"), records))
        np.cumsum(np.fromiter(map(len, groups), np.int64, n), out=offsets[1:])
        return cls(
            np.fromiter(map(attrgetter("id"), records), np.int64, n),
            np.fromiter(map(attrgetter("lat"), records), np.float64, n),
            np.fromiter(map(attrgetter("lon"), records), np.float64, n),
            offsets,
            PointArrays.of(list(chain.from_iterable(groups))),
        )


NO_SITES = ExistingArrays.of(())


def _usable(lat: np.ndarray, lon: np.ndarray, precision: np.ndarray | None = None) -> bool:
    # NaN fails every comparison; a precision past 1e150 would square to infinity (weight 0)
    fits = np.all(np.abs(lat) <= 90.0) and np.all(np.abs(lon) <= 180.0)
    return bool(fits and (precision is None or np.all(np.abs(precision) < 1e150)))


def applies(points: PointArrays, existing: ExistingArrays, radius_m: float) -> bool:
    """Whether ``place`` may run: a radius of at least a metre, finite report times, and every
    position (points, existing centres and members) finite with latitude within ±90 and longitude
    within ±180, every precision finite (the reference raises or orders otherwise)."""
    held = existing.members
    return (
        radius_m >= MIN_RADIUS_M
        and bool(np.all(np.isfinite(points.time)))
        and _usable(points.lat, points.lon, points.precision_m)
        and _usable(existing.lat, existing.lon)
        and _usable(held.lat, held.lon, held.precision_m)
    )


def place(
    points: PointArrays, radius_m: float, *, existing: ExistingArrays = NO_SITES, next_id: int | None = None
) -> SiteArrays:
    """``sites.assign`` over arrays: existing sites (ids unique) keep their ids and members, each
    point in (time, id) order joins the nearest site within the radius or starts one."""
    radius = float(radius_m)
    ids, offsets, lat0, lon0 = existing.ids, existing.offsets, existing.lat, existing.lon
    if len(np.unique(ids)) != len(ids):
        taken = ids[np.nonzero(np.diff(ids) == 0)[0][0]]
        raise ValueError(f"site {taken} exists already")
    held, n = int(offsets[-1]), len(points)
    order = points.order()
    entries = np.empty((held + n, 3), np.float64)  # (lat, lon, precision): members, then points
    entries[:held, 0] = existing.members.lat
    entries[:held, 1] = existing.members.lon
    entries[:held, 2] = existing.members.precision_m
    entries[held:, 0] = points.lat[order]
    entries[held:, 1] = points.lon[order]
    entries[held:, 2] = points.precision_m[order]
    at = np.empty(held + n, np.int64)
    links = np.empty(held + n, np.int64)
    first_lat = float(lat0[0]) if len(ids) else (float(entries[held, 0]) if n else 0.0)
    row_deg = radius / M_PER_DEG
    col_scale = metres_per_degree(first_lat) / radius  # as the reference: from the first site
    next_free = max([1, *(int(i) + 1 for i in ids[-1:]), *([next_id] if next_id is not None else [])])
    first_new = next_free
    capacity = len(ids) + max(1024, n // 4)
    shape = _dense_grid((entries[:, 0], lat0), (entries[:, 1], lon0), radius, row_deg, col_scale, held + n)
    sf, si, grid = _tables(capacity, shape)
    kernel.ready()
    scales = (row_deg, col_scale)
    kernel.load(sf, si, grid, shape, entries, at, links, ids, lat0, lon0, offsets, *scales)
    done, sites = held, len(ids)
    while True:
        done, sites, next_free = kernel.place(
            sf, si, grid, shape, entries, at, links, done, sites, next_free, radius, *scales
        )
        if done == held + n:
            break
        sf, si, grid = _tables(capacity + capacity // 2, shape, sf[:sites], si[:sites], grid)
        capacity = len(sf)
        if not shape[2]:  # the hash table grew with the sites: fill it again
            kernel.relink(si, grid, shape, sites)
    del entries, links, grid
    site_ids = si[:sites, kernel.ID].copy()
    site_offsets = np.zeros(sites + 1, np.int64)
    np.cumsum(np.bincount(at, minlength=sites), out=site_offsets[1:])
    by_site = np.empty(held + n, np.int64)  # entries site by site, in join order within each
    kernel.group(at, site_offsets[:-1].copy(), by_site)
    members = np.concatenate([existing.members.ids, points.ids[order]])[by_site]
    del by_site
    site_of = np.empty(n, np.int64)
    site_of[order] = site_ids[at[held:]]
    return SiteArrays(
        site_ids,
        sf[:sites, kernel.LAT].copy(),
        sf[:sites, kernel.LON].copy(),
        site_offsets,
        members,
        site_of,
        order,
        first_new,
    )


def _dense_grid(
    lats: tuple[np.ndarray, ...],
    lons: tuple[np.ndarray, ...],
    radius: float,
    row_deg: float,
    col_scale: float,
    n: int,
) -> np.ndarray:
    """(first row, first column, columns, rows) of a dense grid over every cell a point or a centre can
    touch (centres are weighted means of members, so they stay inside the same bounds; three cells
    of margin), or columns 0 (use a hash table) when that grid would have over 2 cells a point."""
    lat = np.concatenate(lats)
    lon = np.concatenate(lons)
    if not len(lat):
        return np.zeros(4, np.int64)
    rows = (math.floor(float(lat.min()) / row_deg), math.floor(float(lat.max()) / row_deg))
    span = max(_span(row, radius, row_deg) for row in (rows[0] - 1, rows[1] + 1))
    west, east = float(lon.min()) - span, float(lon.max()) + span
    cols = (math.floor(west * col_scale), math.floor(east * col_scale))
    height, width = rows[1] - rows[0] + 7, cols[1] - cols[0] + 7
    if height * width > 2 * n + 65536:
        return np.zeros(4, np.int64)
    return np.array([rows[0] - 3, cols[0] - 3, width, height], np.int64)


def _span(row: int, radius: float, row_deg: float) -> float:
    """Clusterer._span: degrees of longitude a centre within the radius of a point in this row can be."""
    pole = (max(abs(row), abs(row + 1)) + 1) * row_deg
    return radius / metres_per_degree(min(pole, 89.9)) * (1 + 1e-9)


def warm_up() -> None:
    """Compile the loop (or load it from numba's cache) now, every part of it: one site loaded and
    more new ones than the first arrays hold, so they grow once."""
    n = 1500
    row = np.arange(n, dtype=np.float64)
    for step in (0.0001, 0.08):  # a dense grid, then a hash table (from 60 S to 60 N)
        lat, lon = 44.8 - n / 2 * step + row * step, np.full(n, 20.4)
        points = PointArrays(np.arange(n, dtype=np.int64), lat, lon, np.full(n, 10.0), row)
        one = ExistingArrays.of([SiteRecord(n, 44.7, 20.4, (Point(n, 44.7, 20.4),))])
        place(points, 10.0, existing=one)


def _tables(
    capacity: int,
    shape: np.ndarray,
    sf: np.ndarray | None = None,
    si: np.ndarray | None = None,
    grid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Site arrays for ``capacity`` sites (the given rows copied in) and the grid: the dense one as
    it was (or empty), or an empty hash table at least twice as large as the sites (a cell holds at
    least one site, so it stays at most half full)."""
    new_sf = np.empty((capacity, 7), np.float64)
    new_si = np.empty((capacity, 6), np.int64)
    if sf is not None and si is not None:
        new_sf[: len(sf)] = sf
        new_si[: len(si)] = si
    if shape[2] and grid is not None:
        return new_sf, new_si, grid
    slots = int(shape[2] * shape[3]) if shape[2] else 1 << max(4, (2 * capacity - 1).bit_length())
    grid = np.empty((slots, 3), np.int64)
    grid[:, 2] = kernel.FREE
    return new_sf, new_si, grid


def clustering(result: SiteArrays, points: PointArrays) -> Clustering:
    """The ``Clustering`` of these arrays, as ``sites.assign`` builds it."""
    ids = result.ids.tolist()
    lats, lons = result.lat.tolist(), result.lon.tolist()
    members = result.members.tolist()
    bounds = result.offsets.tolist()
    sites = tuple(
        Site(i, la, lo, tuple(members[bounds[k] : bounds[k + 1]]))
        for k, (i, la, lo) in enumerate(zip(ids, lats, lons, strict=True))
    )
    placed = result.site_of[result.order]
    assigned = dict(zip(points.ids[result.order].tolist(), placed.tolist(), strict=True))
    first = result.first_new
    touched = frozenset(np.unique(placed[placed < first]).tolist())
    return Clustering(sites, assigned, tuple(i for i in ids if i >= first), touched)
