"""Harvest cursors and the run ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import Connection, func, inspect, or_, select, update

from hiljade.models.posts import insert_ignore
from hiljade.models.schema import HarvestCursor, HarvestRun
from hiljade.secrecy import scrub


@dataclass(frozen=True)
class Cursor:
    """Where one (source, server, hashtag) feed was read up to: the one cursor of every source.

    ``newest_id`` is what the next run asks newer than (Mastodon's min_id, X's since_id, Bluesky's
    ``since``). ``backfill_max_id`` holds the walk in progress: the oldest id reached by Mastodon's
    first backfill, or the newest id (time) seen by an unfinished X or Bluesky walk, which becomes
    ``newest_id`` when the walk ends. ``pagination_token`` is that walk's next-page token and
    ``backfill_done`` says the first backfill or walk has finished.
    """

    source: str
    server: str
    hashtag: str
    newest_id: str | None = None
    backfill_max_id: str | None = None
    backfill_done: bool = False
    last_post_at: dt.datetime | None = None
    pagination_token: str | None = None

    def moved(self, **changes: Any) -> Cursor:
        return replace(self, **changes)


def load_cursor(conn: Connection, source: str, server: str, hashtag: str) -> Cursor:
    """The stored cursor, or a fresh one."""
    t = HarvestCursor.__table__
    row = conn.execute(
        select(t).where(t.c.source == source, t.c.server == server, t.c.hashtag == hashtag)
    ).first()
    if row is None:
        return Cursor(source, server, hashtag)
    return Cursor(
        source, server, hashtag, row.newest_id, row.backfill_max_id, bool(row.backfill_done),
        row.last_post_at, row.pagination_token,
    )


def save_cursor(conn: Connection, cursor: Cursor, now: dt.datetime) -> None:
    """Write the cursor; call it in the same transaction as the posts it covers."""
    t = HarvestCursor.__table__
    values = asdict(cursor) | {"updated_at": now}
    if not insert_ignore(conn, t, values, ("source", "server", "hashtag")):
        conn.execute(
            update(t)
            .where(t.c.source == cursor.source, t.c.server == cursor.server, t.c.hashtag == cursor.hashtag)
            .values(**{k: v for k, v in values.items() if k not in ("source", "server", "hashtag")})
        )


COUNTERS = (
    "pages",
    "requests",
    "new_posts",
    "duplicates",
    "updated_posts",
    "opted_out",
    "rate_limit_waits",
    "waited_seconds",
    "errors",
    "erased_posts",
)


def start_run(conn: Connection, run_id: str, cursor: Cursor, now: dt.datetime) -> int:
    """Open a ledger row (status running) and return its id."""
    t = HarvestRun.__table__
    result = conn.execute(
        t.insert().values(
            run_id=run_id,
            source=cursor.source,
            server=cursor.server,
            hashtag=cursor.hashtag,
            started_at=now,
            status="running",
            cursor_before=cursor.newest_id,
            **{name: 0 for name in COUNTERS},
        )
    )
    return int(result.inserted_primary_key[0])


def add_to_run(
    conn: Connection, row_id: int, cursor_after: str | None = None, message: str | None = None,
    **counts: float,
) -> None:
    """Add ``counts`` to the ledger row's counters (in the caller's transaction); ``message`` replaces its
    message (what the run skipped so far)."""
    t = HarvestRun.__table__
    values: dict[str, Any] = {name: t.c[name] + value for name, value in counts.items() if value}
    if cursor_after is not None:
        values["cursor_after"] = cursor_after
    if message is not None:
        values["error_message"] = scrub(message)  # no secret is ever stored (hiljade.secrecy)
    if values:
        conn.execute(update(t).where(t.c.id == row_id).values(**values))


def finish_run(
    conn: Connection,
    row_id: int,
    status: str,
    now: dt.datetime,
    *,
    message: str | None = None,
    failed: bool = False,
    cursor_after: str | None = None,
) -> dict[str, Any]:
    """Close the ledger row (a failure counts as one error) and return it as a dict."""
    t = HarvestRun.__table__
    started = conn.execute(select(t.c.started_at).where(t.c.id == row_id)).scalar_one()
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "duration_seconds": (now - started).total_seconds(),
    }
    if message:
        values["error_message"] = scrub(message)  # no secret is ever stored (hiljade.secrecy)
    if failed:
        values["errors"] = t.c.errors + 1
    if cursor_after is not None:
        values["cursor_after"] = cursor_after
    conn.execute(update(t).where(t.c.id == row_id).values(**values))
    return dict(conn.execute(select(t).where(t.c.id == row_id)).one()._mapping)


INTERRUPTED = "interrupted"


def interrupt_running(conn: Connection, now: dt.datetime, *, by: str) -> int:
    """Mark every ``running`` row ``interrupted``; returns how many. Call it right after taking the run
    lock: rows are written only under the lock, so a row still running then belongs to a run that
    died (killed, or crashed) without closing it. Nothing to do before `hiljade init`."""
    t = HarvestRun.__table__
    if not inspect(conn).has_table(t.name):
        return 0
    note = (f"interrupted: the run ended (killed or crashed) before it finished; found by `hiljade {by}` "
            f"at {now:%Y-%m-%d %H:%M}Z; what it committed is kept and the next run resumes from the cursor")
    stale = update(t).where(t.c.status == "running").values(status=INTERRUPTED, error_message=note)
    result = conn.execute(stale)
    return int(result.rowcount or 0)


def interrupted_since(conn: Connection, since: dt.datetime) -> list[dict[str, Any]]:
    """The ``interrupted`` rows started since ``since``, newest first."""
    t = HarvestRun.__table__
    rows = conn.execute(
        select(t).where(t.c.status == INTERRUPTED, t.c.started_at >= since).order_by(t.c.id.desc())
    )
    return [dict(r._mapping) for r in rows]


def month_start(now: dt.datetime) -> dt.datetime:
    """The first instant of ``now``'s calendar month (UTC)."""
    now = now.astimezone(dt.UTC)
    return dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)


def twitter_reads_this_month(conn: Connection, server: str, now: dt.datetime) -> int:
    """Tweets read from X this calendar month (UTC): every ``twitter`` row, and the ``recheck`` rows of
    ``server`` (X counts lookups in its cap too). Each tweet read is in exactly one of the summed columns."""
    t = HarvestRun.__table__
    read = t.c.new_posts + t.c.duplicates + t.c.updated_posts + t.c.opted_out
    mine = or_(t.c.source == "twitter", (t.c.source == "recheck") & (t.c.server == server))
    total = select(func.coalesce(func.sum(read), 0)).where(mine, t.c.started_at >= month_start(now))
    return int(conn.execute(total).scalar_one())


def last_runs(conn: Connection) -> list[dict[str, Any]]:
    """The newest ledger row of every (source, server, hashtag)."""
    t = HarvestRun.__table__
    newest = select(func.max(t.c.id).label("id")).group_by(t.c.source, t.c.server, t.c.hashtag).subquery()
    rows = conn.execute(
        select(t).join(newest, newest.c.id == t.c.id).order_by(t.c.source, t.c.server, t.c.hashtag)
    )
    return [dict(r._mapping) for r in rows]
