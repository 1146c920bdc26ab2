"""The command line: thin click commands over the use cases in hiljade.services.

Data goes to stdout, diagnostics and the one-line summary to stderr. Exit status: 0 ok,
1 a run failed or needs a human, 2 bad usage or configuration.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from hiljade import __version__
from hiljade.config import Config, load_config
from hiljade.errors import ConfigError, HiljadeError
from hiljade.services.feeds import Feed, harvest_twitter, mastodon_feeds, twitter_feeds
from hiljade.services.feeds import harvest as harvest_feeds
from hiljade.services.store import init as init_store
from hiljade.services.store import key_path, open_store


def summary(line: str) -> None:
    """The one-line report every command ends with, on stderr."""
    click.echo(line, err=True)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn hiljade's own errors into a clear message and an exit status cron can act on."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except HiljadeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


@click.group()
@click.version_option(__version__, prog_name="hiljade")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $HILJADE_CONFIG, else ./config.yaml).",
)
@click.option("--database-url", default=None, help="Override database.url for this command.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, database_url: str | None) -> None:
    """hiljade: harvest, locate and map citizen reports of surveillance cameras."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["overrides"] = {"database.url": database_url}


def get_config(ctx: click.Context, **overrides: Any) -> Config:
    """The configuration for this command: defaults < file < environment < flags."""
    merged = {**ctx.obj["overrides"], **overrides}
    return load_config(ctx.obj["config_path"], overrides=merged)


@main.command()
@click.pass_context
@handle_errors
def init(ctx: click.Context) -> None:
    """Create or upgrade the database, and the pseudonym key if none exists."""
    config = get_config(ctx)
    store, before, after, created = init_store(config)
    if created:
        click.echo(f"wrote a new pseudonym key to {key_path(config)} (keep it; back it up)", err=True)
    change = "created" if before is None else ("up to date" if before == after else f"upgraded from {before}")
    summary(f"init: database {store.safe_url} {change} (schema {after})")


def _progress_printer() -> Callable[..., None] | None:
    if not sys.stderr.isatty():
        return None

    def show(feed: Feed, new_posts: int, oldest: dt.datetime | None) -> None:
        when = f", back to {oldest:%Y-%m-%d}" if oldest else ""
        click.echo(f"\r{feed.server} #{feed.hashtag}: {new_posts} new posts{when}\x1b[K", err=True, nl=False)

    return show


@main.command()
@click.option(
    "--source",
    type=click.Choice(["mastodon", "twitter", "bluesky"]),
    default="mastodon",
    show_default=True,
    help="Which source to harvest.",
)
@click.option("--server", default=None, help="Only this server (base URL).")
@click.option("--hashtag", default=None, help="Only this hashtag (without #).")
@click.option("--backfill-since", default=None, help="Override sources.mastodon.backfill_since (YYYY-MM-DD).")
@click.option("--wait", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Wait up to SECONDS for another run's lock (default: scheduler.lock_timeout_seconds).")
@click.pass_context
@handle_errors
def harvest(
    ctx: click.Context, source: str, server: str | None, hashtag: str | None, backfill_since: str | None,
    wait: float | None,
) -> None:
    """Collect new tagged posts from every configured server; resumes where the last run stopped."""
    config = get_config(ctx, **{"sources.mastodon.backfill_since": backfill_since})
    from hiljade.cli_run import command_lock
    from hiljade.harvester import bluesky

    with command_lock(ctx, config, "harvest", wait):
        store = open_store(config)
        if source == "twitter":
            feeds = twitter_feeds(config, hashtag=hashtag)
        elif source == "bluesky":
            feeds = bluesky.bluesky_feeds(config, hashtag=hashtag)
        else:
            feeds = mastodon_feeds(config, server=server, hashtag=hashtag)
        if not feeds:
            raise ConfigError(["sources.mastodon.servers: no server configured; list at least one base URL"])
        progress = _progress_printer()
        run = {"twitter": harvest_twitter, "bluesky": bluesky.harvest_feeds}.get(source, harvest_feeds)
        report = run(config, store, feeds, progress=progress)
        if progress:
            click.echo("", err=True)
        for result in report.results:
            if result.status != "ok":
                label = "FAILED" if result.failed else "warning"
                click.echo(
                    f"{label}: {result.feed.server} #{result.feed.hashtag}: {result.message}", err=True
                )
        summary(report.summary())
        if report.failed:
            sys.exit(1)


@main.command()
@click.pass_context
@handle_errors
def stats(ctx: click.Context) -> None:
    """Posts per source and server, the last run of every feed, and warnings."""
    from hiljade.services.stats import collect_stats

    config = get_config(ctx)
    store = open_store(config)
    with store.connect() as conn:
        result = collect_stats(
            conn,
            now=dt.datetime.now(dt.UTC),
            quiet_days=config.get("sources.mastodon.empty_feed_warning_days"),
        )
    click.echo("posts per source and server:")
    for row in result.posts:
        click.echo(f"  {row['platform']:<10} {row['server']:<40} {row['posts']:>8}")
    click.echo("last run per feed:")
    for run in result.runs:
        click.echo(
            f"  {run['source']} {run['server']} #{run['hashtag']}: {run['status']} at "
            f"{run['started_at']:%Y-%m-%d %H:%M}Z, {run['new_posts']} new, {run['duplicates']} duplicates, "
            f"{run['errors']} errors, {run['rate_limit_waits']} rate-limit waits, "
            f"cursor {run['cursor_after']}"
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    total = sum(r["posts"] for r in result.posts)
    summary(
        f"stats: {total} post copies on {len(result.posts)} servers, {len(result.runs)} feeds, "
        f"{len(result.warnings)} warnings"
    )
    if result.warnings:
        sys.exit(1)


# The other commands live in their own modules; importing each registers its commands on ``main``.
from hiljade import (  # noqa: E402, F401  (each module registers its commands on main)
    cli_export,
    cli_import,
    cli_places,
    cli_review,
    cli_run,
    cli_sites,
)
