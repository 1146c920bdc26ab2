"""Bluesky (optional, off by default): hashtag posts through ``app.bsky.feed.searchPosts``.

Plain ``requests`` against `sources.bluesky.service_url` (the PDS, e.g. https://bsky.social, which
proxies the AppView), through ``bluesky_xrpc.BlueskyClient``: the handle from
`sources.bluesky.handle`, an app password from ``HILJADE_BLUESKY_APP_PASSWORD``. Post views become
records in ``bluesky_post``.

Each hashtag is one feed (source ``bluesky``, server = service URL). A *walk* asks searchPosts
(``tag`` and ``q``, ``sort=latest``) from the newest post back to the cursor, with ``since`` =
``harvest_cursors.newest_id`` (the search time, ``sortAt``, of the newest post stored). While a
walk is in progress its search cursor is kept in ``pagination_token`` and the newest time it saw
in ``backfill_max_id``; only when it reaches its end does that time become ``newest_id``. Each
page commits its posts, the cursor and the ledger counters together, so a killed run resumes
where it stopped and neither loses nor doubles a post. Authors labelled ``!no-unauthenticated``
are skipped as opted out.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import Connection, select, update

from hiljade.config import Config
from hiljade.errors import ConfigError, SourceError
from hiljade.harvester.bluesky_post import parse_time, sort_at, view_to_record
from hiljade.harvester.bluesky_xrpc import PASSWORD_ENV, BlueskyClient, SearchPage
from hiljade.models.ledger import Cursor, add_to_run, start_run
from hiljade.models.posts import NEW, UPDATED, AuthorPolicy, insert_ignore, save_post
from hiljade.models.schema import HarvestCursor
from hiljade.models.store import Store
from hiljade.services.harvest import Feed, FeedResult, close_feed, failure_status, utcnow

SOURCE = "bluesky"
__all__ = [
    "PASSWORD_ENV",
    "BlueskyClient",
    "BlueskyHarvester",
    "WalkCursor",
    "bluesky_client",
    "bluesky_feeds",
    "harvest_bluesky",
    "harvest_feeds",
]


# ---- the walk cursor --------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkCursor:
    """Where one (server, hashtag) search was read up to, and the walk in progress."""

    server: str
    hashtag: str
    newest_id: str | None = None  # sortAt (ISO) of the newest post of the last finished walk: ``since``
    pending_newest: str | None = None  # newest sortAt of the walk in progress (column backfill_max_id)
    pagination_token: str | None = None  # searchPosts cursor of the walk in progress
    walked_once: bool = False  # column backfill_done
    last_post_at: dt.datetime | None = None


def load_walk_cursor(conn: Connection, server: str, hashtag: str) -> WalkCursor:
    """The stored cursor, or a fresh one."""
    t = HarvestCursor.__table__
    row = conn.execute(
        select(t).where(t.c.source == SOURCE, t.c.server == server, t.c.hashtag == hashtag)
    ).first()
    if row is None:
        return WalkCursor(server, hashtag)
    return WalkCursor(
        server,
        hashtag,
        row.newest_id,
        row.backfill_max_id,
        row.pagination_token,
        bool(row.backfill_done),
        row.last_post_at,
    )


def save_walk_cursor(conn: Connection, cursor: WalkCursor, now: dt.datetime) -> None:
    """Write the cursor, in the same transaction as the posts it covers."""
    t = HarvestCursor.__table__
    keys = {"source": SOURCE, "server": cursor.server, "hashtag": cursor.hashtag}
    values = {
        "newest_id": cursor.newest_id,
        "backfill_max_id": cursor.pending_newest,
        "pagination_token": cursor.pagination_token,
        "backfill_done": cursor.walked_once,
        "last_post_at": cursor.last_post_at,
        "updated_at": now,
    }
    if not insert_ignore(conn, t, {**keys, **values}, tuple(keys)):
        conn.execute(update(t).where(*(t.c[k] == v for k, v in keys.items())).values(**values))


def since_text(moment: dt.datetime) -> str:
    """A search time as searchPosts takes it: UTC, milliseconds, ``Z`` (truncated, so ``since`` keeps it)."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ---- the harvest ---------------------------------------------------------------------------------


