"""The root command group. Command modules are imported only when their command runs, so
``hiljade --help`` loads none of their dependencies.

Data goes to stdout, diagnostics and the one-line summary to stderr. Exit status: 0 ok,
1 a run failed or needs a human, 2 bad usage or configuration.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from hiljade import __version__

# name -> ("module:attribute", the short help shown by ``hiljade --help``); tests/test_cli.py
# checks that each short help matches the command's own docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "exif": (
        "hiljade.cli.places:exif_command",
        "Print the GPS position, direction and time of photos, one JSON line per file.",
    ),
    "export": (
        "hiljade.cli.export:export",
        "Export data for partners and researchers (stdout unless -o); no author identity unless asked.",
    ),
    "gazetteer": (
        "hiljade.cli.places:gazetteer",
        "The offline gazetteer of streets, squares, landmarks and addresses (from OpenStreetMap).",
    ),
    "harvest": (
        "hiljade.cli.harvest:harvest",
        "Collect new tagged posts from every configured server; resumes where the last run stopped.",
    ),
    "import": (
        "hiljade.cli.imports:import_group",
        "Import posts from files: twarc archives, mail, photo folders.",
    ),
    "init": (
        "hiljade.cli.harvest:init",
        "Create or upgrade the database, and the pseudonym key if none exists.",
    ),
    "locate": (
        "hiljade.cli.locate:locate",
        'Locate texts: JSON lines {"id", "text"} on stdin (or --text), one JSON answer per line on stdout.',
    ),
    "official": (
        "hiljade.cli.official:official",
        "Official lists of camera locations (a police list): import them and list them.",
    ),
    "osm": (
        "hiljade.cli.reconcile:osm",
        "OpenStreetMap data beside the gazetteer: the surveillance nodes already mapped.",
    ),
    "process": (
        "hiljade.cli.places:process",
        "Locate the posts the current pipeline has not seen yet and store their sightings.",
    ),
    "recheck": (
        "hiljade.cli.recheck:recheck_command",
        "Ask the platforms whether stored posts still exist: erase deleted ones, update edited ones.",
    ),
    "reconcile": (
        "hiljade.cli.reconcile:reconcile_command",
        "Match the sites one to one with an official list or OSM's nodes; store and print the counts.",
    ),
    "report": (
        "hiljade.cli.report:report_command",
        "Write the campaign report: totals, verified sites per week and area, comparisons, methods.",
    ),
    "review": (
        "hiljade.cli.review:review",
        "Review doubtful locations and camera sites; every decision goes to the audit log (review_log).",
    ),
    "run": (
        "hiljade.cli.run:run_command",
        "Run as a daemon: harvest every enabled source, process and recheck on their intervals.",
    ),
    "serve": (
        "hiljade.cli.serve:serve",
        "Run the web application: the public camera map and the reviewers' desk.",
    ),
    "sites": (
        "hiljade.cli.sites:sites",
        "Camera sites: sightings of one camera location merged within `sites.radius_m` metres.",
    ),
    "stats": (
        "hiljade.cli.status:stats_command",
        "Posts per source and server, the last run of every feed, and warnings (a view of `status`).",
    ),
    "status": (
        "hiljade.cli.status:status_command",
        "Every source, server and hashtag: last run, new posts, errors, waits, cursor; and warnings.",
    ),
    "users": (
        "hiljade.cli.users:users",
        "User accounts of the reviewers' desk: reviewers decide, admins also manage users.",
    ),
}


class LazyGroup(click.Group):
    """A group that lists its commands from a static table and imports a command's module only
    when that command is asked for."""

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return load_command(self.lazy_commands[cmd_name][0])
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from the table's short help: no command is imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.lazy_commands:
                short = click.Command(name, help=self.lazy_commands[name][1]).get_short_help_str(limit)
            else:
                command = super().get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                short = command.get_short_help_str(limit)
            rows.append((name, short))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def load_command(target: str) -> click.Command:
    """Import ``module:attribute`` and return the click command it names."""
    module_name, attribute = target.split(":")
    command = vars(importlib.import_module(module_name))[attribute]
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(__version__, prog_name="hiljade")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $HILJADE_CONFIG, else ./config.yaml).",
)
@click.option("--database-url", default=None, help="Override database.url for this command.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, database_url: str | None) -> None:
    """hiljade: harvest, locate and map citizen reports of surveillance cameras."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["overrides"] = {"database.url": database_url}
