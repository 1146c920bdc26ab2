"""Commands for running hiljade for months: run (the daemon), status, recheck; and the run lock
that harvest, process and recheck take (``command_lock``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator

import click

from hiljade.cli import get_config, handle_errors, main, summary
from hiljade.config import Config, parse_duration
from hiljade.errors import LockBusy
from hiljade.models.runlock import run_lock
from hiljade.services.store import author_policy, open_store

WAIT_HELP = "Wait up to SECONDS for another run's lock (default: scheduler.lock_timeout_seconds)."


def lock_wait(config: Config, wait: float | None) -> float:
    return float(config.get("scheduler.lock_timeout_seconds") if wait is None else wait)


@contextlib.contextmanager
def command_lock(ctx: click.Context, config: Config, command: str, wait: float | None) -> Iterator[None]:
    """Hold the run lock for a command. When another run holds it past ``wait``, say so and exit 0:
    an overlapping cron run that skips is not a failure, and it wrote nothing."""
    try:
        with run_lock(config.database_url, command=command, wait=lock_wait(config, wait)):
            yield
    except LockBusy as exc:
        summary(f"{command}: {exc}; nothing was written")
        ctx.exit(0)


@main.command("run")
@click.pass_context
@handle_errors
def run_command(ctx: click.Context) -> None:
    """Run as a daemon: harvest every enabled source, process and recheck on their intervals."""
    from hiljade.scheduler import Daemon, check_jobs, daemon_jobs, serve, setup_logging

    config = get_config(ctx)
    json_logs = bool(config.get("scheduler.json_logs"))
    setup_logging(json_logs)
    store = open_store(config)
    sources = daemon_jobs(config, store)
    check_jobs(sources)
    daemon = Daemon(config, sources)
    code = serve(daemon)
    store.close()
    if json_logs:  # every stderr line stays one JSON object
        logging.getLogger("hiljade.run").info(daemon.summary(), extra={"event": "summary"})
    else:
        summary(daemon.summary())
    sys.exit(code)


@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout instead of the table.")
@click.pass_context
@handle_errors
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Every source, server and hashtag: last run, new posts, errors, waits, cursor; and warnings."""
    from hiljade.models.runlock import lock_holder
    from hiljade.services.status import collect_status, table_lines

    config = get_config(ctx)
    store = open_store(config)
    holder = lock_holder(config.database_url)
    with store.connect() as conn:
        status = collect_status(conn, config, now=dt.datetime.now(dt.UTC), lock=holder)
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


@main.command("recheck")
@click.option("--max-batches", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after this many batches (0: every post that is due).")
@click.option("--wait", type=click.FloatRange(min=0), default=None, metavar="SECONDS", help=WAIT_HELP)
@click.pass_context
@handle_errors
def recheck_command(ctx: click.Context, max_batches: int, wait: float | None) -> None:
    """Ask the platforms whether stored posts still exist: erase deleted ones, update edited ones."""
    from hiljade.services.recheck import Rechecker, checkers_from_config

    config = get_config(ctx)
    store = open_store(config)
    checkers, notes = checkers_from_config(config, store)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    rechecker = Rechecker(
        store,
        author_policy(config),
        checkers,
        batch_size=config.get("recheck.batch_size"),
        min_age=dt.timedelta(seconds=parse_duration(config.get("recheck.min_age"))),
        every=dt.timedelta(seconds=parse_duration(config.get("recheck.every"))),
        lock=lambda: run_lock(config.database_url, command="recheck", wait=lock_wait(config, wait)),
    )
    report = rechecker.run(max_batches=max_batches)
    if report.busy:
        done = "nothing was written" if not report.batches else f"stopped after {report.batches} batches"
        summary(f"recheck: {report.busy}; {done}")
        return
    summary(report.summary())
