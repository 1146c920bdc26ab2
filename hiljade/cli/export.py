"""Export commands: sites, sightings and posts as CSV, GeoJSON, OSM XML (sites) or JSON lines; the
stored reconciliations as CSV, GeoJSON or a JOSM file."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from hiljade.cli.options import COUNT, get_config, handle_errors, summary
from hiljade.services.database_export import export_database
from hiljade.services.exports import (
    FORMATS,
    RECONCILE_FORMATS,
    ExportFilter,
    parse_bbox,
    parse_when,
    replacing,
    write_export,
    write_licence,
    write_reconcile_export,
)
from hiljade.services.reconcile import Comparison
from hiljade.services.store import open_store
from hiljade.wording import plural

SITE_STATUSES = ("unverified", "verified", "rejected", "merged")
SIGHTING_STATUSES = ("auto", "pending_review", "confirmed", "rejected")


def _parsed(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, str | None], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc

    return callback


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def export_options(kind: str, statuses: tuple[str, ...]) -> Decorator:
    """The options every export shares: format (those ``kind`` is written in), output, filters, --excel."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--format", "fmt", type=click.Choice(FORMATS[kind]), default="csv",
                         show_default=True),
            click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="Write to this file instead of stdout."),
            click.option("--status", "statuses", type=click.Choice(statuses), multiple=True,
                         help="Keep only this status (repeat for several)."),
            click.option("--since", callback=_parsed(parse_when), help="From this date (YYYY-MM-DD, UTC)."),
            click.option("--until", callback=_parsed(lambda v: parse_when(v, end=True)),
                         help="Up to and including this date (YYYY-MM-DD, UTC)."),
            click.option("--bbox", callback=_parsed(parse_bbox), metavar="MINLON,MINLAT,MAXLON,MAXLAT",
                         help="Keep only what lies in this box."),
            click.option("--min-reports", type=COUNT, default=None,
                         help="Keep only sites (or what lies in sites) with at least N independent reports."),
            click.option("--excel", is_flag=True,
                         help="CSV only: begin with a byte-order mark for Excel (other formats refuse it)."),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def include_authors_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--include-authors", is_flag=True,
                        help="Add the author pseudonym (the handle, if stored) and the post's address.")(func)


@contextlib.contextmanager
def _opened(output: Path | None) -> Iterator[TextIO]:
    """stdout, or a temporary file beside ``output`` that replaces it only when the export succeeded."""
    if output is None:
        yield sys.stdout
        return
    with replacing(output) as tmp, tmp.open("w", encoding="utf-8", newline="") as out:
        yield out


def _run(ctx: click.Context, kind: str, fmt: str, output: Path | None, flt: ExportFilter, excel: bool,
         note: str = "", **write: Any) -> None:
    if excel and fmt != "csv":
        raise click.UsageError(f"--excel applies to CSV only (a byte-order mark for Excel); drop it for "
                               f"{fmt}")
    store = open_store(get_config(ctx))
    with _opened(output) as out:
        count = write_export(store, kind, fmt, out, flt, excel=excel, **write)
    if output is not None:  # the positions use OpenStreetMap data: its attribution travels beside them
        note += f"; attribution in {write_licence(output).name}"
    described = flt.describe()
    summary(f"export: {plural(count, kind[:-1])} as {fmt} to {output or 'stdout'}"
            f"{' (' + described + ')' if described else ''}{note}")


@click.group()
def export() -> None:
    """Export data for partners and researchers (stdout unless -o); no author identity unless asked."""


@export.command("sites")
@export_options("sites", SITE_STATUSES)
@click.option("--operator", default=None, help="OSM: the operator tag for every camera (e.g. the police).")
@click.pass_context
@handle_errors
def export_sites(ctx: click.Context, fmt: str, output: Path | None, statuses: tuple[str, ...], since: Any,
                 until: Any, bbox: Any, min_reports: int | None, excel: bool, operator: str | None) -> None:
    """Camera sites with their reports and attributes (merged and rejected ones only with --status)."""
    flt = ExportFilter(statuses, since, until, bbox, min_reports)
    _run(ctx, "sites", fmt, output, flt, excel, operator=operator)


