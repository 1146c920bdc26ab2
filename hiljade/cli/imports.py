"""`hiljade import ...`: posts from files and archives (twarc JSONL; mail and photo folders).

Each command is thin: it reads its input through a service and ends with a one-line summary on
stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hiljade.cli.options import get_config, handle_errors, summary
from hiljade.services.imports import import_mail as run_mail_import
from hiljade.services.imports import import_photos as run_photos_import
from hiljade.services.imports import import_twarc_files as import_archives
from hiljade.services.imports import twarc_total
from hiljade.services.store import open_store
from hiljade.wording import plural


@click.group("import")
def import_group() -> None:
    """Import posts from files: twarc archives, mail, photo folders."""


# ---- twarc (X/Twitter archives) -----------------------------------------------------------------


@import_group.command("twarc")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--show-bad", default=20, show_default=True, type=click.IntRange(min=0),
              help="How many bad lines to describe on stderr (per file).")
@click.option("--all-tweets", is_flag=True,
              help="Import every tweet, not only those with one of the configured hashtags.")
@click.pass_context
@handle_errors
def import_twarc(ctx: click.Context, files: tuple[Path, ...], show_bad: int, all_tweets: bool) -> None:
    """Import tweets from twarc2 JSONL files (raw API pages or flattened tweets; .gz too; - for stdin).

    Only tweets with one of the configured hashtags are stored unless --all-tweets."""
    config = get_config(ctx)
    reports = import_archives(config, open_store(config), list(files), all_tweets=all_tweets)
    for report in reports:
        where = f"{report.source}: " if len(reports) > 1 else ""
        for problem in report.problems[:show_bad]:
            click.echo(f"bad line: {where}{problem}", err=True)
        if len(report.problems) > show_bad:
            click.echo(f"... and {plural(len(report.problems) - show_bad, 'more bad line')}", err=True)
        if len(reports) > 1:
            click.echo(report.summary(), err=True)
    total = twarc_total(reports)
    summary(total.summary())
    if total.bad_lines and not total.tweets:
        sys.exit(1)


# ---- mail and photo folders (original photos: the ones that still carry GPS) --------------------


@import_group.command("mail")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_context
@handle_errors
def import_mail(ctx: click.Context, path: Path) -> None:
    """Import emailed reports from a maildir, an mbox or a folder of .eml files (photos: EXIF kept)."""
    config = get_config(ctx)
    report = run_mail_import(config, open_store(config), path)
    summary(report.summary())
    failed = report.unreadable + sum(report.refused_messages.values())
    if failed and failed == report.items:
        sys.exit(1)


@import_group.command("photos")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--author", default=None, help="Who contributed the folder (stored only as a pseudonym).")
@click.pass_context
@handle_errors
def import_photos(ctx: click.Context, directory: Path, author: str | None) -> None:
    """Import a folder of original photos (recursively), with sidecar .txt or captions.csv text."""
    config = get_config(ctx)
    report = run_photos_import(config, open_store(config), directory, author=author)
    summary(report.summary())
