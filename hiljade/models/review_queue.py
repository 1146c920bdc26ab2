"""What reviewers look at: the queue of sightings waiting for a decision, and one sighting in full."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, not_, or_, select

from hiljade.errors import ReviewError
from hiljade.models.schema import Media, Post, PostCopy, PostLocation, ReviewLog, Sighting, Site

EXCERPT = 80


def osm_link(lat: float, lon: float, zoom: int = 19) -> str:
    """A link that shows the position on openstreetmap.org with a marker."""
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map={zoom}/{lat:.6f}/{lon:.6f}"
    )


def excerpt(text: str | None, deleted: bool = False, width: int = EXCERPT) -> str:
    """The start of a post's text on one line."""
    if deleted:
        return "[deleted post]"
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass(frozen=True)
class QueueItem:
    """One line of `hiljade review list`."""

    id: int
    post_id: int
    chosen: bool
    method: str
    precision_m: float
    status: str
    matched: str
    site_id: int | None
    excerpt: str
    lat: float = 0.0
    lon: float = 0.0


def queue(conn: Connection, *, status: str = "pending_review", limit: int | None = None) -> list[QueueItem]:
    """Sightings with ``status`` that a reviewer decides on: each post's chosen sighting, and every
    candidate of a post the pipeline left for review without choosing (ambiguous places); oldest first.
    A post a reviewer gave a point to (a `manual` sighting) no longer waits for review."""
    query = _queue_query(status)
    if limit:
        query = query.limit(limit)
    return [
        QueueItem(r.id, r.post_id, bool(r.chosen), r.method, float(r.precision_m), r.status, r.matched or "",
                  r.site_id, excerpt(r.text, r.deleted_at is not None), float(r.lat), float(r.lon))
        for r in conn.execute(query)
    ]


def queue_size(conn: Connection, *, status: str = "pending_review") -> int:
    """How many sightings ``queue`` lists without a limit."""
    listed = _queue_query(status).order_by(None).subquery()
    return int(conn.execute(select(func.count()).select_from(listed)).scalar_one())


def _queue_query(status: str) -> Select[Any]:
    s, p, pl = Sighting.__table__, Post.__table__, PostLocation.__table__
    other = s.alias("other")
    no_chosen = not_(exists().where(and_(other.c.post_id == s.c.post_id, other.c.chosen.is_(True))))
    manual = s.alias("manual")  # a reviewer's point settles the post
    no_manual = not_(exists().where(and_(manual.c.post_id == s.c.post_id, manual.c.method == "manual",
                                         manual.c.status != "rejected", manual.c.id != s.c.id)))
    query: Select[Any] = (
        select(s.c.id, s.c.post_id, s.c.chosen, s.c.method, s.c.precision_m, s.c.status, s.c.matched,
               s.c.site_id, p.c.text, p.c.deleted_at, s.c.lat, s.c.lon)
        .select_from(s.join(p, p.c.id == s.c.post_id).outerjoin(pl, pl.c.post_id == s.c.post_id))
        .where(s.c.status == status)
        .where(or_(s.c.chosen.is_(True), and_(pl.c.outcome == "pending_review", no_chosen)))
        .where(or_(s.c.status != "pending_review", no_manual))
        .order_by(s.c.id)
    )
    return query


@dataclass
class SightingView:
    """Everything `hiljade review show` prints: the post, its candidates, the site, the history."""

    sighting: dict[str, Any]
    post: dict[str, Any]
    candidates: list[dict[str, Any]] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)
    site: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    disagreeing: list[dict[str, Any]] = field(default_factory=list)  # copies whose server said otherwise
    votes: list[dict[str, Any]] = field(default_factory=list)  # each reviewer's latest vote (agreement)


def _plain(mapping: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in dict(mapping).items()}


def describe(conn: Connection, sighting_id: int) -> SightingView:
    """The sighting, its post (text, link, media), every candidate of the post with its evidence and
    a map link, the site it is in (else the site of the post's chosen sighting), and the review
    history of the post's sightings and that site."""
    s, p, m, st, log = (Sighting.__table__, Post.__table__, Media.__table__, Site.__table__,
                        ReviewLog.__table__)
    row = conn.execute(select(s).where(s.c.id == sighting_id)).first()
    if row is None:
        raise ReviewError(f"there is no sighting {sighting_id}; see `hiljade review list`")
    post = conn.execute(
        select(p.c.id, p.c.platform, p.c.url, p.c.uri, p.c.created_at, p.c.text, p.c.deleted_at)
        .where(p.c.id == row.post_id)
    ).one()
    view = SightingView(sighting=_plain(row._mapping), post=_plain(post._mapping))
    if post.deleted_at is not None:
        view.post["text"] = ""
    for cand in conn.execute(select(s).where(s.c.post_id == row.post_id).order_by(s.c.id)):
        item = _plain(cand._mapping)
        item["osm"] = osm_link(cand.lat, cand.lon)
        view.candidates.append(item)
    view.sighting["osm"] = osm_link(row.lat, row.lon)
    view.media = [
        _plain(r._mapping)
        for r in conn.execute(
            select(m.c.position, m.c.type, m.c.url, m.c.alt_text, m.c.id, m.c.downloaded_at, m.c.publishable)
            .where(m.c.post_id == row.post_id)
            .order_by(m.c.position)
        )
    ]
    c = PostCopy.__table__
    view.disagreeing = [
        _plain(r._mapping)
        for r in conn.execute(
            select(c.c.server, c.c.disagrees).where(c.c.post_id == row.post_id, c.c.disagrees.is_not(None))
            .order_by(c.c.id)
        )
    ]
    view.votes = votes(conn, sighting_id)
    site_id = row.site_id
    if site_id is None:  # the site the post's point went to (its chosen one, or a reviewer's)
        site_id = next((c["site_id"] for c in reversed(view.candidates) if c["site_id"]), None)
    if site_id is not None:
        site = conn.execute(select(st).where(st.c.id == site_id)).first()
        if site is not None:
            view.site = _plain(site._mapping)
            view.site["osm"] = osm_link(site.lat, site.lon)
    targets = [and_(log.c.target == "sighting", log.c.target_id.in_([c["id"] for c in view.candidates]))]
    if site_id is not None:
        targets.append(and_(log.c.target == "site", log.c.target_id == site_id))
    view.history = [
        _plain(r._mapping)
        for r in conn.execute(
            select(log.c.at, log.c.reviewer, log.c.action, log.c.target, log.c.target_id, log.c.reason)
            .where(or_(*targets)).order_by(log.c.at, log.c.id)
        )
    ]
    return view


