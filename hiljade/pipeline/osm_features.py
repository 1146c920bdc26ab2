"""OSM features as plain records, and their geometry from resolved OSM elements (pure).

The file readers in ``hiljade.harvester.osm_files`` resolve nodes, ways and relations and hand them
to ``assemble``; the gazetteer build takes the features (``merge_copies`` joins copies of one
element from several files) and ``area_of`` turns a boundary file's features into the area polygon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge, polygonize, unary_union

from hiljade.errors import GazetteerDataError

_AREA_KEYS = (
    "building",
    "landuse",
    "leisure",
    "amenity",
    "place",
    "boundary",
    "natural",
    "tourism",
    "shop",
    "historic",
    "office",
    "man_made",
    "military",
    "aeroway",
)


@dataclass(frozen=True)
class OsmFeature:
    """One named OSM element (or a bare geometry) as read from a file."""

    tags: Mapping[str, str]
    geometry: BaseGeometry | None
    osm_type: str | None = None  # node, way, relation
    osm_id: int | None = None
    source: str = ""  # the file it came from
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _closed_is_area(tags: Mapping[str, str]) -> bool:
    if tags.get("area") == "no":
        return False
    if tags.get("area") == "yes" or tags.get("type") in ("multipolygon", "boundary"):
        return True
    return any(k in tags for k in _AREA_KEYS) and "highway" not in tags


def _way_geometry(coords: Sequence[tuple[float, float]], tags: Mapping[str, str]) -> BaseGeometry | None:
    if len(coords) < 2:
        return Point(coords[0]) if coords else None
    if len(coords) >= 4 and coords[0] == coords[-1] and _closed_is_area(tags):
        poly = Polygon(coords)
        return poly if poly.is_valid else poly.buffer(0)
    return LineString(coords)


def _relation_geometry(
    tags: Mapping[str, str],
    members: Sequence[tuple[str, int, str]],
    way_coords: Mapping[int, Sequence[tuple[float, float]]],
    node_coords: Mapping[int, tuple[float, float]],
) -> BaseGeometry | None:
    lines = [
        LineString(way_coords[ref])
        for kind, ref, _ in members
        if kind == "way" and len(way_coords.get(ref, ())) >= 2
    ]
    points = [Point(node_coords[ref]) for kind, ref, _ in members if kind == "node" and ref in node_coords]
    if tags.get("type") in ("multipolygon", "boundary") and lines:
        outer = [
            LineString(way_coords[ref])
            for kind, ref, role in members
            if kind == "way" and role != "inner" and len(way_coords.get(ref, ())) >= 2
        ]
        inner = [
            LineString(way_coords[ref])
            for kind, ref, role in members
            if kind == "way" and role == "inner" and len(way_coords.get(ref, ())) >= 2
        ]
        polys = list(polygonize(unary_union(outer)))
        if polys:
            area = unary_union(polys)
            holes = list(polygonize(unary_union(inner))) if inner else []
            if holes:
                area = area.difference(unary_union(holes))
            return area if isinstance(area, (Polygon, MultiPolygon)) else None
    if lines:
        merged = linemerge(MultiLineString(lines))
        return merged
    if points:
        return unary_union(points)
    return None


def assemble(
    source: str,
    nodes: Iterable[tuple[int, tuple[float, float], dict[str, str]]],
    ways: Iterable[tuple[int, Sequence[tuple[float, float]], dict[str, str]]],
    relations: Iterable[tuple[int, Sequence[tuple[str, int, str]], dict[str, str]]],
    keep: Callable[[Mapping[str, str]], bool],
    node_coords: Mapping[int, tuple[float, float]],
) -> Iterator[OsmFeature]:
    """Features from resolved OSM elements: tagged nodes, ways with coordinates, relations with members."""
    way_coords: dict[int, Sequence[tuple[float, float]]] = {}
    for ident, loc, tags in nodes:
        if tags and keep(tags):
            yield OsmFeature(tags, Point(loc), "node", ident, source)
    for ident, coords, tags in ways:
        way_coords[ident] = coords
        if tags and keep(tags):
            geom = _way_geometry(coords, tags)
            if geom is not None:
                yield OsmFeature(tags, geom, "way", ident, source)
    for ident, members, tags in relations:
        if tags and keep(tags):
            geom = _relation_geometry(tags, members, way_coords, node_coords)
            if geom is not None and not geom.is_empty:
                yield OsmFeature(tags, geom, "relation", ident, source)


def merge_copies(features: Iterable[OsmFeature]) -> list[OsmFeature]:
    """The features with each OSM element once (at its first place), carrying the tags of every copy;
    earlier copies win where tags differ."""
    by_ref: dict[tuple[str, int], int] = {}
    out: list[OsmFeature] = []
    for feat in features:
        ref = (feat.osm_type, feat.osm_id) if feat.osm_type and feat.osm_id is not None else None
        if ref in by_ref:
            first = out[by_ref[ref]]
            out[by_ref[ref]] = OsmFeature({**feat.tags, **first.tags}, first.geometry, *ref, first.source)
            continue
        if ref:
            by_ref[ref] = len(out)
        out.append(feat)
    return out


def area_of(features: Iterable[OsmFeature], source: str = "") -> BaseGeometry:
    """The union of every polygon among ``features`` (e.g. the city boundary)."""
    polys = [
        f.geometry
        for f in features
        if f.geometry is not None and f.geometry.geom_type in ("Polygon", "MultiPolygon")
    ]
    if not polys:
        raise GazetteerDataError(f"{source}: no polygon in it to use as the area")
    return unary_union(polys)
