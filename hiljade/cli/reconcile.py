"""Commands for comparing the sites with others: `hiljade osm surveillance import` and `hiljade reconcile`."""

from __future__ import annotations

from pathlib import Path

import click

from hiljade.cli.options import get_config, handle_errors, summary
from hiljade.services.reconcile import (
    Comparison,
    fetch_osm_surveillance,
    import_osm_surveillance,
    reconcile_sites,
)
from hiljade.services.store import open_store
from hiljade.wording import plural

SITE_STATUSES = ("unverified", "verified", "rejected")


@click.group()
def osm() -> None:
    """OpenStreetMap data beside the gazetteer: the surveillance nodes already mapped."""


@osm.group("surveillance")
def surveillance() -> None:
    """OpenStreetMap's surveillance nodes (man_made=surveillance), to reconcile the sites with."""


@surveillance.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--fetch",
    is_flag=True,
    help="First ask the Overpass API for the area's surveillance nodes and write them to FILE.",
)
@click.pass_context
@handle_errors
def surveillance_import(ctx: click.Context, file: Path, fetch: bool) -> None:
    """Import man_made=surveillance nodes from FILE (.osm, .osm.pbf or Overpass JSON) with their tags."""
    config = get_config(ctx)
    store = open_store(config)
    if fetch:
        read, counts = fetch_osm_surveillance(config, store, file)
    else:
        if not file.is_file():
            raise click.BadParameter(
                f"{file} does not exist (or use --fetch to download it)", param_hint="FILE"
            )
        read, counts = import_osm_surveillance(store, file)
    summary(
        f"osm surveillance: {plural(read, 'node')} read from {file}: {counts['new']} new, "
        f"{counts['changed']} changed, {counts['unchanged']} unchanged"
    )


@click.command("reconcile")
@click.option(
    "--with",
    "with_",
    required=True,
    metavar="official:NAME|osm",
    help="Compare with an imported official list (official:NAME) or OSM's surveillance nodes (osm).",
)
@click.option(
    "--radius",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="METRES",
    help="A site and a point further apart never match (default: reconcile.radius_m, 50).",
)
@click.option(
    "--status",
    "statuses",
    type=click.Choice(SITE_STATUSES),
    multiple=True,
    help="Compare the sites of this status (repeat for several; default: reconcile.statuses).",
)
@click.pass_context
@handle_errors
def reconcile_command(
    ctx: click.Context, with_: str, radius: float | None, statuses: tuple[str, ...]
) -> None:
    """Match the sites one to one with an official list or OSM's nodes; store and print the counts."""
    config = get_config(ctx)
    result = reconcile_sites(
        config, open_store(config), Comparison.parse(with_), radius_m=radius, statuses=statuses
    )
    only = "only official" if result.comparison.kind == "official" else "only OSM"
    for area, counts in result.reconciliation.areas.items():
        click.echo(
            f"{area}: {counts['both']} in both, {counts['only_citizens']} only citizens, "
            f"{counts['only_other']} {only}"
        )
    summary(result.summary())
