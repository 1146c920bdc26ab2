"""Commands that fill the store: init (database and pseudonym key) and harvest."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable

import click

from hiljade.cli.options import command_lock, get_config, handle_errors, say, summary, wait_option
from hiljade.errors import ConfigError
from hiljade.services.feeds import SOURCES, retry_notices
from hiljade.services.harvest import Feed
from hiljade.services.store import init as init_store
from hiljade.services.store import key_path, open_store
from hiljade.wording import plural


@click.command()
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


def _on_terminal() -> bool:
    return sys.stderr.isatty()


def _notice(text: str) -> None:
    """A retry notice, on its own line over the progress line."""
    click.echo(f"\r{text}\x1b[K", err=True)


def _progress_printer() -> Callable[..., None] | None:
    if not _on_terminal():
        return None

    def show(feed: Feed, new_posts: int, oldest: dt.datetime | None) -> None:
        when = f", back to {oldest:%Y-%m-%d}" if oldest else ""
        click.echo(f"\r{feed.server} #{feed.hashtag}: {plural(new_posts, 'new post')}{when}\x1b[K", err=True,
                   nl=False)

    return show


@click.command()
@click.option(
    "--source",
    type=click.Choice(list(SOURCES)),
    default="mastodon",
    show_default=True,
    help="Which source to harvest.",
)
@click.option("--server", default=None, help="Only this server (base URL).")
@click.option("--hashtag", default=None, help="Only this hashtag (without #).")
@click.option("--backfill-since", default=None, help="Override sources.mastodon.backfill_since (YYYY-MM-DD).")
@wait_option
@click.pass_context
@handle_errors
def harvest(
    ctx: click.Context, source: str, server: str | None, hashtag: str | None, backfill_since: str | None,
    wait: float | None,
) -> None:
    """Collect new tagged posts from every configured server; resumes where the last run stopped."""
    config = get_config(ctx, **{"sources.mastodon.backfill_since": backfill_since})
    with command_lock(ctx, config, "harvest", wait):
        store = open_store(config)
        feeds = SOURCES[source].feeds(config, server=server, hashtag=hashtag)
        if not feeds:
            raise ConfigError(["sources.mastodon.servers: no server configured; list at least one base URL"])
        progress = _progress_printer()
        with retry_notices(_notice) if progress else contextlib.nullcontext():  # a terminal: why it waits
            report = SOURCES[source].harvest(config, store, feeds, progress=progress)
        if progress:
            click.echo("", err=True)
        for result in report.results:
            if result.status != "ok" or result.skipped:
                label = "FAILED" if result.failed else "warning"
                say(f"{label}: {result.feed.server} #{result.feed.hashtag}: {result.message}")
        summary(report.summary())
        if report.failed:
            sys.exit(1)
