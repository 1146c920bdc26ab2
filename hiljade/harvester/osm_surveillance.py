"""OpenStreetMap's surveillance nodes (``man_made=surveillance``): read from ``.osm``, ``.osm.pbf`` or
Overpass JSON files, or fetched from the Overpass API for the area (as ``gazetteer fetch`` does)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from hiljade.errors import GazetteerDataError
from hiljade.harvester.osm_files import read_features
from hiljade.harvester.overpass import OVERPASS_URL, check_bbox, fetch_overpass
from hiljade.pipeline.geometry import valid_position

# the tags the reconciliation and the JOSM export compare; every tag of a node is kept
CAMERA_TAGS = (
    "surveillance:type",
    "camera:type",
    "camera:mount",
    "camera:direction",
    "operator",
    "manufacturer",
)


@dataclass(frozen=True)
class SurveillanceNode:
    """One OSM surveillance element: its type and id, its position and its tags."""

    osm_type: str
    osm_id: int
    lat: float
    lon: float
    tags: Mapping[str, str]


def is_surveillance(tags: Mapping[str, str]) -> bool:
    """True for a surveillance element (``man_made=surveillance``)."""
    return tags.get("man_made") == "surveillance"


def read_surveillance(path: Path | str) -> list[SurveillanceNode]:
    """The surveillance elements of one file (a way or relation stands at a point inside it), each
    once; GazetteerDataError when the file cannot be read."""
    out: dict[tuple[str, int], SurveillanceNode] = {}
    for feat in read_features(Path(path), keep=is_surveillance):
        if feat.geometry is None or feat.geometry.is_empty or feat.osm_type is None or feat.osm_id is None:
            continue
        point = feat.geometry if feat.geometry.geom_type == "Point" else feat.geometry.representative_point()
        if not valid_position(point.y, point.x):
            continue
        key = (feat.osm_type, int(feat.osm_id))
        out.setdefault(key, SurveillanceNode(*key, round(point.y, 7), round(point.x, 7), dict(feat.tags)))
    if not out and not Path(path).stat().st_size:
        raise GazetteerDataError(f"{path}: the file is empty")
    return list(out.values())


def surveillance_query(area_bbox: tuple[float, float, float, float], *, timeout: float = 180) -> str:
    """The Overpass QL for the surveillance nodes of the area's bounding box."""
    min_lon, min_lat, max_lon, max_lat = check_bbox(area_bbox)
    bbox = f"{min_lat},{min_lon},{max_lat},{max_lon}"  # Overpass order: south,west,north,east
    return f'[out:json][timeout:{int(timeout)}][bbox:{bbox}];\nnode["man_made"="surveillance"];\nout qt;\n'


def fetch_surveillance(
    area_bbox: tuple[float, float, float, float],
    *,
    url: str = OVERPASS_URL,
    user_agent: str,
    out: Path,
    timeout: float = 180,
    session: requests.Session | None = None,
) -> Path:
    """Ask Overpass for the area's surveillance nodes and write its JSON answer to ``out`` atomically."""
    return fetch_overpass(
        area_bbox,
        url=url,
        user_agent=user_agent,
        out=out,
        timeout=timeout,
        session=session,
        query=surveillance_query(area_bbox, timeout=timeout),
    )
