"""Stored sites: place sightings on sites, rebuild them, and keep each site's aggregates.

Which sightings make sites: per post, a reviewer's point (method `manual`, not rejected; the
newest) or else its chosen sighting when that is `auto` or `confirmed`. Never a `pending_review`
one (a street-only mention is a line, not a point, until a reviewer gives it one), never a
`rejected` one, never one of a deleted post. A sighting that stops qualifying leaves its site.

Reviewer decisions: a site with `verified_by`, with a status a reviewer set (`rejected`, `merged`)
or named by a `review_log` row (target `site`: verify, merge, split) is pinned. ``recluster_sites``
keeps pinned sites with their id, centre, status and members and only places the other sightings
again (they may join a pinned site, except a `merged` one, which takes no sightings); a rebuilt
site gets the id of the old site it shares the most sightings with, so ids survive a rebuild
wherever the grouping did. Empty sites no reviewer touched are removed (and counted).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, exists, func, insert, select, text, update

from hiljade.models.schema import Media, Post, PostLink, ReviewLog, Sighting, Site
from hiljade.pipeline import sites as clustering
from hiljade.pipeline.sites import Point, SiteRecord, SiteSettings

CHUNK = 500
NAMED = {"type": 32, "mount": 32, "model": 64}  # attribute -> its column width
Attributes = Callable[[str], dict[str, Any]]
Merge = Callable[[Iterable[dict[str, Any]]], dict[str, Any]]

_s = Sighting.__table__
_p = Post.__table__
_site = Site.__table__
# Sightings that may make a site; per post one of them does (``_qualifying``).
MAYBE = (_s.c.chosen.is_(True) & _s.c.status.in_(("auto", "confirmed"))) | (
    (_s.c.method == "manual") & (_s.c.status != "rejected")
)

LIVE = ("unverified", "verified", "rejected")  # statuses of sites sightings may join (not `merged`)
REVIEWED = (
    _site.c.verified_by.is_not(None)
    | _site.c.status.not_in(("unverified", "verified"))
    | exists().where(ReviewLog.target == "site", ReviewLog.target_id == _site.c.id)
)


@dataclass(frozen=True)
class SiteCounts:
    """What an assignment or a rebuild did."""

    sites_before: int
    sites_after: int
    assigned: int = 0  # sightings placed on a site (recluster: whose site changed)
    created: int = 0  # sites started
    detached: int = 0  # sightings that left their site (no longer qualifying)
    removed: int = 0  # sites deleted: no members left and no reviewer decision
    pinned: int = 0  # reviewer-decided sites kept as they were (recluster)
    radius_m: float = 0.0

    def summary(self, verb: str = "update") -> str:
        """The one-line report, e.g. for `hiljade sites update` (verb "update") or "recluster"."""
        rebuilt = verb == "recluster"
        return (
            f"sites {verb}: {self.sites_before} -> {self.sites_after} sites; {self.assigned} sightings "
            f"{'moved' if rebuilt else 'assigned'}, {self.detached} detached; {self.created} sites new, "
            f"{self.removed} removed{f', {self.pinned} kept as reviewed' if rebuilt else ''} "
            f"(radius {self.radius_m:g} m)"
        )


def _lock(conn: Connection) -> None:
    """One site writer at a time on PostgreSQL (SQLite serialises writers itself)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE sites IN SHARE ROW EXCLUSIVE MODE"))


def _count_sites(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(_site)).scalar_one())


def _qualifying(conn: Connection) -> list[tuple[Point, int | None]]:
    """The sightings that make sites, one per post (a reviewer's newest point, else the chosen one),
    as points in clustering order (report time, then id), each with its current site. Plain
    queries, so the plan does not hinge on fresh table statistics."""
    query = (
        select(*(_s.c[k] for k in ("id", "post_id", "method", "lat", "lon", "precision_m", "site_id")))
        .add_columns(_p.c.created_at)
        .select_from(_s.join(_p, _p.c.id == _s.c.post_id))
        .where(MAYBE, _p.c.deleted_at.is_(None))
    )
    best: dict[int, Any] = {}
    for r in conn.execute(query):
        held = best.get(r.post_id)
        if held is None or (r.method == "manual", r.id) > (held.method == "manual", held.id):
            best[r.post_id] = r
    rows = [
        (Point(r.id, r.lat, r.lon, r.precision_m, r.created_at.timestamp()), r.site_id) for r in best.values()
    ]
    rows.sort(key=lambda row: (row[0].time, row[0].id))
    return rows


