"""The one local metric projection: degrees to metres around a point, for distances and sizes.

Equirectangular: x = R·cos φ0·Δλ, y = R·Δφ with R = 6371008.8 m (the mean Earth radius); within
1 % across a city, and within a part in a million over a few hundred metres. Degrees are never
compared as distances: project first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6371008.8
M_PER_DEG = math.pi / 180.0 * EARTH_RADIUS_M  # metres per degree of latitude (about 111 195)
# The customary round figure for a degree at the equator; the cell sizes of coordinates written in
# text (``textgeo``) have always used it, so their precisions stay as they were.
NOMINAL_M_PER_DEG = 111_320.0


def valid_position(lat: float, lon: float) -> bool:
    """True for a real position: finite, latitude within ±90, longitude within ±180, and not 0/0
    (what receivers and exports write for no position at all)."""
    return -90 <= lat <= 90 and -180 <= lon <= 180 and not (lat == 0 and lon == 0)  # NaN fails too


def metres_per_degree(lat: float) -> float:
    """Metres per degree of longitude at latitude ``lat``."""
    return M_PER_DEG * math.cos(math.radians(lat))


def distance_m(lat: float, lon: float, clat: float, clon: float) -> float:
    """Metres from the centre (clat, clon) to (lat, lon), in the projection around the centre."""
    dy = (lat - clat) * M_PER_DEG
    dx = (lon - clon) * M_PER_DEG * math.cos(math.radians(clat))
    return math.hypot(dx, dy)


def cell_diagonal_m(lat: float, dlat_deg: float, dlon_deg: float, *, m_per_deg: float = M_PER_DEG) -> float:
    """The diagonal (metres) of a cell ``dlat_deg`` by ``dlon_deg`` degrees at latitude ``lat``."""
    dy = dlat_deg * m_per_deg
    dx = dlon_deg * m_per_deg * math.cos(math.radians(lat))
    return math.hypot(dx, dy)


class LocalProjection:
    """Shapely geometries between WGS84 and local metres around an origin (lat0, lon0)."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self.kx = metres_per_degree(lat0)
        self.ky = M_PER_DEG

    @classmethod
    def around(cls, geoms: Iterable[BaseGeometry | None]) -> LocalProjection:
        """A projection centred on the bounding box of ``geoms``."""
        present = [g for g in geoms if g is not None and not g.is_empty]
        x0, y0, x1, y1 = shapely.total_bounds(present) if present else (0.0, 0.0, 0.0, 0.0)
        return cls((float(y0) + float(y1)) / 2, (float(x0) + float(x1)) / 2)

    def to_metric(self, geom: BaseGeometry) -> BaseGeometry:
        """WGS84 geometry -> local metres."""
        return shapely.transform(geom, lambda c: (c - (self.lon0, self.lat0)) * (self.kx, self.ky))

    def to_wgs84(self, geom: BaseGeometry) -> BaseGeometry:
        """Local metres -> WGS84 geometry."""
        return shapely.transform(geom, lambda c: c / (self.kx, self.ky) + (self.lon0, self.lat0))

    def lonlat(self, metric_point: Point) -> list[float]:
        """A metric point as [lon, lat], rounded to 7 decimals (about 1 cm)."""
        q = self.to_wgs84(metric_point)
        return [round(q.x, 7), round(q.y, 7)]
