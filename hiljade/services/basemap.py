"""The self-drawn basemap and the place search of the public map, from the stored gazetteer: street
lines and named areas, simplified, for a box; a street or address placed with the geoparser.

The gazetteer is read once per process and build (a derived, read-only copy: every worker holds its
own and notices a newer build by its id)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree
from sqlalchemy import func, select

from hiljade.models.places import load_gazetteer_rows
from hiljade.models.schema import GazetteerBuild
from hiljade.models.store import Store
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import locate

BBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

SIMPLIFY_DEGREES = 0.00004  # about 4 m: what a street-level view can show
STREETS_MAX_SPAN = 0.2  # a box wider than this (degrees) gets named areas only, no street lines
AREA_KINDS = ("area",)
LINE_KINDS = ("street", "square")


@dataclass
class Layer:
    """One gazetteer build, ready for the map: simplified shapes in a spatial index."""

    build_id: int | None
    gazetteer: Gazetteer
    kinds: list[str]
    names: list[str]
    shapes: list[BaseGeometry]
    index: STRtree | None


_lock = threading.Lock()
_layers: dict[str, Layer] = {}


def _build_id(store: Store) -> int | None:
    with store.connect() as conn:
        return conn.execute(select(func.max(GazetteerBuild.id))).scalar_one_or_none()


def _load(store: Store) -> Layer:
    with store.connect() as conn:
        build_id, rows = load_gazetteer_rows(conn)
    gazetteer = Gazetteer.from_rows(rows)
    kinds, names, shapes = [], [], []
    for entry in gazetteer.entries:
        if entry.geometry is None or entry.kind not in AREA_KINDS + LINE_KINDS:
            continue
        shape = entry.geometry
        if entry.kind in AREA_KINDS and shape.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        kinds.append(entry.kind)
        names.append(entry.name)
        shapes.append(shapely.simplify(shape, SIMPLIFY_DEGREES, preserve_topology=True))
    return Layer(build_id, gazetteer, kinds, names, shapes, STRtree(shapes) if shapes else None)


def layer(store: Store) -> Layer:
    """The newest gazetteer build, loaded once per process and build."""
    build_id = _build_id(store)
    key = store.safe_url
    with _lock:
        cached = _layers.get(key)
        if cached is None or cached.build_id != build_id:
            if len(_layers) >= 4:  # one database per process in use; a few for tests and tools
                _layers.clear()
            cached = _layers[key] = _load(store)
        return cached


def basemap(store: Store, bbox: BBox, limit: int) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the street lines and named areas in ``bbox`` (at most ``limit``;
    areas first; street lines only when the box is small enough to show them)."""
    found = layer(store)
    features: list[dict[str, Any]] = []
    truncated = False
    if found.index is not None:
        view = box(*bbox)
        hits = sorted(found.index.query(view, predicate="intersects").tolist())
        streets = (bbox[2] - bbox[0]) <= STREETS_MAX_SPAN and (bbox[3] - bbox[1]) <= STREETS_MAX_SPAN
        hits = [i for i in hits if found.kinds[i] in AREA_KINDS] + (
            [i for i in hits if found.kinds[i] in LINE_KINDS] if streets else []
        )
        truncated = len(hits) > limit
        for i in hits[:limit]:
            shape = found.shapes[i]
            if found.kinds[i] in AREA_KINDS:
                shape = shapely.simplify(shape, _tolerance(bbox), preserve_topology=True)
            features.append(
                {"type": "Feature", "geometry": mapping(shape),
                 "properties": {"kind": found.kinds[i], "name": found.names[i]}}
            )
    return {"type": "FeatureCollection", "features": features, "truncated": truncated}


def _tolerance(bbox: BBox) -> float:
    """A simplification a box this size can show (about a pixel at 1000 pixels across)."""
    return max(SIMPLIFY_DEGREES, (bbox[2] - bbox[0]) / 1000)


def named_areas(store: Store) -> list[tuple[str, BaseGeometry]]:
    """The named areas of the gazetteer (polygons) with their names."""
    found = layer(store)
    return [
        (name, entry)
        for kind, name, entry in zip(found.kinds, found.names, found.shapes, strict=True)
        if kind in AREA_KINDS
    ]


def search_place(store: Store, text: str, limit: int = 5) -> list[dict[str, Any]]:
    """Places the geoparser finds in ``text`` (a street name or an address): name, lat, lon, method."""
    found = layer(store)
    located = locate(text, found.gazetteer)
    out, seen = [], set()
    candidates = ([located.chosen] if located.chosen else []) + list(located.candidates)
    for c in candidates:
        key = (round(c.lat, 6), round(c.lon, 6))
        if c.status == "rejected" or key in seen:
            continue
        seen.add(key)
        out.append({"name": c.matched or text, "lat": c.lat, "lon": c.lon, "method": c.method,
                    "precision_m": c.precision_m})
    return out[:limit]
