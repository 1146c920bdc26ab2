"""Small images made with Pillow: photos whose EXIF holds a GPS position, and plain images."""

from __future__ import annotations

import io

from PIL import Image


def jpeg_with_gps(
    lat: float,
    lon: float,
    *,
    direction: float | None = None,
    shade: str = "gray",
    fmt: str = "JPEG",
    size: tuple[int, int] = (40, 30),
) -> bytes:
    """A small photo whose EXIF GPS IFD holds (lat, lon) and optionally the camera bearing."""

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        deg = int(value)
        minutes = int((value - deg) * 60)
        return (deg, minutes, round(((value - deg) * 60 - minutes) * 60, 4))

    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)})
    if direction is not None:
        gps.update({16: "T", 17: direction})
    buf = io.BytesIO()
    Image.new("RGB", size, shade).save(buf, fmt, exif=exif)
    return buf.getvalue()


def plain_image(shade: str = "white", fmt: str = "PNG") -> bytes:
    """A small image without metadata."""
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), shade).save(buf, fmt)
    return buf.getvalue()
