"""The records of site clustering: points to place, existing sites, the sites found, the weight.

Shared by the reference engine (``sites``) and the compiled one (``sites_fast``); ``sites`` exports
them, so callers import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_PRECISION_M = 1.0


@dataclass(frozen=True, slots=True)
class Point:
    """A sighting to place: its id, position, precision (metres) and report time (sort key)."""

    id: int
    lat: float
    lon: float
    precision_m: float = 10.0
    time: float = 0.0  # e.g. POSIX seconds of the report; ties are ordered by id


@dataclass(frozen=True)
class SiteRecord:
    """An existing site: id, centre and members (as points)."""

    id: int
    lat: float
    lon: float
    members: tuple[Point, ...] = ()


@dataclass(frozen=True)
class Site:
    """A site after clustering: id, centre, and member point ids in the order they joined."""

    id: int
    lat: float
    lon: float
    members: tuple[int, ...]


@dataclass(frozen=True)
class Clustering:
    """The sites, where each given point went, which sites are new and which changed."""

    sites: tuple[Site, ...]
    assigned: dict[int, int] = field(default_factory=dict)  # point id -> site id
    new: tuple[int, ...] = ()  # ids of the sites started here, in order
    touched: frozenset[int] = frozenset()  # ids of existing sites that gained members


def weight(precision_m: float) -> float:
    """Inverse-variance weight of a point with this precision."""
    p = max(float(precision_m), MIN_PRECISION_M)
    return 1.0 / (p * p)
