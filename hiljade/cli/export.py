"""Export commands: sites, sightings and posts as CSV, GeoJSON, OSM XML (sites) or JSON lines."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from hiljade.cli.options import get_config, handle_errors, summary
from hiljade.services.exports import ExportFilter, parse_bbox, parse_when, write_export
from hiljade.services.store import open_store

FORMATS = ("csv", "geojson", "osm", "jsonl")
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


def export_options(statuses: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options every export shares: format, output, filters, --excel."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True),
            click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="Write to this file instead of stdout."),
            click.option("--status", "statuses", type=click.Choice(statuses), multiple=True,
                         help="Keep only this status (repeat for several)."),
            click.option("--since", callback=_parsed(parse_when), help="From this date (YYYY-MM-DD, UTC)."),
            click.option("--until", callback=_parsed(lambda v: parse_when(v, end=True)),
                         help="Up to and including this date (YYYY-MM-DD, UTC)."),
            click.option("--bbox", callback=_parsed(parse_bbox), metavar="MINLON,MINLAT,MAXLON,MAXLAT",
                         help="Keep only what lies in this box."),
            click.option("--min-reports", type=click.IntRange(min=0), default=None,
                         help="Keep only sites (or what lies in sites) with at least N independent reports."),
            click.option("--excel", is_flag=True, help="CSV: start with a byte-order mark for Excel."),
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
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.resolve().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _run(ctx: click.Context, kind: str, fmt: str, output: Path | None, flt: ExportFilter, excel: bool,
         note: str = "", **write: Any) -> None:
    store = open_store(get_config(ctx))
    with _opened(output) as out:
        count = write_export(store, kind, fmt, out, flt, excel=excel, **write)
    described = flt.describe()
    summary(f"export: {count} {kind} as {fmt} to {output or 'stdout'}"
            f"{' (' + described + ')' if described else ''}{note}")


def _sites_only(fmt: str, kind: str) -> None:
    if fmt == "osm":
        raise click.UsageError(
            f"OSM XML holds camera sites only: use `hiljade export sites --format osm`, or export {kind} "
            "as csv, geojson or jsonl"
        )


@click.group()
def export() -> None:
    """Export data for partners and researchers (stdout unless -o); no author identity unless asked."""


@export.command("sites")
@export_options(SITE_STATUSES)
@click.option("--operator", default=None, help="OSM: the operator tag for every camera (e.g. the police).")
@click.pass_context
@handle_errors
def export_sites(ctx: click.Context, fmt: str, output: Path | None, statuses: tuple[str, ...], since: Any,
                 until: Any, bbox: Any, min_reports: int | None, excel: bool, operator: str | None) -> None:
    """Camera sites with their reports and attributes (merged and rejected ones only with --status)."""
    flt = ExportFilter(statuses, since, until, bbox, min_reports)
    _run(ctx, "sites", fmt, output, flt, excel, operator=operator)


@export.command("sightings")
@export_options(SIGHTING_STATUSES)
@include_authors_option
@click.option("--candidates", is_flag=True, help="Every candidate position, not only each post's chosen one.")
@click.pass_context
@handle_errors
def export_sightings(ctx: click.Context, fmt: str, output: Path | None, statuses: tuple[str, ...], since: Any,
                     until: Any, bbox: Any, min_reports: int | None, excel: bool, include_authors: bool,
                     candidates: bool) -> None:
    """Sightings: each post's chosen camera position (rejected ones only with --status)."""
    _sites_only(fmt, "sightings")
    flt = ExportFilter(statuses, since, until, bbox, min_reports)
    _run(ctx, "sightings", fmt, output, flt, excel, " with author pseudonyms" if include_authors else "",
         include_authors=include_authors, candidates=candidates)


@export.command("posts")
@export_options(("located", "pending_review", "nothing", "outside_area"))
@include_authors_option
@click.pass_context
@handle_errors
def export_posts(ctx: click.Context, fmt: str, output: Path | None, statuses: tuple[str, ...], since: Any,
                 until: Any, bbox: Any, min_reports: int | None, excel: bool, include_authors: bool) -> None:
    """Posts with where they were placed (--status is the pipeline's outcome); deleted posts left out."""
    _sites_only(fmt, "posts")
    flt = ExportFilter(statuses, since, until, bbox, min_reports)
    _run(ctx, "posts", fmt, output, flt, excel, " with author pseudonyms" if include_authors else "",
         include_authors=include_authors)
