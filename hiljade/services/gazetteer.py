"""The gazetteer: building it from OpenStreetMap files into the store, and loading it back."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from shapely.geometry.base import BaseGeometry

from hiljade.config import Config
from hiljade.errors import ConfigError, StoreError
from hiljade.harvester.osm_files import local_names_path, read_area, read_local_names, read_osm_files
from hiljade.harvester.overpass import check_overpass_file, fetch_overpass
from hiljade.models.places import GAZETTEER_WAITING, load_gazetteer_rows, replace_gazetteer, waiting_posts
from hiljade.models.store import Store
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.gazetteer_build import build_gazetteer as build_from_features
from hiljade.pipeline.local_names import add_local_names

log = logging.getLogger(__name__)


def load_area(config: Config, path: str | Path | None = None) -> BaseGeometry | None:
    """The area polygon from ``path`` or `area.boundary`, or None when neither is set."""
    chosen = path or config.get("area.boundary")
    return read_area(chosen) if chosen else None


def local_name_files(config: Config) -> list[Path]:
    """The local-names files of `gazetteer.local_names` (``belgrade`` is the file hiljade ships)."""
    value = config.get("gazetteer.local_names") or []
    specs = [value] if isinstance(value, str) else value
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise ConfigError(
            ["gazetteer.local_names: must be a list of CSV files, e.g. [belgrade, my-names.csv]"]
        )
    return [local_names_path(s) for s in specs if s.strip()]


def read_gazetteer(
    paths: Sequence[Path | str], *, area: BaseGeometry | None = None, local_names: Sequence[Path] = ()
) -> Gazetteer:
    """A gazetteer built in memory from OSM files (GeoJSON, Overpass JSON, OSM XML, PBF, CSV), with the
    names of the local-names files added; the names whose place the data lacks are reported once."""
    gazetteer, unused = add_local_names(
        build_from_features(read_osm_files(paths), area=area), read_local_names(local_names)
    )
    if unused:
        shown = ", ".join(f"{u.name} ({u.item})" for u in unused[:8])
        more = f" and {len(unused) - 8} more" if len(unused) > 8 else ""
        log.warning(
            "%d local names were left out, their places are not in the data: %s%s", len(unused), shown, more
        )
    return gazetteer


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
    local_names = local_name_files(config)
    gazetteer = read_gazetteer(paths, area=load_area(config, area_path), local_names=local_names)
    sources = [file_provenance(p) for p in [*paths, *local_names]]
    with store.transaction() as conn:
        build_id = replace_gazetteer(conn, gazetteer.to_rows(), sources, dt.datetime.now(dt.UTC))
    return build_id, gazetteer


def stored_gazetteer(store: Store) -> tuple[int, Gazetteer]:
    """The newest gazetteer in the store; StoreError with the fix when none was built."""
    with store.connect() as conn:
        build_id, rows = load_gazetteer_rows(conn)
    if build_id is None:
        raise StoreError("no gazetteer in the database; run `hiljade gazetteer build FILE...` first")
    return build_id, Gazetteer.from_rows(rows)


def newest_gazetteer(config: Config, store: Store) -> tuple[int | None, Gazetteer | None]:
    """The newest gazetteer in the store and its build id; when none was built, (None, an empty
    gazetteer holding only `area.boundary`), or (None, None) without an area either."""
    with store.connect() as conn:
        build_id, rows = load_gazetteer_rows(conn)
    if build_id is not None:
        return build_id, Gazetteer.from_rows(rows)
    area = load_area(config)
    return None, Gazetteer([], area) if area is not None else None


def waiting_for_gazetteer(store: Store) -> int:
    """How many posts were processed without a gazetteer and wait for one."""
    with store.connect() as conn:
        return waiting_posts(conn)[GAZETTEER_WAITING]


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
