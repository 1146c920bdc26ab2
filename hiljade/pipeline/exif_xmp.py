"""The XMP packet of a photo: position, extras and capture time (exif: namespace), as text."""

from __future__ import annotations

import math
import re
from typing import Any

from hiljade.pipeline.exif_gps import extras, iso_datetime
from hiljade.pipeline.geometry import valid_position

_XMP_MAX = 4 * 1024 * 1024

_XMP_COORD = re.compile(r"(\d{1,3}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?(?:,(\d{1,2}(?:\.\d+)?))?([NSEW])")
_XMP_START = re.compile(rb"<x:x[am]pmeta")  # one pass over the file finds the first of either


def _xmp_packet(data: bytes) -> str | None:
    """The first ``<x:xmpmeta`` packet, else the first ``<x:xapmeta`` one, as text."""
    found = _XMP_START.search(data)
    if found is None:
        return None
    start = found.start()
    if data[start + 4] == ord("a"):  # an old-style packet comes first: a new-style one after it wins
        later = data.find(b"<x:xmpmeta", start + 10)
        start = later if later >= 0 else start
    end = data.find(b"meta>", start + 10, start + _XMP_MAX)
    return data[start : end + 5 if end > 0 else start + _XMP_MAX].decode("utf-8", "replace")


def _xmp_value(packet: str, name: str) -> str | None:
    if f"exif:{name}" not in packet:  # both forms name the property: a quick look before the pattern
        return None
    pattern = rf"exif:{name}\s*=\s*([\"'])(.*?)\1|<exif:{name}>\s*([^<]*?)\s*</exif:{name}>"
    match = re.search(pattern, packet, re.S)
    return None if match is None else (match.group(2) if match.group(2) is not None else match.group(3))


def xmp_coordinate(value: str, axis: str) -> float | None:
    """XMP GPSCoordinate 'DDD,MM,SSk' or 'DDD,MM.mmk' -> signed degrees; None when malformed."""
    match = _XMP_COORD.fullmatch(value.strip().replace(" ", "").upper())
    if not match or match.group(4) not in (("N", "S") if axis == "Latitude" else ("E", "W")):
        return None
    degrees, minutes, seconds = (float(g) if g else 0.0 for g in match.groups()[:3])
    if minutes >= 60 or seconds >= 60:
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if decimal > (90 if axis == "Latitude" else 180):  # 999,0N or 95,0N: no such place
        return None
    return -decimal if match.group(4) in ("S", "W") else decimal


def _xmp_rational(value: str | None) -> float | None:
    if not value:
        return None
    num, _, den = value.strip().partition("/")
    try:
        result = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        return None
    return result if math.isfinite(result) else None


def xmp_fields(data: bytes) -> dict[str, Any]:
    """Position, extras and capture time from the XMP packet (exif: namespace), when there is one."""
    packet = _xmp_packet(data)
    if packet is None:
        return {}
    out: dict[str, Any] = {"taken_at": iso_datetime(_xmp_value(packet, "DateTimeOriginal") or "")}
    lat_text, lon_text = _xmp_value(packet, "GPSLatitude"), _xmp_value(packet, "GPSLongitude")
    if not lat_text or not lon_text:
        return out
    lat, lon = xmp_coordinate(lat_text, "Latitude"), xmp_coordinate(lon_text, "Longitude")
    if lat is None or lon is None or not valid_position(lat, lon) or (abs(lat) < 1e-9 and abs(lon) < 1e-9):
        return out
    names = ("GPSAltitude", "GPSAltitudeRef", "GPSImgDirection", "GPSImgDirectionRef", "GPSHPositioningError")
    raw = {key: _xmp_value(packet, key) for key in names}
    raw = {key: value if key.endswith("Ref") else _xmp_rational(value) for key, value in raw.items()}
    out.update(lat=round(lat, 8), lon=round(lon, 8))
    out.update(extras({key: value for key, value in raw.items() if value is not None}))
    return out
