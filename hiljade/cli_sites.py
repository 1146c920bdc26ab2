"""Commands for camera sites: `hiljade sites update` and `hiljade sites recluster`."""

from __future__ import annotations

import datetime as dt

import click

from hiljade.cli import get_config, handle_errors, main, summary
from hiljade.services.store import open_store


@main.group()
def sites() -> None:
    """Camera sites: sightings of one camera location merged within `sites.radius_m` metres."""


@sites.command("update")
@click.pass_context
@handle_errors
def sites_update(ctx: click.Context) -> None:
    """Place every located sighting without a site: it joins the nearest site or starts one."""
    from hiljade.models.sites import assign_sites

    config = get_config(ctx)
    store = open_store(config)
    with store.transaction() as conn:
        counts = assign_sites(conn, config, dt.datetime.now(dt.UTC))
    summary(counts.summary("update"))


@sites.command("recluster")
@click.pass_context
@handle_errors
def sites_recluster(ctx: click.Context) -> None:
    """Rebuild all sites from their sightings (after the radius or the data changed); sites a reviewer
    verified, rejected, merged or split are kept as they are."""
    from hiljade.models.sites import recluster_sites

    config = get_config(ctx)
    store = open_store(config)
    with store.transaction() as conn:
        counts = recluster_sites(conn, config, dt.datetime.now(dt.UTC))
    summary(counts.summary("recluster"))
