"""Exports for partners and researchers: the rows of one kind, filtered, written in one format."""

from __future__ import annotations

from typing import TextIO

from hiljade.export.filters import ExportFilter, parse_bbox, parse_when
from hiljade.export.geojson import write_geojson
from hiljade.export.osm import write_osm
from hiljade.export.posts import post_fields, post_rows
from hiljade.export.sightings import sighting_fields, sighting_rows
from hiljade.export.sites import SITE_FIELDS, site_rows
from hiljade.export.writers import write_csv, write_jsonl
from hiljade.models.store import Store

__all__ = ["ExportFilter", "KINDS", "parse_bbox", "parse_when", "write_export"]

KINDS = ("sites", "sightings", "posts")


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
            raise ValueError(f"unknown export {kind!r} (known: {', '.join(KINDS)})")
        if fmt == "csv":
            return write_csv(rows, fields, out, excel=excel)
        if fmt == "geojson":
            return write_geojson(rows, fields, out)
        if fmt == "osm":
            return write_osm(rows, out, operator=operator)
        return write_jsonl(rows, fields, out)
