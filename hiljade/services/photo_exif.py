"""A photo file's EXIF on demand (`hiljade exif`): its position, direction and time.

Apart from ``services/locating.py`` so that `locate` does not load the EXIF readers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hiljade.harvester.exif_files import read_exif_file


def photo_exif(path: Path) -> dict[str, Any]:
    """The GPS position, altitude, direction and time of the photo at ``path``, or an ``error``."""
    if path.is_file():
        return read_exif_file(path).as_dict()
    return {
        "file": str(path),
        "lat": None,
        "lon": None,
        "altitude": None,
        "direction": None,
        "taken_at": None,
        "error": "not a readable file",
    }