def _detach(conn: Connection, qualifying: Iterable[tuple[Point, int | None]]) -> tuple[int, set[int]]:
    """Take sightings that no longer qualify off their sites: (how many, which sites)."""
    keep = {point.id for point, site in qualifying if site is not None}
    placed = conn.execute(select(_s.c.id, _s.c.site_id).where(_s.c.site_id.is_not(None)))
    gone = [(i, site) for i, site in placed if i not in keep]
    ids = sorted(i for i, _ in gone)
    for start in range(0, len(ids), CHUNK):
        conn.execute(update(_s).where(_s.c.id.in_(ids[start : start + CHUNK])).values(site_id=None))
    return len(ids), {site for _, site in gone}


def _members(conn: Connection, site_ids: Iterable[int]) -> dict[int, list[Point]]:
    found: dict[int, list[Point]] = defaultdict(list)
    ids = sorted(site_ids)
    query = select(_s.c.id, _s.c.lat, _s.c.lon, _s.c.precision_m, _s.c.site_id, _p.c.created_at).select_from(
        _s.join(_p, _p.c.id == _s.c.post_id)
    )
    for r in _in_chunks(conn, query, _s.c.site_id, ids):
        found[r.site_id].append(Point(r.id, r.lat, r.lon, r.precision_m, r.created_at.timestamp()))
    for points in found.values():
        points.sort(key=lambda p: (p.time, p.id))
    return found


def _insert_sites(conn: Connection, sites: Sequence[clustering.Site], now: dt.datetime) -> dict[int, int]:
    """Insert new sites in order; returns {clustering id: stored id}."""
    if not sites:
        return {}
    blank = {
        "status": "unverified",
        "reports": 0,
        "independent_reports": 0,
        "created_at": now,
        "updated_at": now,
    }
    rows = [{**blank, "lat": s.lat, "lon": s.lon} for s in sites]
    stmt = insert(_site).returning(_site.c.id, sort_by_parameter_order=True)
    stored = list(conn.execute(stmt, rows).scalars())
    return {s.id: int(new) for s, new in zip(sites, stored, strict=True)}


def _place(conn: Connection, site_of: dict[int, int]) -> None:
    """Set sightings' sites: {sighting id: site id}."""
    if site_of:
        stmt = update(_s).where(_s.c.id == bindparam("b_id")).values(site_id=bindparam("b_site"))
        conn.execute(stmt, [{"b_id": k, "b_site": v} for k, v in sorted(site_of.items())])


def _stale(conn: Connection) -> set[int]:
    """Sites whose stored report count no longer matches their members (a reprocess replaced some)."""
    n = func.count(_s.c.post_id.distinct()).label("n")
    counts = select(_s.c.site_id, n).where(_s.c.site_id.is_not(None)).group_by(_s.c.site_id).subquery()
    query = select(_site.c.id).outerjoin(counts, counts.c.site_id == _site.c.id)
    return set(conn.execute(query.where(_site.c.reports != func.coalesce(counts.c.n, 0))).scalars())


def _remove_empty(conn: Connection) -> int:
    empty = ~exists().where(_s.c.site_id == _site.c.id)
    return int(conn.execute(delete(_site).where(empty, ~REVIEWED)).rowcount or 0)


def assign_sites(conn: Connection, settings: Any, now: dt.datetime) -> SiteCounts:
    """Place every qualifying sighting without a site: it joins the nearest site whose centre is
    within the radius, or starts one. Existing ids and members never change."""
    cfg = SiteSettings.of(settings)
    _lock(conn)
    before = _count_sites(conn)
    qualifying = _qualifying(conn)
    detached, touched = _detach(conn, qualifying)
    touched |= _stale(conn)
    new = [point for point, site in qualifying if site is None]
    created: dict[int, int] = {}
    if new:
        top = conn.execute(select(func.max(_site.c.id))).scalar_one() or 0
        query = select(_site.c.id, _site.c.lat, _site.c.lon).where(_site.c.status.in_(LIVE))
        centres = [tuple(r) for r in conn.execute(query)]
        near = clustering.nearby(centres, new, 3 * cfg.radius_m) if centres else set()  # no farther
        # site can be joined in this run: a joined centre stays within 2 radii of where it was
        members = _members(conn, near)
        existing = [SiteRecord(i, la, lo, tuple(members.get(i, ()))) for i, la, lo in centres if i in near]
        result = clustering.assign(existing, new, cfg.radius_m, next_id=top + 1)
        by_id = {s.id: s for s in result.sites}
        created = _insert_sites(conn, [by_id[i] for i in result.new], now)
        _place(conn, {p: created.get(site, site) for p, site in result.assigned.items()})
        _store_centres(conn, [by_id[i] for i in result.touched])
        touched |= set(result.touched) | set(created.values())
    refresh_sites(conn, touched, cfg, now)
    removed = _remove_empty(conn)
    return SiteCounts(before, _count_sites(conn), len(new), len(created), detached, removed, 0, cfg.radius_m)


