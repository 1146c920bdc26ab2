"""`hiljade recheck`: ask the platforms whether stored posts still exist."""

from __future__ import annotations

import click

from hiljade.cli.options import get_config, handle_errors, lock_wait, say, summary, wait_option
from hiljade.services.checkers import checkers_from_config
from hiljade.services.recheck import rechecker_from_config
from hiljade.services.store import hold_run_lock, open_store
from hiljade.wording import plural


@click.command("recheck")
@click.option("--max-batches", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after this many batches (0: every post that is due).")
@wait_option
@click.pass_context
@handle_errors
def recheck_command(ctx: click.Context, max_batches: int, wait: float | None) -> None:
    """Ask the platforms whether stored posts still exist: erase deleted ones, update edited ones."""
    config = get_config(ctx)
    store = open_store(config)
    checkers, notes = checkers_from_config(config, store)
    for note in notes:
        say(f"note: {note}")
    rechecker = rechecker_from_config(
        config, store, checkers, lock=lambda: hold_run_lock(config, "recheck", wait=lock_wait(config, wait))
    )
    report = rechecker.run(max_batches=max_batches)
    if report.busy:
        done = (f"stopped after {plural(report.batches, 'batch', 'batches')}" if report.batches
                else "nothing was written")
        summary(f"recheck: {report.busy}; {done}")
        return
    summary(report.summary())
