"""Camera sites: sightings grouped by distance in metres (pure; plain records in, plain records out).

Distance: always in metres, in the local projection of ``geometry`` around the site's centre
(x = R·cos φc·Δλ, y = R·Δφ, R = 6371008.8 m); for distances of a few hundred metres it agrees with
the great-circle distance to about one part in a million. Degrees are never compared.

Joining: points are taken in order of (time, id). A point joins the nearest site whose centre is
within the radius (equal distances: the smaller site id); otherwise it starts a new site there.

The centre rule: a site's centre is the precision-weighted mean of its members (weight
1/precision², so a reviewer's or a photo's point counts more than a street address) whenever
every member lies within the radius of that mean. A join that would leave some member outside
the radius of the new mean still joins, but the centre stays where it was. Hence every member is
always within the radius of its site's centre: a site is at most two radii across, so a street
with a report every 20 m becomes a row of sites, never one long one. The mean (rather than a
centre fixed at the first report) lets the position improve as reports accumulate.

Ids: ``assign`` never changes existing sites' ids or members; new sites get ids after the
largest. ``recluster`` rebuilds from nothing (pinned sites aside): the same points in any order
give the same sites, ids included. Nearest centres come from a grid of cells one radius tall,
so a join costs a handful of dictionary lookups whatever the number of sites.

Two engines, one rule: ``Clusterer`` here, in plain Python, is the reference; ``sites_fast`` runs
the same steps compiled (``sites_kernel``, numba) over arrays and gives the same sites bit for bit
(ids, members, centres). ``assign``, ``cluster`` and ``recluster`` take it from ``FAST_MIN_POINTS``
points on (``fast=False`` forces the reference, ``fast=True`` the compiled loop where it applies).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from hiljade.defaults import DEFAULTS
from hiljade.pipeline import sites_fast
from hiljade.pipeline.geometry import M_PER_DEG, distance_m, metres_per_degree
from hiljade.pipeline.groups import DisjointSets
from hiljade.pipeline.sites_records import Clustering, Point, Site, SiteRecord, weight

# Grid keys are row * _ROW + column: an odd multiplier spreads rows over the dict's low hash bits
# (a power of two would pile every row of a column into one slot); columns stay below _ROW / 2.
_ROW = 2_654_435_761
_ROW2 = 2 * _ROW
_floor = math.floor
# From this many points on ``assign`` takes the compiled loop (about 0.4 us a point against 10-20 us
# here): below it the reference engine is done before a fresh process has imported numba and loaded
# the cached machine code (0.5-1 s once per process; about 3 s more the first time after an install).
FAST_MIN_POINTS = 50_000


@dataclass(frozen=True)
class SiteSettings:
    """The `sites` settings this module and the store use."""

    radius_m: float = DEFAULTS["sites"]["radius_m"]
    verify_reports: int = DEFAULTS["sites"]["verify_reports"]

    @classmethod
    def of(cls, settings: Any) -> SiteSettings:
        """From a SiteSettings, a Config (its `sites` section) or the `sites` mapping itself."""
        if isinstance(settings, SiteSettings):
            return settings
        section = settings.get("sites") if hasattr(settings, "data") else settings
        section = section or {}
        return cls(
            radius_m=float(section.get("radius_m", cls.radius_m)),
            verify_reports=int(section.get("verify_reports", cls.verify_reports)),
        )


def centre_of(
    members: Sequence[Point], radius_m: float, current: tuple[float, float] | None = None
) -> tuple[float, float]:
    """The centre rule for a whole site: the weighted mean when every member is within the radius of
    it, else ``current`` when every member is within the radius of that, else the mean (a reviewer
    grouped points wider than the radius)."""
    if not members:
        if current is None:
            raise ValueError("a site without members needs its current centre")
        return current
    total = sum(weight(m.precision_m) for m in members)
    mean = (
        sum(weight(m.precision_m) * m.lat for m in members) / total,
        sum(weight(m.precision_m) * m.lon for m in members) / total,
    )
    if all(distance_m(m.lat, m.lon, *mean) <= radius_m for m in members):
        return mean
    if current is not None and all(distance_m(m.lat, m.lon, *current) <= radius_m for m in members):
        return current
    return mean


class _State:
    """One site while clustering (mutable; the grid holds these)."""

    __slots__ = ("id", "lat", "lon", "kx", "cell", "sw", "swlat", "swlon", "maxd", "plat", "plon", "members")

    def __init__(self, site_id: int, lat: float, lon: float, cell: int) -> None:
        self.id = site_id
        self.lat = lat
        self.lon = lon
        self.kx = metres_per_degree(lat)  # metres per degree of longitude here
        self.cell = cell
        self.sw = self.swlat = self.swlon = 0.0  # weight sums for the mean
        self.maxd = 0.0  # an upper bound of the members' distance to the centre
        self.plat: list[float] = []
        self.plon: list[float] = []
        self.members: list[int] = []

    def distance(self, lat: float, lon: float) -> float:
        return math.hypot((lon - self.lon) * self.kx, (lat - self.lat) * M_PER_DEG)


class Clusterer:
    """The incremental engine: sites with centres in a grid; ``add`` places one point."""

    def __init__(self, radius_m: float, *, next_id: int = 1) -> None:
        if not radius_m > 0:
            raise ValueError(f"radius_m must be positive, not {radius_m!r}")
        self.radius = float(radius_m)
        self.next_id = next_id
        self.row_deg = self.radius / M_PER_DEG  # grid rows are one radius tall
        self.col_scale: float | None = None  # grid columns per degree of longitude (from the first site)
        self.grid: dict[int, list[_State]] = {}
        self.by_id: dict[int, _State] = {}
        self._spans: dict[int, float] = {}

    # ---- the grid ---------------------------------------------------------------------------

    def _key(self, lat: float, lon: float) -> int:
        if self.col_scale is None:
            self.col_scale = metres_per_degree(lat) / self.radius
        return math.floor(lat / self.row_deg) * _ROW + math.floor(lon * self.col_scale)

    def _span(self, row: int) -> float:
        """Degrees of longitude a centre within the radius of a point in this row can be away."""
        pole = (max(abs(row), abs(row + 1)) + 1) * self.row_deg
        span = self.radius / metres_per_degree(min(pole, 89.9)) * (1 + 1e-9)
        self._spans[row] = span
        return span

    def _nearest(self, lat: float, lon: float) -> tuple[_State | None, float]:
        """The nearest site whose centre is within the radius (or None), and its squared distance."""
        if self.col_scale is None:
            return None, math.inf
        row = _floor(lat / self.row_deg)
        span = self._spans.get(row) or self._span(row)
        c0 = _floor((lon - span) * self.col_scale) + (row - 1) * _ROW
        c1 = _floor((lon + span) * self.col_scale) + 1 + (row - 1) * _ROW
        best, best_d2 = None, self.radius * self.radius
        cells = self.grid.get
        keys = chain(range(c0, c1), range(c0 + _ROW, c1 + _ROW), range(c0 + _ROW2, c1 + _ROW2))
        m = M_PER_DEG
        for cell in filter(None, map(cells, keys)):
            for site in cell:
                dy = (lat - site.lat) * m
                dx = (lon - site.lon) * site.kx
                d2 = dx * dx + dy * dy
                if d2 <= best_d2 and (d2 < best_d2 or best is None or site.id < best.id):
                    best, best_d2 = site, d2
        return best, best_d2

    def nearest(self, lat: float, lon: float) -> tuple[int | None, float]:
        """The id of the nearest site whose centre is within the radius (or None), and its distance."""
        site, d2 = self._nearest(lat, lon)
        return (site.id, math.sqrt(d2)) if site is not None else (None, math.inf)

    # ---- sites ------------------------------------------------------------------------------

    def _start(self, site_id: int, lat: float, lon: float) -> _State:
        if site_id in self.by_id:
            raise ValueError(f"site {site_id} exists already")
        site = _State(site_id, lat, lon, self._key(lat, lon))
        self.grid.setdefault(site.cell, []).append(site)
        self.by_id[site_id] = site
        self.next_id = max(self.next_id, site_id + 1)
        return site

    def load(self, record: SiteRecord) -> None:
        """Add an existing site with its members as they are (its centre is not recomputed)."""
        site = self._start(record.id, record.lat, record.lon)
        for p in record.members:
            self._keep(site, p.id, p.lat, p.lon, weight(p.precision_m))
            site.maxd = max(site.maxd, site.distance(p.lat, p.lon))

    @staticmethod
    def _keep(site: _State, point_id: int, lat: float, lon: float, w: float) -> None:
        site.sw += w
        site.swlat += w * lat
        site.swlon += w * lon
        site.plat.append(lat)
        site.plon.append(lon)
        site.members.append(point_id)

    def add(self, point_id: int, lat: float, lon: float, precision_m: float = 10.0) -> tuple[int, bool]:
        """Place one point: (its site id, whether the site is new)."""
        site, d2 = self._nearest(lat, lon)
        w = weight(precision_m)
        if site is None:
            site = self._start(self.next_id, lat, lon)
            self._keep(site, point_id, lat, lon, w)
            return site.id, True
        self._keep(site, point_id, lat, lon, w)
        self._recentre(site, max(site.maxd, math.sqrt(d2)))
        return site.id, False

    def _recentre(self, site: _State, maxd: float) -> None:
        """Move the centre to the members' mean if every member stays within the radius of it."""
        mlat, mlon = site.swlat / site.sw, site.swlon / site.sw
        kx = metres_per_degree(mlat)
        # A cheap bound first (triangle inequality in the old metric, scaled to the new one); when
        # it is inconclusive, measure every member. Either way the answer is the exact rule's.
        bound = max(1.0, kx / site.kx) * (maxd + site.distance(mlat, mlon)) + 1e-9
        if bound > self.radius:
            bound = self._farthest(site, mlat, mlon, kx)
            if bound > self.radius:
                site.maxd = maxd
                return
        site.lat, site.lon, site.kx, site.maxd = mlat, mlon, kx, bound
        key = self._key(mlat, mlon)
        if key != site.cell:
            cell = self.grid[site.cell]
            cell.remove(site)
            if not cell:
                del self.grid[site.cell]
            self.grid.setdefault(key, []).append(site)
            site.cell = key

    def _farthest(self, site: _State, lat: float, lon: float, kx: float) -> float:
        """The largest member distance from (lat, lon); stops early once beyond the radius."""
        r2 = self.radius * self.radius
        worst = 0.0
        for plat, plon in zip(site.plat, site.plon, strict=True):
            dy = (plat - lat) * M_PER_DEG
            dx = (plon - lon) * kx
            d2 = dx * dx + dy * dy
            if d2 > worst:
                worst = d2
                if worst > r2:
                    break
        return math.sqrt(worst)

    def sites(self) -> tuple[Site, ...]:
        """Every site, by id."""
        ordered = sorted(self.by_id.values(), key=lambda s: s.id)
        return tuple(Site(s.id, s.lat, s.lon, tuple(s.members)) for s in ordered)


