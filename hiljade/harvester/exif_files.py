"""Photo files for `hiljade exif`: read a file's bytes (size-capped) and hand them to the EXIF reader."""

from __future__ import annotations

from pathlib import Path

from hiljade.pipeline import exif
from hiljade.pipeline.exif import ExifResult, read_exif


def read_exif_file(path: Path | str, *, name: str = "") -> ExifResult:
    """The EXIF of one photo file; a file too large or unreadable is an ``ExifResult`` with ``error``."""
    path = Path(path)
    name = name or str(path)
    limit = exif.MAX_BYTES
    try:
        size = path.stat().st_size
        if size > limit:
            return ExifResult(file=name, error=f"file too large ({size} bytes > {limit})")
        data = path.read_bytes()
    except OSError as exc:
        return ExifResult(file=name, error=f"cannot read file: {exc.strerror or exc}")
    return read_exif(data, name=name)
