"""Commands that report on a long-running installation: status (per feed, with alerts) and stats."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from hiljade.cli.options import get_config, handle_errors, say, summary
from hiljade.secrecy import scrub
from hiljade.services.status import feed_name, stats_warnings, status_report, table_lines
from hiljade.services.store import open_store
from hiljade.wording import plural


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout instead of the table.")
@click.pass_context
@handle_errors
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Every source, server and hashtag: last run, new posts, errors, waits, cursor; and warnings."""
    config = get_config(ctx)
    status = status_report(config, open_store(config))
    if as_json:
        click.echo(scrub(json.dumps(status.as_dict(), ensure_ascii=False, indent=2)))
    else:
        for line in table_lines(status):
            click.echo(scrub(line))
    for alert in status.alerts:
        say(f"warning: {alert.message}")
    summary(f"status: {plural(len(status.feeds), 'feed')}, {plural(len(status.alerts), 'warning')}"
            + ("; needs a human" if status.alerts else ""))
    if status.alerts:
        sys.exit(1)


@click.command("stats")
@click.pass_context
@handle_errors
def stats_command(ctx: click.Context) -> None:
    """Posts per source and server, the last run of every feed, and warnings (a view of `status`)."""
    config = get_config(ctx)
    now = dt.datetime.now(dt.UTC)
    result = status_report(config, open_store(config), now=now)
    quiet_days = config.get("sources.mastodon.empty_feed_warning_days")
    warnings = stats_warnings(result, now=now, quiet_days=quiet_days)
    click.echo("posts per source and server:")
    for row in result.posts:
        click.echo(f"  {row['platform']:<10} {row['server']:<40} {row['posts']:>8}")
    click.echo("last run per feed:")
    for feed in result.feeds:  # the feeds `hiljade status` lists, counted the same way
        if "started_at" not in feed:
            click.echo(f"  {feed_name(feed)}: {feed['status']}")
            continue
        cursor = f"cursor {feed['cursor_after']}" if feed["cursor_after"] else "no cursor yet"
        click.echo(scrub(
            f"  {feed_name(feed)}: {feed['status']} at {feed['started_at']:%Y-%m-%d %H:%M}Z, "
            f"{feed['new_posts']} new, {plural(feed['duplicates'], 'duplicate')}, "
            f"{plural(feed['errors'], 'error')}, {plural(feed['rate_limit_waits'], 'rate-limit wait')}, "
            f"{cursor}"
        ))
    for warning in warnings:
        say(f"warning: {warning}")
    total = sum(r["posts"] for r in result.posts)
    summary(
        f"stats: {plural(total, 'post copy', 'post copies')} on {plural(len(result.posts), 'server')}, "
        f"{plural(len(result.feeds), 'feed')}, {plural(len(warnings), 'warning')}"
    )
    if warnings:
        sys.exit(1)
