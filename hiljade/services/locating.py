"""Locating on demand, outside a harvest: a text against a gazetteer (`hiljade locate`)."""

from __future__ import annotations

from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import Located, locate


def locate_text(text: str, places: Gazetteer) -> Located:
    """Every candidate place in ``text`` and the chosen one (or why there is none)."""
    return locate(text, places)
