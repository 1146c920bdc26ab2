"""`hiljade run`: the daemon that harvests, processes and rechecks on their intervals."""

from __future__ import annotations

import logging
import sys

import click

from hiljade.cli.options import get_config, handle_errors, summary
from hiljade.scheduler import Daemon, Turns, check_jobs, daemon_jobs, serve, setup_logging
from hiljade.services.store import open_store


@click.command("run")
@click.pass_context
@handle_errors
def run_command(ctx: click.Context) -> None:
    """Run as a daemon: harvest every enabled source, process and recheck on their intervals."""
    config = get_config(ctx)
    json_logs = bool(config.get("scheduler.json_logs"))
    setup_logging(json_logs)
    store = open_store(config)
    turns = Turns(config)  # the jobs take turns under the run lock, never skipping one another
    sources = daemon_jobs(config, store, turns)
    check_jobs(sources)
    daemon = Daemon(config, sources, turns)
    code = serve(daemon)
    store.close()
    if json_logs:  # every stderr line stays one JSON object
        logging.getLogger("hiljade.run").info(daemon.summary(), extra={"event": "summary"})
    else:
        summary(daemon.summary())
    sys.exit(code)
