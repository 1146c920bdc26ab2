"""How each source pages, for the one poll loop in ``hiljade.services.harvest``.

A paging reads the page after a cursor and says where the cursor stands once that page is stored;
it never writes. All three keep their state in the one ``Cursor``:

- Mastodon: the first run backfills from the newest status down to ``backfill_since`` with
  ``max_id`` (``backfill_max_id`` = the oldest id reached), then every run pages forward from
  ``newest_id`` with ``min_id`` until an empty page.
- X/Twitter: a *walk* pages recent search from the newest tweet back to ``since_id`` =
  ``newest_id`` with ``next_token`` (kept in ``pagination_token``); the newest id of the walk waits
  in ``backfill_max_id`` and becomes ``newest_id`` when the walk ends. The monthly budget
  (``sources.twitter.monthly_cap``) is read from the ledger: a request never asks for more than
  what remains, and the run stops with status ``budget_exhausted`` when less than one minimal
  page (10 tweets) remains.
- Bluesky: the same walk over searchPosts, with ``since`` = ``newest_id`` as a search time
  (``sortAt``) and the search cursor as ``pagination_token``.
"""

from __future__ import annotations

import datetime as dt
import logging

from hiljade.errors import SourceError
from hiljade.harvester.bluesky import BlueskySource, since_text
from hiljade.harvester.bluesky_post import parse_time
from hiljade.harvester.mastodon import MastodonSource, Page
from hiljade.harvester.twitter import MAX_RESULTS, MIN_RESULTS, SearchPage, TwitterSource
from hiljade.harvester.twitter_tweet import MALFORMED, snowflake_time
from hiljade.models.ledger import Cursor, month_start, twitter_reads_this_month
from hiljade.models.store import Store
from hiljade.records import PostRecord
from hiljade.services.harvest import BUDGET_EXHAUSTED, End, Feed, Step

log = logging.getLogger(__name__)
# Recent search refuses a since_id older than its 7-day window; stay a little inside it.
SINCE_ID_MAX_AGE = dt.timedelta(days=6, hours=23)
STOPPED = "stopped so the run ends; the next run tries again"  # a server whose pages do not advance


class MastodonPaging:
    """Backfill down to ``backfill_since`` (first run, or an interrupted one), then forward."""

    limit_message = "stopped after {pages} pages (sources.mastodon.max_pages_per_run); next run resumes"

    def __init__(self, *, backfill_since: dt.date, page_limit: int = 40) -> None:
        self.since = dt.datetime.combine(backfill_since, dt.time(), tzinfo=dt.UTC)
        self.page_limit = page_limit

    def read(self, store: Store, feed: Feed, cursor: Cursor, now: dt.datetime) -> Step | End:
        client: MastodonSource = feed.client
        if not cursor.backfill_done or cursor.newest_id is None:
            # a feed found empty so far is read from its newest post again, not forward from nothing
            page = client.tag_page(feed.hashtag, max_id=cursor.backfill_max_id, limit=self.page_limit)
            if not page.ids:
                cursor = cursor.moved(backfill_done=True, backfill_max_id=None)
                return _mastodon_step(page, cursor, (), done=cursor.newest_id is None)
            oldest, newest = min(page.ids, key=mastodon_id_order), max(page.ids, key=mastodon_id_order)
            if cursor.backfill_max_id is not None and not _older(newest, cursor.backfill_max_id):
                return End("error", f"{feed.server} does not page back through #{feed.hashtag}: asked "
                                    f"for statuses older than {cursor.backfill_max_id}, it answered with "
                                    f"{newest} (it ignores max_id?); {STOPPED}")
            reached_since = page.oldest_created_at is not None and page.oldest_created_at < self.since
            cursor = cursor.moved(
                newest_id=cursor.newest_id or newest,
                backfill_max_id=None if reached_since else oldest,
                backfill_done=reached_since,
            )
            keep = tuple(p for p in page.posts if p.created_at >= self.since)
            return _mastodon_step(page, cursor, keep, done=False)
        page = client.tag_page(feed.hashtag, min_id=cursor.newest_id, limit=self.page_limit)
        if not page.ids:
            return _mastodon_step(page, cursor, (), done=True)
        newest = max(page.ids, key=mastodon_id_order)
        if not _older(cursor.newest_id, newest):  # a cursor only moves forward
            return End("error", f"{feed.server} answered #{feed.hashtag} statuses no newer than "
                                f"{cursor.newest_id} when asked for newer ones (it ignores min_id?); "
                                f"{STOPPED}")
        return _mastodon_step(page, cursor.moved(newest_id=newest), page.posts, done=False)

    def outcome(self, feed: Feed, cursor: Cursor) -> End:
        if cursor.newest_id is None:
            return End("empty", f"the #{feed.hashtag} feed on {feed.server} returned no posts at all")
        return End("ok")


