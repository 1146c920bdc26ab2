"""EXIF/XMP GPS reader for original photos: position, altitude, bearing and capture time.

A pure reader over bytes: it never raises for a bad file, it answers with an ``ExifResult``
whose ``error`` says what was wrong. exifread does the parsing; Pillow (and pillow-heif for
HEIF) is the fallback for files exifread cannot read; the XMP packet is the fallback when
EXIF has no position.
"""

from __future__ import annotations

import io
import logging
import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import exifread

from hiljade.records import Candidate

MAX_BYTES = 64 * 1024 * 1024  # larger files are refused unread
DEFAULT_PRECISION_M = 10.0  # a phone fix when GPSHPositioningError is absent
PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF")
_XMP_MAX = 4 * 1024 * 1024

# exifread reports "No EXIF information found" and friends as log warnings; we turn them into results.
logging.getLogger("exifread").setLevel(logging.ERROR)

_RESULT_KEYS = ("file", "lat", "lon", "altitude", "direction", "taken_at", "error")
# GPS IFD tag ids (as Pillow keys them) -> the names exifread gives them, without the "GPS " prefix.
_GPS_TAGS = {
    1: "GPSLatitudeRef",
    2: "GPSLatitude",
    3: "GPSLongitudeRef",
    4: "GPSLongitude",
    5: "GPSAltitudeRef",
    6: "GPSAltitude",
    16: "GPSImgDirectionRef",
    17: "GPSImgDirection",
    31: "GPSHPositioningError",
}
_DATE_TAGS = {
    0x9003: "DateTimeOriginal",
    0x9011: "OffsetTimeOriginal",
    0x9004: "DateTimeDigitized",
    0x9012: "OffsetTimeDigitized",
}


class _BadGps(ValueError):
    """The GPS block is present but unusable (reason in the message)."""


@dataclass(frozen=True)
class ExifResult:
    """What one photo says about where and when it was taken; ``error`` when the file is bad."""

    file: str
    lat: float | None = None
    lon: float | None = None
    altitude: float | None = None  # metres above sea level (negative below)
    direction: float | None = None  # GPSImgDirection, degrees 0..360: the photographer's bearing
    taken_at: str | None = None  # ISO 8601 as written in the photo, offset appended when recorded
    error: str | None = None
    direction_ref: str | None = None  # "T" true north or "M" magnetic north
    h_error_m: float | None = None  # GPSHPositioningError, metres
    gps_source: str | None = None  # "exif" or "xmp"

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready summary printed by ``hiljade exif``."""
        return {key: getattr(self, key) for key in _RESULT_KEYS}

    def to_candidate(self) -> Candidate | None:
        """The photo position as a location candidate, or None without a fix."""
        if self.lat is None or self.lon is None:
            return None
        precision = max(self.h_error_m, 1.0) if self.h_error_m else DEFAULT_PRECISION_M
        keys = ("direction", "direction_ref", "altitude", "taken_at", "h_error_m", "gps_source")
        return Candidate(
            lat=self.lat,
            lon=self.lon,
            method="exif",
            precision_m=precision,
            confidence=0.9 if self.gps_source == "exif" else 0.85,
            status="auto",
            matched=self.file,
            source=f"{self.gps_source}:GPS",
            evidence={key: getattr(self, key) for key in keys},
        )


def read_exif(data: bytes | Path, *, name: str = "") -> ExifResult:
    """Read GPS position, altitude, bearing and capture time from an image's bytes or path."""
    if isinstance(data, Path):
        name = name or str(data)
        try:
            size = data.stat().st_size
            if size > MAX_BYTES:
                return ExifResult(file=name, error=f"file too large ({size} bytes > {MAX_BYTES})")
            data = data.read_bytes()
        except OSError as exc:
            return ExifResult(file=name, error=f"cannot read file: {exc.strerror or exc}")
    if len(data) > MAX_BYTES:
        return ExifResult(file=name, error=f"file too large ({len(data)} bytes > {MAX_BYTES})")
    try:
        return _read(bytes(data), name)
    except Exception as exc:  # the boundary: a bad file is a result, never a traceback
        return ExifResult(file=name, error=f"unreadable metadata: {type(exc).__name__}: {exc}")


