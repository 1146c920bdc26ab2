"""Commands for camera sites: `hiljade sites update` and `hiljade sites recluster`."""

from __future__ import annotations

import click

from hiljade.cli.options import get_config, handle_errors, summary
from hiljade.services.sites import rebuild_stored_sites, update_stored_sites
from hiljade.services.store import open_store


@click.group()
def sites() -> None:
    """Camera sites: sightings of one camera location merged within `sites.radius_m` metres."""


@sites.command("update")
@click.pass_context
@handle_errors
def sites_update(ctx: click.Context) -> None:
    """Place every located sighting without a site: it joins the nearest site or starts one."""
    config = get_config(ctx)
    counts = update_stored_sites(open_store(config), config)
    summary(counts.summary("update"))


@sites.command("recluster")
@click.pass_context
@handle_errors
def sites_recluster(ctx: click.Context) -> None:
    """Rebuild all sites from their sightings (after the radius or the data changed); sites a reviewer
    verified, rejected, merged or split are kept as they are."""
    config = get_config(ctx)
    counts = rebuild_stored_sites(open_store(config), config)
    summary(counts.summary("recluster"))