def mastodon_id_order(status_id: str) -> tuple[int, str]:
    """How a Mastodon-API server orders its ids: numeric strings (Mastodon, Takahē) by value, ULIDs
    (GoToSocial) lexically; (length, text) does both for ids without leading zeros."""
    return (len(status_id), status_id)


def _older(a: str, b: str) -> bool:
    """True when status id ``a`` comes strictly before ``b``."""
    return mastodon_id_order(a) < mastodon_id_order(b)


def _mastodon_step(page: Page, cursor: Cursor, posts: tuple[PostRecord, ...], *, done: bool) -> Step:
    return Step(
        posts=posts, cursor=cursor, done=done, requests=page.requests,
        rate_limit_waits=page.rate_limit_waits, waited_seconds=page.waited_seconds,
        oldest_created_at=page.oldest_created_at, opted_out=page.opted_out,
        errors=len(page.malformed), skipped=page.malformed,
    )


class TwitterPaging:
    """Recent-search walks under a ``since_id``, within the monthly budget read from the ledger."""

    limit_message = (
        "stopped after {pages} pages (sources.twitter.max_pages_per_run); "
        "the next run resumes with the stored pagination token"
    )

    def __init__(self, *, monthly_cap: int, page_limit: int = MAX_RESULTS) -> None:
        self.monthly_cap = int(monthly_cap)
        self.page_limit = max(MIN_RESULTS, min(MAX_RESULTS, int(page_limit)))
        self._fresh: set[tuple[str, str]] = set()  # feeds whose walk goes without since_id (X refused it)

    def read(self, store: Store, feed: Feed, cursor: Cursor, now: dt.datetime) -> Step | End:
        with store.connect() as conn:
            used = twitter_reads_this_month(conn, feed.server, now)
        left = max(0, self.monthly_cap - used)
        if left < MIN_RESULTS:
            return End(
                BUDGET_EXHAUSTED,
                f"monthly budget used up: {used} of sources.twitter.monthly_cap={self.monthly_cap} tweets "
                f"read since {month_start(now):%Y-%m-%d}; harvesting resumes next month (or raise the cap)",
            )
        key = (feed.server, feed.hashtag)
        client: TwitterSource = feed.client
        while True:
            since = self._since_id(cursor, key, now)
            try:
                page = client.search_page(feed.hashtag, since_id=since, next_token=cursor.pagination_token,
                                          max_results=min(self.page_limit, left))
                break
            except SourceError as exc:
                if exc.status != 400 or not (cursor.pagination_token or since):
                    raise
                # An expired pagination token first, then a since_id X no longer accepts: start afresh.
                dropped = "pagination token" if cursor.pagination_token else "since_id"
                log.warning("%s #%s: X refused the stored %s (%s); starting a fresh walk",
                            feed.server, feed.hashtag, dropped, exc)
                if cursor.pagination_token is None:
                    self._fresh.add(key)
                cursor = cursor.moved(pagination_token=None)  # the pending id stays: the new walk covers it
        if not page.next_token:
            self._fresh.discard(key)  # the walk is over; the next one asks since the new newest id
        elif page.next_token == cursor.pagination_token:
            return End("error", f"X answered #{feed.hashtag} with the same next_token it was asked "
                                f"with; {STOPPED}")
        return _twitter_step(page, cursor)

    def _since_id(self, cursor: Cursor, key: tuple[str, str], now: dt.datetime) -> str | None:
        if cursor.newest_id is None or key in self._fresh:
            return None
        made = snowflake_time(cursor.newest_id)
        if made is not None and now - made > SINCE_ID_MAX_AGE:
            return None  # older than the search window: read the whole window (duplicates are cheap)
        return cursor.newest_id

    def outcome(self, feed: Feed, cursor: Cursor) -> End:
        if cursor.newest_id is None:
            return End("empty", f"recent search for #{feed.hashtag} returned no tweets at all")
        return End("ok")