def _read(data: bytes, name: str) -> ExifResult:
    kind, problem = container_check(data)
    if problem:
        return ExifResult(file=name, error=problem)
    raw, error = _exifread_raw(data)
    if raw is None:
        raw, pil_error = _pillow_raw(data, kind)
        if raw is None:
            return ExifResult(file=name, error=error or pil_error)
        error = None
    fields: dict[str, Any] = {"file": name, "taken_at": _taken_at(raw)}
    try:
        position = _position(raw)
    except _BadGps as exc:
        position, error = None, f"invalid GPS: {exc}"
    if raw.get("GPSInfo") == []:
        error = error or "unusable GPS IFD pointer (GPSInfo is empty)"
    if position is not None:
        fields.update(position, gps_source="exif")
    else:
        xmp = _xmp_fields(data)
        if xmp.get("lat") is not None:
            fields.update(xmp, gps_source="xmp")
            error = None
        fields["taken_at"] = fields["taken_at"] or xmp.get("taken_at")
    return ExifResult(error=error, **fields)


def container_check(data: bytes) -> tuple[str | None, str | None]:
    """The container kind (jpeg, png, webp, heif, tiff or None) and why it is truncated/corrupt, if so."""
    if len(data) < 12:
        return None, "not an image (too short)"
    if data[:2] == b"\xff\xd8":
        return "jpeg", _jpeg_problem(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png", _png_problem(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        declared = struct.unpack_from("<I", data, 4)[0] + 8
        return "webp", "truncated WebP (RIFF size exceeds the file)" if declared > len(data) else None
    if data[4:8] == b"ftyp":
        return "heif", _heif_problem(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        offset = struct.unpack_from("<I" if data[:2] == b"II" else ">I", data, 4)[0]
        return "tiff", "truncated TIFF (first IFD beyond the end)" if offset + 2 > len(data) else None
    return None, None


def _jpeg_problem(data: bytes) -> str | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # junk between segments: leave the verdict to the parsers
        marker = data[pos + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:  # fill byte or standalone marker
            pos += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if marker == 0xD9:  # end of image before any scan
            return None
        if length < 2:
            return f"corrupt JPEG (segment length {length} at byte {pos})"
        if pos + 2 + length > len(data):
            return "truncated JPEG (a segment runs past the end of the file)"
        if marker == 0xDA:  # start of scan: metadata is behind us; the image must still end properly
            return None if data.rfind(b"\xff\xd9", pos) >= 0 else "truncated JPEG (no end-of-image marker)"
        pos += 2 + length
    return "truncated JPEG (file ends inside the header segments)"


def _png_problem(data: bytes) -> str | None:
    pos = 8
    while pos + 12 <= len(data) and data[pos + 4 : pos + 8] != b"IEND":
        pos += 12 + struct.unpack_from(">I", data, pos)[0]
    return "truncated PNG (a chunk runs past the end of the file)" if pos + 12 > len(data) else None


def _heif_problem(data: bytes) -> str | None:
    pos = 0
    while pos + 8 <= len(data):
        size = struct.unpack_from(">I", data, pos)[0]
        if size == 0:  # the last box runs to the end of the file
            return None
        if size == 1 and pos + 16 <= len(data):
            size = struct.unpack_from(">Q", data, pos + 8)[0]
        if size < 8:
            return f"corrupt HEIF (box size {size} at byte {pos})"
        pos += size
    return "truncated HEIF (a box runs past the end of the file)" if pos != len(data) else None


def _exifread_raw(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """GPS and date tags as plain values via exifread; (None, reason) when it cannot read the file."""
    try:
        tags = exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    except Exception as exc:  # exifread raises anything from AssertionError to struct.error
        return None, f"unreadable EXIF: {type(exc).__name__}: {exc}".rstrip(": ")
    if not tags:
        return None, None
    raw: dict[str, Any] = {}
    for key, tag in tags.items():
        group, _, tag_name = key.partition(" ")
        if group == "GPS":
            tag_name = "GPSHPositioningError" if tag_name == "Tag 0x001F" else tag_name
            raw[tag_name] = tag.values
        elif group == "EXIF" and tag_name in _DATE_TAGS.values():
            raw[tag_name] = tag.values
        elif key == "Image GPSInfo":
            raw["GPSInfo"] = list(tag.values)
    return raw, None


_heif_registered = False


def _pillow_raw(data: bytes, kind: str | None) -> tuple[dict[str, Any] | None, str]:
    """GPS and date tags via Pillow (pillow-heif registered on first HEIF); (None, reason) on failure."""
    global _heif_registered
    from PIL import Image

    if kind == "heif" and not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True
    Image.init()
    formats = [fmt for fmt in PILLOW_FORMATS if fmt in Image.OPEN]
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            exif = image.getexif()
            gps = exif.get_ifd(0x8825)
            dates = exif.get_ifd(0x8769)
    except Image.UnidentifiedImageError:
        return None, "not a recognised image format" if kind is None else f"unreadable {kind} image"
    except Exception as exc:  # Pillow raises many types for broken files
        return None, f"unreadable image: {type(exc).__name__}: {exc}"
    raw: dict[str, Any] = {name: gps[tag] for tag, name in _GPS_TAGS.items() if tag in gps}
    raw.update({name: dates[tag] for tag, name in _DATE_TAGS.items() if tag in dates})
    return raw, ""


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
            raise _BadGps(f"zero denominator ({num}/0)")
        result = num / den
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise _BadGps(f"not a number: {value!r}")
    if not math.isfinite(result):
        raise _BadGps(f"not a finite number: {value!r}")
    return result


def _text(value: Any) -> str:
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
        raise _BadGps(f"{axis.lower()} is text, not numbers")
    parts = list(value) if isinstance(value, (list, tuple)) else [value]
    if not parts or len(parts) > 3:
        raise _BadGps(f"{axis.lower()} has {len(parts)} components")
    degrees, minutes, seconds = ([_number(p) for p in parts] + [0.0, 0.0])[:3]
    if minutes < 0 or seconds < 0:
        raise _BadGps(f"negative minutes/seconds in {axis.lower()}")
    return abs(degrees) + minutes / 60 + seconds / 3600, _text(raw.get(f"GPS{axis}Ref"))[:1]


def _position(raw: dict[str, Any]) -> dict[str, Any] | None:
    """lat/lon/altitude/direction from EXIF GPS tags; None when absent or 0/0; _BadGps when invalid."""
    lat, lon = _coordinate(raw, "Latitude"), _coordinate(raw, "Longitude")
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise _BadGps("latitude without longitude" if lon is None else "longitude without latitude")
    if lat[0] < 1e-9 and lon[0] < 1e-9:
        return None  # 0/0 is what receivers write without a fix, not Null Island
    if lat[1] not in ("N", "S") or lon[1] not in ("E", "W"):
        raise _BadGps(f"missing or bad N/S/E/W reference ({lat[1]!r}, {lon[1]!r})")
    if lat[0] > 90 or lon[0] > 180:
        raise _BadGps(f"out of range ({lat[0]:.6f}, {lon[0]:.6f})")
    out: dict[str, Any] = {
        "lat": round(-lat[0] if lat[1] == "S" else lat[0], 8),
        "lon": round(-lon[0] if lon[1] == "W" else lon[0], 8),
    }
    out.update(_extras(raw))
    return out


def _extras(raw: dict[str, Any]) -> dict[str, Any]:
    """Altitude, bearing and horizontal error: dropped silently when absent or nonsensical."""

    def optional(key: str) -> float | None:
        try:
            return _number(raw[key]) if key in raw else None
        except _BadGps:
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


def _taken_at(raw: dict[str, Any]) -> str | None:
    return iso_datetime(raw.get("DateTimeOriginal"), raw.get("OffsetTimeOriginal")) or iso_datetime(
        raw.get("DateTimeDigitized"), raw.get("OffsetTimeDigitized")
    )


_XMP_COORD = re.compile(r"(\d{1,3}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?(?:,(\d{1,2}(?:\.\d+)?))?([NSEW])")


def _xmp_packet(data: bytes) -> str | None:
    start = data.find(b"<x:xmpmeta")
    start = start if start >= 0 else data.find(b"<x:xapmeta")
    if start < 0:
        return None
    end = data.find(b"meta>", start + 10, start + _XMP_MAX)
    return data[start : end + 5 if end > 0 else start + _XMP_MAX].decode("utf-8", "replace")


def _xmp_value(packet: str, name: str) -> str | None:
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


def _xmp_fields(data: bytes) -> dict[str, Any]:
    """Position, extras and capture time from the XMP packet (exif: namespace), when there is one."""
    packet = _xmp_packet(data)
    if packet is None:
        return {}
    out: dict[str, Any] = {"taken_at": iso_datetime(_xmp_value(packet, "DateTimeOriginal") or "")}
    lat_text, lon_text = _xmp_value(packet, "GPSLatitude"), _xmp_value(packet, "GPSLongitude")
    if not lat_text or not lon_text:
        return out
    lat, lon = xmp_coordinate(lat_text, "Latitude"), xmp_coordinate(lon_text, "Longitude")
    if lat is None or lon is None or lon < -180 or lon > 180 or (abs(lat) < 1e-9 and abs(lon) < 1e-9):
        return out
    names = ("GPSAltitude", "GPSAltitudeRef", "GPSImgDirection", "GPSImgDirectionRef", "GPSHPositioningError")
    raw = {key: _xmp_value(packet, key) for key in names}
    raw = {key: value if key.endswith("Ref") else _xmp_rational(value) for key, value in raw.items()}
    out.update(lat=round(lat, 8), lon=round(lon, 8))
    out.update(_extras({key: value for key, value in raw.items() if value is not None}))
    return out
