"""The gazetteer: building it from OpenStreetMap files into the store, and loading it back (its index
from ``gazetteer_cache`` when that holds the newest build's)."""

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
from hiljade.models.places import (
    GAZETTEER_WAITING,
    gazetteer_rows,
    newest_build,
    replace_gazetteer,
    waiting_posts,
)
from hiljade.models.store import Store
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.gazetteer_build import build_gazetteer as build_from_features
from hiljade.pipeline.local_names import add_local_names
from hiljade.services.gazetteer_cache import read_cached, write_cached

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
    """Build the gazetteer from OSM files and replace the stored one; returns (build id, gazetteer).
    The index of the new build is cached right away (as the next `locate` would read it back)."""
    local_names = local_name_files(config)
    gazetteer = read_gazetteer(paths, area=load_area(config, area_path), local_names=local_names)
    sources = [file_provenance(p) for p in [*paths, *local_names]]
    with store.transaction() as conn:
        build_id = replace_gazetteer(conn, gazetteer.to_rows(), sources, dt.datetime.now(dt.UTC))
    _newest_stored(store)
    return build_id, gazetteer


def stored_gazetteer(store: Store) -> tuple[int, Gazetteer]:
    """The newest gazetteer in the store; StoreError with the fix when none was built."""
    found = _newest_stored(store)
    if found is None:
        raise StoreError("no gazetteer in the database; run `hiljade gazetteer build FILE...` first")
    return found


def newest_gazetteer(config: Config, store: Store) -> tuple[int | None, Gazetteer | None]:
    """The newest gazetteer in the store and its build id; when none was built, (None, an empty
    gazetteer holding only `area.boundary`), or (None, None) without an area either."""
    found = _newest_stored(store)
    if found is not None:
        return found
    area = load_area(config)
    return None, Gazetteer([], area) if area is not None else None


def _newest_stored(store: Store) -> tuple[int, Gazetteer] | None:
    """The newest build's id and index, or None when none was built. The index comes from the cache
    (``gazetteer_cache``) when it holds this build's; else it is built from the stored rows and
    cached, unless another build landed while the rows were read."""
    with store.connect() as conn:
        newest = newest_build(conn)
    if newest is None:
        return None
    build_id, fingerprint = newest
    cached = read_cached(fingerprint, store.dialect)
    if cached is not None:
        return build_id, cached
    with store.connect() as conn:
        rows = gazetteer_rows(conn)
        unchanged = newest_build(conn) == newest
    gazetteer = Gazetteer.from_rows(rows)
    if unchanged:
        write_cached(fingerprint, store.dialect, gazetteer)
    return build_id, gazetteer


def waiting_for_gazetteer(store: Store) -> int:
    """How many posts were processed without a gazetteer and wait for one."""
    with store.connect() as conn:
        return waiting_posts(conn)[GAZETTEER_WAITING]
