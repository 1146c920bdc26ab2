"""Export of camera sites (one row per pole or facade): no author or reviewer identity in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from hiljade.export.filters import NO_FILTER, ExportFilter
from hiljade.models.schema import Site

SITE_FIELDS = (
    "id",
    "lat",
    "lon",
    "status",
    "reports",
    "independent_reports",
    "camera_count",
    "camera_type",
    "camera_mount",
    "camera_model",
    "camera_direction",
    "first_seen",
    "last_seen",
    "verified_at",
    "updated_at",
)
# Without --status: every site but those merged into another (empty aliases) and those rejected.
HIDDEN_SITE_STATUSES = ("merged", "rejected")


def site_rows(conn: Connection, flt: ExportFilter = NO_FILTER) -> Iterator[dict[str, Any]]:
    """Sites by id, as plain dicts with ``SITE_FIELDS``, kept by ``flt``: ``since``/``until`` keep sites
    seen in that window (last report on or after ``since``, first report before ``until``)."""
    t = Site.__table__
    query = select(*(t.c[name] for name in SITE_FIELDS)).order_by(t.c.id)
    if flt.statuses:
        query = query.where(t.c.status.in_(flt.statuses))
    else:
        query = query.where(t.c.status.not_in(HIDDEN_SITE_STATUSES))
    if flt.since is not None:
        query = query.where(t.c.last_seen >= flt.since)
    if flt.until is not None:
        query = query.where(t.c.first_seen < flt.until)
    if flt.bbox is not None:
        minlon, minlat, maxlon, maxlat = flt.bbox
        query = query.where(t.c.lon.between(minlon, maxlon), t.c.lat.between(minlat, maxlat))
    if flt.min_reports is not None:
        query = query.where(t.c.independent_reports >= flt.min_reports)
    for row in conn.execute(query.execution_options(yield_per=1000)):
        yield dict(row._mapping)