class BlueskyHarvester:
    """Walks the search of each hashtag into the store; see the module docstring."""

    def __init__(
        self,
        store: Store,
        policy: AuthorPolicy,
        *,
        page_limit: int = 100,
        max_pages: int = 0,
        clock: Callable[[], dt.datetime] = utcnow,
        progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.store, self.policy = store, policy
        self.page_limit, self.max_pages = page_limit, max_pages
        self.clock, self.progress, self.should_stop = clock, progress, should_stop
        self.run_id = str(uuid.uuid4())

    def harvest(self, feeds: list[Feed]) -> list[FeedResult]:
        """Walk every feed; one failing feed never stops the others (``should_stop`` does)."""
        return [self.harvest_feed(feed) for feed in feeds if not self._stop()]

    def harvest_feed(self, feed: Feed) -> FeedResult:
        """Finish (or start) a walk of one hashtag; failures end up in the result and the ledger."""
        client: BlueskyClient = feed.client  # type: ignore[assignment]
        with self.store.transaction() as conn:
            cursor = load_walk_cursor(conn, feed.server, feed.hashtag)
            row_id = start_run(
                conn, self.run_id, Cursor(SOURCE, feed.server, feed.hashtag, cursor.newest_id), self.clock()
            )
        result = FeedResult(feed, cursor_before=cursor.newest_id)
        pages, done = 0, False
        try:
            while not done and not (self.max_pages and pages >= self.max_pages) and not self._stop():
                page = client.search(
                    feed.hashtag,
                    since=cursor.newest_id,
                    cursor=cursor.pagination_token,
                    limit=self.page_limit,
                )
                pages += 1
                cursor, done = self._commit(feed, cursor, page, row_id, result)
            if not done:
                result.status, result.message = (
                    "partial",
                    f"stopped after {pages} pages; the next run resumes",
                )
            elif cursor.newest_id is None:
                result.status = "empty"
                result.message = f"the #{feed.hashtag} search on {feed.server} returned no posts at all"
            else:
                result.status = "ok"
        except SourceError as exc:
            result.status, result.message = failure_status(exc), str(exc)
        close_feed(self.store, row_id, result, self.clock(), cursor.newest_id)
        return result

    def _stop(self) -> bool:
        return self.should_stop is not None and self.should_stop()

    def _commit(
        self, feed: Feed, cursor: WalkCursor, page: SearchPage, row_id: int, result: FeedResult
    ) -> tuple[WalkCursor, bool]:
        now = self.clock()
        counts: dict[str, Any] = {
            "pages": 1,
            "requests": page.requests,
            "rate_limit_waits": page.rate_limit_waits,
            "waited_seconds": page.waited_seconds,
            "opted_out": 0,
            "new_posts": 0,
            "duplicates": 0,
            "updated_posts": 0,
            "errors": 0,
        }
        posts = []
        for view in page.views:
            try:
                post = view_to_record(view, server=feed.server, fetched_from=page.request_url, fetched_at=now)
            except SourceError:
                counts["errors"] += 1
                continue
            if post.author is not None and post.author.opt_out:
                counts["opted_out"] += 1
            else:
                posts.append(post)
        cursor, done = _moved(cursor, page)
        newest_post = max((p.created_at for p in posts), default=None)
        if newest_post and (cursor.last_post_at is None or newest_post > cursor.last_post_at):
            cursor = replace(cursor, last_post_at=newest_post)
        with self.store.transaction() as conn:
            for post in posts:
                outcome = save_post(conn, post, self.policy, now)
                counts[
                    "new_posts" if outcome == NEW else "updated_posts" if outcome == UPDATED else "duplicates"
                ] += 1
            save_walk_cursor(conn, cursor, now)
            add_to_run(conn, row_id, cursor_after=cursor.newest_id, **counts)
        for key, value in counts.items():
            result.counts[key] = result.counts.get(key, 0) + value
        if self.progress:
            oldest = min((p.created_at for p in posts), default=None)
            self.progress(feed, int(result.counts.get("new_posts", 0)), oldest)
        return cursor, done


def _moved(cursor: WalkCursor, page: SearchPage) -> tuple[WalkCursor, bool]:
    """The cursor after a page, and whether the walk is over (no posts, no cursor, or past ``since``)."""
    times = [t for t in (sort_at(v) for v in page.views) if t is not None]
    pending = [t for t in (parse_time(cursor.pending_newest), max(times, default=None)) if t is not None]
    pending_text = since_text(max(pending)) if pending else None
    since = parse_time(cursor.newest_id)
    done = not page.views or page.cursor is None or (since is not None and bool(times) and min(times) < since)
    if done:
        return replace(
            cursor,
            newest_id=pending_text or cursor.newest_id,
            pending_newest=None,
            pagination_token=None,
            walked_once=True,
        ), True
    return replace(cursor, pending_newest=pending_text, pagination_token=page.cursor), False


def bluesky_client(
    config: Config,
    *,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BlueskyClient:
    """The configured client; ConfigError listing what is missing (enabled, handle, password, URL)."""
    section = config.get("sources.bluesky") or {}
    env = os.environ if environ is None else environ
    problems = []
    if not section.get("enabled"):
        problems.append("sources.bluesky.enabled is false; set it to true to harvest Bluesky")
    if not str(section.get("handle") or "").strip():
        problems.append(
            "sources.bluesky.handle: give the account handle to log in with, e.g. name.bsky.social"
        )
    if not env.get(PASSWORD_ENV):
        problems.append(
            f"{PASSWORD_ENV} is not set; create an app password in Bluesky's settings and export it"
        )
    parts = urlsplit(str(section.get("service_url") or ""))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"sources.bluesky.service_url: {section.get('service_url')!r} is not a base URL")
    if problems:
        raise ConfigError(problems)
    return BlueskyClient(
        str(section["service_url"]),
        str(section["handle"]).strip().lstrip("@"),
        env[PASSWORD_ENV],
        session=session,
        timeout=float(section.get("timeout_seconds", 30.0)),
        max_retries=int(section.get("max_retries", 3)),
        user_agent=config.get("user_agent"),
        sleep=sleep,
    )


def bluesky_feeds(
    config: Config,
    *,
    hashtag: str | None = None,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Feed]:
    """One feed per configured hashtag (or just ``hashtag``), sharing one logged-in client."""
    client = bluesky_client(config, environ=environ, session=session, sleep=sleep)
    tags = [hashtag.lstrip("#").lower()] if hashtag else config.hashtags
    return [Feed(SOURCE, client.server, tag, client) for tag in tags]  # type: ignore[arg-type]


def harvest_feeds(
    config: Config,
    store: Store,
    feeds: list[Feed],
    *,
    progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
):  # noqa: ANN201 - hiljade.services.feeds.HarvestReport
    """Harvest the given Bluesky feeds (the shape of ``feeds.harvest``, for `hiljade harvest`)."""
    from hiljade.services.feeds import HarvestReport
    from hiljade.services.store import author_policy

    section = config.get("sources.bluesky")
    harvester = BlueskyHarvester(
        store,
        author_policy(config),
        page_limit=int(section["page_limit"]),
        max_pages=int(section.get("max_pages_per_run", 0)),
        progress=progress,
        should_stop=should_stop,
    )
    return HarvestReport(harvester.harvest(feeds))


def harvest_bluesky(
    config: Config,
    store: Store,
    *,
    hashtag: str | None = None,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] | None = None,
):  # noqa: ANN201 - hiljade.services.feeds.HarvestReport
    """Harvest every configured hashtag (or one) from Bluesky: what the scheduler calls."""
    feeds = bluesky_feeds(config, hashtag=hashtag, environ=environ, session=session, sleep=sleep)
    return harvest_feeds(config, store, feeds, should_stop=should_stop)
