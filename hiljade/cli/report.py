"""`hiljade report`: the campaign report as one self-contained HTML page or Markdown file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hiljade.cli.options import get_config, handle_errors, summary
from hiljade.services.exports import replacing
from hiljade.services.report import FORMATS, write_report
from hiljade.services.store import open_store
from hiljade.wording import plural


@click.command("report")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True,
              help="html: one page with inline SVG charts; md: Markdown with PNG charts as data URIs.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE (default: stdout).")
@click.pass_context
@handle_errors
def report_command(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Write the campaign report: totals, verified sites per week and area, comparisons, methods."""
    config = get_config(ctx)
    text, report = write_report(config, open_store(config), fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        with replacing(output) as tmp:
            tmp.write_text(text, encoding="utf-8")
    numbers = dict(report.totals)
    summary(
        f"report: {plural(numbers['posts'], 'post')}, {plural(numbers['verified sites'], 'verified site')}, "
        f"{plural(len(report.reconciliations), 'comparison')} as {fmt} to {output or 'stdout'}"
    )
