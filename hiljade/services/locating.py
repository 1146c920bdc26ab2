"""Locating on demand, outside a harvest: a text against a gazetteer, a photo file's EXIF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hiljade.harvester.exif_files import read_exif_file
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import Located, locate


def locate_text(text: str, places: Gazetteer) -> Located:
    """Every candidate place in ``text`` and the chosen one (or why there is none)."""
    return locate(text, places)


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
