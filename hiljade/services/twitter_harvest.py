"""The X/Twitter harvest loop: recent-search walks under a ``since_id`` cursor, one transaction per page.

A *walk* pages from the newest tweet back to the cursor with ``next_token``, under a fixed
``since_id`` (``harvest_cursors.newest_id``). While a walk is in progress its ``next_token`` is
kept in ``harvest_cursors.pagination_token`` and the newest id of its first page in
``harvest_cursors.backfill_max_id`` (the *pending* newest id); only when the walk reaches its end
does the pending id become ``newest_id``. Every page commits its posts, the cursor and the
ledger counters together, so a run killed anywhere resumes with the stored token and neither
loses nor doubles a post. ``backfill_done`` is set once the first walk finished.

The monthly budget (``sources.twitter.monthly_cap``) is read from the ledger: tweets read this
calendar month (UTC) = new_posts + duplicates + updated_posts + opted_out over every ``twitter``
row and every ``recheck`` row of the same API (lookups count in X's cap too; the same sum as
``hiljade.services.recheck.twitter_reads_this_month``). Each tweet read is counted in exactly one of those
columns, so a request never asks for more than what remains, and the run stops with status
``budget_exhausted`` when less than one minimal page (10 tweets) remains.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from hiljade.errors import SourceError
from hiljade.harvester.twitter import MAX_RESULTS, MIN_RESULTS, SearchPage, TwitterSource
from hiljade.harvester.twitter_tweet import snowflake_time
from hiljade.models.ledger import Cursor, add_to_run, start_run
from hiljade.models.posts import NEW, UPDATED, AuthorPolicy, insert_ignore, save_post
from hiljade.models.schema import HarvestCursor, HarvestRun
from hiljade.models.store import Store
from hiljade.services.harvest import Feed, FeedResult, close_feed, failure_status, utcnow

log = logging.getLogger(__name__)
SOURCE = "twitter"
RECHECK = "recheck"  # the ledger rows of `hiljade recheck`, whose lookups X also counts
BUDGET_EXHAUSTED = "budget_exhausted"
# Recent search refuses a since_id older than its 7-day window; stay a little inside it.
SINCE_ID_MAX_AGE = dt.timedelta(days=6, hours=23)


@dataclass(frozen=True)
class TwitterCursor:
    """Where one (api, hashtag) feed was read up to, and the walk in progress."""

    source: str
    server: str
    hashtag: str
    newest_id: str | None = None  # since_id: every tweet up to this id was stored
    pending_newest_id: str | None = None  # newest id of the walk in progress (column backfill_max_id)
    pagination_token: str | None = None  # next_token of the walk in progress
    walked_once: bool = False  # column backfill_done
    last_post_at: dt.datetime | None = None

    def moved(self, **changes: Any) -> TwitterCursor:
        return replace(self, **changes)


def load_twitter_cursor(conn: Connection, server: str, hashtag: str) -> TwitterCursor:
    """The stored cursor of one feed, or a fresh one."""
    t = HarvestCursor.__table__
    row = conn.execute(
        select(t).where(t.c.source == SOURCE, t.c.server == server, t.c.hashtag == hashtag)
    ).first()
    if row is None:
        return TwitterCursor(SOURCE, server, hashtag)
    return TwitterCursor(SOURCE, server, hashtag, row.newest_id, row.backfill_max_id, row.pagination_token,
                         bool(row.backfill_done), row.last_post_at)


def save_twitter_cursor(conn: Connection, cursor: TwitterCursor, now: dt.datetime) -> None:
    """Write the cursor, in the same transaction as the posts it covers."""
    t = HarvestCursor.__table__
    values = {"newest_id": cursor.newest_id, "backfill_max_id": cursor.pending_newest_id,
              "pagination_token": cursor.pagination_token, "backfill_done": cursor.walked_once,
              "last_post_at": cursor.last_post_at, "updated_at": now}
    keys = {"source": cursor.source, "server": cursor.server, "hashtag": cursor.hashtag}
    if not insert_ignore(conn, t, keys | values, tuple(keys)):
        conn.execute(update(t).where(*(t.c[k] == v for k, v in keys.items())).values(**values))


def month_start(now: dt.datetime) -> dt.datetime:
    """The first instant of ``now``'s calendar month (UTC)."""
    now = now.astimezone(dt.UTC)
    return dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)


