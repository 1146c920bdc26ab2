"""Sites: place sightings on sites, rebuild them, and keep each site's aggregates.

Which sightings make sites is ``hiljade.models.sites.qualifying``; a sighting that stops qualifying
leaves its site. ``assign_sites`` places new sightings (existing ids and members never change);
``recluster_sites`` keeps the sites a reviewer decided on (``models.sites.REVIEWED``) with their
id, centre, status and members and only places the other sightings again (they may join a pinned
site, except a `merged` one, which takes no sightings); a rebuilt site gets the id of the old site
it shares the most sightings with, so ids survive a rebuild wherever the grouping did. Empty sites
no reviewer touched are removed (and counted). Everything runs in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from hiljade.models import sites as stored
from hiljade.models.links import post_links
from hiljade.models.store import Store
from hiljade.pipeline import sites as clustering
from hiljade.pipeline.attributes import camera_attributes, merge_attributes
from hiljade.pipeline.sites import Point, SiteRecord, SiteSettings
from hiljade.wording import plural

NAMED = {"type": 32, "mount": 32, "model": 64}  # attribute -> its column width


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
            f"sites {verb}: {self.sites_before} -> {plural(self.sites_after, 'site')}; "
            f"{plural(self.assigned, 'sighting')} {'moved' if rebuilt else 'assigned'}, "
            f"{self.detached} detached; "
            f"{plural(self.created, 'site')} new, "
            f"{self.removed} removed{f', {self.pinned} kept as reviewed' if rebuilt else ''} "
            f"(radius {self.radius_m:g} m)"
        )


def assign_sites(conn: Connection, settings: Any, now: dt.datetime) -> SiteCounts:
    """Place every qualifying sighting without a site: it joins the nearest site whose centre is
    within the radius, or starts one. Existing ids and members never change."""
    cfg = SiteSettings.of(settings)
    stored.lock_sites(conn)
    before = stored.count_sites(conn)
    qualifying = stored.qualifying(conn)
    detached, touched = stored.detach(conn, qualifying)
    touched |= stored.stale_sites(conn)
    new = [point for point, site in qualifying if site is None]
    created: dict[int, int] = {}
    if new:
        top = stored.top_site_id(conn)
        centres = stored.live_centres(conn)
        near = clustering.nearby(centres, new, 3 * cfg.radius_m) if centres else set()  # no farther
        # site can be joined in this run: a joined centre stays within 2 radii of where it was
        members = stored.members(conn, near)
        existing = [SiteRecord(i, la, lo, tuple(members.get(i, ()))) for i, la, lo in centres if i in near]
        result = clustering.assign(existing, new, cfg.radius_m, next_id=top + 1)
        by_id = {s.id: s for s in result.sites}
        created = stored.insert_sites(conn, [by_id[i] for i in result.new], now)
        stored.place(conn, {p: created.get(site, site) for p, site in result.assigned.items()})
        stored.store_centres(conn, [by_id[i] for i in result.touched])
        touched |= set(result.touched) | set(created.values())
    refresh_sites(conn, touched, cfg, now)
    removed = stored.remove_empty(conn)
    after = stored.count_sites(conn)
    return SiteCounts(before, after, len(new), len(created), detached, removed, 0, cfg.radius_m)


def recluster_sites(conn: Connection, settings: Any, now: dt.datetime) -> SiteCounts:
    """Rebuild every site no reviewer decided on, deterministically (report time, then sighting id);
    see the module docstring for what is kept."""
    cfg = SiteSettings.of(settings)
    stored.lock_sites(conn)
    before = stored.count_sites(conn)
    rows = stored.qualifying(conn)
    detached, _ = stored.detach(conn, rows)
    current = {point.id: site for point, site in rows}
    sites = stored.site_rows(conn)
    pinned_ids = {i for i, r in sites.items() if r.rv}
    targets = {i for i in pinned_ids if sites[i].status in stored.LIVE}  # a merged site takes no sightings
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
    created = stored.insert_sites(conn, [s for s in fresh if s.id not in reuse], now)
    final = {**reuse, **created}
    moved = [clustering.Site(reuse[s.id], s.lat, s.lon, ()) for s in fresh if s.id in reuse]
    stored.store_centres(conn, moved)
    site_of = {p: final.get(s.id, s.id) for s in result.sites for p in s.members}
    changed = {p: site for p, site in site_of.items() if current.get(p) != site}
    obsolete = set(sites) - pinned_ids - set(reuse.values())
    if obsolete:  # their sightings have all moved; the sites go
        stored.delete_sites(conn, obsolete)
    stored.place(conn, changed)
    refresh_sites(conn, set(final.values()) | pinned_ids, cfg, now)
    after = stored.count_sites(conn)
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


def refresh_sites(conn: Connection, site_ids: Iterable[int | None], settings: Any, now: dt.datetime) -> int:
    """Recompute these sites' centre, report counts, first/last seen, camera attributes, direction
    and status from their members; returns how many sites were refreshed."""
    cfg = SiteSettings.of(settings)
    ids = sorted({i for i in site_ids if i is not None})
    if not ids:
        return 0
    groups = clustering.report_groups(post_links(conn))
    done = 0
    for start in range(0, len(ids), stored.CHUNK):
        facts = stored.site_facts(conn, ids[start : start + stored.CHUNK])
        rows = [_aggregate(fact, cfg, now, groups) for fact in facts]
        stored.update_sites(conn, rows)
        done += len(rows)
    return done


def _aggregate(
    fact: stored.SiteFacts, cfg: SiteSettings, now: dt.datetime, groups: dict[int, int]
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
    return {
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
        **_camera(fact),
    }


def _camera(fact: stored.SiteFacts) -> dict[str, Any]:
    """Camera count, type, mount and model: each report's (its text and alt texts), merged."""
    merged = merge_attributes(
        camera_attributes("\n".join([body or "", *fact.alts.get(post_id, [])])) or {}
        for post_id, (_, body) in sorted(fact.posts.items(), key=lambda item: (item[1][0], item[0]))
    )
    count = merged.get("count")
    row = {"b_camera_count": count if isinstance(count, int) and not isinstance(count, bool) else None}
    for key, width in NAMED.items():
        row[f"b_camera_{key}"] = str(merged[key])[:width] if merged.get(key) else None
    return row


def update_stored_sites(store: Store, settings: Any) -> SiteCounts:
    """`hiljade sites update`: ``assign_sites`` in a transaction of its own."""
    with store.transaction() as conn:
        return assign_sites(conn, settings, dt.datetime.now(dt.UTC))


def rebuild_stored_sites(store: Store, settings: Any) -> SiteCounts:
    """`hiljade sites recluster`: ``recluster_sites`` in a transaction of its own."""
    with store.transaction() as conn:
        return recluster_sites(conn, settings, dt.datetime.now(dt.UTC))
