"""The Jinja2 environment and ``render``: every page gets ``t``, ``lang``, ``user`` and ``csrf``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from hiljade.web import sessions
from hiljade.web.i18n import language, t

TEMPLATES = Path(__file__).parent / "templates"
ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


def render(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """Render template ``name`` with the common context; sets the ``lang`` cookie when switched."""
    lang = language(request)
    page = ENV.get_template(name).render(
        request=request,
        lang=lang,
        t=lambda key: t(lang, key),
        user=sessions.current_user(request),
        csrf=sessions.csrf_token(request),
        title=request.app.state.title,
        **ctx,
    )
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response
