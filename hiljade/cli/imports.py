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
from hiljade.services.imports import import_twarc as import_archive
from hiljade.services.store import author_policy, open_store


@click.group("import")
def import_group() -> None:
    """Import posts from files: twarc archives, mail, photo folders."""


# ---- twarc (X/Twitter archives) -----------------------------------------------------------------


@import_group.command("twarc")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--show-bad", default=20, show_default=True, help="How many bad lines to describe on stderr.")
@click.pass_context
@handle_errors
def import_twarc(ctx: click.Context, file: Path, show_bad: int) -> None:
    """Import tweets from twarc2 JSONL (raw API pages or flattened tweets; .gz too; - for stdin)."""
    config = get_config(ctx)
    store = open_store(config)
    report = import_archive(store, author_policy(config), file)
    for problem in report.problems[:show_bad]:
        click.echo(f"bad line: {problem}", err=True)
    if len(report.problems) > show_bad:
        click.echo(f"... and {len(report.problems) - show_bad} more bad lines", err=True)
    summary(report.summary())
    if report.bad_lines and not report.tweets:
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
    if report.unreadable and report.unreadable == report.items:
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
