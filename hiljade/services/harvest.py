"""The one poll loop: read each (source, server, hashtag) feed page by page, moving its cursor with its posts.

Every page is one transaction: its posts, its cursor and its ledger counters commit together, so
a run killed at any moment loses nothing and doubles nothing, and the next run resumes there.
A page's posts never seen before are written together, a few multi-row statements per page
(``models.posts_batch.save_posts``); the others (a known uri, a copy from another server) one by one.
How a source pages (Mastodon's backfill then forward, X's since_id walks under a monthly budget,
Bluesky's search walks) is a ``Paging`` (``hiljade.services.paging``): it reads the page after a
cursor and says where the cursor stands once the page is stored; this loop does the rest.

An edit that removed every campaign hashtag from a stored post withdraws it: the post is erased
like a deletion (``store_post``), counted in ``erased_posts``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

from hiljade.errors import RateLimited, SourceAuthError, SourceError, SourceNotFound, SourceUnavailable
from hiljade.models.erasure import erase_withdrawn
from hiljade.models.ledger import Cursor, add_to_run, finish_run, load_cursor, save_cursor, start_run
from hiljade.models.posts import NEW, UPDATED, WITHDRAWN, AuthorPolicy, save_post
from hiljade.models.posts_batch import save_posts
from hiljade.models.store import Store
from hiljade.records import PostRecord
from hiljade.services.process import geocoder_cache_prefix

BUDGET_EXHAUSTED = "budget_exhausted"  # X's monthly budget is used up: a warning, not a failure
SKIP_REASONS_KEPT = 3  # reasons of skipped items quoted in the ledger row and the report
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feed:
    """One (source, server, hashtag) to harvest, with the source adapter that reads it."""

    source: str
    server: str
    hashtag: str
    client: Any  # the source's adapter: MastodonSource, TwitterSource or BlueskySource


@dataclass(frozen=True)
class Step:
    """One page read by a paging: the posts to store, the cursor once they are stored, and the cost."""

    posts: tuple[PostRecord, ...]
    cursor: Cursor
    done: bool  # the walk reached its end: the feed is caught up
    requests: int
    rate_limit_waits: int
    waited_seconds: float
    oldest_created_at: dt.datetime | None  # for the progress line
    opted_out: int = 0
    repeats: int = 0  # items read but not stored (a repeat on the page, an unavailable original): duplicates
    errors: int = 0  # items that could not be converted or stored
    retweets: int = 0  # counted in the result only
    skipped: tuple[str, ...] = ()  # why items were skipped (malformed, unstorable), one reason each


@dataclass(frozen=True)
class End:
    """How a feed's harvest ended: its status (ok, empty, partial, budget_exhausted) and message."""

    status: str
    message: str | None = None


class Paging(Protocol):
    """How one source's feeds page. ``limit_message`` (with ``{pages}``) explains a run that hit
    ``max_pages_per_run``; ``read`` may only read the network and the ledger, never write."""

    limit_message: str

    def read(self, store: Store, feed: Feed, cursor: Cursor, now: dt.datetime) -> Step | End:
        """The page after ``cursor``, or why none may be read."""
        ...

    def outcome(self, feed: Feed, cursor: Cursor) -> End:
        """The status of a walk that reached its end: ok, or empty with a message."""
        ...


@dataclass
class FeedResult:
    """What one feed's harvest did (mirrors its ledger row)."""

    feed: Feed
    status: str = "running"
    message: str | None = None
    counts: dict[str, float] = field(default_factory=dict)
    cursor_before: str | None = None
    cursor_after: str | None = None
    skipped: int = 0  # items skipped because they could not be read or stored
    skip_reasons: list[str] = field(default_factory=list)  # the first few reasons

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "empty", "partial", BUDGET_EXHAUSTED)

    def skipped_message(self) -> str | None:
        """What was skipped, in a few words: "2 posts skipped (...): reason; reason", or None."""
        if not self.skipped:
            return None
        noun = "post was" if self.skipped == 1 else "posts were"
        more = self.skipped - len(self.skip_reasons)
        shown = "; ".join(self.skip_reasons) + (f"; and {more} more" if more else "")
        return f"{self.skipped} {noun} skipped because they could not be read or stored: {shown}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


STATUS_BY_ERROR: tuple[tuple[type[SourceError], str], ...] = (
    (SourceAuthError, "auth_error"),
    (SourceNotFound, "not_found"),
    (RateLimited, "rate_limited"),
    (SourceUnavailable, "unavailable"),
    (SourceError, "error"),
)


def failure_status(exc: SourceError) -> str:
    """The ledger status of a source failure (auth_error, not_found, rate_limited, unavailable, error)."""
    return next(name for cls, name in STATUS_BY_ERROR if isinstance(exc, cls))


def store_post(
    conn: Connection,
    post: PostRecord,
    policy: AuthorPolicy,
    now: dt.datetime,
    *,
    campaign: Collection[str],
    reviewer: str,
    details: dict[str, Any] | None = None,
) -> str:
    """``save_post``, and erase the post when the edit withdrew it from the campaign (WITHDRAWN): the
    text, copies and author go, a reviewer-confirmed location stays anonymously on the tombstone."""
    outcome = save_post(conn, post, policy, now, campaign=campaign)
    if outcome == WITHDRAWN:
        erase_withdrawn(conn, post.platform, post.uri, policy.secret, now, cache_prefix=geocoder_cache_prefix,
                        reviewer=reviewer, details=details)
    return outcome


