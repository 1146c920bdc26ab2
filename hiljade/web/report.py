"""The campaign report as a page (``/report``): the same numbers and charts as `hiljade report`,
for logged-in reviewers, and for everyone when ``web.public.report`` is set."""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hiljade.services.report import report_body
from hiljade.web import sessions
from hiljade.web.i18n import register
from hiljade.web.templating import ENV, render

WORDS = {
    "report.title": {"sr": "Izveštaj kampanje", "en": "Campaign report"},
    "report.note": {"sr": "Isti izveštaj koji piše komanda hiljade report (na engleskom).",
                    "en": "The same report as the command hiljade report writes."},
}
register(WORDS)


def report_public(request: Request) -> bool:
    """Whether anyone may read the report (``web.public.report``); else only logged-in reviewers."""
    return bool(request.app.state.config.get("web.public.report"))


ENV.globals["report_public"] = report_public  # the header links the report for everyone when public


async def report_page(request: Request) -> Response:
    """GET /report: the report's body (its own escaped HTML, charts as SVG images) in the site layout."""
    if not report_public(request):
        sessions.require(request, "reviewer")
    body, _ = report_body(request.app.state.config, request.app.state.store)
    return render(request, "report.html", body=Markup(body))  # escaped by export.report


routes: list[BaseRoute] = [Route("/report", report_page)]
