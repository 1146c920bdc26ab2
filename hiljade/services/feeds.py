"""The registry of sources: building each source's feeds from the configuration and harvesting them.

``SOURCES`` maps a source's name to a ``HarvestSource``: how to build its feeds, and the paging the
one poll loop (``hiljade.services.harvest``) reads them with. `hiljade harvest --source` and the
scheduler both go through it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import requests

from hiljade.config import Config, MastodonServer
from hiljade.errors import ConfigError
from hiljade.harvester.bluesky import BlueskySource, bluesky_client
from hiljade.harvester.http import log as http_log
from hiljade.harvester.mastodon import MastodonSource
from hiljade.harvester.twitter import TwitterSource
from hiljade.models.store import Store
from hiljade.secrecy import credentials_problem
from hiljade.services.harvest import Feed, FeedResult, Harvester, Paging
from hiljade.services.paging import BlueskyPaging, MastodonPaging, TwitterPaging
from hiljade.services.store import author_policy
from hiljade.wording import plural

Progress = Callable[[Feed, int, dt.datetime | None], None]


class _Notices(logging.Handler):
    def __init__(self, show: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.show = show

    def emit(self, record: logging.LogRecord) -> None:
        self.show(record.getMessage())


@contextlib.contextmanager
def retry_notices(show: Callable[[str], None]) -> Iterator[None]:
    """Within the block, pass every retry notice of the one HTTP session (what failed, when the next
    try is) to ``show``: `hiljade harvest` prints them on a terminal."""
    handler, level = _Notices(show), http_log.level
    http_log.addHandler(handler)
    http_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        http_log.removeHandler(handler)
        http_log.setLevel(level)


def _tags(config: Config, hashtag: str | None) -> list[str]:
    return [hashtag.lstrip("#").lower()] if hashtag else config.hashtags


def mastodon_feeds(
    config: Config,
    *,
    server: str | None = None,
    hashtag: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Feed]:
    """One feed per configured Mastodon server and hashtag, optionally narrowed to one of each."""
    section = config.get("sources.mastodon")
    servers = config.mastodon_servers
    if server:
        if problem := credentials_problem("--server", server):
            raise ConfigError([problem])  # the address is stored with every post, as in the file
        wanted = server.rstrip("/")
        servers = [s for s in servers if s.url == wanted] or [MastodonServer(wanted)]
    feeds = []
    for entry in servers:
        client = MastodonSource(
            entry.url,
            access_token=entry.token(),
            token_env=entry.token_env,
            timeout=section["timeout_seconds"],
            total_timeout=section["total_timeout_seconds"],
            max_retries=section["max_retries"],
            min_interval=section["min_interval_seconds"],
            user_agent=config.get("user_agent"),
            sleep=sleep,
        )
        feeds.extend(Feed("mastodon", entry.url, tag, client) for tag in _tags(config, hashtag))
    return feeds


def twitter_feeds(
    config: Config,
    *,
    hashtag: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    environ: Mapping[str, str] | None = None,
) -> list[Feed]:
    """One X/Twitter feed per configured hashtag; ConfigError when the bearer token is not exported."""
    section = config.get("sources.twitter")
    client = TwitterSource.from_env(
        environ,
        api_url=section["api_url"],
        timeout=section["timeout_seconds"],
        total_timeout=section["total_timeout_seconds"],
        max_retries=section["max_retries"],
        user_agent=config.get("user_agent"),
        include_retweets=section["include_retweets"],
        sleep=sleep,
    )
    return [Feed("twitter", client.server, tag, client) for tag in _tags(config, hashtag)]


def bluesky_feeds(
    config: Config,
    *,
    hashtag: str | None = None,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Feed]:
    """One Bluesky feed per configured hashtag, sharing one client; ConfigError when not set up."""
    source = BlueskySource(bluesky_client(config, environ=environ, session=session, sleep=sleep))
    return [Feed("bluesky", source.server, tag, source) for tag in _tags(config, hashtag)]


@dataclass(frozen=True)
class HarvestReport:
    results: list[FeedResult]

    @property
    def failed(self) -> list[FeedResult]:
        return [r for r in self.results if r.failed]

    def total(self, key: str) -> int:
        return int(sum(r.counts.get(key, 0) for r in self.results))

    def summary(self) -> str:
        warn = [r for r in self.results if r.status in ("empty", "partial") or (r.skipped and not r.failed)]
        withdrawn = self.total("erased_posts")
        skipped = sum(r.skipped for r in self.results)
        return (
            f"harvest: {plural(len(self.results), 'feed')}, {plural(self.total('new_posts'), 'new post')}, "
            f"{self.total('updated_posts')} edited, "
            + (f"{withdrawn} withdrawn by their authors and erased, " if withdrawn else "")
            + f"{plural(self.total('duplicates'), 'duplicate')}, "
            + (f"{skipped} skipped (unreadable or unstorable), " if skipped else "")
            + f"{self.total('opted_out')} opted out, {plural(self.total('pages'), 'page')}, "
            f"{plural(self.total('rate_limit_waits'), 'rate-limit wait')}, "
            f"{len(self.failed)} failed, {plural(len(warn), 'warning')}"
        )


def mastodon_paging(config: Config) -> Paging:
    section = config.get("sources.mastodon")
    return MastodonPaging(backfill_since=section["backfill_since"], page_limit=section["page_limit"])


def twitter_paging(config: Config) -> Paging:
    section = config.get("sources.twitter")
    return TwitterPaging(monthly_cap=section["monthly_cap"], page_limit=section["page_limit"])


def bluesky_paging(config: Config) -> Paging:
    return BlueskyPaging(page_limit=int(config.get("sources.bluesky.page_limit")))


@dataclass(frozen=True)
class HarvestSource:
    """A source the CLI and the scheduler harvest: its feeds from the configuration, and its paging."""

    name: str
    make_feeds: Callable[..., list[Feed]]  # (config, *, hashtag=None, ...): the configured feeds
    make_paging: Callable[[Config], Paging]
    narrows_to_server: bool = False  # `hiljade harvest --server` picks one of its servers
    title: str = ""  # the name people know it by, for messages

    def feeds(self, config: Config, *, server: str | None = None, hashtag: str | None = None) -> list[Feed]:
        """The configured feeds, optionally narrowed to one hashtag (and one server, for Mastodon);
        ConfigError when ``sources.<name>.enabled`` is false (the one rule for every source)."""
        if not config.get(f"sources.{self.name}.enabled"):
            raise ConfigError([f"sources.{self.name}.enabled is false; set it to true to harvest "
                               f"{self.title or self.name}"])
        if self.narrows_to_server:
            return self.make_feeds(config, server=server, hashtag=hashtag)
        return self.make_feeds(config, hashtag=hashtag)

    def harvest(
        self,
        config: Config,
        store: Store,
        feeds: list[Feed],
        *,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> HarvestReport:
        """Harvest the feeds with the one poll loop; ``should_stop`` ends the run after a committed page."""
        harvester = Harvester(
            store,
            author_policy(config),
            self.make_paging(config),
            max_pages=int(config.get(f"sources.{self.name}.max_pages_per_run")),
            progress=progress,
            should_stop=should_stop,
            campaign=config.hashtags,
        )
        return HarvestReport(harvester.harvest(feeds))


SOURCES: dict[str, HarvestSource] = {
    "mastodon": HarvestSource("mastodon", mastodon_feeds, mastodon_paging, narrows_to_server=True,
                              title="Mastodon"),
    "twitter": HarvestSource("twitter", twitter_feeds, twitter_paging, title="X/Twitter"),
    "bluesky": HarvestSource("bluesky", bluesky_feeds, bluesky_paging, title="Bluesky"),
}


def harvest(
    config: Config,
    store: Store,
    feeds: list[Feed],
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HarvestReport:
    """Harvest feeds of one source with that source's paging."""
    if not feeds:
        return HarvestReport([])
    return SOURCES[feeds[0].source].harvest(config, store, feeds, progress=progress, should_stop=should_stop)
