"""The public pages (no login): the map, a site's page, statistics, downloads, and the bounded JSON
endpoints behind the map. Nothing here shows an author, a post text or a post address."""

from __future__ import annotations

import io
import math
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hiljade.services.basemap import basemap, search_place
from hiljade.services.exports import ExportFilter, parse_when, write_export
from hiljade.services.photos import published_photos
from hiljade.services.public_map import (
    SiteQuery,
    camera_types,
    public_site,
    public_sites,
    site_clusters,
    sites_per_area,
    verified_per_week,
)
from hiljade.web import public_words, sessions
from hiljade.web.i18n import language, t
from hiljade.web.templating import render

__all__ = ["routes", "public_words"]

BBox = tuple[float, float, float, float]
BASEMAP_MAX_SPAN = 2.0  # degrees: a wider box is refused (the basemap is for a city, not a country)
SEARCH_MAX_CHARS = 200
SITE_STATUSES = ("verified", "unverified", "rejected")
DOWNLOADS = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json"}


class BadInput(ValueError):
    """A query parameter a person can fix; answered with 400 and these words."""


def _config(request: Request) -> Any:
    return request.app.state.config


def _store(request: Request) -> Any:
    return request.app.state.store


def public_statuses(request: Request) -> tuple[str, ...]:
    """The statuses the public sees (``web.public.statuses``)."""
    return tuple(_config(request).get("web.public.statuses"))


def parse_box(text: str | None) -> BBox:
    """``minlon,minlat,maxlon,maxlat``: four finite numbers in range, minimum before maximum."""
    if not text:
        raise BadInput("bbox is required: minlon,minlat,maxlon,maxlat")
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise BadInput("bbox must be four numbers: minlon,minlat,maxlon,maxlat") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadInput("bbox must be four numbers: minlon,minlat,maxlon,maxlat")
    minlon, minlat, maxlon, maxlat = values
    if not (-180 <= minlon <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90):
        raise BadInput("bbox is out of range or its minimum exceeds its maximum (longitude comes first)")
    return minlon, minlat, maxlon, maxlat


def parse_limit(text: str | None, most: int) -> int:
    """A limit from 1 to ``most`` (``most`` when not given)."""
    if text is None or text == "":
        return most
    if not text.isdigit() or int(text) < 1:
        raise BadInput("limit must be a whole number of at least 1")
    return min(int(text), most)


def site_query(request: Request) -> SiteQuery:
    """The map's site query from the request: box, limit, type, dates; statuses only for reviewers."""
    params = request.query_params
    most = int(_config(request).get("web.public.max_sites"))
    statuses = public_statuses(request)
    wanted = params.get("status")
    if wanted:
        if sessions.current_user(request) is None:
            raise BadInput("only reviewers may choose the status")
        chosen = tuple(s for s in wanted.split(",") if s)
        if not chosen or any(s not in SITE_STATUSES for s in chosen):
            raise BadInput(f"status must be among {', '.join(SITE_STATUSES)}")
        statuses = chosen
    try:
        since = parse_when(params["since"]) if params.get("since") else None
        until = parse_when(params["until"], end=True) if params.get("until") else None
    except ValueError:
        raise BadInput("since and until are dates: YYYY-MM-DD") from None
    kind = params.get("type") or None
    if kind is not None and len(kind) > 32:
        raise BadInput("type is too long")
    return SiteQuery(statuses, parse_box(params.get("bbox")), kind, since, until,
                     parse_limit(params.get("limit"), most))


def _bad(exc: BadInput) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def api_sites(request: Request) -> Response:
    """GET /api/sites?bbox=&limit=&type=&since=&until=[&clusters=1]: the public sites in a box (bounded);
    with ``clusters=1`` a box with more than ``limit`` sites is answered with grid clusters instead."""
    try:
        query = site_query(request)
    except BadInput as exc:
        return _bad(exc)
    grouped = request.query_params.get("clusters") or "0"
    if grouped not in ("0", "1"):
        return _bad(BadInput("clusters is 1 (count the sites of a full box on a grid) or 0"))
    if grouped == "1":
        return JSONResponse({**site_clusters(_store(request), query), "truncated": False})
    sites, truncated = public_sites(_store(request), query)
    return JSONResponse({"sites": sites, "truncated": truncated})


