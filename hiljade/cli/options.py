"""What every command shares: the configuration, error handling, the summary line, the run lock
and the options used by more than one command (``--wait``, ``--area``)."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from hiljade.config import Config, load_config
from hiljade.errors import ConfigError, HiljadeError, LockBusy
from hiljade.secrecy import scrub
from hiljade.services.store import hold_run_lock

WAIT_HELP = "Wait up to SECONDS for another run's lock (default: scheduler.lock_timeout_seconds)."

# --wait, the same on every command that takes the run lock
wait_option = click.option(
    "--wait", type=click.FloatRange(min=0), default=None, metavar="SECONDS", help=WAIT_HELP
)

# --area, the same on every command that needs the area polygon
area_option = click.option(
    "--area",
    "area_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="GeoJSON polygon of the area (default: area.boundary from the config).",
)


def say(text: str) -> None:
    """A diagnostic on stderr, every secret masked (``hiljade.secrecy``): how commands print messages."""
    click.echo(scrub(text), err=True)


# A row id as the store keeps it (a 32-bit integer on PostgreSQL): larger numbers are usage errors
ROW_ID = click.IntRange(min=1, max=2**31 - 1)
# A count of reports or rows a filter asks for: anything larger could never be met
COUNT = click.IntRange(min=0, max=2**31 - 1)


def summary(line: str) -> None:
    """The one-line report every command ends with, on stderr."""
    say(line)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn hiljade's own errors into a clear message and an exit status cron can act on."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            say(f"error: {exc}")
            sys.exit(2)
        except HiljadeError as exc:
            say(f"error: {exc}")
            sys.exit(1)

    return wrapper


def get_config(ctx: click.Context, **overrides: Any) -> Config:
    """The configuration for this command: defaults < file < environment < flags."""
    merged = {**ctx.obj["overrides"], **overrides}
    return load_config(ctx.obj["config_path"], overrides=merged)


def lock_wait(config: Config, wait: float | None) -> float:
    """Seconds to wait for the run lock: ``--wait`` if given, else the configured timeout."""
    return float(config.get("scheduler.lock_timeout_seconds") if wait is None else wait)


@contextlib.contextmanager
def command_lock(ctx: click.Context, config: Config, command: str, wait: float | None) -> Iterator[None]:
    """Hold the run lock for a command. When another run holds it past ``wait``, say so and exit 0:
    an overlapping cron run that skips is not a failure, and it wrote nothing."""
    try:
        with hold_run_lock(config, command, wait=lock_wait(config, wait)):
            yield
    except LockBusy as exc:
        summary(f"{command}: {exc}; nothing was written")
        ctx.exit(0)
