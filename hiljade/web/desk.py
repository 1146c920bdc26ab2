"""The reviewers' desk: the queue, one sighting's review page, decisions through the same services
as `hiljade review` (with the logged-in reviewer's name), and the photos' publishable toggle.

Every route checks the session and the role on the server (``sessions.require``); every POST also
checks the CSRF token. A decision that cannot be made as asked answers 400 and changes nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hiljade.errors import ReviewError
from hiljade.services import agreement
from hiljade.services.photos import published_copy, review_photo, set_publishable
from hiljade.services.review import Decision, Review
from hiljade.services.review_queue import (
    decide,
    evidence_text,
    nearby_sites,
    queue_page,
    sighting_view,
    waiting,
)
from hiljade.web import desk_words, sessions  # noqa: F401 - desk_words registers the desk's words
from hiljade.web.i18n import language, t
from hiljade.web.templating import render

ROLE = "reviewer"
MAX_TEXT = 2000  # longest reason accepted
BACK = re.compile(r"^/review(/\d+)?$")


def _state(request: Request) -> tuple[Any, Any]:
    return request.app.state.config, request.app.state.store


def queue(request: Request) -> Response:
    """The pending sightings, oldest first, filtered by method and named area, with counts."""
    sessions.require(request, ROLE)
    method = request.query_params.get("method") or None
    area = request.query_params.get("area") or None  # "-": outside every named area
    if (method and len(method) > 32) or (area and len(area) > 512):
        raise HTTPException(400, "the filter is too long")
    page = queue_page(_state(request)[1], method=method, area="" if area == "-" else area)
    return render(
        request,
        "desk_queue.html",
        page=page,
        method=method or "",
        area=area,
        flash=request.session.pop("desk_flash", None),
    )


def review_page(request: Request) -> Response:
    """One sighting: the post's text with the matched words marked, photos, candidates on a map,
    the site it would join and the sites nearby, votes, history, and the decision forms."""
    sessions.require(request, ROLE)
    config, store = _state(request)
    sighting_id = request.path_params["sighting_id"]
    try:
        view = sighting_view(store, sighting_id)
    except ReviewError as exc:
        return render(
            request, "desk_message.html", status_code=404, heading="desk.not_found", message=str(exc)
        )
    sg = view.sighting
    nearby = nearby_sites(config, store, sg["lat"], sg["lon"])
    later = [item.id for item in waiting(store) if item.id != sighting_id]
    next_id = next((i for i in later if i > sighting_id), later[0] if later else None)
    kinds = {v["vote"] for v in view.votes}
    data = {
        "sighting": {"id": sg["id"], "lat": sg["lat"], "lon": sg["lon"], "method": sg["method"]},
        "candidates": [
            {
                "id": c["id"],
                "lat": c["lat"],
                "lon": c["lon"],
                "method": c["method"],
                "precision_m": c["precision_m"],
                "chosen": bool(c["chosen"]),
            }
            for c in view.candidates
        ],
        "site": {"id": view.site["id"], "lat": view.site["lat"], "lon": view.site["lon"]}
        if view.site
        else None,
        "nearby": [{"id": s["id"], "lat": s["lat"], "lon": s["lon"], "joins": s["joins"]} for s in nearby],
        "words": {"basemap.note": t(language(request), "basemap.note")},
        "tiles": str(config.get("web.tiles.url") or ""),
        "attribution": str(config.get("web.tiles.attribution") or ""),
    }
    return render(
        request,
        "desk_review.html",
        view=view,
        nearby=nearby,
        next_id=next_id,
        data=data,
        segments=highlighted(view.post.get("text") or "", view.candidates),
        required=agreement.required_agreements(config),
        disagree=len(kinds) > 1,
        evidence=evidence_text,
        flash=request.session.pop("desk_flash", None),
    )


def highlighted(text: str, candidates: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The text cut into (piece, matched) pieces: the candidates' spans, else their matched words."""
    spans: list[tuple[int, int]] = []
    folded = text.casefold()
    for c in candidates:
        start, end = c.get("span_start"), c.get("span_end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            spans.append((start, end))
        elif (c.get("matched") or "").strip():
            at = folded.find(str(c["matched"]).strip().casefold())
            if at >= 0:
                spans.append((at, at + len(str(c["matched"]).strip())))
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(spans):
        start = max(start, pos)
        if start >= end:
            continue
        if start > pos:
            pieces.append((text[pos:start], False))
        pieces.append((text[start:end], True))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces


async def _form(request: Request) -> tuple[Any, FormData]:
    """The reviewer (role checked) and the form (CSRF checked)."""
    user = sessions.require(request, ROLE)
    form = await request.form()
    sessions.check_csrf(request, form)
    return user, form


def _number(form: FormData, name: str) -> float:
    """A finite number from the form, else 400."""
    found = _optional_number(form, name)
    if found is None:
        raise HTTPException(400, f"{name} must be a number")
    return found


def _optional_number(form: FormData, name: str) -> float | None:
    raw = str(form.get(name) or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be a number") from None
    if not math.isfinite(value):
        raise HTTPException(400, f"{name} must be a number")
    return value


def _text(form: FormData, name: str) -> str | None:
    value = str(form.get(name) or "").strip()
    if len(value) > MAX_TEXT:
        raise HTTPException(400, f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def _back(form: FormData, default: str) -> str:
    back = str(form.get("back") or "")
    return back if BACK.match(back) else default


async def _decide(request: Request, user: Any, act: Callable[[Review], Decision], back: str) -> Response:
    config, store = _state(request)
    try:
        decision = await run_in_threadpool(decide, config, store, user.name, act)
    except ReviewError as exc:
        return render(request, "desk_message.html", status_code=400, heading="desk.refused", message=str(exc))
    request.session["desk_flash"] = decision.message
    return RedirectResponse(back, status_code=303)


async def accept(request: Request) -> Response:
    """This reviewer accepts the sighting (confirmed once enough reviewers agree)."""
    user, form = await _form(request)
    sighting_id = request.path_params["sighting_id"]
    need = agreement.required_agreements(_state(request)[0])
    reason = _text(form, "reason")
    return await _decide(
        request,
        user,
        lambda r: agreement.accept(r, sighting_id, reason, required=need),
        _back(form, f"/review/{sighting_id}"),
    )


async def reject(request: Request) -> Response:
    """This reviewer rejects the sighting, with a reason."""
    user, form = await _form(request)
    sighting_id = request.path_params["sighting_id"]
    need = agreement.required_agreements(_state(request)[0])
    reason = _text(form, "reason")
    if not reason:
        raise HTTPException(400, "a rejection needs a reason")
    return await _decide(
        request,
        user,
        lambda r: agreement.reject(r, sighting_id, reason, required=need),
        _back(form, f"/review/{sighting_id}"),
    )


async def move(request: Request) -> Response:
    """This reviewer gives the camera's point (a new confirmed manual sighting)."""
    user, form = await _form(request)
    sighting_id = request.path_params["sighting_id"]
    lat, lon = _number(form, "lat"), _number(form, "lon")
    precision = _optional_number(form, "precision") or 5.0
    reason = _text(form, "reason")
    return await _decide(
        request,
        user,
        lambda r: r.move(sighting_id, lat, lon, precision_m=precision, reason=reason),
        _back(form, f"/review/{sighting_id}"),
    )


async def merge(request: Request) -> Response:
    """Merge another site into this one."""
    user, form = await _form(request)
    site_id = request.path_params["site_id"]
    other = _number(form, "other")
    if other != int(other) or other < 1:
        raise HTTPException(400, "other must be a site number")
    reason = _text(form, "reason")
    return await _decide(
        request, user, lambda r: r.merge(site_id, int(other), reason), _back(form, "/review")
    )


async def split(request: Request) -> Response:
    """Split this site: named sightings to a new site, or groups within a smaller radius."""
    user, form = await _form(request)
    site_id = request.path_params["site_id"]
    raw = str(form.get("sightings") or "")
    if not re.fullmatch(r"[\d,\s]*", raw):
        raise HTTPException(400, "sightings must be numbers separated by commas")
    ids = [int(part) for part in re.split(r"[,\s]+", raw) if part]
    radius = _optional_number(form, "radius")
    reason = _text(form, "reason")
    return await _decide(
        request,
        user,
        lambda r: r.split(site_id, sighting_ids=ids, radius_m=radius, reason=reason),
        _back(form, "/review"),
    )


async def publish(request: Request) -> Response:
    """Mark a photo publishable (a clean copy is stored) or not."""
    user, form = await _form(request)
    media_id = request.path_params["media_id"]
    choice = str(form.get("publishable") or "")
    if choice not in ("0", "1"):
        raise HTTPException(400, "publishable must be 0 or 1")
    config, store = _state(request)
    try:
        message = await run_in_threadpool(set_publishable, config, store, media_id, choice == "1", user.name)
    except ReviewError as exc:
        return render(request, "desk_message.html", status_code=400, heading="desk.refused", message=str(exc))
    request.session["desk_flash"] = message
    return RedirectResponse(_back(form, "/review"), status_code=303)


def reviewer_photo(request: Request) -> Response:
    """A downloaded photo for reviewers, fetched again and re-encoded without metadata."""
    sessions.require(request, ROLE)
    config, store = _state(request)
    try:
        content_type, data = review_photo(config, store, request.path_params["media_id"])
    except ReviewError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


def public_photo(request: Request) -> Response:
    """A published photo (public): only the clean copy of a photo a reviewer marked publishable."""
    found = published_copy(_state(request)[1], request.path_params["media_id"])
    if found is None:
        raise HTTPException(404, "no such photo")
    return Response(found[1], media_type=found[0], headers={"Cache-Control": "public, max-age=3600"})


routes: list[BaseRoute] = [
    Route("/review", queue, methods=["GET"]),
    Route("/review/{sighting_id:int}", review_page, methods=["GET"]),
    Route("/review/{sighting_id:int}/accept", accept, methods=["POST"]),
    Route("/review/{sighting_id:int}/reject", reject, methods=["POST"]),
    Route("/review/{sighting_id:int}/move", move, methods=["POST"]),
    Route("/review/sites/{site_id:int}/merge", merge, methods=["POST"]),
    Route("/review/sites/{site_id:int}/split", split, methods=["POST"]),
    Route("/review/photos/{media_id:int}", reviewer_photo, methods=["GET"]),
    Route("/review/photos/{media_id:int}/publish", publish, methods=["POST"]),
    Route("/photos/{media_id:int}", public_photo, methods=["GET"]),
]