async def api_basemap(request: Request) -> Response:
    """GET /api/basemap?bbox=: simplified street lines and named areas of the gazetteer in a box."""
    try:
        bbox = parse_box(request.query_params.get("bbox"))
    except BadInput as exc:
        return _bad(exc)
    if bbox[2] - bbox[0] > BASEMAP_MAX_SPAN or bbox[3] - bbox[1] > BASEMAP_MAX_SPAN:
        return _bad(BadInput(f"the box is too large for the basemap (at most {BASEMAP_MAX_SPAN:g} degrees)"))
    limit = int(_config(request).get("web.public.max_basemap_features"))
    response = JSONResponse(basemap(_store(request), bbox, limit))
    response.headers["cache-control"] = "public, max-age=300"
    return response


async def api_search(request: Request) -> Response:
    """GET /api/search?q=: places the geoparser finds for a street name or an address."""
    text = (request.query_params.get("q") or "").strip()
    if not text:
        return _bad(BadInput("q is required: a street name or an address"))
    if len(text) > SEARCH_MAX_CHARS:
        return _bad(BadInput(f"q is too long (at most {SEARCH_MAX_CHARS} characters)"))
    return JSONResponse({"places": search_place(_store(request), text)})


def map_settings(request: Request) -> dict[str, Any]:
    """What map.js needs: the first view, the tile source, the words of the popups."""
    config, lang = _config(request), language(request)
    keys = [k for k in public_words.WORDS if k.startswith(("site.", "map.", "status.", "basemap."))]
    return {
        "center": list(config.get("web.center")),
        "tiles": str(config.get("web.tiles.url") or ""),
        "attribution": str(config.get("web.tiles.attribution") or ""),
        "reviewer": sessions.current_user(request) is not None,
        "words": {k: t(lang, k) for k in keys},
    }


async def home(request: Request) -> Response:
    """GET /: the public camera map."""
    types = camera_types(_store(request), public_statuses(request))
    return render(request, "map.html", settings=map_settings(request), types=types, statuses=SITE_STATUSES)


async def site_page(request: Request) -> Response:
    """GET /sites/{id}: one public site, its reports counted by platform and month."""
    site_id = request.path_params["site_id"]
    site = public_site(_store(request), site_id, public_statuses(request)) if site_id < 2**31 else None
    if site is None:
        return render(request, "missing.html", status_code=404)
    photos = published_photos(_store(request), site_id)
    return render(request, "site.html", site=site, settings=map_settings(request), photos=photos)


async def stats_page(request: Request) -> Response:
    """GET /stats: sites per named area and new verified sites per week, as server-drawn bars."""
    store = _store(request)
    areas = sites_per_area(store, public_statuses(request))
    weeks = verified_per_week(store)
    return render(
        request, "stats.html", areas=areas, weeks=weeks, total=sum(n for _, n in areas),
        area_most=max([n for _, n in areas] or [1]), week_most=max([n for _, n in weeks] or [1]) or 1,
    )


async def data_page(request: Request) -> Response:
    """GET /data: the public downloads."""
    return render(request, "data.html")


async def download(request: Request) -> Response:
    """GET /data/sites.csv and /data/sites.geojson: the CLI's export of the public sites."""
    fmt = request.path_params["fmt"]
    if fmt not in DOWNLOADS:
        raise HTTPException(status_code=404, detail="no such download")
    out = io.StringIO()
    write_export(_store(request), "sites", fmt, out, ExportFilter(statuses=public_statuses(request)))
    return Response(
        out.getvalue(), media_type=DOWNLOADS[fmt],
        headers={"content-disposition": f'attachment; filename="hiljade-sites.{fmt}"'},
    )


routes: list[BaseRoute] = [
    Route("/", home),
    Route("/sites/{site_id:int}", site_page),
    Route("/stats", stats_page),
    Route("/data", data_page),
    Route("/data/sites.{fmt}", download),
    Route("/api/sites", api_sites),
    Route("/api/basemap", api_basemap),
    Route("/api/search", api_search),
]
