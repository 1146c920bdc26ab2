"""Commands for official lists of camera locations: `hiljade official import` and `official list`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from hiljade.cli.options import get_config, handle_errors, say, summary
from hiljade.errors import ListFileError
from hiljade.services.official import check_options, describe, import_list, official_lists
from hiljade.services.store import open_store
from hiljade.wording import plural

SHOWN_PROBLEMS = 20  # rows not placed (or outside, duplicate) printed one by one


@click.group()
def official() -> None:
    """Official lists of camera locations (a police list): import them and list them."""


@official.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--list", "name", required=True, help="The list's name (a new version: a new name or --replace)."
)
@click.option("--source", default=None, help="Who published the list and where.")
@click.option(
    "--date", "date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="The list's date."
)
@click.option(
    "--columns",
    multiple=True,
    help="Which columns hold what: address=NAME[+NAME], lat=NAME, lon=NAME, coordinates=NAME "
    "(comma-separated or repeated); the header row is the one holding them.",
)
@click.option(
    "--encoding", default=None, help="The CSV file's encoding (default: UTF-8, else Windows-1250/1251)."
)
@click.option("--replace", is_flag=True, help="Replace a stored list of this name with this file.")
@click.pass_context
@handle_errors
def official_import(
    ctx: click.Context,
    file: Path,
    name: str,
    source: str | None,
    date: dt.datetime | None,
    columns: tuple[str, ...],
    encoding: str | None,
    replace: bool,
) -> None:
    """Import a published list of camera locations (CSV, XLSX or GeoJSON) and place every row."""
    try:
        name = check_options(name, columns, encoding)
    except ListFileError as exc:
        raise click.UsageError(str(exc)) from exc
    config = get_config(ctx)
    result = import_list(
        config,
        open_store(config),
        file,
        name=name,
        source=source,
        date=date.date() if date else None,
        columns=columns,
        encoding=encoding,
        replace=replace,
    )
    problems = [r for r in result.rows if r.status not in ("placed", "street_only")]
    for row in problems[:SHOWN_PROBLEMS]:
        say(f"line {row.line}: {row.status.replace('_', ' ')}: {row.reason or ''}")
    if len(problems) > SHOWN_PROBLEMS:
        say(f"... and {plural(len(problems) - SHOWN_PROBLEMS, 'more row')} like these")
    summary(result.summary())


@official.command("list")
@click.pass_context
@handle_errors
def official_list(ctx: click.Context) -> None:
    """Show the stored lists with their counts."""
    lists = official_lists(open_store(get_config(ctx)))
    for item in lists:
        when = f", dated {item['date']:%Y-%m-%d}" if item["date"] else ""
        source = f", from {item['source']}" if item["source"] else ""
        click.echo(
            f"{item['name']}: {item['file_name']}{when}{source}, imported "
            f"{item['imported_at']:%Y-%m-%d %H:%M} UTC: {describe(item['counts'])}"
        )
    rows = sum(item["rows"] for item in lists)
    summary(f"official: {plural(len(lists), 'list')} with {plural(rows, 'row')}")
