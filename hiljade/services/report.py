"""`hiljade report`: the numbers of the campaign report, read from the store, and the report written
as HTML or Markdown (``hiljade.export.report``).

Totals (posts, located posts, sites, verified sites, independent reports on verified sites), new
verified sites per week since the first one, verified sites per named area of the gazetteer, the
newest stored reconciliation with each official list and with OpenStreetMap (as `hiljade reconcile`
stored it: counts per area and the points of its three classes; nothing is matched here), and how
the located posts were placed."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, distinct, func, select

from hiljade.config import Config
from hiljade.export.report import (
    AreaClasses,
    ReconcileSection,
    Report,
    render_html,
    render_html_body,
    render_markdown,
)
from hiljade.models.schema import Post, Sighting, Site
from hiljade.models.schema_reconcile import OfficialRow, OsmSurveillance, Reconciliation, ReconciliationPair
from hiljade.models.store import Store
from hiljade.pipeline.reconcile import CLASSES, Located, area_names
from hiljade.services.gazetteer import newest_gazetteer
from hiljade.services.public_map import verified_per_week, week_start
from hiljade.services.reconcile import named_areas

FORMATS = ("html", "md")
MAX_WEEKS = 520  # ten years of weekly columns at most
# how a location was found, in the words of the report: sighting method -> group
METHOD_GROUPS = {
    "exif": "photo EXIF",
    "platform_geo": "platform position",
    "map_link": "links and coordinates",
    "coordinates": "links and coordinates",
    "plus_code": "links and coordinates",
    "intersection": "intersections",
    "address": "addresses",
    "square": "squares and landmarks",
    "landmark": "squares and landmarks",
    "street": "streets",
    "geocoder": "online geocoder",
    "manual": "reviewers",
}
OUTLINE_DEGREES = 0.0002  # about 20 m: what a map of the whole city can show


def _count(conn: Connection, stmt: Any) -> int:
    return int(conn.execute(stmt).scalar_one() or 0)


def totals(conn: Connection) -> list[tuple[str, int]]:
    """The headline numbers: posts, located posts, sites, verified sites, independent reports."""
    p, s, t = Post.__table__, Sighting.__table__, Site.__table__
    live = p.c.deleted_at.is_(None)
    located = (
        select(func.count(distinct(s.c.post_id))).join(p, p.c.id == s.c.post_id)
        .where(s.c.chosen.is_(True), s.c.status != "rejected", live)
    )
    return [
        ("posts", _count(conn, select(func.count()).select_from(p).where(live))),
        ("located posts", _count(conn, located)),
        ("camera sites (not rejected)", _count(conn, select(func.count()).where(
            t.c.status.in_(("unverified", "verified"))))),
        ("verified sites", _count(conn, select(func.count()).where(t.c.status == "verified"))),
        ("independent reports on verified sites", _count(conn, select(func.sum(t.c.independent_reports))
                                                         .where(t.c.status == "verified"))),
    ]


def method_mix(conn: Connection) -> list[tuple[str, int]]:
    """Located posts by how their location was found (most first)."""
    p, s = Post.__table__, Sighting.__table__
    rows = conn.execute(
        select(s.c.method, func.count(distinct(s.c.post_id))).join(p, p.c.id == s.c.post_id)
        .where(s.c.chosen.is_(True), s.c.status != "rejected", p.c.deleted_at.is_(None))
        .group_by(s.c.method)
    ).all()
    counts: Counter[str] = Counter()
    for method, n in rows:
        counts[METHOD_GROUPS.get(method, method)] += n
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def weekly(store: Store, today: dt.date) -> list[tuple[dt.date, int]]:
    """New verified sites per week, from the week of the first verification to this week."""
    t = Site.__table__
    with store.connect() as conn:
        first = conn.execute(select(func.min(t.c.verified_at)).where(t.c.status == "verified")).scalar()
    if first is None:
        return []
    now = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    weeks = (week_start(now) - week_start(first)).days // 7 + 1
    return verified_per_week(store, weeks=max(1, min(weeks, MAX_WEEKS)), today=today)


def sites_per_area(conn: Connection, areas: list[tuple[str, BaseGeometry]]) -> list[tuple[str, int]]:
    """Verified sites per named area (most first; "" for none), each in one area as `hiljade
    reconcile` counts them: the largest named area that covers it."""
    t = Site.__table__
    sites = [Located(*row) for row in conn.execute(
        select(t.c.id, t.c.lat, t.c.lon).where(t.c.status == "verified").order_by(t.c.id))]
    counts = Counter(name or "" for name in area_names(sites, areas))
    return sorted(counts.items(), key=lambda item: (item[0] == "", -item[1], item[0]))


def newest_reconciliations(conn: Connection) -> list[Any]:
    """The newest stored reconciliation of each official list and of OpenStreetMap."""
    r = Reconciliation.__table__
    rows = conn.execute(select(r).order_by(r.c.run_at.desc(), r.c.id.desc())).all()
    seen: set[tuple[str, str | None]] = set()
    out = []
    for row in rows:
        if (row.kind, row.list_name) not in seen:
            seen.add((row.kind, row.list_name))
            out.append(row)
    return sorted(out, key=lambda row: (row.kind != "official", row.list_name or ""))


def reconcile_section(conn: Connection, run: Any) -> ReconcileSection:
    """One stored reconciliation: its counts per class and area, and where its items are."""
    pr, t = ReconciliationPair.__table__, Site.__table__
    other = (OsmSurveillance if run.kind == "osm" else OfficialRow).__table__
    rows = conn.execute(
        select(pr.c["class"], pr.c.area, t.c.lon, t.c.lat, other.c.lon, other.c.lat)
        .select_from(pr.outerjoin(t, t.c.id == pr.c.site_id).outerjoin(other, other.c.id == pr.c.other_id))
        .where(pr.c.reconciliation_id == run.id)
        .order_by(pr.c.id)
    ).all()
    total: Counter[str] = Counter()
    per_area: defaultdict[str, Counter[str]] = defaultdict(Counter)
    points = []
    for cls, area, site_lon, site_lat, other_lon, other_lat in rows:
        total[cls] += 1
        if cls == "not_placed":
            continue
        per_area[area or ""][cls] += 1
        lon, lat = (other_lon, other_lat) if cls == "only_other" else (site_lon, site_lat)
        if lon is not None and lat is not None:
            points.append((lon, lat, cls))
    areas = [
        AreaClasses(name, c["both"], c["only_citizens"], c["only_other"])
        for name, c in sorted(per_area.items(), key=lambda item: (item[0] == "", -item[1].total(), item[0]))
    ]
    stored = {**{c: total[c] for c in CLASSES}, "sites": total["both"] + total["only_citizens"],
              "others": total["both"] + total["only_other"], **(run.counts or {})}  # as reconcile stored them
    return ReconcileSection(
        kind=run.kind, list_name=run.list_name, radius_m=run.radius_m, statuses=tuple(run.statuses or ()),
        run_at=run.run_at, sites=stored["sites"], others=stored["others"], both=stored["both"],
        only_citizens=stored["only_citizens"], only_other=stored["only_other"],
        not_placed=stored["not_placed"], areas=areas, points=points,
    )


def build_report(config: Config, store: Store, *, now: dt.datetime | None = None) -> Report:
    """Every number of the report, read in one pass over the store."""
    now = now or dt.datetime.now(dt.UTC)
    areas = named_areas(newest_gazetteer(config, store)[1])
    with store.connect() as conn:
        headline = totals(conn)
        per_area = sites_per_area(conn, areas)
        methods = method_mix(conn)
        sections = [reconcile_section(conn, run) for run in newest_reconciliations(conn)]
    outlines = [(name, shapely.simplify(geom, OUTLINE_DEGREES, preserve_topology=True))
                for name, geom in areas]
    return Report(
        generated_at=now,
        totals=headline,
        weeks=weekly(store, now.date()),
        areas=per_area,
        methods=methods,
        reconciliations=sections,
        outlines=outlines,
    )


def write_report(
    config: Config, store: Store, fmt: str, *, now: dt.datetime | None = None
) -> tuple[str, Report]:
    """The report as ``fmt`` (html or md) and its numbers."""
    report = build_report(config, store, now=now)
    return (render_markdown(report) if fmt == "md" else render_html(report)), report


def report_body(config: Config, store: Store, *, now: dt.datetime | None = None) -> tuple[str, Report]:
    """The report's body as HTML for the web page (charts as images; no inline style) and its numbers."""
    report = build_report(config, store, now=now)
    return render_html_body(report), report
