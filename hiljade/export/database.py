"""The researchers' copy of the database: every table a researcher needs, without what names a person.

Left out: raw payloads, the posts' addresses (``uri``, ``url``, native ids, request URLs, quoted
uris: each leads back to the author), media addresses, handles, the harvest cursors and the
geocoder cache (working state, the cache holds the posts' words as asked), error messages.
Reviewer names become ``reviewer 1``, ``reviewer 2`` ... numbered by their first decision in the
review log; the automatic actors (``recheck``, ``harvest``) keep their names. A table not listed
here is not copied: a new table is left out until someone decides what of it may go.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, select

import hiljade.models.schema_reconcile  # noqa: F401  (its tables join Base.metadata)
from hiljade.models.schema import Base

# table -> the columns left out of it; tables not named here (nor in LEFT_OUT) are not copied either.
DROPPED: dict[str, tuple[str, ...]] = {
    "authors": ("handle",),
    "posts": ("uri", "url", "native_id", "raw", "fetched_from", "quote_of_uri"),
    "post_copies": ("native_id",),
    "post_versions": ("raw",),
    "media": ("native_id", "url", "preview_url", "remote_url", "published", "published_by"),
    "harvest_runs": ("error_message",),
    "gazetteer": (),
    "gazetteer_builds": (),
    "sightings": (),
    "post_locations": (),
    "sites": (),
    "post_links": (),
    "review_log": (),
    # public data: published official lists and OpenStreetMap nodes, and the comparisons with them
    "official_lists": (),
    "official_rows": (),
    "osm_surveillance": (),
    "reconciliations": (),
    "reconciliation_pairs": (),
}
LEFT_OUT = ("harvest_cursors", "geocode_cache", "users", "login_attempts")
# Columns (and keys in JSON details) that hold a reviewer's name.
REVIEWER_COLUMNS = {"review_log": "reviewer", "sightings": "reviewed_by", "sites": "verified_by"}
REVIEWER_KEYS = ("reviewer", "reviewed_by", "verified_by")
AUTOMATIC = ("recheck", "harvest")  # actors that are hiljade itself, not a person
REVIEWER_NOTE = (
    "In this copy: reviewer 1, reviewer 2 ... numbered by their first decision in review_log; "
    "recheck and harvest are hiljade itself. The names stay in the maintainers' database."
)
CHUNK = 1000


def copied_tables(source: MetaData = Base.metadata) -> MetaData:
    """The copy's schema: the copied tables with their kept columns (types, keys and foreign keys)."""
    target = MetaData()
    for name, table in source.tables.items():
        if name not in DROPPED:
            continue
        columns = [_column(c) for c in table.columns if c.name not in DROPPED[name]]
        Table(name, target, *columns)
    return target


def _column(column: Column[Any]) -> Column[Any]:
    copy = column._copy()
    copy.index = None  # indexes and unique constraints stay in the maintainers' database
    copy.unique = None
    return copy


def reviewer_numbers(conn: Connection) -> dict[str, str]:
    """Each reviewer's name -> ``reviewer N``, numbered by their first decision (then by name)."""
    log = Base.metadata.tables["review_log"]
    names: dict[str, str] = {}
    ordered = select(log.c.reviewer).order_by(log.c.at, log.c.id)
    extra = [select(Base.metadata.tables[t].c[c]) for t, c in REVIEWER_COLUMNS.items() if t != "review_log"]
    later = sorted({v for query in extra for (v,) in conn.execute(query) if v})
    for name in [v for (v,) in conn.execute(ordered)] + later:
        if name and name not in names and name not in AUTOMATIC:
            names[name] = f"reviewer {len(names) + 1}"
    return names


def _without_names(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, Mapping):
        return {
            k: names.get(v, v) if k in REVIEWER_KEYS and isinstance(v, str) else _without_names(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_names(v, names) for v in value]
    return value


def _rows(conn: Connection, table: Table, names: Mapping[str, str]) -> Iterator[list[dict[str, Any]]]:
    source = Base.metadata.tables[table.name]
    reviewer = REVIEWER_COLUMNS.get(table.name)
    query = select(*(source.c[c.name] for c in table.columns)).order_by(*source.primary_key.columns)
    batch: list[dict[str, Any]] = []
    for row in conn.execute(query.execution_options(yield_per=CHUNK)):
        values = dict(row._mapping)
        if reviewer and values.get(reviewer):
            values[reviewer] = names.get(values[reviewer], values[reviewer])
        if table.name == "review_log":
            values["details"] = _without_names(values.get("details"), names)
        batch.append(values)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def copy_database(source: Connection, target: Connection) -> dict[str, int]:
    """Create the copy's tables in ``target`` and fill them from ``source``; rows per table."""
    schema = copied_tables()
    schema.create_all(target)
    names = reviewer_numbers(source)
    counts: dict[str, int] = {}
    for table in schema.sorted_tables:
        counts[table.name] = 0
        for batch in _rows(source, table, names):
            target.execute(table.insert(), batch)
            counts[table.name] += len(batch)
    return counts