class Harvester:
    """Harvests feeds of one source into a store; ``progress(feed, new posts so far, oldest date)`` runs
    after each page, ``should_stop`` is asked between pages (a stop lands after a committed page)."""

    def __init__(
        self,
        store: Store,
        policy: AuthorPolicy,
        paging: Paging,
        *,
        max_pages: int = 0,
        clock: Callable[[], dt.datetime] = utcnow,
        progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        campaign: Collection[str] = (),
        batch_writes: bool = True,
    ) -> None:
        self.store, self.policy, self.paging = store, policy, paging
        # True: a page's new posts in a few multi-row statements (``save_posts``); False: post by post
        # (the old way, kept as the benchmark's peer and a fallback); the rows are the same
        self.batch_writes = batch_writes
        self.campaign = tuple(campaign)  # the configured hashtags: an edit that drops them all withdraws
        self.max_pages, self.clock = max_pages, clock
        self.progress, self.should_stop = progress, should_stop
        self.stopped = False
        self.run_id = str(uuid.uuid4())

    def harvest(self, feeds: Iterable[Feed]) -> list[FeedResult]:
        """Harvest every feed; one failing feed never stops the others (``should_stop`` does)."""
        return [self.harvest_feed(feed) for feed in feeds if not self._stop_requested()]

    def harvest_feed(self, feed: Feed) -> FeedResult:
        """Read the feed page by page from its cursor until its walk ends, a limit or a stop."""
        with self.store.transaction() as conn:
            cursor = load_cursor(conn, feed.source, feed.server, feed.hashtag)
            row_id = start_run(conn, self.run_id, cursor, self.clock())
        result = FeedResult(feed, cursor_before=cursor.newest_id)
        pages = 0
        end: End | None = None
        try:
            while end is None:
                step = self._halt(pages) or self.paging.read(self.store, feed, cursor, self.clock())
                if isinstance(step, End):
                    end = step
                else:
                    pages += 1
                    cursor = self._commit(feed, cursor, step, row_id, result)
                    end = self.paging.outcome(feed, cursor) if step.done else None
            result.status, result.message = end.status, end.message
        except SourceError as exc:
            result.status, result.message = failure_status(exc), str(exc)
        except Exception as exc:  # a bug must not stop the other feeds nor leave the row running
            log.exception("%s #%s: unexpected error", feed.server, feed.hashtag)
            result.status = "error"
            result.message = (f"an unexpected {type(exc).__name__} stopped this feed (see the log for its "
                              "traceback); the next run tries again")
        note = result.skipped_message()
        if note:
            result.message = f"{result.message}; {note}" if result.message else note
        result.cursor_after = cursor.newest_id
        with self.store.transaction() as conn:
            finish_run(
                conn, row_id, result.status, self.clock(), message=result.message, failed=result.failed,
                cursor_after=cursor.newest_id,
            )
        return result

    def _halt(self, pages: int) -> End | None:
        """Why no further page is read in this run: ``max_pages_per_run`` or a stop request."""
        if self.max_pages and pages >= self.max_pages:
            return End("partial", self.paging.limit_message.format(pages=pages))
        if self._stop_requested():
            return End("partial", f"stopped on request after {pages} pages; the next run resumes")
        return None

    def _stop_requested(self) -> bool:
        if not self.stopped and self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped

    def _commit(self, feed: Feed, cursor: Cursor, step: Step, row_id: int, result: FeedResult) -> Cursor:
        """Store the page's posts, its cursor and its ledger counters in one transaction."""
        now = self.clock()
        counts: dict[str, Any] = {
            "pages": 1,
            "requests": step.requests,
            "opted_out": step.opted_out,
            "rate_limit_waits": step.rate_limit_waits,
            "waited_seconds": step.waited_seconds,
            "new_posts": 0,
            "duplicates": step.repeats,
            "updated_posts": 0,
            "erased_posts": 0,
            "errors": step.errors,
        }
        cursor = step.cursor
        newest_post = max((p.created_at for p in step.posts), default=None)
        if newest_post and (cursor.last_post_at is None or newest_post > cursor.last_post_at):
            cursor = cursor.moved(last_post_at=newest_post)
        details = {"run_id": self.run_id, "feed": f"{feed.server} #{feed.hashtag}"}
        if step.skipped:  # described in the ledger row in the transaction that moves the cursor past them
            result.skipped += len(step.skipped)
            room = max(0, SKIP_REASONS_KEPT - len(result.skip_reasons))
            result.skip_reasons += [_short(reason) for reason in step.skipped[:room]]
        note = result.skipped_message() if step.skipped else None
        kind = {NEW: "new_posts", UPDATED: "updated_posts", WITHDRAWN: "erased_posts"}
        with self.store.transaction() as conn:

            def one(post: PostRecord) -> str:
                return store_post(conn, post, self.policy, now, campaign=self.campaign, reviewer="harvest",
                                  details=details)

            if self.batch_writes:
                outcomes = save_posts(conn, step.posts, self.policy, now, one)
            else:
                outcomes = [one(post) for post in step.posts]
            for outcome in outcomes:
                counts[kind.get(outcome, "duplicates")] += 1
            save_cursor(conn, cursor, now)
            add_to_run(conn, row_id, cursor_after=cursor.newest_id, message=note, **counts)
        for key, value in counts.items():
            result.counts[key] = result.counts.get(key, 0) + value
        result.counts["retweets"] = result.counts.get("retweets", 0) + step.retweets
        if self.progress:
            self.progress(feed, int(result.counts.get("new_posts", 0)), step.oldest_created_at)
        return cursor


def _short(text: str, limit: int = 200) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
