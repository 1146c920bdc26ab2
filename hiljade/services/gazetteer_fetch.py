"""Fetching the gazetteer's data: the area's OSM data from the Overpass API, then a build from it.

Apart from ``services/gazetteer.py`` so that `locate`, which only reads the gazetteer, does not load
the Overpass client and its HTTP library.
"""

from __future__ import annotations

from pathlib import Path

from hiljade.config import Config
from hiljade.errors import ConfigError
from hiljade.harvester.overpass import check_overpass_file, fetch_overpass
from hiljade.models.store import Store
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.services.gazetteer import build_gazetteer, load_area


def fetch_gazetteer(
    config: Config, store: Store, output: Path, *, area_path: Path | None = None
) -> tuple[int, int, Gazetteer]:
    """Download the area's OSM data from the Overpass API into ``output``, then build from it;
    returns (OSM elements fetched, build id, gazetteer)."""
    area = load_area(config, area_path)
    if area is None:
        raise ConfigError(["area.boundary: `gazetteer fetch` needs the area; set it or pass --area FILE"])
    fetch_overpass(
        area.bounds, url=config.get("gazetteer.overpass_url"), user_agent=config.get("user_agent"), out=output
    )
    elements = check_overpass_file(output)
    build_id, built = build_gazetteer(config, store, [output], area_path=area_path)
    return elements, build_id, built