def _store_centres(conn: Connection, sites: Iterable[clustering.Site]) -> None:
    rows = [{"b_id": s.id, "b_lat": s.lat, "b_lon": s.lon} for s in sites]
    if rows:
        stmt = update(_site).where(_site.c.id == bindparam("b_id"))
        conn.execute(stmt.values(lat=bindparam("b_lat"), lon=bindparam("b_lon")), rows)


def recluster_sites(conn: Connection, settings: Any, now: dt.datetime) -> SiteCounts:
    """Rebuild every site no reviewer decided on, deterministically (report time, then sighting id);
    see the module docstring for what is kept."""
    cfg = SiteSettings.of(settings)
    _lock(conn)
    before = _count_sites(conn)
    rows = _qualifying(conn)
    detached, _ = _detach(conn, rows)
    current = {point.id: site for point, site in rows}
    query = select(_site.c.id, _site.c.lat, _site.c.lon, _site.c.status, REVIEWED.label("rv"))
    sites = {r.id: r for r in conn.execute(query)}
    pinned_ids = {i for i, r in sites.items() if r.rv}
    targets = {i for i in pinned_ids if sites[i].status in LIVE}  # a merged site takes no sightings
    held: dict[int, list[Point]] = defaultdict(list)
    for point, site in rows:
        if site in pinned_ids:
            held[site].append(point)
    pinned = [SiteRecord(i, sites[i].lat, sites[i].lon, tuple(held[i])) for i in sorted(targets)]
    result = clustering.recluster(
        [p for p, _ in rows], cfg.radius_m, pinned=pinned, next_id=max(sites, default=0) + 1
    )
    fresh = [s for s in result.sites if s.id not in targets]
    reuse = _match_old_ids(fresh, current, set(sites) - pinned_ids)
    created = _insert_sites(conn, [s for s in fresh if s.id not in reuse], now)
    final = {**reuse, **created}
    _store_centres(conn, [clustering.Site(reuse[s.id], s.lat, s.lon, ()) for s in fresh if s.id in reuse])
    site_of = {p: final.get(s.id, s.id) for s in result.sites for p in s.members}
    changed = {p: site for p, site in site_of.items() if current.get(p) != site}
    obsolete = set(sites) - pinned_ids - set(reuse.values())
    if obsolete:  # their sightings have all moved; the sites go
        ids = sorted(obsolete)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            conn.execute(update(_s).where(_s.c.site_id.in_(chunk)).values(site_id=None))
            conn.execute(delete(_site).where(_site.c.id.in_(chunk)))
    _place(conn, changed)
    refresh_sites(conn, set(final.values()) | pinned_ids, cfg, now)
    after = _count_sites(conn)
    return SiteCounts(
        before, after, len(changed), len(created), detached, len(obsolete), len(pinned_ids), cfg.radius_m
    )


def _match_old_ids(
    fresh: Sequence[clustering.Site], current: dict[int, int | None], old_ids: set[int]
) -> dict[int, int]:
    """{new cluster id: old site id}: greedily by most shared sightings (ties: smaller ids)."""
    pairs = []
    for site in fresh:
        shared = Counter(current.get(p) for p in site.members)
        pairs.extend((-n, old, site.id) for old, n in shared.items() if old in old_ids)
    taken: set[int] = set()
    out: dict[int, int] = {}
    for _, old, new in sorted(pairs):
        if old not in taken and new not in out:
            out[new] = old
            taken.add(old)
    return out


def refresh_sites(conn: Connection, site_ids: Iterable[int], settings: Any, now: dt.datetime) -> int:
    """Recompute these sites' centre, report counts, first/last seen, camera attributes, direction
    and status from their members; returns how many sites were refreshed. The attributes come from
    ``hiljade.pipeline.attributes`` (left as they are while that module is missing)."""
    cfg = SiteSettings.of(settings)
    attributes = _camera_attributes()
    ids = sorted({i for i in site_ids if i is not None})
    if not ids:
        return 0
    groups = clustering.report_groups(conn.execute(select(PostLink.post_id, PostLink.duplicate_of)).all())
    done = 0
    for start in range(0, len(ids), CHUNK):
        facts = _facts(conn, ids[start : start + CHUNK], with_texts=attributes is not None)
        rows = [_aggregate(fact, cfg, now, groups, attributes) for fact in facts]
        if rows:
            values = {k[2:]: bindparam(k) for k in rows[0] if k != "b_id"}
            conn.execute(update(_site).where(_site.c.id == bindparam("b_id")).values(**values), rows)
        done += len(rows)
    return done


def _camera_attributes() -> tuple[Attributes, Merge] | None:
    try:
        from hiljade.pipeline.attributes import camera_attributes, merge_attributes
    except ImportError:  # not there yet
        return None
    return camera_attributes, merge_attributes