@export.command("sightings")
@export_options("sightings", SIGHTING_STATUSES)
@include_authors_option
@click.option("--candidates", is_flag=True, help="Every candidate position, not only each post's chosen one.")
@click.pass_context
@handle_errors
def export_sightings(ctx: click.Context, fmt: str, output: Path | None, statuses: tuple[str, ...], since: Any,
                     until: Any, bbox: Any, min_reports: int | None, excel: bool, include_authors: bool,
                     candidates: bool) -> None:
    """Sightings: each post's chosen camera position (rejected ones only with --status)."""
    flt = ExportFilter(statuses, since, until, bbox, min_reports)
    _run(ctx, "sightings", fmt, output, flt, excel, " with author pseudonyms" if include_authors else "",
         include_authors=include_authors, candidates=candidates)


@export.command("posts")
@export_options("posts", ("located", "pending_review", "nothing", "outside_area"))
@include_authors_option
@click.pass_context
@handle_errors
def export_posts(ctx: click.Context, fmt: str, output: Path | None, statuses: tuple[str, ...], since: Any,
                 until: Any, bbox: Any, min_reports: int | None, excel: bool, include_authors: bool) -> None:
    """Posts with where they were placed (--status is the pipeline's outcome); deleted posts left out."""
    flt = ExportFilter(statuses, since, until, bbox, min_reports)
    _run(ctx, "posts", fmt, output, flt, excel, " with author pseudonyms" if include_authors else "",
         include_authors=include_authors)


@export.command("reconcile")
@click.option("--with", "with_", required=True, metavar="official:NAME|osm",
              help="The stored reconciliation with this official list (official:NAME) or with OSM (osm).")
@click.option("--format", "fmt", type=click.Choice(RECONCILE_FORMATS), default="csv", show_default=True,
              help="osm: a JOSM file of the verified sites without an OSM node (--with osm only).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@click.option("--operator", default=None, help="OSM: the operator tag for every new camera node.")
@click.option("--excel", is_flag=True, help="CSV only: begin with a byte-order mark for Excel.")
@click.pass_context
@handle_errors
def export_reconcile(ctx: click.Context, with_: str, fmt: str, output: Path | None, operator: str | None,
                     excel: bool) -> None:
    """Every pair and unmatched item of the last `hiljade reconcile` with its class, distance and ids."""
    comparison = Comparison.parse(with_)
    store = open_store(get_config(ctx))
    try:
        with _opened(output) as out:
            count, differing = write_reconcile_export(store, comparison.kind, comparison.list_name, fmt, out,
                                                      excel=excel, operator=operator)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    note = f"; attribution in {write_licence(output).name}" if output is not None else ""
    if fmt == "osm":
        summary(f"export: {plural(count, 'new node')} for JOSM to {output or 'stdout'}, "
                f"{plural(differing, 'match', 'matches')} with differing tags listed in it{note}")
    else:
        summary(f"export: {plural(count, 'reconciliation row')} as {fmt} to {output or 'stdout'}{note}")


@export.command("database")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The SQLite file to write (replaced whole); FILE.metadata.json goes beside it.")
@click.pass_context
@handle_errors
def export_database_copy(ctx: click.Context, output: Path) -> None:
    """A copy of the database for researchers: no raw payloads, post addresses, handles or reviewer
    names, with Datasette metadata (`datasette FILE --metadata FILE.metadata.json`)."""
    done = export_database(open_store(get_config(ctx)), output)
    licence = write_licence(output)
    counts = ", ".join(plural(done.rows.get(t, 0), t[:-1]) for t in ("posts", "sightings", "sites"))
    missing = "" if done.described else "; no table descriptions (docs/schema.md not found)"
    summary(f"export: database copy to {output} ({counts}); Datasette metadata in "
            f"{done.metadata_path.name}, attribution in {licence.name}{missing}")
