"""Commands for locating posts: gazetteer build/fetch, exif, process (`locate` is in ``cli/locate.py``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from hiljade.cli.options import area_option, command_lock, get_config, handle_errors, summary, wait_option
from hiljade.services.gazetteer import build_gazetteer, waiting_for_gazetteer
from hiljade.services.gazetteer_fetch import fetch_gazetteer
from hiljade.services.photo_exif import photo_exif
from hiljade.services.process import process_pending
from hiljade.services.store import open_store
from hiljade.wording import plural, plural_with


@click.group()
def gazetteer() -> None:
    """The offline gazetteer of streets, squares, landmarks and addresses (from OpenStreetMap)."""


@gazetteer.command("build")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@area_option
@click.pass_context
@handle_errors
def gazetteer_build(ctx: click.Context, files: tuple[Path, ...], area_path: Path | None) -> None:
    """Build the gazetteer from OSM files (GeoJSON, Overpass JSON, .osm XML, .osm.pbf) into the database."""
    config = get_config(ctx)
    store = open_store(config)
    start = time.perf_counter()
    build_id, built = build_gazetteer(config, store, list(files), area_path=area_path)
    counts = ", ".join(plural(n, kind) for kind, n in sorted(built.counts().items()))
    area = "with an area polygon" if built.area is not None else "without an area polygon"
    summary(
        f"gazetteer: build {build_id} from {plural(len(files), 'file')} in "
        f"{time.perf_counter() - start:.1f} s: "
        f"{counts}; {area}{_waiting_note(waiting_for_gazetteer(store))}"
    )


def _waiting_note(waiting: int) -> str:
    """What a new gazetteer lets `hiljade process` do: place the posts that waited for one."""
    if not waiting:
        return ""
    posts = plural_with(waiting, "post", "waits", "wait")
    return f"; {posts} for the gazetteer: `hiljade process` places them"


@gazetteer.command("fetch")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("gazetteer-osm.json"),
    show_default=True,
    help="Where to keep the Overpass answer.",
)
@area_option
@click.pass_context
@handle_errors
def gazetteer_fetch(ctx: click.Context, output: Path, area_path: Path | None) -> None:
    """Download the area's streets, places and addresses from the Overpass API, then build from them."""
    config = get_config(ctx)
    store = open_store(config)
    elements, build_id, built = fetch_gazetteer(config, store, output, area_path=area_path)
    summary(
        f"gazetteer: fetched {plural(elements, 'OSM element')} to {output}; build {build_id} has "
        f"{plural(sum(built.counts().values()), 'entry', 'entries')}"
        f"{_waiting_note(waiting_for_gazetteer(store))}"
    )


@click.command("exif")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@handle_errors
def exif_command(files: tuple[Path, ...]) -> None:
    """Print the GPS position, direction and time of photos, one JSON line per file."""
    located = failed = 0
    for path in files:
        result = photo_exif(path)
        located += result["lat"] is not None
        failed += result["error"] is not None
        click.echo(json.dumps(result, ensure_ascii=False))
    summary(f"exif: {plural(len(files), 'file')}, {located} with a position, {failed} unreadable")


@click.command()
@click.option(
    "--reprocess", is_flag=True, help="Look at every post again (after a gazetteer or pipeline change)."
)
@click.option("--no-media", is_flag=True, help="Do not download images (no sha256, no EXIF).")
@wait_option
@click.pass_context
@handle_errors
def process(ctx: click.Context, reprocess: bool, no_media: bool, wait: float | None) -> None:
    """Locate the posts the current pipeline has not seen yet and store their sightings."""
    config = get_config(ctx)
    with command_lock(ctx, config, "process", wait):
        store = open_store(config)
        done = 0

        def show(count: int) -> None:
            nonlocal done
            done += count
            click.echo(f"\rlocating posts: {done} done\x1b[K", err=True, nl=False)

        progress = show if sys.stderr.isatty() else None
        report = process_pending(
            config, store, reprocess=reprocess, media=not no_media, progress=progress
        )
        if progress:
            click.echo("", err=True)
        summary(report.summary())
