"""The gazetteer: building it from OpenStreetMap files into the store, and loading it back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hiljade.config import Config
from hiljade.models.store import Store


def load_area(config: Config, path: str | Path | None = None):  # noqa: ANN201 - shapely geometry | None
    """The area polygon from ``path`` or `area.boundary`, or None when neither is set."""
    from hiljade.pipeline.gazetteer import load_area as read_area

    chosen = path or config.get("area.boundary")
    return read_area(chosen) if chosen else None


def file_provenance(path: Path) -> dict[str, object]:
    """Name, size and sha256 of an input file, for the gazetteer build record."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"file": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def build_gazetteer(config: Config, store: Store, paths: list[Path], *, area_path: Path | None = None):  # noqa: ANN201
    """Build the gazetteer from OSM files and replace the stored one; returns (build id, gazetteer)."""
    from hiljade.models.places import replace_gazetteer
    from hiljade.pipeline.gazetteer import build_gazetteer as build

    gazetteer = build(paths, area=load_area(config, area_path))
    with store.transaction() as conn:
        build_id = replace_gazetteer(
            conn, gazetteer.to_rows(), [file_provenance(p) for p in paths], dt.datetime.now(dt.UTC)
        )
    return build_id, gazetteer


def stored_gazetteer(store: Store):  # noqa: ANN201 - (build id, Gazetteer)
    """The newest gazetteer in the store; StoreError with the fix when none was built."""
    from hiljade.errors import StoreError
    from hiljade.models.places import load_gazetteer_rows
    from hiljade.pipeline.gazetteer import Gazetteer

    with store.connect() as conn:
        build_id, rows = load_gazetteer_rows(conn)
    if build_id is None:
        raise StoreError("no gazetteer in the database; run `hiljade gazetteer build FILE...` first")
    return build_id, Gazetteer.from_rows(rows)


