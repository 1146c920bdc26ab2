"""Harvest jobs: building the configured feeds and running the poll loop over them."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from hiljade.config import Config, MastodonServer
from hiljade.models.store import Store
from hiljade.services.harvest import Feed, FeedResult, Harvester
from hiljade.services.store import author_policy


def mastodon_feeds(
    config: Config,
    *,
    server: str | None = None,
    hashtag: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Feed]:
    """One feed per configured Mastodon server and hashtag, optionally narrowed to one of each."""
    from hiljade.harvester.mastodon import MastodonSource

    section = config.get("sources.mastodon")
    servers = config.mastodon_servers
    if server:
        wanted = server.rstrip("/")
        servers = [s for s in servers if s.url == wanted] or [MastodonServer(wanted)]
    tags = [hashtag.lstrip("#").lower()] if hashtag else config.hashtags
    feeds = []
    for entry in servers:
        client = MastodonSource(
            entry.url,
            access_token=entry.token(),
            token_env=entry.token_env,
            timeout=section["timeout_seconds"],
            max_retries=section["max_retries"],
            min_interval=section["min_interval_seconds"],
            user_agent=config.get("user_agent"),
            sleep=sleep,
        )
        feeds.extend(Feed("mastodon", entry.url, tag, client) for tag in tags)
    return feeds


@dataclass(frozen=True)
class HarvestReport:
    results: list[FeedResult]

    @property
    def failed(self) -> list[FeedResult]:
        return [r for r in self.results if r.failed]

    def total(self, key: str) -> int:
        return int(sum(r.counts.get(key, 0) for r in self.results))

    def summary(self) -> str:
        warn = [r for r in self.results if r.status in ("empty", "partial")]
        return (
            f"harvest: {len(self.results)} feeds, {self.total('new_posts')} new posts, "
            f"{self.total('updated_posts')} edited, {self.total('duplicates')} duplicates, "
            f"{self.total('opted_out')} opted out, {self.total('pages')} pages, "
            f"{self.total('rate_limit_waits')} rate-limit waits, "
            f"{len(self.failed)} failed, {len(warn)} warnings"
        )


def twitter_feeds(
    config: Config,
    *,
    hashtag: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    environ: dict[str, str] | None = None,
) -> list[Feed]:
    """One X/Twitter feed per configured hashtag; ConfigError when the bearer token is not exported."""
    from hiljade.harvester.twitter import TwitterSource

    section = config.get("sources.twitter")
    client = TwitterSource.from_env(
        environ,
        api_url=section["api_url"],
        timeout=section.get("timeout_seconds", 30.0),
        max_retries=section.get("max_retries", 4),
        user_agent=config.get("user_agent"),
        include_retweets=section.get("include_retweets", True),
        sleep=sleep,
    )
    tags = [hashtag.lstrip("#").lower()] if hashtag else config.hashtags
    return [Feed("twitter", client.server, tag, client) for tag in tags]


def harvest_twitter(
    config: Config,
    store: Store,
    feeds: list[Feed],
    *,
    progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HarvestReport:
    """Harvest X/Twitter feeds into the store within `sources.twitter.monthly_cap`; ``should_stop`` is
    asked between pages (the scheduler's SIGTERM)."""
    from hiljade.services.twitter_harvest import TwitterHarvester

    section = config.get("sources.twitter")
    harvester = TwitterHarvester(
        store,
        author_policy(config),
        monthly_cap=section["monthly_cap"],
        page_limit=section["page_limit"],
        max_pages=section["max_pages_per_run"],
        progress=progress,
        should_stop=should_stop,
    )
    return HarvestReport(harvester.harvest(feeds))


def harvest(
    config: Config,
    store: Store,
    feeds: list[Feed],
    *,
    progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HarvestReport:
    """Harvest Mastodon feeds into the store; ``should_stop`` ends the run after a committed page."""
    section = config.get("sources.mastodon")
    harvester = Harvester(
        store,
        author_policy(config),
        backfill_since=section["backfill_since"],
        page_limit=section["page_limit"],
        max_pages=section["max_pages_per_run"],
        progress=progress,
        should_stop=should_stop,
    )
    return HarvestReport(harvester.harvest(feeds))


