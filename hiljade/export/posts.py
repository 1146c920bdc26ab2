"""Export of posts with where the pipeline placed them: no author identity unless asked for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select

from hiljade.export.filters import NO_FILTER, ExportFilter
from hiljade.models.schema import Author, Post, PostLocation, Sighting, Site

POST_COLUMNS = (
    "id",
    "platform",
    "server",
    "native_id",
    "uri",
    "url",
    "created_at",
    "edited_at",
    "text",
    "language",
    "hashtags",
)
LOCATION_FIELDS = ("outcome", "lat", "lon", "method", "precision_m", "site_id")
FIELDS = POST_COLUMNS + LOCATION_FIELDS
AUTHOR_FIELDS = ("author_pseudonym", "author_handle")
# A post's address names its author's account (https://server/@name/1, twitter.com/name/...).
LINK_FIELDS = ("uri", "url")
OUTCOMES = ("located", "pending_review", "nothing", "outside_area")


def post_fields(include_authors: bool) -> tuple[str, ...]:
    return FIELDS + AUTHOR_FIELDS if include_authors else FIELDS


def post_rows(
    conn: Connection, flt: ExportFilter = NO_FILTER, *, include_authors: bool = False
) -> Iterator[dict[str, Any]]:
    """Posts oldest first, as plain dicts with ``post_fields(include_authors)``; the location is the
    post's chosen sighting, ``outcome`` the pipeline's verdict. Deleted posts are left out; ``uri`` and
    ``url`` are empty unless ``include_authors``. ``statuses`` match the outcome."""
    p, a, pl, s, st = (Post.__table__, Author.__table__, PostLocation.__table__, Sighting.__table__,
                       Site.__table__)
    chosen = (
        select(s.c.post_id, func.min(s.c.id).label("sighting_id"))
        .where(s.c.chosen.is_(True))
        .group_by(s.c.post_id)
        .subquery("chosen")
    )
    joined = (
        p.outerjoin(pl, pl.c.post_id == p.c.id)
        .outerjoin(chosen, chosen.c.post_id == p.c.id)
        .outerjoin(s, s.c.id == chosen.c.sighting_id)
        .outerjoin(st, st.c.id == s.c.site_id)
    )
    cols = [p.c[name] for name in POST_COLUMNS]
    cols += [pl.c.outcome, s.c.lat, s.c.lon, s.c.method, s.c.precision_m, s.c.site_id]
    if include_authors:
        cols += [a.c.pseudonym.label("author_pseudonym"), a.c.handle.label("author_handle")]
        joined = joined.outerjoin(a, a.c.id == p.c.author_id)
    query = select(*cols).select_from(joined).where(p.c.deleted_at.is_(None)).order_by(p.c.created_at, p.c.id)
    if flt.statuses:
        query = query.where(pl.c.outcome.in_(flt.statuses))
    if flt.since is not None:
        query = query.where(p.c.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(p.c.created_at < flt.until)
    if flt.bbox is not None:
        minlon, minlat, maxlon, maxlat = flt.bbox
        query = query.where(s.c.lon.between(minlon, maxlon), s.c.lat.between(minlat, maxlat))
    if flt.min_reports is not None:
        query = query.where(st.c.independent_reports >= flt.min_reports)
    for row in conn.execute(query.execution_options(yield_per=1000)):
        item = dict(row._mapping)
        if not include_authors:
            item.update(dict.fromkeys(LINK_FIELDS))
        yield item
