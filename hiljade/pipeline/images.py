"""Image checks for downloaded media: allow-listed formats, a pixel limit, metadata stripping."""

from __future__ import annotations

import io
import warnings
from typing import Any, Protocol

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from hiljade.errors import MediaRefused

DEFAULT_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "TIFF")
# Magic numbers, only to name a refused format; Pillow never opens these.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"), (b"\x00\x00\x00\x0cjP  ", "JPEG2000"), (b"\xff\x4f\xff\x51", "JPEG2000"),
    (b"%PDF", "PDF"), (b"qoif", "QOI"),
)


class ImageLimits(Protocol):
    """What ``inspect_image`` needs from a policy."""

    formats: tuple[str, ...]
    max_pixels: int


_heif_registered = False


def _enable(formats: tuple[str, ...] | list[str]) -> None:
    """Register the HEIF opener on first use (pillow-heif is imported only when needed)."""
    global _heif_registered
    if "HEIF" in formats and not _heif_registered:
        import pillow_heif  # optional and heavy: only when HEIF is allowed

        pillow_heif.register_heif_opener()
        _heif_registered = True


def sniff_format(data: bytes) -> str | None:
    """Name a well-known image format from its magic number, without parsing it."""
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    if data[8:12] == b"WEBP" and data.startswith(b"RIFF"):
        return "WEBP"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "AVIF" if brand in (b"avif", b"avis") else "HEIF"
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    return None


def inspect_image(data: bytes, policy: ImageLimits) -> tuple[str, int, int]:
    """Open ``data`` with the allowed formats only; return (format, width, height) or refuse."""
    formats = [f.upper() for f in policy.formats]
    _enable(formats)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as image:
                width, height = image.size
                fmt = "JPEG" if image.format == "MPO" else str(image.format)
                if width * height > policy.max_pixels:
                    raise MediaRefused(f"too many pixels: {width}x{height} > {policy.max_pixels}",
                                       reason="too_many_pixels")
                image.verify()
    except MediaRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRefused(f"too many pixels: {exc}", reason="too_many_pixels") from exc
    except UnidentifiedImageError as exc:
        sniffed = sniff_format(data)
        if sniffed is not None and sniffed not in formats:
            raise MediaRefused(f"format not allowed: {sniffed} (allowed: {', '.join(formats)})",
                               reason="format_not_allowed") from exc
        raise MediaRefused("not an image (or not a readable one)", reason="not_an_image") from exc
    except Exception as exc:  # Pillow plugins raise OSError, SyntaxError, struct.error ... on broken files
        raise MediaRefused(f"not an image: {type(exc).__name__}: {exc}", reason="not_an_image") from exc
    return fmt, width, height


def stored_format(format: str) -> str:
    """The format ``strip_metadata`` writes for an input format (HEIF becomes JPEG)."""
    fmt = format.upper()
    return "JPEG" if fmt in ("MPO", "HEIF") else fmt


def strip_metadata(data: bytes, format: str) -> bytes:
    """Re-encode an image without EXIF, XMP, IPTC, comments or ICC profile (colours moved to sRGB).

    The EXIF orientation is applied first so the picture still stands upright, and only the
    first frame is kept. The output format is ``stored_format(format)``: HEIF is written as
    JPEG, since x265 takes seconds per photo where JPEG takes milliseconds.
    """
    fmt = "JPEG" if format.upper() == "MPO" else format.upper()
    out_fmt = stored_format(fmt)
    _enable([fmt])
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=[fmt]) as source:
            source.load()
            options = _jpeg_options(source) if fmt == "JPEG" else {}
            image = _to_srgb(ImageOps.exif_transpose(source))
    if out_fmt == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = _flatten(image)
    clean = image.copy()
    clean.info = {k: v for k, v in image.info.items() if k == "transparency"}
    if fmt != "JPEG":
        options = {"JPEG": {"quality": 90}, "WEBP": {"quality": 90},
                   "TIFF": {"compression": "tiff_adobe_deflate"}}.get(out_fmt, {})
    out = io.BytesIO()
    clean.save(out, format=out_fmt, **options)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white background, for formats without alpha."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _jpeg_options(image: Image.Image) -> dict[str, Any]:
    """Keep a JPEG's quantisation tables and subsampling so re-encoding loses little."""
    options: dict[str, Any] = {"optimize": True}
    qtables = getattr(image, "quantization", None)
    if qtables:
        options["qtables"] = qtables
    sampling = JpegImagePlugin.get_sampling(image)
    if sampling != -1:
        options["subsampling"] = sampling
    return options


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert colours from an embedded ICC profile to sRGB (the profile itself is then dropped)."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        from PIL import ImageCms  # loads LittleCMS: only for an image with an ICC profile

        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"))
    except Exception:  # a broken or unsupported profile: keep the pixels as they are
        return image
    return converted if converted is not None else image
