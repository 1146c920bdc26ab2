"""Bluesky (optional, off by default): hashtag posts through ``app.bsky.feed.searchPosts``.

Plain ``requests`` against `sources.bluesky.service_url` (the PDS, e.g. https://bsky.social, which
proxies the AppView), through ``bluesky_xrpc.BlueskyClient``: the handle from
`sources.bluesky.handle`, an app password from ``HILJADE_BLUESKY_APP_PASSWORD``. Post views become
records in ``bluesky_post``; authors labelled ``!no-unauthenticated`` are skipped as opted out.

A search page carries, besides its records, the search times (``sortAt``) of all its posts and
the search cursor of the next page: what the harvest in ``hiljade.services`` walks with (asking
``since`` the newest time it stored).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from hiljade.config import Config
from hiljade.errors import ConfigError, SourceError
from hiljade.harvester.bluesky_post import short_uri, sort_at, view_to_record
from hiljade.harvester.bluesky_xrpc import PASSWORD_ENV, BlueskyClient
from hiljade.records import PostRecord, unstorable

__all__ = ["PASSWORD_ENV", "BlueskyClient", "BlueskySource", "PostsPage", "bluesky_client", "since_text"]


def since_text(moment: dt.datetime) -> str:
    """A search time as searchPosts takes it: UTC, milliseconds, ``Z`` (truncated, so ``since`` keeps it)."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class PostsPage:
    """One searchPosts page as records, with the search times of all its posts and what it cost."""

    posts: tuple[PostRecord, ...]  # posts not opted out that could be converted, page order
    opted_out: int  # posts skipped because their author opted out
    errors: int  # posts that could not be converted or stored
    sort_times: tuple[dt.datetime, ...]  # the search time of every post on the page that has one
    empty: bool  # the page had no post at all
    cursor: str | None  # the search cursor of the next (older) page, None at the end
    requests: int
    rate_limit_waits: int
    waited_seconds: float
    skipped: tuple[str, ...] = ()  # one reason per post counted in ``errors``


class BlueskySource:
    """The hashtag search of one Bluesky service, a page of records at a time (logs in on first use)."""

    def __init__(self, client: BlueskyClient) -> None:
        self.client = client
        self.server = client.server

    def search_page(self, hashtag: str, *, since: str | None, cursor: str | None, limit: int) -> PostsPage:
        """One page of posts carrying ``#hashtag``, newest first, ``since`` a search time."""
        page = self.client.search(hashtag, since=since, cursor=cursor, limit=limit)
        fetched_at = dt.datetime.now(dt.UTC)
        posts: list[PostRecord] = []
        opted_out = 0
        skipped: list[str] = []
        for view in page.views:
            try:
                post = view_to_record(
                    view, server=self.server, fetched_from=page.request_url, fetched_at=fetched_at
                )
            except SourceError as exc:
                skipped.append(str(exc))
                continue
            except RecursionError:
                skipped.append("a post nested too deeply to read")
                continue
            problem = unstorable(post)
            if problem:
                skipped.append(f"post {short_uri(post.uri)} cannot be stored: {problem}")
                continue
            if post.author is not None and post.author.opt_out:
                opted_out += 1
            else:
                posts.append(post)
        times = tuple(t for t in (sort_at(v) for v in page.views) if t is not None)
        return PostsPage(
            posts=tuple(posts), opted_out=opted_out, errors=len(skipped), sort_times=times,
            empty=not page.views, cursor=page.cursor, requests=page.requests,
            rate_limit_waits=page.rate_limit_waits, waited_seconds=page.waited_seconds,
            skipped=tuple(skipped),
        )


def bluesky_client(
    config: Config,
    *,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BlueskyClient:
    """The configured client; ConfigError listing what is missing (handle, password, URL); whether the
    source is enabled is the registry's rule (``hiljade.services.feeds.SOURCES``)."""
    section = config.get("sources.bluesky") or {}
    env = os.environ if environ is None else environ
    problems = []
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
        timeout=float(section["timeout_seconds"]),
        total_timeout=float(section["total_timeout_seconds"]),
        max_retries=int(section["max_retries"]),
        user_agent=config.get("user_agent"),
        sleep=sleep,
    )
