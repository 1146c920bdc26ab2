"""Export of a stored reconciliation: every pair and every unmatched item with its class, distance and
both sides' ids (CSV, GeoJSON), and for OpenStreetMap a JOSM file of the verified sites OSM lacks."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any, TextIO
from xml.sax.saxutils import escape

from sqlalchemy import Connection, select

from hiljade.export.osm import site_tags, write_osm
from hiljade.export.sites import SITE_FIELDS
from hiljade.models.schema import Site
from hiljade.models.schema_reconcile import OfficialRow, OsmSurveillance, ReconciliationPair

RECONCILE_FIELDS = (
    "class",
    "area",
    "distance_m",
    "lat",
    "lon",
    "site_id",
    "site_status",
    "site_lat",
    "site_lon",
    "other_id",
    "other_ref",
    "other_text",
    "other_lat",
    "other_lon",
)
# the tags a site and an OSM node are compared on
COMPARED_TAGS = ("surveillance:type", "camera:type", "camera:mount", "camera:direction", "manufacturer")

_pair = ReconciliationPair.__table__
_site = Site.__table__
_row = OfficialRow.__table__
_osm = OsmSurveillance.__table__


def reconcile_rows(conn: Connection, reconciliation_id: int, kind: str) -> Iterator[dict[str, Any]]:
    """The pairs of one stored reconciliation with both sides' positions; a row's ``lat``/``lon`` is
    the site's, or the other side's when there is no site."""
    if kind == "osm":
        other = [_osm.c.lat.label("other_lat"), _osm.c.lon.label("other_lon"), _osm.c.osm_type, _osm.c.osm_id]
        join = _osm
    else:
        other = [_row.c.lat.label("other_lat"), _row.c.lon.label("other_lon"), _row.c.line, _row.c.original]
        join = _row
    query = (
        select(
            _pair.c["class"],
            _pair.c.area,
            _pair.c.distance_m,
            _pair.c.site_id,
            _pair.c.other_id,
            _site.c.status.label("site_status"),
            _site.c.lat.label("site_lat"),
            _site.c.lon.label("site_lon"),
            *other,
        )
        .select_from(
            _pair.outerjoin(_site, _site.c.id == _pair.c.site_id).outerjoin(
                join, join.c.id == _pair.c.other_id
            )
        )
        .where(_pair.c.reconciliation_id == reconciliation_id)
        .order_by(_pair.c.id)
    )
    for row in conn.execute(query).mappings():
        out = dict(row)
        if kind == "osm":
            ref, text = (f"{out.pop('osm_type')}/{out.pop('osm_id')}" if row["other_id"] else None), None
        else:
            ref = f"line {out.pop('line')}" if row["other_id"] else None
            text = out.pop("original")
        out["other_ref"], out["other_text"] = ref, text
        has_site = out["site_lat"] is not None
        out["lat"] = out["site_lat"] if has_site else out["other_lat"]
        out["lon"] = out["site_lon"] if has_site else out["other_lon"]
        yield out


def differing_tags(site: Mapping[str, Any], node_tags: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The compared tags a site knows that the OSM node lacks or holds otherwise: key -> (site, OSM)."""
    ours = site_tags(site)
    return {
        key: (ours[key], str(node_tags.get(key, "")))
        for key in COMPARED_TAGS
        if key in ours and str(node_tags.get(key, "")) != ours[key]
    }


def write_josm(
    conn: Connection, reconciliation_id: int, out: TextIO, *, operator: str | None = None
) -> tuple[int, int]:
    """A JOSM file (``upload="false"``) of the verified sites that match no OSM node, as new nodes, with
    a comment per match whose tags differ; returns (new nodes, matches with differing tags)."""
    pairs = conn.execute(
        select(_pair.c["class"], _pair.c.site_id, _pair.c.other_id, _pair.c.distance_m)
        .where(_pair.c.reconciliation_id == reconciliation_id, _pair.c.site_id.is_not(None))
        .order_by(_pair.c.site_id)
    ).all()
    site_ids = [p.site_id for p in pairs]
    sites = {
        r["id"]: dict(r)
        for r in conn.execute(
            select(*(_site.c[f] for f in SITE_FIELDS)).where(
                _site.c.id.in_(site_ids), _site.c.status == "verified"
            )
        ).mappings()
    }
    node_ids = [p.other_id for p in pairs if p.other_id is not None]
    nodes = {
        r.id: r
        for r in conn.execute(
            select(_osm.c.id, _osm.c.osm_type, _osm.c.osm_id, _osm.c.tags).where(_osm.c.id.in_(node_ids))
        )
    }
    notes = []
    for p in pairs:
        if p[0] != "both" or p.site_id not in sites or p.other_id not in nodes:
            continue
        node = nodes[p.other_id]
        diff = differing_tags(sites[p.site_id], node.tags or {})
        if diff:
            said = "; ".join(f"{k}: site {a}, OSM {b or 'none'}" for k, (a, b) in diff.items())
            notes.append(
                f"site {p.site_id} matches {node.osm_type}/{node.osm_id} ({p.distance_m:.1f} m), "
                f"tags differ: {said}"
            )
    new = [sites[p.site_id] for p in pairs if p[0] == "only_citizens" and p.site_id in sites]
    buffer = io.StringIO()
    count = write_osm(new, buffer, operator=operator)
    head, _, rest = buffer.getvalue().partition("\n")
    out.write(head + "\n")
    for note in notes:
        out.write(f"<!-- {escape(note).replace('--', '- -')} -->\n")
    out.write(rest)
    return count, len(notes)
