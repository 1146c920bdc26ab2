"""The slow tag readers: exifread first, Pillow (with pillow-heif for HEIF) for files exifread cannot read.

They read what the fast reader (``exif_tiff``) leaves: PNG and any file it is unsure of.
Both give the GPS and date tags as a plain dict keyed by exifread's names, without the group prefix.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import exifread
from PIL import Image

PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF")

# exifread reports "No EXIF information found" and friends as log warnings; we turn them into results.
logging.getLogger("exifread").setLevel(logging.ERROR)

# GPS IFD tag ids (as Pillow keys them) -> the names exifread gives them, without the "GPS " prefix.
GPS_TAGS = {
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
DATE_TAGS = {
    0x9003: "DateTimeOriginal",
    0x9011: "OffsetTimeOriginal",
    0x9004: "DateTimeDigitized",
    0x9012: "OffsetTimeDigitized",
}


def exifread_tags(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
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
        elif group == "EXIF" and tag_name in DATE_TAGS.values():
            raw[tag_name] = tag.values
        elif key == "Image GPSInfo":
            raw["GPSInfo"] = list(tag.values)
    return raw, None


_heif_registered = False
_pillow_formats: list[str] = []  # PILLOW_FORMATS that Pillow can open, known after the first call


def pillow_tags(data: bytes, kind: str | None) -> tuple[dict[str, Any] | None, str]:
    """GPS and date tags via Pillow (pillow-heif registered on first HEIF); (None, reason) on failure."""
    global _heif_registered
    if kind == "heif" and not _heif_registered:
        import pillow_heif  # deferred: only HEIF photos need it, and it is heavy to load

        pillow_heif.register_heif_opener()
        _heif_registered = True
        _pillow_formats.clear()
    if not _pillow_formats:
        Image.init()
        _pillow_formats.extend(fmt for fmt in PILLOW_FORMATS if fmt in Image.OPEN)
    try:
        with Image.open(io.BytesIO(data), formats=_pillow_formats) as image:
            exif = image.getexif()
            gps = exif.get_ifd(0x8825)
            dates = exif.get_ifd(0x8769)
    except Image.UnidentifiedImageError:
        return None, "not a recognised image format" if kind is None else f"unreadable {kind} image"
    except Exception as exc:  # Pillow raises many types for broken files
        return None, f"unreadable image: {type(exc).__name__}: {exc}"
    raw: dict[str, Any] = {name: gps[tag] for tag, name in GPS_TAGS.items() if tag in gps}
    raw.update({name: dates[tag] for tag, name in DATE_TAGS.items() if tag in dates})
    return raw, ""
