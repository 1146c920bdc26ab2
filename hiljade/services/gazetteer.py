"""The gazetteer: building it from OpenStreetMap files into the store, and loading it back."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

from shapely.geometry.base import BaseGeometry

from hiljade.config import Config
from hiljade.errors import ConfigError, StoreError
from hiljade.harvester.osm_files import read_area, read_osm_files
from hiljade.harvester.overpass import check_overpass_file, fetch_overpass
from hiljade.models.places import load_gazetteer_rows, replace_gazetteer
from hiljade.models.store import Store
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.gazetteer_build import build_gazetteer as build_from_features


def load_area(config: Config, path: str | Path | None = None) -> BaseGeometry | None:
    """The area polygon from ``path`` or `area.boundary`, or None when neither is set."""
    chosen = path or config.get("area.boundary")
    return read_area(chosen) if chosen else None


def read_gazetteer(paths: Sequence[Path | str], *, area: BaseGeometry | None = None) -> Gazetteer:
    """A gazetteer built in memory from OSM files (GeoJSON, Overpass JSON, OSM XML, PBF, CSV)."""
    return build_from_features(read_osm_files(paths), area=area)


def file_provenance(path: Path) -> dict[str, object]:
    """Name, size and sha256 of an input file, for the gazetteer build record."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"file": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def build_gazetteer(
    config: Config, store: Store, paths: list[Path], *, area_path: Path | None = None
) -> tuple[int, Gazetteer]:
    """Build the gazetteer from OSM files and replace the stored one; returns (build id, gazetteer)."""
    gazetteer = read_gazetteer(paths, area=load_area(config, area_path))
    with store.transaction() as conn:
        build_id = replace_gazetteer(
            conn, gazetteer.to_rows(), [file_provenance(p) for p in paths], dt.datetime.now(dt.UTC)
        )
    return build_id, gazetteer


def stored_gazetteer(store: Store) -> tuple[int, Gazetteer]:
    """The newest gazetteer in the store; StoreError with the fix when none was built."""
    with store.connect() as conn:
        build_id, rows = load_gazetteer_rows(conn)
    if build_id is None:
        raise StoreError("no gazetteer in the database; run `hiljade gazetteer build FILE...` first")
    return build_id, Gazetteer.from_rows(rows)


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
