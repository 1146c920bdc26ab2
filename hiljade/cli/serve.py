"""`hiljade serve`: the web application (the public map and the reviewers' desk) under uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

import click
import uvicorn

from hiljade.cli.options import get_config, handle_errors, say, summary
from hiljade.defaults import WEB_SECRET_ENV
from hiljade.errors import ConfigError
from hiljade.web.app import create_app


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: web.port, 8000).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: web.workers); several need PostgreSQL or one SQLite file.")
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the web application: the public camera map and the reviewers' desk."""
    config = get_config(ctx)
    host = host or str(config.get("web.host"))
    port = port or int(config.get("web.port"))
    workers = workers or int(config.get("web.workers"))
    if workers > 1 and not os.environ.get(WEB_SECRET_ENV):
        raise ConfigError([f"several workers share sessions only with {WEB_SECRET_ENV} set"])
    app = create_app(config)  # refuses a missing key or an uninitialised database before listening
    say(f"serving {config.get('web.title')} on http://{host}:{port}/ with {workers} worker(s)")
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)
    else:
        # each worker builds its own app from the same settings, passed on in the environment
        if ctx.obj["config_path"]:
            os.environ["HILJADE_CONFIG"] = str(Path(ctx.obj["config_path"]).resolve())
        if ctx.obj["overrides"].get("database.url"):
            os.environ["HILJADE_DATABASE_URL"] = ctx.obj["overrides"]["database.url"]
        uvicorn.run("hiljade.web.app:app_from_environment", factory=True, host=host, port=port,
                    workers=workers, log_level="warning", proxy_headers=True)
    summary(f"serve: stopped listening on {host}:{port}")
