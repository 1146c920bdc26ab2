"""Decoding EXIF GPS and date tags (plain values from exifread, Pillow or XMP) into numbers.

``position`` gives signed degrees with altitude, bearing and horizontal error; ``iso_datetime`` the
capture time as ISO 8601. A GPS block that is present but unusable raises ``BadGps``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any


class BadGps(ValueError):
    """The GPS block is present but unusable (reason in the message)."""


def _number(value: Any) -> float:
    """A float from an exifread Ratio, Pillow IFDRational, int or float; 0/0 counts as 0."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    num = getattr(value, "numerator", None)
    den = getattr(value, "denominator", None)
    if isinstance(num, int) and isinstance(den, int):
        if den == 0:
            if num == 0:
                return 0.0
            raise BadGps(f"zero denominator ({num}/0)")
        result = num / den
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise BadGps(f"not a number: {value!r}")
    if not math.isfinite(result):
        raise BadGps(f"not a finite number: {value!r}")
    return result


def _text(value: Any) -> str:
    """A tag value as stripped upper-case text."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else ""
    return str(value).strip("\x00 ").upper() if value is not None else ""


def _coordinate(raw: dict[str, Any], axis: str) -> tuple[float, str] | None:
    """(unsigned degrees, reference letter or '') of one axis; None when the tag is absent."""
    value = raw.get(f"GPS{axis}")
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise BadGps(f"{axis.lower()} is text, not numbers")
    parts = list(value) if isinstance(value, (list, tuple)) else [value]
    if not parts or len(parts) > 3:
        raise BadGps(f"{axis.lower()} has {len(parts)} components")
    degrees, minutes, seconds = ([_number(p) for p in parts] + [0.0, 0.0])[:3]
    if minutes < 0 or seconds < 0:
        raise BadGps(f"negative minutes/seconds in {axis.lower()}")
    return abs(degrees) + minutes / 60 + seconds / 3600, _text(raw.get(f"GPS{axis}Ref"))[:1]


def position(raw: dict[str, Any]) -> dict[str, Any] | None:
    """lat/lon/altitude/direction from EXIF GPS tags; None when absent or 0/0; BadGps when invalid."""
    lat, lon = _coordinate(raw, "Latitude"), _coordinate(raw, "Longitude")
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise BadGps("latitude without longitude" if lon is None else "longitude without latitude")
    if lat[0] < 1e-9 and lon[0] < 1e-9:
        return None  # 0/0 is what receivers write without a fix, not Null Island
    if lat[1] not in ("N", "S") or lon[1] not in ("E", "W"):
        raise BadGps(f"missing or bad N/S/E/W reference ({lat[1]!r}, {lon[1]!r})")
    if lat[0] > 90 or lon[0] > 180:
        raise BadGps(f"out of range ({lat[0]:.6f}, {lon[0]:.6f})")
    out: dict[str, Any] = {
        "lat": round(-lat[0] if lat[1] == "S" else lat[0], 8),
        "lon": round(-lon[0] if lon[1] == "W" else lon[0], 8),
    }
    out.update(extras(raw))
    return out


def extras(raw: dict[str, Any]) -> dict[str, Any]:
    """Altitude, bearing and horizontal error: dropped silently when absent or nonsensical."""

    def optional(key: str) -> float | None:
        try:
            return _number(raw[key]) if key in raw else None
        except BadGps:
            return None

    out: dict[str, Any] = {}
    altitude = optional("GPSAltitude")
    if altitude is not None and abs(altitude) < 100_000:
        below = _text(raw.get("GPSAltitudeRef")) in ("1", "\x01") or raw.get("GPSAltitudeRef") in (1, [1])
        out["altitude"] = round(-altitude if below else altitude, 2)
    direction = optional("GPSImgDirection")
    if direction is not None and 0 <= direction <= 360:
        out["direction"] = round(direction % 360, 2)
        ref = _text(raw.get("GPSImgDirectionRef"))[:1]
        out["direction_ref"] = ref if ref in ("T", "M") else None
    h_error = optional("GPSHPositioningError")
    if h_error is not None and 0 < h_error < 100_000:
        out["h_error_m"] = round(h_error, 2)
    return out


_EXIF_DATE = re.compile(
    r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?"
)
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


def iso_datetime(value: Any, offset: Any = None) -> str | None:
    """'2019:05:04 12:30:01' (+ '+02:00') -> '2019-05-04T12:30:01+02:00'; None when not a real date."""
    match = _EXIF_DATE.fullmatch(_text(value).strip())
    if not match:
        return None
    parts = [int(p) for p in match.groups()[:6]]
    try:
        datetime(*parts)  # type: ignore[arg-type]
    except ValueError:
        return None
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(*parts)
    zone = match.group(7) or _text(offset)
    return stamp + zone if zone == "Z" or _OFFSET.fullmatch(zone) else stamp


def capture_time(raw: dict[str, Any]) -> str | None:
    return iso_datetime(raw.get("DateTimeOriginal"), raw.get("OffsetTimeOriginal")) or iso_datetime(
        raw.get("DateTimeDigitized"), raw.get("OffsetTimeDigitized")
    )
