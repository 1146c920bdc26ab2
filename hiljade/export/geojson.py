"""GeoJSON (RFC 7946) export: a FeatureCollection of points in [lon, lat] order (WGS 84, no crs member)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from hiljade.export.licence import ATTRIBUTION, ATTRIBUTION_URL, LICENCE, LICENCE_URL

COORDINATE_DIGITS = 7  # about 1 cm; RFC 7946 section 11.2 asks for no more than needed
GEOMETRY_FIELDS = ("lat", "lon")


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def feature(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """One Feature: a Point from ``lat``/``lon`` (a null geometry when either is missing), the other
    fields as properties, and ``id`` as the feature id."""
    lat, lon = row.get("lat"), row.get("lon")
    geometry = None
    if lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon):
        geometry = {
            "type": "Point",
            "coordinates": [round(float(lon), COORDINATE_DIGITS), round(float(lat), COORDINATE_DIGITS)],
        }
    out: dict[str, Any] = {"type": "Feature"}
    if row.get("id") is not None:
        out["id"] = row["id"]
    out["geometry"] = geometry
    out["properties"] = {f: _value(row.get(f)) for f in fields if f not in GEOMETRY_FIELDS}
    return out


def write_geojson(rows: Iterable[Mapping[str, Any]], fields: Sequence[str], out: TextIO) -> int:
    """Stream a FeatureCollection (one feature a line, UTF-8 text) with the OpenStreetMap attribution
    and the licence as top-level members (RFC 7946 foreign members); returns the feature count."""
    head = {"type": "FeatureCollection", "attribution": ATTRIBUTION, "attribution_url": ATTRIBUTION_URL,
            "license": LICENCE, "license_url": LICENCE_URL}
    out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n')
    count = 0
    for row in rows:
        if count:
            out.write(",\n")
        out.write(json.dumps(feature(row, fields), ensure_ascii=False, allow_nan=False))
        count += 1
    out.write("\n]}\n")
    return count
