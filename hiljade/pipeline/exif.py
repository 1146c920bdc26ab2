"""EXIF/XMP GPS reader for original photos: position, altitude, bearing and capture time.

A pure reader over bytes: it never raises for a bad file, it answers with an ``ExifResult``
whose ``error`` says what was wrong. The fast reader (``exif_tiff``) reads the GPS and date tags
of JPEG, TIFF, WebP and HEIF files straight from their TIFF structure; exifread reads what it
leaves (PNG, files it is unsure of), Pillow (and pillow-heif for HEIF) the files exifread cannot
read; the XMP packet is the fallback when EXIF has no position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hiljade.pipeline.exif_container import container_check
from hiljade.pipeline.exif_gps import BadGps, capture_time
from hiljade.pipeline.exif_gps import position as gps_position
from hiljade.pipeline.exif_readers import exifread_tags, pillow_tags
from hiljade.pipeline.exif_tiff import fast_tags
from hiljade.pipeline.exif_xmp import xmp_fields
from hiljade.pipeline.geometry import valid_position
from hiljade.records import Candidate

MAX_BYTES = 64 * 1024 * 1024  # larger files are refused unread
DEFAULT_PRECISION_M = 10.0  # a phone fix when GPSHPositioningError is absent

_RESULT_KEYS = ("file", "lat", "lon", "altitude", "direction", "taken_at", "error")


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
        if self.lat is None or self.lon is None or not valid_position(self.lat, self.lon):
            return None  # no fix, or a position no place has (a stored result from any reader)
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


def read_exif(data: bytes, *, name: str = "", fast: bool = True) -> ExifResult:
    """Read GPS position, altitude, bearing and capture time from an image's bytes.

    ``fast=False`` skips the fast reader: exifread and Pillow read every file (the reference
    the fast reader is tested against).
    """
    if len(data) > MAX_BYTES:
        return ExifResult(file=name, error=f"file too large ({len(data)} bytes > {MAX_BYTES})")
    try:
        return _read(data if type(data) is bytes else bytes(data), name, fast)
    except Exception as exc:  # the boundary: a bad file is a result, never a traceback
        return ExifResult(file=name, error=f"unreadable metadata: {type(exc).__name__}: {exc}")


def _read(data: bytes, name: str, fast: bool) -> ExifResult:
    kind, problem = container_check(data)
    if problem:
        return ExifResult(file=name, error=problem)
    raw, error = (fast_tags(data, kind) if fast else None), None
    if raw is None:
        raw, error = exifread_tags(data)
    if raw is None:
        raw, pil_error = pillow_tags(data, kind)
        if raw is None:
            return ExifResult(file=name, error=error or pil_error)
        error = None
    fields: dict[str, Any] = {"file": name, "taken_at": capture_time(raw)}
    try:
        position = gps_position(raw)
    except BadGps as exc:
        position, error = None, f"invalid GPS: {exc}"
    if raw.get("GPSInfo") == []:
        error = error or "unusable GPS IFD pointer (GPSInfo is empty)"
    if position is not None:
        fields.update(position, gps_source="exif")
    else:
        xmp = xmp_fields(data)
        if xmp.get("lat") is not None:
            fields.update(xmp, gps_source="xmp")
            error = None
        fields["taken_at"] = fields["taken_at"] or xmp.get("taken_at")
    return ExifResult(error=error, **fields)
