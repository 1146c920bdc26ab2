"""Exports for partners and researchers: the rows of one kind, filtered, written in one format."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from hiljade.errors import StoreError
from hiljade.export.filters import ExportFilter, parse_bbox, parse_when
from hiljade.export.geojson import write_geojson
from hiljade.export.licence import LICENCE_FILE, LICENCE_TEXT
from hiljade.export.osm import write_osm
from hiljade.export.posts import post_fields, post_rows
from hiljade.export.reconcile import RECONCILE_FIELDS, reconcile_rows, write_josm
from hiljade.export.sightings import sighting_fields, sighting_rows
from hiljade.export.sites import SITE_FIELDS, site_rows
from hiljade.export.writers import write_csv, write_jsonl
from hiljade.models.reconcile import latest_reconciliation
from hiljade.models.store import Store

__all__ = ["FORMATS", "ExportFilter", "KINDS", "RECONCILE_FORMATS", "parse_bbox", "parse_when", "replacing",
           "write_export", "write_licence", "write_reconcile_export"]

KINDS = ("sites", "sightings", "posts")
# the formats each kind can be written in: OSM XML holds camera sites only
FORMATS = {"sites": ("csv", "geojson", "osm", "jsonl"), "sightings": ("csv", "geojson", "jsonl"),
           "posts": ("csv", "geojson", "jsonl")}


def write_export(
    store: Store,
    kind: str,
    fmt: str,
    out: TextIO,
    flt: ExportFilter,
    *,
    excel: bool = False,
    include_authors: bool = False,
    candidates: bool = False,
    operator: str | None = None,
) -> int:
    """Write every ``kind`` row that passes ``flt`` to ``out`` as ``fmt``; returns how many were written.
    Author identity (pseudonym, handle, post address) only with ``include_authors``."""
    with store.connect() as conn:
        if kind == "sites":
            rows, fields = site_rows(conn, flt), SITE_FIELDS
        elif kind == "sightings":
            rows = sighting_rows(conn, flt, include_authors=include_authors, candidates=candidates)
            fields = sighting_fields(include_authors)
        elif kind == "posts":
            rows, fields = post_rows(conn, flt, include_authors=include_authors), post_fields(include_authors)
        else:
            raise ValueError(f"unknown export {kind} (known: {', '.join(KINDS)})")
        if fmt not in FORMATS[kind]:
            raise ValueError(f"{kind} cannot be exported as {fmt} (only as {', '.join(FORMATS[kind])})")
        if excel and fmt != "csv":
            raise ValueError("the byte-order mark for Excel applies to CSV only")
        if fmt == "csv":
            return write_csv(rows, fields, out, excel=excel)
        if fmt == "geojson":
            return write_geojson(rows, fields, out)
        if fmt == "osm":
            return write_osm(rows, out, operator=operator)
        return write_jsonl(rows, fields, out)


RECONCILE_FORMATS = ("csv", "geojson", "osm")


def write_reconcile_export(
    store: Store,
    kind: str,
    list_name: str | None,
    fmt: str,
    out: TextIO,
    *,
    excel: bool = False,
    operator: str | None = None,
) -> tuple[int, int]:
    """Write the stored reconciliation with an official list (``kind`` official) or OSM as ``fmt``;
    returns (rows or new nodes written, matches whose tags differ: OSM format only)."""
    if fmt == "osm" and kind != "osm":
        raise ValueError("--format osm applies to the reconciliation with OSM (--with osm) only")
    if excel and fmt != "csv":
        raise ValueError("the byte-order mark for Excel applies to CSV only")
    with store.connect() as conn:
        stored = latest_reconciliation(conn, kind, list_name)
        if stored is None:
            what = "osm" if kind == "osm" else f"official:{list_name}"
            raise StoreError(
                f"no stored reconciliation with {what}; run `hiljade reconcile --with {what}` first"
            )
        if fmt == "osm":
            return write_josm(conn, stored["id"], out, operator=operator)
        rows = reconcile_rows(conn, stored["id"], kind)
        if fmt == "csv":
            return write_csv(rows, RECONCILE_FIELDS, out, excel=excel), 0
        return write_geojson(rows, RECONCILE_FIELDS, out), 0


def write_licence(output: Path) -> Path:
    """Write ``LICENCE.txt`` beside an export file: the OpenStreetMap attribution and the ODbL."""
    path = output.resolve().parent / LICENCE_FILE
    path.write_text(LICENCE_TEXT, encoding="utf-8")
    return path


@contextlib.contextmanager
def replacing(output: Path) -> Iterator[Path]:
    """A temporary path beside ``output`` that replaces it only when the block succeeded; the file
    ends with the mode a new file of the user gets (0666 less the umask), not ``mkstemp``'s 0600."""
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.resolve().parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask: as the kernel shows it in /proc (no change to the process, so safe beside
    other threads), else by setting it and setting it straight back."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