def in_order(points: Iterable[Point]) -> list[Point]:
    """Points in the clustering order: report time, then id."""
    return sorted(points, key=lambda p: (p.time, p.id))


def assign(
    existing: Iterable[SiteRecord],
    points: Iterable[Point],
    radius_m: float,
    *,
    next_id: int | None = None,
    fast: bool | None = None,
) -> Clustering:
    """Place new points among existing sites (whose ids and members never change) and new ones.
    ``fast``: through the compiled loop of ``sites_fast`` where it applies (the same result); by
    default from ``FAST_MIN_POINTS`` points on. False: this module's engine, the reference."""
    existing, points = list(existing), list(points)
    collecting = gc.isenabled()
    gc.disable()  # neither engine makes reference cycles; collections would only rescan millions of objects
    try:
        if fast or (fast is None and len(points) >= FAST_MIN_POINTS):
            arrays, held = sites_fast.PointArrays.of(points), sites_fast.ExistingArrays.of(existing)
            if sites_fast.applies(arrays, held, radius_m):
                found = sites_fast.place(arrays, radius_m, existing=held, next_id=next_id)
                return sites_fast.clustering(found, arrays)
        return _assign(existing, points, radius_m, next_id)
    finally:
        if collecting:
            gc.enable()


def _assign(
    existing: list[SiteRecord], points: list[Point], radius_m: float, next_id: int | None
) -> Clustering:
    """``assign`` by the reference engine."""
    engine = Clusterer(radius_m)
    assigned: dict[int, int] = {}
    touched: set[int] = set()
    for site in sorted(existing, key=lambda s: s.id):
        engine.load(site)
    if next_id is not None:
        engine.next_id = max(engine.next_id, next_id)
    first_new = engine.next_id
    for p in in_order(points):
        site_id, _ = engine.add(p.id, p.lat, p.lon, p.precision_m)
        assigned[p.id] = site_id
        if site_id < first_new:
            touched.add(site_id)
    sites = engine.sites()
    new = tuple(s.id for s in sites if s.id >= first_new)
    return Clustering(sites, assigned, new, frozenset(touched))