def posts_read_this_month(conn: Connection, server: str, now: dt.datetime) -> int:
    """Tweets read from X this calendar month by the harvest and by recheck lookups on ``server``."""
    t = HarvestRun.__table__
    read = t.c.new_posts + t.c.duplicates + t.c.updated_posts + t.c.opted_out
    mine = or_(t.c.source == SOURCE, (t.c.source == RECHECK) & (t.c.server == server))
    total = select(func.coalesce(func.sum(read), 0)).where(mine, t.c.started_at >= month_start(now))
    return int(conn.execute(total).scalar_one())


@dataclass
class TwitterResult(FeedResult):
    """A feed's result; a used-up monthly budget is a warning, not a failure."""

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "empty", "partial", BUDGET_EXHAUSTED)


def _newer(a: str | None, b: str | None) -> str | None:
    """The newer (higher) of two tweet ids."""
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


class TwitterHarvester:
    """Harvests X/Twitter hashtag feeds into a store within the monthly budget."""

    def __init__(
        self,
        store: Store,
        policy: AuthorPolicy,
        *,
        monthly_cap: int,
        page_limit: int = MAX_RESULTS,
        max_pages: int = 0,
        clock: Callable[[], dt.datetime] = utcnow,
        progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.store, self.policy = store, policy
        self.should_stop = should_stop  # checked between pages: a stop lands after a committed page
        self.stopped = False
        self.monthly_cap = int(monthly_cap)
        self.page_limit = max(MIN_RESULTS, min(MAX_RESULTS, int(page_limit)))
        self.max_pages, self.clock, self.progress = max_pages, clock, progress
        self.run_id = str(uuid.uuid4())

    def harvest(self, feeds: Iterable[Feed]) -> list[FeedResult]:
        """Harvest every feed; one failing feed never stops the others (``should_stop`` does)."""
        return [self.harvest_feed(feed) for feed in feeds if not self._stop_requested()]

    def _stop_requested(self) -> bool:
        if not self.stopped and self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped

    def budget_left(self, server: str) -> tuple[int, int]:
        """(tweets still allowed this month, tweets read so far this month) for this API."""
        with self.store.connect() as conn:
            used = posts_read_this_month(conn, server, self.clock())
        return max(0, self.monthly_cap - used), used

    def harvest_feed(self, feed: Feed) -> TwitterResult:
        """Walk the feed from the newest tweet back to its cursor (or resume the stored walk)."""
        with self.store.transaction() as conn:
            cursor = load_twitter_cursor(conn, feed.server, feed.hashtag)
            ledger_cursor = Cursor(SOURCE, feed.server, feed.hashtag, cursor.newest_id)
            row_id = start_run(conn, self.run_id, ledger_cursor, self.clock())
        result = TwitterResult(feed, cursor_before=cursor.newest_id)
        try:
            cursor = self._walk(feed, feed.client, cursor, row_id, result)
            if result.status == "running":
                result.status = "ok" if cursor.newest_id is not None else "empty"
                if result.status == "empty":
                    result.message = f"recent search for #{feed.hashtag} returned no tweets at all"
        except SourceError as exc:
            result.status, result.message = failure_status(exc), str(exc)
        close_feed(self.store, row_id, result, self.clock(), cursor.newest_id)
        return result

    def _since_id(self, cursor: TwitterCursor, drop: bool) -> str | None:
        if cursor.newest_id is None or drop:
            return None
        made = snowflake_time(cursor.newest_id)
        if made is not None and self.clock() - made > SINCE_ID_MAX_AGE:
            return None  # older than the search window: read the whole window (duplicates are cheap)
        return cursor.newest_id

    def _walk(self, feed: Feed, client: TwitterSource, cursor: TwitterCursor, row_id: int,
              result: TwitterResult) -> TwitterCursor:
        pages, drop_since = 0, False
        while True:
            if pages and self._stop_requested():
                result.status = "partial"
                result.message = f"stopped on request after {pages} pages; the next run resumes"
                return cursor
            if self.max_pages and pages >= self.max_pages:
                result.status = "partial"
                result.message = (f"stopped after {pages} pages (sources.twitter.max_pages_per_run); "
                                  f"the next run resumes with the stored pagination token")
                return cursor
            left, used = self.budget_left(feed.server)
            if left < MIN_RESULTS:
                result.status = BUDGET_EXHAUSTED
                since_day = f"{month_start(self.clock()):%Y-%m-%d}"
                result.message = (f"monthly budget used up: {used} of sources.twitter.monthly_cap="
                                  f"{self.monthly_cap} tweets read since {since_day}; "
                                  f"harvesting resumes next month (or raise the cap)")
                return cursor
            since = self._since_id(cursor, drop_since)
            try:
                page = client.search_page(feed.hashtag, since_id=since, next_token=cursor.pagination_token,
                                          max_results=min(self.page_limit, left))
            except SourceError as exc:
                if exc.status != 400 or not (cursor.pagination_token or since):
                    raise
                # An expired pagination token first, then a since_id X no longer accepts: start afresh.
                dropped = "pagination token" if cursor.pagination_token else "since_id"
                log.warning("%s #%s: X refused the stored %s (%s); starting a fresh walk",
                            feed.server, feed.hashtag, dropped, exc)
                drop_since = drop_since or cursor.pagination_token is None
                cursor = cursor.moved(pagination_token=None)  # the pending id stays: the new walk covers it
                continue
            pages += 1
            pending = _newer(cursor.pending_newest_id, page.newest_id)
            if page.next_token:
                cursor = cursor.moved(pagination_token=page.next_token, pending_newest_id=pending)
            else:
                cursor = cursor.moved(newest_id=_newer(cursor.newest_id, pending), pending_newest_id=None,
                                      pagination_token=None, walked_once=True)
            cursor = self._commit(feed, cursor, page, row_id, result)
            if not page.next_token:
                return cursor

    def _commit(self, feed: Feed, cursor: TwitterCursor, page: SearchPage, row_id: int,
                result: TwitterResult) -> TwitterCursor:
        now = self.clock()
        counts: dict[str, Any] = {
            "pages": 1, "requests": page.requests, "rate_limit_waits": page.rate_limit_waits,
            "waited_seconds": page.waited_seconds, "opted_out": page.opted_out, "new_posts": 0,
            "duplicates": page.repeats + len(page.skipped), "updated_posts": 0,
        }
        newest_post = max((p.created_at for p in page.posts), default=None)
        if newest_post and (cursor.last_post_at is None or newest_post > cursor.last_post_at):
            cursor = cursor.moved(last_post_at=newest_post)
        with self.store.transaction() as conn:
            for post in page.posts:
                outcome = save_post(conn, post, self.policy, now)
                key = {NEW: "new_posts", UPDATED: "updated_posts"}.get(outcome, "duplicates")
                counts[key] += 1
            save_twitter_cursor(conn, cursor, now)
            add_to_run(conn, row_id, cursor_after=cursor.newest_id, **counts)
        for key, value in counts.items():
            result.counts[key] = result.counts.get(key, 0) + value
        result.counts["retweets"] = result.counts.get("retweets", 0) + page.retweets
        if self.progress:
            self.progress(feed, int(result.counts.get("new_posts", 0)), page.oldest_created_at)
        return cursor
