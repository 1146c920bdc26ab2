"""OSM XML export of camera sites for JOSM: new nodes (negative ids), never uploadable as is.

Tags follow the OpenStreetMap surveillance scheme (wiki: Tag:man_made=surveillance):
man_made=surveillance, surveillance=public, surveillance:type=camera, and, where known,
camera:type, camera:mount, camera:direction, manufacturer, model, operator, check_date.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from xml.sax.saxutils import quoteattr

BASE_TAGS = {"man_made": "surveillance", "surveillance": "public", "surveillance:type": "camera"}
# Model numbers whose maker is known: Huawei's IPC6xxx series (IPC6625-Z30, IPC6225-VRZ-ES ...),
# which the #hiljadekamera campaign documented on Belgrade's poles.
MANUFACTURERS = ((re.compile(r"^(huawei\s+)?IPC6\d{3}", re.IGNORECASE), "Huawei"),)
XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def manufacturer_of(model: str | None) -> str | None:
    """The maker of a camera model, when the model number tells."""
    if not model:
        return None
    if model.strip().lower().startswith("huawei"):
        return "Huawei"
    for pattern, maker in MANUFACTURERS:
        if pattern.match(model.strip()):
            return maker
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = XML_UNSAFE.sub("", " ".join(str(value).split()))[:255]  # OSM values are at most 255 characters
    return text or None


def site_tags(row: Mapping[str, Any], *, operator: str | None = None) -> dict[str, str]:
    """The OSM tags of one site row (keys as in SITE_FIELDS); unknown attributes are left out."""
    tags = dict(BASE_TAGS)
    for key, field in (("camera:type", "camera_type"), ("camera:mount", "camera_mount")):
        value = _text(row.get(field))
        if value:
            tags[key] = value
    direction = row.get("camera_direction")
    if isinstance(direction, int | float) and math.isfinite(direction):
        tags["camera:direction"] = str(round(direction) % 360)
    model = _text(row.get("camera_model"))
    maker = manufacturer_of(model)
    if maker:
        tags["manufacturer"] = maker
    if model:
        tags["model"] = re.sub(r"^huawei\s+", "", model, flags=re.IGNORECASE)
    if _text(operator):
        tags["operator"] = _text(operator) or ""
    seen = row.get("last_seen")
    if isinstance(seen, dt.datetime | dt.date):
        tags["check_date"] = seen.strftime("%Y-%m-%d")
    count = row.get("camera_count")
    if isinstance(count, int) and count > 1:
        tags["note"] = f"{count} cameras at this spot (hiljade site {row.get('id')})"
    return tags


def write_osm(rows: Iterable[Mapping[str, Any]], out: TextIO, *, operator: str | None = None) -> int:
    """Stream an OSM 0.6 file with one node per site (id = minus the site id); returns the node count."""
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write('<osm version="0.6" generator="hiljade" upload="false">\n')
    count = 0
    for row in rows:
        lat, lon = row.get("lat"), row.get("lon")
        if lat is None or lon is None:
            continue
        out.write(f'  <node id="-{int(row["id"])}" visible="true" lat="{lat:.7f}" lon="{lon:.7f}">\n')
        for key, value in site_tags(row, operator=operator).items():
            out.write(f"    <tag k={quoteattr(key)} v={quoteattr(value)}/>\n")
        out.write("  </node>\n")
        count += 1
    out.write("</osm>\n")
    return count