def render(view: SightingView) -> str:
    """``view`` as the text `hiljade review show` prints."""
    sg, post = view.sighting, view.post
    lines = [
        f"sighting {sg['id']} ({'chosen' if sg['chosen'] else 'not chosen'}, {sg['status']}) "
        f"of post {post['id']}, posted {post['created_at']}",
        f"post: {post['url'] or post['uri']}" + (" [deleted]" if post["deleted_at"] else ""),
        "text:",
        *("  " + line for line in (post["text"] or "").splitlines() or [""]),
    ]
    for media in view.media:
        alt = f" alt: {media['alt_text']}" if media["alt_text"] else ""
        lines.append(f"media {media['position']}: {media['type']} {media['url']}{alt}")
    for copy in view.disagreeing:
        lines.append(f"copy on {copy['server']} disagrees ({copy['disagrees']}): kept apart, not merged "
                     "into the post above")
    lines.extend(vote_lines(view.votes))
    lines.append("candidates (* chosen):")
    for c in view.candidates:
        mark = "*" if c["chosen"] else " "
        lines.append(
            f" {mark} {c['id']:>6}  {c['method']:<12} {c['precision_m']:>7.0f} m  "
            f"conf {c['confidence']:.2f}  {c['status']:<14} {c['lat']:.6f}, {c['lon']:.6f}  "
            f"site {c['site_id'] or '-'}"
        )
        lines.append(f"           matched: {quoted(c['matched'])}  source: {c['source'] or '-'}")
        if c["evidence"]:
            lines.append(f"           evidence: {evidence_text(c['evidence'])}")
        lines.append(f"           {c['osm']}")
    if view.site:
        site = view.site
        lines.append(
            f"site {site['id']}: {site['status']}, {site['reports']} reports "
            f"({site['independent_reports']} independent) at {site['lat']:.6f}, {site['lon']:.6f}  "
            f"{site['osm']}"
        )
    else:
        lines.append("site: none")
    for h in view.history:
        reason = f": {h['reason']}" if h["reason"] else ""
        lines.append(
            f"history: {h['at']} {h['reviewer']} {h['action']} {h['target']} {h['target_id']}{reason}"
        )
    return "\n".join(lines)


def quoted(text: str | None) -> str:
    """A stranger's words on one line between typographic quotes ("-" when there are none)."""
    flat = " ".join((text or "").split())
    return f"“{flat}”" if flat else "-"


def evidence_text(evidence: Any) -> str:
    """A candidate's evidence as plain words: ``key: value`` pairs, lists joined with commas."""
    if isinstance(evidence, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {evidence_text(v)}" for k, v in evidence.items()
                         if v not in (None, "", [], {}))
    if isinstance(evidence, list | tuple):
        return ", ".join(evidence_text(v) for v in evidence)
    if isinstance(evidence, bool):
        return "yes" if evidence else "no"
    if isinstance(evidence, float):
        return f"{evidence:g}"
    return " ".join(str(evidence).split())


VOTE = "vote"  # review_log action of one reviewer's vote while agreement of several is required


def votes(conn: Connection, sighting_id: int) -> list[dict[str, Any]]:
    """Each reviewer's latest vote (accept or reject) on a sighting, oldest first."""
    log = ReviewLog.__table__
    rows = conn.execute(
        select(log.c.at, log.c.reviewer, log.c.reason, log.c.details)
        .where(log.c.action == VOTE, log.c.target == "sighting", log.c.target_id == sighting_id)
        .order_by(log.c.at, log.c.id)
    ).all()
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        latest.pop(r.reviewer, None)
        latest[r.reviewer] = {"reviewer": r.reviewer, "vote": str((r.details or {}).get("vote", "")),
                              "reason": r.reason, "at": r.at.isoformat()}
    return list(latest.values())


def vote_lines(found: list[dict[str, Any]]) -> list[str]:
    """The votes as plain lines, with a line saying when reviewers disagree."""
    lines = []
    for vote in found:
        reason = f": {quoted(vote['reason'])}" if vote["reason"] else ""
        lines.append(f"vote: {vote['reviewer']} votes {vote['vote']}{reason} ({vote['at']})")
    kinds = {v["vote"] for v in found}
    if len(kinds) > 1:
        sides = "; ".join(f"{kind}: {', '.join(v['reviewer'] for v in found if v['vote'] == kind)}"
                          for kind in sorted(kinds))
        lines.append(f"reviewers disagree ({sides})")
    return lines


def write_review_log(
    conn: Connection,
    *,
    at: dt.datetime,
    reviewer: str,
    action: str,
    target: str,
    target_id: int,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One row of the audit log (``review_log``): who did what to which sighting, site, post or photo."""
    conn.execute(
        ReviewLog.__table__.insert().values(
            at=at, reviewer=reviewer, action=action, target=target, target_id=target_id, reason=reason,
            details=details or {},
        )
    )