@dataclass
class _Facts:
    """What one site's aggregates are computed from."""

    site: Any  # the sites row
    members: list[Point]
    posts: dict[int, Any]  # post id -> (created_at, text)
    alts: dict[int, list[str]]
    bearings: list[float]


def _in_chunks(conn: Connection, query: Any, column: Any, ids: Sequence[int]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(ids), CHUNK):
        out.extend(conn.execute(query.where(column.in_(ids[start : start + CHUNK]))))
    return out


def _facts(conn: Connection, ids: Sequence[int], *, with_texts: bool) -> list[_Facts]:
    """The facts of these sites, read in a few queries."""
    found = {
        r.id: _Facts(r, [], {}, defaultdict(list), [])
        for r in conn.execute(select(_site).where(_site.c.id.in_(ids)))
    }
    rows = conn.execute(
        select(_s.c.id, _s.c.post_id, _s.c.lat, _s.c.lon, _s.c.precision_m, _s.c.site_id)
        .where(_s.c.site_id.in_(ids))
        .order_by(_s.c.id)
    ).all()
    site_of_post: dict[int, set[int]] = defaultdict(set)
    for r in rows:
        found[r.site_id].members.append(Point(r.id, r.lat, r.lon, r.precision_m))
        site_of_post[r.post_id].add(r.site_id)
    post_ids = sorted(site_of_post)
    columns = [_p.c.id, _p.c.created_at] + ([_p.c.text] if with_texts else [])
    for r in _in_chunks(conn, select(*columns), _p.c.id, post_ids):
        for site_id in site_of_post[r.id]:
            found[site_id].posts[r.id] = (r.created_at, r.text if with_texts else "")
    if with_texts:
        media = Media.__table__
        query = select(media.c.post_id, media.c.alt_text).where(media.c.alt_text.is_not(None))
        query = query.order_by(media.c.post_id, media.c.position)
        for r in _in_chunks(conn, query, media.c.post_id, post_ids):
            for site_id in site_of_post[r.post_id]:
                found[site_id].alts[r.post_id].append(r.alt_text)
    query = select(_s.c.post_id, _s.c.evidence).where(_s.c.method == "exif", _s.c.status != "rejected")
    for r in _in_chunks(conn, query.order_by(_s.c.id), _s.c.post_id, post_ids):
        bearing = (r.evidence or {}).get("direction")
        if isinstance(bearing, int | float) and not isinstance(bearing, bool):
            for site_id in site_of_post[r.post_id]:
                found[site_id].bearings.append(float(bearing))
    return [found[i] for i in sorted(found)]


def _aggregate(
    fact: _Facts,
    cfg: SiteSettings,
    now: dt.datetime,
    groups: dict[int, int],
    attributes: tuple[Attributes, Merge] | None,
) -> dict[str, Any]:
    """One site's new values (keys prefixed b_ for the bulk update)."""
    site = fact.site
    lat, lon = clustering.centre_of(fact.members, cfg.radius_m, current=(site.lat, site.lon))
    times = [created for created, _ in fact.posts.values()]
    independent = clustering.independent_reports(fact.posts, groups)
    if site.status not in ("unverified", "verified"):  # a reviewer's word: rejected, merged
        status = site.status
    elif site.verified_by or independent >= cfg.verify_reports:
        status = "verified"
    else:
        status = "unverified"
    verified_at = site.verified_at
    if status == "verified" and verified_at is None:
        verified_at = now
    elif status == "unverified" and not site.verified_by:
        verified_at = None
    row = {
        "b_id": site.id,
        "b_lat": lat,
        "b_lon": lon,
        "b_reports": len(fact.posts),
        "b_independent_reports": independent,
        "b_first_seen": min(times, default=None),
        "b_last_seen": max(times, default=None),
        "b_camera_direction": clustering.camera_direction(fact.bearings),
        "b_status": status,
        "b_verified_at": verified_at,
        "b_updated_at": now,
    }
    if attributes is not None:
        row.update(_camera(fact, attributes))
    return row


def _camera(fact: _Facts, attributes: tuple[Attributes, Merge]) -> dict[str, Any]:
    """Camera count, type, mount and model: each report's (its text and alt texts), merged."""
    extract, merge = attributes
    merged = merge(
        extract("\n".join([body or "", *fact.alts.get(post_id, [])])) or {}
        for post_id, (_, body) in sorted(fact.posts.items(), key=lambda item: (item[1][0], item[0]))
    )
    count = merged.get("count")
    row = {"b_camera_count": count if isinstance(count, int) and not isinstance(count, bool) else None}
    for key, width in NAMED.items():
        row[f"b_camera_{key}"] = str(merged[key])[:width] if merged.get(key) else None
    return row