def cluster(
    points: Iterable[Point], radius_m: float, *, next_id: int = 1, fast: bool | None = None
) -> Clustering:
    """Sites from nothing: deterministic for the same points in any order."""
    return assign((), points, radius_m, next_id=next_id, fast=fast)


def recluster(
    points: Iterable[Point],
    radius_m: float,
    *,
    pinned: Iterable[SiteRecord] = (),
    next_id: int = 1,
    fast: bool | None = None,
) -> Clustering:
    """Rebuild: pinned sites (a reviewer's) keep their members; every other point is placed again,
    in (time, id) order, among them and new sites numbered from ``next_id`` (or after the pinned)."""
    pinned = list(pinned)
    held = {p.id for site in pinned for p in site.members}
    return assign(pinned, (p for p in points if p.id not in held), radius_m, next_id=next_id, fast=fast)


def nearby(centres: Iterable[tuple[int, float, float]], points: Sequence[Point], within_m: float) -> set[int]:
    """Ids of the (id, lat, lon) centres within ``within_m`` of any point."""
    if not points:
        return set()
    engine = Clusterer(within_m)
    for n, p in enumerate(points):
        engine.load(SiteRecord(n, p.lat, p.lon))
    return {cid for cid, lat, lon in centres if engine.nearest(lat, lon)[0] is not None}


def camera_direction(bearings: Iterable[float]) -> float | None:
    """Where a camera faces from photographers' bearings (it looks back at them): the circular mean
    of (bearing + 180) % 360, in degrees; None without bearings or when they cancel out."""
    xs = ys = 0.0
    n = 0
    for bearing in bearings:
        a = math.radians((bearing + 180.0) % 360.0)
        xs += math.sin(a)
        ys += math.cos(a)
        n += 1
    if n == 0 or math.hypot(xs, ys) < 1e-6 * n:
        return None
    return round(math.degrees(math.atan2(xs, ys)) % 360.0, 1) % 360.0


def report_groups(links: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Each linked post's group (the smallest post id among its duplicates, links taken as edges)."""
    sets = DisjointSets()
    for a, b in links:
        sets.union(a, b)
    return sets.roots()


def independent_reports(posts: Iterable[int], groups: Mapping[int, int]) -> int:
    """How many of ``posts`` are independent reports: their distinct duplicate groups."""
    return len({groups.get(p, p) for p in set(posts)})
