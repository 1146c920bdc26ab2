"""`hiljade stats`: posts per source and server, the last run of every feed, and warnings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from hiljade.models.ledger import last_runs
from hiljade.models.schema import HarvestCursor, PostCopy

FAILED = ("auth_error", "not_found", "rate_limited", "unavailable", "error")
STALE_RUNNING = dt.timedelta(hours=6)


@dataclass
class Stats:
    posts: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def collect_stats(conn: Connection, *, now: dt.datetime, quiet_days: int = 30) -> Stats:
    """Posts per (platform, server), the newest ledger row per feed, and what needs a human."""
    c = PostCopy.__table__
    stats = Stats()
    counts = conn.execute(
        select(c.c.platform, c.c.server, func.count().label("posts"))
        .group_by(c.c.platform, c.c.server)
        .order_by(c.c.platform, c.c.server)
    )
    stats.posts = [dict(r._mapping) for r in counts]
    cur = HarvestCursor.__table__
    last_post = {
        (r.source, r.server, r.hashtag): r.last_post_at
        for r in conn.execute(select(cur.c.source, cur.c.server, cur.c.hashtag, cur.c.last_post_at))
    }
    stats.runs = last_runs(conn)
    for run in stats.runs:
        name = f"{run['source']} {run['server']} #{run['hashtag']}"
        status = run["status"]
        if status in FAILED:
            stats.warnings.append(f"{name}: last run failed ({status}): {run['error_message']}")
        elif status == "empty":
            stats.warnings.append(
                f"{name}: the tag feed returned nothing at all; is it public on that server?"
            )
        elif status == "running" and now - run["started_at"] > STALE_RUNNING:
            stats.warnings.append(f"{name}: a run started {run['started_at']:%Y-%m-%d %H:%M} never finished")
        newest = last_post.get((run["source"], run["server"], run["hashtag"]))
        if newest is not None and now - newest > dt.timedelta(days=quiet_days):
            stats.warnings.append(
                f"{name}: no new post for {(now - newest).days} days (since {newest:%Y-%m-%d}); "
                "check that the feed still answers"
            )
    return stats
