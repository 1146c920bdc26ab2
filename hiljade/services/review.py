"""Review decisions on sightings and sites; every decision is written to the audit log (review_log).

A ``Review`` runs inside the caller's transaction. Site membership changes go through
``hiljade.services.sites``: ``assign_sites`` places confirmed sightings, ``refresh_sites`` recomputes
a site's centre, counts, attributes and status. Nothing is deleted: a rejected sighting keeps its
row, a moved one stays as an unchosen candidate, a merged site stays with status ``merged``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from hiljade.errors import ReviewError
from hiljade.models.review_queue import write_review_log
from hiljade.models.schema import Sighting, Site
from hiljade.pipeline.sites import Point, SiteSettings, cluster
from hiljade.services.sites import assign_sites, refresh_sites
from hiljade.wording import listed, plural

REVIEWER_ENV = "HILJADE_REVIEWER"
MANUAL_PRECISION_M = 5.0
REVIEW_VERSION = "review"  # pipeline_version of the sightings a reviewer places
MERGED = "merged"
SIGHTING_KEYS = ("id", "post_id", "chosen", "status", "site_id", "lat", "lon", "method", "precision_m",
                 "reviewed_by", "reviewed_at")
SITE_KEYS = ("id", "lat", "lon", "status", "reports", "independent_reports", "verified_by", "verified_at")


@dataclass(frozen=True)
class Decision:
    """What a review command did: the action, its target and the sites it touched."""

    action: str
    target: str
    target_id: int
    message: str
    sites: tuple[int, ...] = ()


def reviewer_name(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Who decides: ``--reviewer``, else $HILJADE_REVIEWER, else the operating system's user name."""
    env = os.environ if environ is None else environ
    name = (explicit or env.get(REVIEWER_ENV) or "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            name = ""
    if not name:
        raise ReviewError(f"no reviewer name: pass --reviewer NAME or set {REVIEWER_ENV}")
    if len(name) > 128:
        raise ReviewError("the reviewer name is longer than 128 characters")
    return name


def check_point(lat: float, lon: float, area: Any = None) -> None:
    """ReviewError unless (lat, lon) is a valid position inside ``area`` (a shapely geometry, if given)."""
    if not (math.isfinite(lat) and math.isfinite(lon)) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ReviewError(f"{lat}, {lon} is not a position: latitude is -90..90, longitude -180..180")
    if area is not None:
        from shapely.geometry import Point as ShapelyPoint  # heavy: only when an area is given

        if not area.covers(ShapelyPoint(lon, lat)):
            raise ReviewError(
                f"{lat}, {lon} is outside the configured area (area.boundary); check the order: --lat is "
                "north-south (about 44.8 in Belgrade), --lon east-west (about 20.4)"
            )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _snap(row: Any, keys: Iterable[str]) -> dict[str, Any]:
    if row is None:
        return {}
    mapping = row._mapping
    return {k: _jsonable(mapping[k]) for k in keys}


class Review:
    """Decisions by one reviewer at one moment, in the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        reviewer: str,
        settings: Mapping[str, Any],
        now: dt.datetime,
        *,
        area: Any = None,
    ) -> None:
        self.conn = conn
        self.reviewer = reviewer
        self.settings = settings
        self.now = now
        self.area = area
        self.placements: list[str] = []  # what assign_sites did on the way (sites created, removed)
        self._follow: list[tuple[Any, ...]] = []  # audit rows that follow the decision's own (verify)

    # ---- sightings -----------------------------------------------------------------------------

    def accept(self, sighting_id: int, reason: str | None = None) -> Decision:
        """Confirm a sighting: it becomes the post's chosen one, joins or creates a site, and that
        site is verified."""
        row = self._sighting(sighting_id)
        if row.method == "street":
            raise ReviewError(
                f"sighting {sighting_id} is a street-only match (a line, not a point); give the camera's "
                f"point with `hiljade review move {sighting_id} --lat LAT --lon LON`"
            )
        check_point(row.lat, row.lon, self.area)
        s = Sighting.__table__
        manual = self.conn.execute(
            select(s.c.id).where(s.c.post_id == row.post_id, s.c.method == "manual", s.c.status != "rejected",
                                 s.c.id != sighting_id).order_by(s.c.id.desc())
        ).first()
        if manual is not None and (row.method != "manual" or manual.id > sighting_id):
            raise ReviewError(
                f"post {row.post_id} has a reviewer's point, sighting {manual.id}, which takes precedence; "
                f"reject it first (`hiljade review reject {manual.id} --reason ...`) or move it"
            )
        before = _snap(row, SIGHTING_KEYS)
        unchosen, touched = self._unchoose_others(row.post_id, keep=sighting_id)
        self.conn.execute(
            update(Sighting.__table__)
            .where(Sighting.id == sighting_id)
            .values(status="confirmed", chosen=True, reviewed_by=self.reviewer, reviewed_at=self.now)
        )
        site_id = self._place(sighting_id)
        self._settle(touched | {site_id}, verify=site_id)
        after = self._sighting(sighting_id)
        self._log("accept", "sighting", sighting_id, reason, {
            "before": before, "after": _snap(after, SIGHTING_KEYS), "unchosen": unchosen,
            "site": _snap(self._site_row(site_id), SITE_KEYS) if site_id else None,
        })
        where = f"site {site_id} (verified)" if site_id else "no site"
        return Decision("accept", "sighting", sighting_id, f"sighting {sighting_id} confirmed: {where}",
                        tuple(sorted(s for s in touched | {site_id} if s)))

    def reject(self, sighting_id: int, reason: str) -> Decision:
        """Reject a sighting: it stays in the database with status ``rejected`` and leaves its site."""
        if not reason or not reason.strip():
            raise ReviewError("a rejection needs a reason (--reason TEXT)")
        row = self._sighting(sighting_id)
        before = _snap(row, SIGHTING_KEYS)
        site_before = _snap(self._site_row(row.site_id), SITE_KEYS) if row.site_id else None
        self.conn.execute(
            update(Sighting.__table__)
            .where(Sighting.id == sighting_id)
            .values(status="rejected", site_id=None, reviewed_by=self.reviewer, reviewed_at=self.now)
        )
        self._settle({row.site_id})
        self._log("reject", "sighting", sighting_id, reason, {
            "before": before, "after": _snap(self._sighting(sighting_id), SIGHTING_KEYS),
            "site_before": site_before,
            "site_after": _snap(self._site_row(row.site_id), SITE_KEYS) if row.site_id else None,
        })
        left = f"; it left site {row.site_id}" if row.site_id else ""
        return Decision("reject", "sighting", sighting_id, f"sighting {sighting_id} rejected{left}",
                        (row.site_id,) if row.site_id else ())

    def move(
        self,
        sighting_id: int,
        lat: float,
        lon: float,
        *,
        precision_m: float = MANUAL_PRECISION_M,
        reason: str | None = None,
    ) -> Decision:
        """The reviewer gives the point: a new confirmed ``manual`` sighting becomes the post's chosen one;
        the old one is kept, no longer chosen."""
        check_point(lat, lon, self.area)
        if not (math.isfinite(precision_m) and precision_m > 0):
            raise ReviewError(f"--precision must be a positive number of metres (got {precision_m})")
        row = self._sighting(sighting_id)
        before = _snap(row, SIGHTING_KEYS)
        unchosen, touched = self._unchoose_others(row.post_id, keep=None)
        moved_from = {"sighting_id": row.id, "lat": row.lat, "lon": row.lon, "method": row.method,
                      "precision_m": row.precision_m, "status": row.status}
        new_id = self.conn.execute(
            Sighting.__table__.insert()
            .values(
                post_id=row.post_id, chosen=True, method="manual", lat=lat, lon=lon,
                precision_m=float(precision_m), confidence=1.0, status="confirmed",
                matched=row.matched or "", span_start=row.span_start, span_end=row.span_end,
                source="review", evidence={"moved_from": moved_from},
                pipeline_version=REVIEW_VERSION, created_at=self.now,
                reviewed_by=self.reviewer, reviewed_at=self.now,
            )
            .returning(Sighting.id)
        ).scalar_one()
        site_id = self._place(new_id)
        self._settle(touched | {site_id}, verify=site_id)
        self._log("move", "sighting", sighting_id, reason, {
            "before": before, "after": _snap(self._sighting(sighting_id), SIGHTING_KEYS),
            "new_sighting": _snap(self._sighting(new_id), SIGHTING_KEYS), "unchosen": unchosen,
            "site": _snap(self._site_row(site_id), SITE_KEYS) if site_id else None,
        })
        where = f"site {site_id} (verified)" if site_id else "no site"
        message = f"sighting {sighting_id} moved: new sighting {new_id} at {lat:.6f}, {lon:.6f}: {where}"
        return Decision("move", "sighting", sighting_id, message,
                        tuple(sorted(s for s in touched | {site_id} if s)))

    # ---- sites -----------------------------------------------------------------------------------

    def merge(self, keep_id: int, other_id: int, reason: str | None = None) -> Decision:
        """The second site's sightings join the first; the second stays, empty, with status ``merged``."""
        if keep_id == other_id:
            raise ReviewError(f"cannot merge site {keep_id} with itself; give two different sites")
        keep, other = self._live_site(keep_id), self._live_site(other_id)
        s = Sighting.__table__
        moved = list(
            self.conn.execute(select(s.c.id).where(s.c.site_id == other_id).order_by(s.c.id)).scalars()
        )
        before = {"keep": _snap(keep, SITE_KEYS), "other": _snap(other, SITE_KEYS)}
        self.conn.execute(update(s).where(s.c.site_id == other_id).values(site_id=keep_id))
        if other.verified_by and not keep.verified_by:
            self.conn.execute(
                update(Site.__table__).where(Site.id == keep_id)
                .values(verified_by=other.verified_by, verified_at=other.verified_at)
            )
        self.conn.execute(
            update(Site.__table__).where(Site.id == other_id)
            .values(status=MERGED, reports=0, independent_reports=0, updated_at=self.now)
        )
        self._settle({keep_id})
        after = {"keep": _snap(self._site_row(keep_id), SITE_KEYS),
                 "other": _snap(self._site_row(other_id), SITE_KEYS)}
        details = {"merged": other_id, "into": keep_id, "sightings": moved, "before": before, "after": after}
        self._log("merge", "site", keep_id, reason, details)
        self._log("merged_into", "site", other_id, reason, details)
        return Decision("merge", "site", keep_id,
                        f"site {other_id} merged into site {keep_id}: {plural(len(moved), 'sighting')} moved",
                        (keep_id, other_id))

    def split(
        self,
        site_id: int,
        *,
        sighting_ids: Sequence[int] = (),
        radius_m: float | None = None,
        reason: str | None = None,
    ) -> Decision:
        """Split a site: the named sightings form one new site; without names, the site's sightings are
        regrouped by the sites clustering (``hiljade.pipeline.sites.cluster``) with ``radius_m``, by
        default half of sites.radius_m. The group holding the oldest sighting keeps the site's id;
        every other group becomes a new site."""
        site = self._live_site(site_id)
        s = Sighting.__table__
        members = self.conn.execute(
            select(s.c.id, s.c.lat, s.c.lon, s.c.precision_m).where(s.c.site_id == site_id).order_by(s.c.id)
        ).all()
        ids = [m.id for m in members]
        if len(members) < 2:
            raise ReviewError(
                f"site {site_id} has {plural(len(members), 'sighting')}; there is nothing to split")
        if sighting_ids:
            named = sorted(set(sighting_ids))
            strangers = [i for i in named if i not in ids]
            if strangers:
                raise ReviewError(f"{'sighting' if len(strangers) == 1 else 'sightings'} {listed(strangers)} "
                                  f"{'is' if len(strangers) == 1 else 'are'} not in site {site_id} "
                                  f"(its sightings: {listed(ids)})")
            if len(named) == len(ids):
                raise ReviewError(f"naming every sighting of site {site_id} splits nothing; leave some in it")
            groups = [[i for i in ids if i not in named], named]
            rule = f"{'sighting' if len(named) == 1 else 'sightings'} {listed(named)} to a new site"
        else:
            radius = float(radius_m) if radius_m is not None else SiteSettings.of(self.settings).radius_m / 2
            if not (math.isfinite(radius) and radius > 0):
                raise ReviewError(f"--radius must be more than zero metres (got {radius_m})")
            found = cluster([Point(m.id, m.lat, m.lon, m.precision_m) for m in members], radius)
            groups = [sorted(site.members) for site in found.sites]
            rule = f"regrouped within {radius:g} m"
            if len(groups) == 1:
                raise ReviewError(
                    f"every sighting of site {site_id} lies within {radius:g} m of the first; pass a smaller "
                    "--radius, or name the sightings that belong elsewhere with --sighting ID"
                )
        before = {"site": _snap(site, SITE_KEYS), "sightings": ids}
        new_sites = []
        for group in groups[1:]:
            new_id = self._new_site([m for m in members if m.id in group])
            self.conn.execute(update(s).where(s.c.id.in_(group)).values(site_id=new_id))
            new_sites.append(new_id)
        self._settle({site_id, *new_sites})
        after = {str(sid): group for sid, group in zip([site_id, *new_sites], groups, strict=True)}
        details = {"rule": rule, "before": before, "after": after,
                   "sites": [_snap(self._site_row(i), SITE_KEYS) for i in [site_id, *new_sites]]}
        self._log("split", "site", site_id, reason, details)
        for new_id in new_sites:
            self._log("split_from", "site", new_id, reason, {**details, "from": site_id})
        return Decision("split", "site", site_id,
                        f"site {site_id} split ({rule}): new {'site' if len(new_sites) == 1 else 'sites'} "
                        f"{listed(new_sites)}",
                        (site_id, *new_sites))

    # ---- internals -------------------------------------------------------------------------------

    def _sighting(self, sighting_id: int) -> Any:
        row = self.conn.execute(select(Sighting.__table__).where(Sighting.id == sighting_id)).first()
        if row is None:
            raise ReviewError(f"there is no sighting {sighting_id}; see `hiljade review list`")
        return row

    def _site_row(self, site_id: int | None) -> Any:
        if site_id is None:
            return None
        return self.conn.execute(select(Site.__table__).where(Site.id == site_id)).first()

    def _live_site(self, site_id: int) -> Any:
        row = self._site_row(site_id)
        if row is None:
            raise ReviewError(f"there is no site {site_id}")
        if row.status == MERGED:
            raise ReviewError(f"site {site_id} was merged into another site (see review_log); use that one")
        return row

    def _unchoose_others(self, post_id: int, keep: int | None) -> tuple[list[int], set[int | None]]:
        """Other chosen sightings of the post stop being chosen and leave their sites."""
        s = Sighting.__table__
        query = select(s.c.id, s.c.site_id).where(s.c.post_id == post_id, s.c.chosen.is_(True))
        if keep is not None:
            query = query.where(s.c.id != keep)
        rows = self.conn.execute(query).all()
        if rows:
            self.conn.execute(
                update(s).where(s.c.id.in_([r.id for r in rows])).values(chosen=False, site_id=None)
            )
        return [r.id for r in rows], {r.site_id for r in rows}

    def _place(self, sighting_id: int) -> int | None:
        """The site of a confirmed sighting: the one it is in, else where ``assign_sites`` puts it."""
        s = Sighting.__table__
        site_id = self.conn.execute(select(s.c.site_id).where(s.c.id == sighting_id)).scalar_one()
        if site_id is None:
            counts = assign_sites(self.conn, self.settings, self.now)
            self.placements.append(counts.summary())
            site_id = self.conn.execute(select(s.c.site_id).where(s.c.id == sighting_id)).scalar_one()
        return site_id

    def _new_site(self, members: Sequence[Any]) -> int:
        lat = sum(m.lat for m in members) / len(members)
        lon = sum(m.lon for m in members) / len(members)
        return self.conn.execute(
            Site.__table__.insert()
            .values(lat=lat, lon=lon, status="unverified", reports=len(members), independent_reports=0,
                    created_at=self.now, updated_at=self.now)
            .returning(Site.id)
        ).scalar_one()

    def _settle(self, site_ids: Iterable[int | None], *, verify: int | None = None) -> None:
        """Verify ``verify`` (a reviewer confirmed it), then recompute every touched site."""
        if verify is not None:
            before = _snap(self._site_row(verify), SITE_KEYS)
            self.conn.execute(
                update(Site.__table__).where(Site.id == verify)
                .values(verified_by=self.reviewer, verified_at=self.now, status="verified",
                        updated_at=self.now)
            )
            self._follow.append(("verify", "site", verify, None,
                                 {"before": before, "after": _snap(self._site_row(verify), SITE_KEYS)}))
        ids = sorted({i for i in site_ids if i is not None})
        if ids:
            refresh_sites(self.conn, ids, self.settings, self.now)

    def _log(
        self, action: str, target: str, target_id: int, reason: str | None, details: dict[str, Any]
    ) -> None:
        if self.placements:
            details = {**details, "site_updates": list(self.placements)}
        write_review_log(
            self.conn, at=self.now, reviewer=self.reviewer, action=action, target=target,
            target_id=target_id, reason=reason, details=_jsonable(details),
        )
        follow, self._follow = self._follow, []
        for row in follow:
            self._log(*row)
