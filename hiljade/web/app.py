"""The web application: settings from ``web.*``, the session cookie, security headers, static files
and the routes of the public map, the accounts and the reviewers' desk."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import xstatic.pkg.leaflet as xleaflet
import xstatic.pkg.leaflet_markercluster as xcluster
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hiljade.config import Config, load_config
from hiljade.defaults import WEB_SECRET_ENV
from hiljade.errors import ConfigError
from hiljade.services.store import open_store
from hiljade.web import accounts, desk, public, report

STATIC = Path(__file__).parent / "static"


def content_policy(tiles_url: str) -> str:
    """The Content-Security-Policy: nothing inline, nothing from elsewhere but the tile host if set."""
    img = "'self' data:"
    if tiles_url:
        parts = urlsplit(tiles_url.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tiles_url else parts.netloc
        img += f" {parts.scheme}://{host}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


class SecurityHeaders:
    """Adds the CSP and the other security headers to every HTTP answer."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def session_secret(config: Config, environ: Mapping[str, str]) -> str:
    """The session key from the environment; a throwaway key only in development (``web.dev``)."""
    secret = environ.get(WEB_SECRET_ENV, "")
    if secret:
        if len(secret) < 32:
            raise ConfigError([f"{WEB_SECRET_ENV} is too short: use at least 32 characters"])
        return secret
    if config.get("web.dev"):
        return os.urandom(32).hex()
    raise ConfigError([f"set {WEB_SECRET_ENV} to a long random key (or web.dev: true for development)"])


def create_app(config: Config, environ: Mapping[str, str] | None = None) -> Starlette:
    """The ASGI application over the configured store."""
    env = os.environ if environ is None else environ
    secret = session_secret(config, env)
    base_url = str(config.get("web.base_url") or "")
    middleware = [
        Middleware(SecurityHeaders, policy=content_policy(str(config.get("web.tiles.url") or ""))),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie="hiljade_session",
            max_age=int(config.get("web.session_max_age_seconds")),
            same_site="lax",
            https_only=base_url.startswith("https://"),
        ),
    ]
    routes = [
        Mount("/static/leaflet", StaticFiles(directory=xleaflet.BASE_DIR), name="leaflet"),
        Mount("/static/markercluster", StaticFiles(directory=xcluster.BASE_DIR), name="markercluster"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *public.routes,
        *accounts.routes,
        *desk.routes,
        *report.routes,
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.config = config
    app.state.store = open_store(config)
    app.state.title = str(config.get("web.title"))
    return app


def app_from_environment() -> Starlette:
    """The application of the configuration named by the environment (``HILJADE_CONFIG`` and the
    ``HILJADE_*`` settings): what each of ``hiljade serve``'s worker processes builds."""
    return create_app(load_config())
