"""Official lists of camera locations: importing a published list (one transaction per import) and
listing the stored ones.

Rows in words are placed with the newest stored gazetteer, as posts are (``pipeline.official``).
The same file imported again under the same name changes nothing; a new version of a list is a new
name, or replaces the old one with ``replace``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiljade.config import Config
from hiljade.errors import ListFileError
from hiljade.harvester.official_files import ListFile, check_encoding, parse_columns, read_list
from hiljade.models.official import delete_list, find_list, save_list, stored_lists
from hiljade.models.store import Store
from hiljade.pipeline.official import PlacedRow, count_rows, place_rows
from hiljade.services.gazetteer import newest_gazetteer
from hiljade.wording import plural, tally


@dataclass(frozen=True)
class ImportResult:
    """What an import did: ``imported``, ``replaced`` or ``unchanged`` (the same file again)."""

    name: str
    outcome: str
    counts: dict[str, Any]
    read: ListFile | None = None
    rows: Sequence[PlacedRow] = field(default_factory=tuple)
    gazetteer_build: int | None = None

    def summary(self) -> str:
        """The one-line summary: the counts in words."""
        c = self.counts
        if self.outcome == "unchanged":
            return f"official: list {self.name} already holds this file; nothing changed ({describe(c)})"
        return f"official: list {self.name} {self.outcome}: {describe(c)}"


def describe(counts: dict[str, Any]) -> str:
    """A list's counts as words: read, placed, only as a street, not placed by reason, outside the
    area, duplicate."""
    parts = [
        f"{plural(counts.get('read', 0), 'row')} read",
        f"{counts.get('placed', 0)} placed",
        f"{counts.get('street_only', 0)} only as a street",
    ]
    not_placed = f"{counts.get('not_placed', 0)} not placed"
    reasons = tally(counts.get("not_placed_by_reason") or {})
    parts.append(f"{not_placed} ({reasons})" if reasons else not_placed)
    parts.append(f"{counts.get('outside_area', 0)} outside the area")
    parts.append(f"{plural(counts.get('duplicate', 0), 'duplicate')}")
    if counts.get("empty"):
        parts.append(f"{plural(counts['empty'], 'empty row')} skipped")
    return ", ".join(parts)


def check_options(name: str, columns: Sequence[str], encoding: str | None) -> str:
    """The list name, stripped; ListFileError for an empty name, a bad ``--columns`` or an unknown
    encoding (usage mistakes, told before the file is read)."""
    if not name.strip():
        raise ListFileError("--list: give the list a name")
    parse_columns(columns)
    if encoding:
        check_encoding(encoding)
    return name.strip()


def import_list(
    config: Config,
    store: Store,
    path: Path,
    *,
    name: str,
    source: str | None = None,
    date: dt.date | None = None,
    columns: Sequence[str] = (),
    encoding: str | None = None,
    replace: bool = False,
) -> ImportResult:
    """Read, place and store the list at ``path`` as ``name`` (see the module docstring)."""
    name = check_options(name, columns, encoding)
    read = read_list(path, columns=parse_columns(columns), encoding=encoding)
    with store.connect() as conn:
        existing = find_list(conn, name)
    if existing is not None and existing["sha256"] == read.sha256 and not replace:
        return ImportResult(name, "unchanged", dict(existing["counts"]), read)
    if existing is not None and not replace:
        raise ListFileError(
            f"list {name} already holds {existing['file_name']} (imported "
            f"{existing['imported_at']:%Y-%m-%d %H:%M} UTC); import the new version under a new "
            "--list name, or add --replace"
        )
    if not read.rows:
        raise ListFileError(f"{path}: no rows below the header line; nothing imported")
    build_id, gazetteer = newest_gazetteer(config, store)
    placed = place_rows(read.rows, gazetteer)
    counts = count_rows(placed, empty=read.empty)
    with store.transaction() as conn:
        existing = find_list(conn, name)  # again, inside the transaction
        if existing is not None:
            if not replace:
                raise ListFileError(f"list {name} was imported meanwhile; run the import again")
            delete_list(conn, existing["id"])
        save_list(
            conn,
            name=name,
            source=source,
            date=date,
            file_name=path.name,
            sha256=read.sha256,
            imported_at=dt.datetime.now(dt.UTC),
            counts=counts,
            rows=placed,
        )
    outcome = "replaced" if existing is not None else "imported"
    return ImportResult(name, outcome, counts, read, placed, build_id)


def official_lists(store: Store) -> list[dict[str, Any]]:
    """Every stored list with its counts, by name."""
    with store.connect() as conn:
        return stored_lists(conn)
