"""The poll loop: read each (server, hashtag) feed page by page, moving its cursor with its posts.

Every page is one transaction: its posts, its cursor and its ledger counters commit together, so
a run killed at any moment loses nothing and doubles nothing, and the next run resumes there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hiljade.errors import RateLimited, SourceAuthError, SourceError, SourceNotFound, SourceUnavailable
from hiljade.models.ledger import Cursor, add_to_run, finish_run, load_cursor, save_cursor, start_run
from hiljade.models.posts import NEW, UPDATED, AuthorPolicy, save_post
from hiljade.models.store import Store
from hiljade.records import PostRecord


class TagPage(Protocol):
    posts: tuple[PostRecord, ...]
    opted_out: int
    ids: tuple[str, ...]
    oldest_created_at: dt.datetime | None
    requests: int
    rate_limit_waits: int
    waited_seconds: float


class TagSource(Protocol):
    """A hashtag feed that pages like Mastodon: newest first, ``max_id`` older, ``min_id`` newer."""

    def tag_page(
        self, hashtag: str, *, min_id: str | None = None, max_id: str | None = None, limit: int = 40
    ) -> TagPage: ...


@dataclass(frozen=True)
class Feed:
    """One (source, server, hashtag) to harvest, with the client that reads it."""

    source: str
    server: str
    hashtag: str
    client: TagSource


@dataclass
class FeedResult:
    """What one feed's harvest did (mirrors its ledger row)."""

    feed: Feed
    status: str = "running"
    message: str | None = None
    counts: dict[str, float] = field(default_factory=dict)
    cursor_before: str | None = None
    cursor_after: str | None = None

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "empty", "partial")


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


def close_feed(
    store: Store, row_id: int, result: FeedResult, now: dt.datetime, cursor_after: str | None
) -> None:
    """Close a feed's ledger row with the result's status and message (a failure counts as one error)."""
    result.cursor_after = cursor_after
    with store.transaction() as conn:
        finish_run(
            conn, row_id, result.status, now, message=result.message, failed=result.failed,
            cursor_after=cursor_after,
        )


class Harvester:
    """Harvests feeds into a store; ``progress(feed, new posts so far, oldest date)`` runs after each page."""

    def __init__(
        self,
        store: Store,
        policy: AuthorPolicy,
        *,
        backfill_since: dt.date,
        page_limit: int = 40,
        max_pages: int = 0,
        clock: Callable[[], dt.datetime] = utcnow,
        progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.since = dt.datetime.combine(backfill_since, dt.time(), tzinfo=dt.UTC)
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.clock = clock
        self.progress = progress
        self.should_stop = should_stop  # checked between pages: a stop lands after a committed page
        self.stopped = False
        self.run_id = str(uuid.uuid4())

    def harvest(self, feeds: Iterable[Feed]) -> list[FeedResult]:
        """Harvest every feed; one failing feed never stops the others (``should_stop`` does)."""
        return [self.harvest_feed(feed) for feed in feeds if not self._stop_requested()]

    def harvest_feed(self, feed: Feed) -> FeedResult:
        """Backfill (first run, or an interrupted one), then page forward until caught up."""
        with self.store.transaction() as conn:
            cursor = load_cursor(conn, feed.source, feed.server, feed.hashtag)
            row_id = start_run(conn, self.run_id, cursor, self.clock())
        result = FeedResult(feed, cursor_before=cursor.newest_id)
        pages = 0
        try:
            if not cursor.backfill_done:
                cursor, pages = self._backfill(feed, cursor, row_id, result, pages)
            if cursor.backfill_done:
                cursor, pages = self._forward(feed, cursor, row_id, result, pages)
            if self.stopped:
                result.status = "partial"
                result.message = f"stopped on request after {pages} pages; the next run resumes"
            elif not cursor.backfill_done or (self.max_pages and pages >= self.max_pages):
                result.status = "partial"
                result.message = (
                    f"stopped after {pages} pages (sources.mastodon.max_pages_per_run); next run resumes"
                )
            elif cursor.newest_id is None:
                result.status = "empty"
                result.message = f"the #{feed.hashtag} feed on {feed.server} returned no posts at all"
            else:
                result.status = "ok"
        except SourceError as exc:
            result.status, result.message = failure_status(exc), str(exc)
        close_feed(self.store, row_id, result, self.clock(), cursor.newest_id)
        return result

    def _page_budget_left(self, pages: int) -> bool:
        return (not self.max_pages or pages < self.max_pages) and not self._stop_requested()

    def _stop_requested(self) -> bool:
        if not self.stopped and self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped

    def _backfill(
        self, feed: Feed, cursor: Cursor, row_id: int, result: FeedResult, pages: int
    ) -> tuple[Cursor, int]:
        while self._page_budget_left(pages):
            page = feed.client.tag_page(feed.hashtag, max_id=cursor.backfill_max_id, limit=self.page_limit)
            pages += 1
            if not page.ids:
                cursor = cursor.moved(backfill_done=True, backfill_max_id=None)
                cursor = self._commit(feed, cursor, page, row_id, result, [])
                break
            reached_since = page.oldest_created_at is not None and page.oldest_created_at < self.since
            keep = [p for p in page.posts if p.created_at >= self.since]
            cursor = cursor.moved(
                newest_id=cursor.newest_id or page.ids[0],
                backfill_max_id=None if reached_since else page.ids[-1],
                backfill_done=reached_since,
            )
            cursor = self._commit(feed, cursor, page, row_id, result, keep)
            if reached_since:
                break
        return cursor, pages

    def _forward(
        self, feed: Feed, cursor: Cursor, row_id: int, result: FeedResult, pages: int
    ) -> tuple[Cursor, int]:
        while cursor.newest_id is not None and self._page_budget_left(pages):
            page = feed.client.tag_page(feed.hashtag, min_id=cursor.newest_id, limit=self.page_limit)
            pages += 1
            if not page.ids:
                cursor = self._commit(feed, cursor, page, row_id, result, [])
                break
            cursor = cursor.moved(newest_id=page.ids[0])
            cursor = self._commit(feed, cursor, page, row_id, result, list(page.posts))
        return cursor, pages

    def _commit(
        self,
        feed: Feed,
        cursor: Cursor,
        page: TagPage,
        row_id: int,
        result: FeedResult,
        posts: list[PostRecord],
    ) -> Cursor:
        now = self.clock()
        counts: dict[str, Any] = {
            "pages": 1,
            "requests": page.requests,
            "opted_out": page.opted_out,
            "rate_limit_waits": page.rate_limit_waits,
            "waited_seconds": page.waited_seconds,
            "new_posts": 0,
            "duplicates": 0,
            "updated_posts": 0,
        }
        newest_post = max((p.created_at for p in posts), default=None)
        if newest_post and (cursor.last_post_at is None or newest_post > cursor.last_post_at):
            cursor = cursor.moved(last_post_at=newest_post)
        with self.store.transaction() as conn:
            for post in posts:
                outcome = save_post(conn, post, self.policy, now)
                key = (
                    "new_posts" if outcome == NEW else "updated_posts" if outcome == UPDATED else "duplicates"
                )
                counts[key] += 1
            save_cursor(conn, cursor, now)
            add_to_run(conn, row_id, cursor_after=cursor.newest_id, **counts)
        for key, value in counts.items():
            result.counts[key] = result.counts.get(key, 0) + value
        if self.progress:
            self.progress(feed, int(result.counts.get("new_posts", 0)), page.oldest_created_at)
        return cursor
