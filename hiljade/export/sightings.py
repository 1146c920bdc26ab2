"""Export of sightings (one row per claimed camera position), without author identity by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from hiljade.export.filters import NO_FILTER, ExportFilter
from hiljade.models.schema import Author, Post, Sighting, Site

SIGHTING_FIELDS = (
    "id",
    "post_id",
    "post_uri",
    "post_created_at",
    "site_id",
    "lat",
    "lon",
    "method",
    "precision_m",
    "confidence",
    "status",
    "chosen",
    "matched",
    "source",
    "pipeline_version",
    "created_at",
    "reviewed_at",
)
AUTHOR_FIELDS = ("author_pseudonym", "author_handle")
# Without --status: every status but rejected (the pipeline's outside-area points, a reviewer's "no").
HIDDEN_SIGHTING_STATUSES = ("rejected",)
# What a deleted post's sightings lose: everything that came from the post or names its author.
PERSONAL = ("post_uri", "matched", "author_pseudonym", "author_handle")


def sighting_fields(include_authors: bool) -> tuple[str, ...]:
    return SIGHTING_FIELDS + AUTHOR_FIELDS if include_authors else SIGHTING_FIELDS


def sighting_rows(
    conn: Connection,
    flt: ExportFilter = NO_FILTER,
    *,
    include_authors: bool = False,
    candidates: bool = False,
) -> Iterator[dict[str, Any]]:
    """Sightings by id as plain dicts with ``sighting_fields(include_authors)``: only each post's chosen
    one unless ``candidates``. ``since``/``until`` apply to the post's time; ``min_reports`` to the site.
    ``post_uri`` (a post's address names its author's account) only with ``include_authors``; a deleted
    post's sightings keep their position but lose every field in ``PERSONAL``."""
    s, p, a, st = Sighting.__table__, Post.__table__, Author.__table__, Site.__table__
    cols = [s.c[name] for name in SIGHTING_FIELDS if name not in ("post_uri", "post_created_at")]
    cols += [p.c.uri.label("post_uri"), p.c.created_at.label("post_created_at"), p.c.deleted_at]
    joined = s.join(p, p.c.id == s.c.post_id)
    if include_authors:
        cols += [a.c.pseudonym.label("author_pseudonym"), a.c.handle.label("author_handle")]
        joined = joined.outerjoin(a, a.c.id == p.c.author_id)
    if flt.min_reports is not None:
        joined = joined.join(st, st.c.id == s.c.site_id)
    query = select(*cols).select_from(joined).order_by(s.c.id)
    if not candidates:
        query = query.where(s.c.chosen.is_(True))
    if flt.statuses:
        query = query.where(s.c.status.in_(flt.statuses))
    else:
        query = query.where(s.c.status.not_in(HIDDEN_SIGHTING_STATUSES))
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
        if item.pop("deleted_at") is not None:
            item.update(dict.fromkeys(PERSONAL))
        elif not include_authors:
            item["post_uri"] = None
        item["chosen"] = bool(item["chosen"])
        yield item