def _twitter_step(page: SearchPage, cursor: Cursor) -> Step:
    pending = _newer(cursor.backfill_max_id, page.newest_id)
    if page.next_token:
        cursor = cursor.moved(pagination_token=page.next_token, backfill_max_id=pending)
    else:
        cursor = cursor.moved(newest_id=_newer(cursor.newest_id, pending), backfill_max_id=None,
                              pagination_token=None, backfill_done=True)
    return Step(
        posts=page.posts, cursor=cursor, done=not page.next_token, requests=page.requests,
        rate_limit_waits=page.rate_limit_waits, waited_seconds=page.waited_seconds,
        oldest_created_at=page.oldest_created_at, opted_out=page.opted_out,
        repeats=page.repeats + len(page.skipped), retweets=page.retweets,
        skipped=tuple(reason for reason in page.skipped if reason.startswith(MALFORMED)),
    )


def _newer(a: str | None, b: str | None) -> str | None:
    """The newer (higher) of two tweet ids."""
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


class BlueskyPaging:
    """searchPosts walks from the newest post back to ``since`` (the newest search time stored)."""

    limit_message = "stopped after {pages} pages; the next run resumes"

    def __init__(self, *, page_limit: int = 100) -> None:
        self.page_limit = page_limit

    def read(self, store: Store, feed: Feed, cursor: Cursor, now: dt.datetime) -> Step | End:
        client: BlueskySource = feed.client
        page = client.search_page(
            feed.hashtag, since=cursor.newest_id, cursor=cursor.pagination_token, limit=self.page_limit
        )
        if page.cursor is not None and page.cursor == cursor.pagination_token:
            return End("error", f"{feed.server} answered the #{feed.hashtag} search with the same cursor it "
                                f"was asked with (the walk does not advance); {STOPPED}")
        times = page.sort_times
        # the newest search time seen: the stored one counts too, so the cursor only moves forward
        known = (parse_time(cursor.newest_id), parse_time(cursor.backfill_max_id), max(times, default=None))
        pending = [t for t in known if t is not None]
        pending_text = since_text(max(pending)) if pending else None
        since = parse_time(cursor.newest_id)
        done = page.empty or page.cursor is None or (since is not None and bool(times) and min(times) < since)
        if done:
            cursor = cursor.moved(newest_id=pending_text or cursor.newest_id, backfill_max_id=None,
                                  pagination_token=None, backfill_done=True)
        else:
            cursor = cursor.moved(backfill_max_id=pending_text, pagination_token=page.cursor)
        return Step(
            posts=page.posts, cursor=cursor, done=done, requests=page.requests,
            rate_limit_waits=page.rate_limit_waits, waited_seconds=page.waited_seconds,
            oldest_created_at=min((p.created_at for p in page.posts), default=None),
            opted_out=page.opted_out, errors=page.errors, skipped=page.skipped,
        )

    def outcome(self, feed: Feed, cursor: Cursor) -> End:
        if cursor.newest_id is None:
            return End("empty", f"the #{feed.hashtag} search on {feed.server} returned no posts at all")
        return End("ok")
