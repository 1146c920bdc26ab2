"""Commands that report on a long-running installation: status (per feed, with alerts) and stats."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from hiljade.cli.options import get_config, handle_errors, summary
from hiljade.services.status import stats_warnings, status_report, table_lines
from hiljade.services.store import open_store


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout instead of the table.")
@click.pass_context
@handle_errors
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Every source, server and hashtag: last run, new posts, errors, waits, cursor; and warnings."""
    config = get_config(ctx)
    status = status_report(config, open_store(config))
    if as_json:
        click.echo(json.dumps(status.as_dict(), ensure_ascii=False, indent=2))
    else:
        for line in table_lines(status):
            click.echo(line)
    for alert in status.alerts:
        click.echo(f"warning: {alert.message}", err=True)
    summary(f"status: {len(status.feeds)} feeds, {len(status.alerts)} warnings"
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
    for run in result.runs:
        click.echo(
            f"  {run['source']} {run['server']} #{run['hashtag']}: {run['status']} at "
            f"{run['started_at']:%Y-%m-%d %H:%M}Z, {run['new_posts']} new, {run['duplicates']} duplicates, "
            f"{run['errors']} errors, {run['rate_limit_waits']} rate-limit waits, "
            f"cursor {run['cursor_after']}"
        )
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    total = sum(r["posts"] for r in result.posts)
    summary(
        f"stats: {total} post copies on {len(result.posts)} servers, {len(result.runs)} feeds, "
        f"{len(warnings)} warnings"
    )
    if warnings:
        sys.exit(1)
