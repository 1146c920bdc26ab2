"""X/Twitter API v2 through tweepy's Client: recent search one page at a time, and tweet lookup.

The bearer token comes only from the environment (``HILJADE_TWITTER_BEARER_TOKEN``). tweepy
always addresses https://api.twitter.com; the session it sends through rewrites that to
``api_url`` (a local stand-in in tests), adds a timeout, and reads the rate-limit headers.
429 is waited out until ``x-rate-limit-reset`` through the ``sleep`` seam (never tweepy's own
``time.sleep``), 5xx/timeouts/broken bodies are retried with backoff, 401/403 raise
SourceAuthError. Tweets become records in ``twitter_tweet`` (pure functions).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
import tweepy
from tweepy.errors import HTTPException, TooManyRequests

from hiljade.config import normalize_api_url
from hiljade.defaults import BEARER_ENV, DEFAULTS
from hiljade.errors import (
    ConfigError,
    RateLimited,
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceUnavailable,
    http_error,
    retryable,
)
from hiljade.harvester.http import HttpClient, HttpSession, Retries
from hiljade.harvester.mastodon import clean_hashtag
from hiljade.harvester.mastodon_status import as_int, parse_time
from hiljade.harvester.twitter_tweet import (
    DEFAULT_SERVER,
    MALFORMED,
    OPTED_OUT,
    Includes,
    convert_tweet,
    tweet_to_record,
)
from hiljade.records import PostRecord, unstorable
from hiljade.secrecy import keep_secret, scrub
from hiljade.wording import plural

__all__ = ["BEARER_ENV", "SearchPage", "TwitterSource", "normalize_api_url"]
log = logging.getLogger(__name__)
T = TypeVar("T")
TWEEPY_HOST = "https://api.twitter.com"  # what tweepy's Client always asks
MAX_WAIT_SECONDS = 15 * 60 + 30.0  # one rate-limit window (15 min) and some slack
MIN_RESULTS, MAX_RESULTS = 10, 100  # what /2/tweets/search/recent accepts for max_results
EXPANSIONS = ["attachments.media_keys", "geo.place_id", "author_id", "referenced_tweets.id",
              "referenced_tweets.id.author_id"]
TWEET_FIELDS = ["created_at", "lang", "geo", "entities", "author_id", "referenced_tweets",
                "edit_history_tweet_ids", "attachments", "conversation_id", "note_tweet"]
MEDIA_FIELDS = ["media_key", "type", "url", "preview_image_url", "variants", "width", "height", "alt_text"]
PLACE_FIELDS = ["id", "full_name", "geo", "place_type", "country_code"]
USER_FIELDS = ["username", "description"]  # description: to honour #nobot/#noindex in a bio


@dataclass(frozen=True)
class SearchPage:
    """One page of recent search, converted; every tweet read is counted exactly once:
    ``read == len(posts) + repeats + opted_out + len(skipped)``."""

    posts: tuple[PostRecord, ...]  # one per post (uri), page order; a retweet is its original
    ids: tuple[str, ...]  # the id of every tweet on the page, newest first (retweets included)
    read: int  # tweets in ``data``: what the monthly cap is charged
    newest_id: str | None  # meta.newest_id (or the highest id)
    next_token: str | None  # meta.next_token: older results of the same search
    opted_out: int  # tweets (or originals) whose author opted out in their bio
    repeats: int  # tweets that were a post already on this page (retweets of it, mostly)
    retweets: int  # retweets on the page (resolved to their original or skipped)
    skipped: tuple[str, ...]  # one reason per tweet not stored: a retweet of an unavailable original ...
    oldest_created_at: datetime | None
    request_url: str
    requests: int
    rate_limit_waits: int
    waited_seconds: float


class TwitterSource(HttpClient):
    """X/Twitter API v2 with an app bearer token: recent search pages and lookups, politely."""

    def __init__(self, bearer_token: str, *, api_url: str = DEFAULT_SERVER, timeout: float = 30.0,
                 max_retries: int = 4, backoff_seconds: float = 2.0, user_agent: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 max_wait: float = MAX_WAIT_SECONDS, include_retweets: bool = True,
                 total_timeout: float = DEFAULTS["sources"]["twitter"]["total_timeout_seconds"]) -> None:
        if not bearer_token:
            raise ConfigError([f"sources.twitter: no bearer token: export {BEARER_ENV}=<your app's token>"])
        self.api_url = normalize_api_url(api_url)
        self.server = self.api_url
        self._token = keep_secret(bearer_token, BEARER_ENV)
        self.include_retweets = include_retweets
        self.client = tweepy.Client(bearer_token=bearer_token, return_type=dict, wait_on_rate_limit=False)
        # the session tweepy sends through: sends its fixed host to api_url, reads the rate-limit headers
        self.client.session = self._http = HttpSession(
            timeout=timeout, max_redirects=3, retries=Retries(max_retries, backoff_seconds, max_wait),
            sleep=sleep, clock=clock, rewrite=(TWEEPY_HOST, self.api_url), limits=self._read_limits,
            total_timeout=total_timeout)
        if user_agent:
            self.client.user_agent = user_agent

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> TwitterSource:
        """A source with the bearer token from ``HILJADE_TWITTER_BEARER_TOKEN``; ConfigError when unset."""
        token = (os.environ if environ is None else environ).get(BEARER_ENV, "").strip()
        if not token:
            raise ConfigError([f"sources.twitter: the bearer token is read only from the environment and "
                               f"{BEARER_ENV} is not set: export {BEARER_ENV}=<bearer token of your X app>"])
        return cls(token, **options)

    def query(self, hashtag: str) -> str:
        """The search query for a hashtag."""
        tag = clean_hashtag(hashtag)
        return f"#{tag}" if self.include_retweets else f"#{tag} -is:retweet"

    def search_page(self, hashtag: str, *, since_id: str | None = None, next_token: str | None = None,
                    max_results: int = MAX_RESULTS) -> SearchPage:
        """One page of recent search for ``#hashtag`` newer than ``since_id``, newest first."""
        query = self.query(hashtag)
        limit = max(MIN_RESULTS, min(MAX_RESULTS, int(max_results)))
        self._http.reset_counts()
        body = self._call(f"search {query!r}", lambda: self.client.search_recent_tweets(
            query, since_id=since_id, next_token=next_token, max_results=limit, expansions=EXPANSIONS,
            tweet_fields=TWEET_FIELDS, media_fields=MEDIA_FIELDS, place_fields=PLACE_FIELDS,
            user_fields=USER_FIELDS))
        return self._page(body, self._http.last_url)

    def lookup(self, ids: Sequence[str]) -> dict[str, PostRecord | None]:
        """Each id's tweet as a record, or None when X says it does not exist (deleted).

        Ids missing from the answer could not be checked (withheld, protected, malformed); a
        401/403/5xx raises and says nothing about any tweet."""
        found: dict[str, PostRecord | None] = {}
        wanted = list(dict.fromkeys(str(i) for i in ids))
        for start in range(0, len(wanted), 100):
            chunk = wanted[start:start + 100]
            self._http.reset_counts()
            body = self._call(f"lookup of {len(chunk)} tweets", lambda chunk=chunk: self.client.get_tweets(
                chunk, expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, media_fields=MEDIA_FIELDS,
                place_fields=PLACE_FIELDS, user_fields=USER_FIELDS))
            found.update(self._lookup_answer(body, chunk))
        return found

    # -- converting answers ---------------------------------------------------------------------

    def _body(self, body: Any, what: str) -> Mapping[str, Any]:
        if not isinstance(body, Mapping):
            raise SourceUnavailable(f"{self.api_url}: {what}: expected a JSON object, got "
                                    f"{type(body).__name__}", kind="bad_response")
        return body

    def _page(self, body: Any, url: str) -> SearchPage:
        body = self._body(body, "search")
        data = body.get("data") if isinstance(body.get("data"), list) else []
        meta = body.get("meta") if isinstance(body.get("meta"), Mapping) else {}
        includes = Includes.from_response(body.get("includes"))
        fetched_at = datetime.now(UTC)
        posts: dict[str, PostRecord] = {}
        skipped: list[str] = []
        ids: list[str] = []
        opted_out = repeats = retweets = 0
        for tweet in data:
            if isinstance(tweet, Mapping) and tweet.get("id"):
                ids.append(str(tweet["id"]))
            done = convert_tweet(tweet, includes, server=self.api_url, fetched_from=url,
                                 fetched_at=fetched_at)
            retweets += done.retweet
            if done.reason == OPTED_OUT:
                opted_out += 1
            elif done.record is None:
                skipped.append(f"{done.reason}: {done.detail}")
                if done.reason == MALFORMED:
                    log.warning("%s: skipped a malformed tweet: %s", self.api_url, done.detail)
            elif done.record.uri in posts:
                repeats += 1
            else:
                posts[done.record.uri] = done.record
        numeric = [int(i) for i in ids if i.isdigit()]
        newest = meta.get("newest_id") or (str(max(numeric)) if numeric else None)
        times = [t for t in (parse_time(d.get("created_at")) for d in data if isinstance(d, Mapping)) if t]
        counts = self._http.counts
        return SearchPage(
            posts=tuple(posts.values()), ids=tuple(ids), read=len(data),
            newest_id=str(newest) if newest else None, next_token=meta.get("next_token") or None,
            opted_out=opted_out, repeats=repeats, retweets=retweets, skipped=tuple(skipped),
            oldest_created_at=min(times, default=None), request_url=url, requests=counts.requests,
            rate_limit_waits=counts.rate_limit_waits, waited_seconds=counts.waited_seconds)

    def _lookup_answer(self, body: Any, asked: list[str]) -> dict[str, PostRecord | None]:
        body = self._body(body, "lookup")
        includes = Includes.from_response(body.get("includes"))
        url, fetched_at = self._http.last_url, datetime.now(UTC)
        out: dict[str, PostRecord | None] = {}
        for tweet in body.get("data") or ():
            if not isinstance(tweet, Mapping) or str(tweet.get("id")) not in asked:
                continue
            try:
                record = tweet_to_record(tweet, includes, server=self.api_url, fetched_from=url,
                                         fetched_at=fetched_at)
            except SourceError as exc:
                log.warning("%s: lookup: %s", self.api_url, exc)
                continue
            problem = unstorable(record)
            if problem:  # left unanswered (unchecked), never handed on to be stored
                log.warning("%s: lookup: tweet %s cannot be stored: %s", self.api_url, tweet["id"], problem)
            else:
                out[str(tweet["id"])] = record
        for error in body.get("errors") or ():
            if not isinstance(error, Mapping):
                continue
            key = str(error.get("resource_id") or error.get("value") or "")
            kind = str(error.get("resource_type") or "tweet")
            gone = str(error.get("type", "")).endswith("/resource-not-found") \
                or error.get("title") == "Not Found Error"
            if key in asked and kind == "tweet" and gone:
                out.setdefault(key, None)
        return out

    # -- one call with retries, waits and error translation ------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        failures = limited = 0
        http = self._http
        while True:
            http.wait_for_window(f"{self.api_url}: {what}", slack=1.0)
            try:
                return fn()
            except TooManyRequests as exc:
                limited += 1
                said = self._detail(exc)
                wait = http.rate_limit_wait(limited, slack=1.0)  # x-rate-limit-reset, read by _read_limits
                if "usage-capped" in said.lower() or "usagecap" in said.lower().replace(" ", ""):
                    raise RateLimited(f"{self.api_url}: {what}: X's monthly usage cap of this app is used "
                                      f"up ({said}); it comes back with the next billing period",
                                      retry_after=wait) from exc
                if not http.wait_rate_limit(limited, wait):
                    raise RateLimited(f"{self.api_url}: {what}: rate limited (HTTP 429) "
                                      f"{plural(limited, 'time')}; "
                                      f"the window resets in {wait:.0f} s", retry_after=wait) from exc
            except RecursionError as exc:  # JSON nested too deeply to read: a malformed answer
                text = f"{self.api_url}: {what}: the answer is JSON nested too deeply to read"
                raise SourceUnavailable(text, kind="bad_response") from exc
            except (HTTPException, requests.RequestException, ValueError) as exc:
                status = exc.response.status_code if isinstance(exc, HTTPException) else None
                if isinstance(exc, HTTPException) and not retryable(status):
                    raise self._refusal(what, exc) from exc
                failures += 1
                if not http.backoff(failures):
                    raise SourceUnavailable(self._scrub(
                        f"{self.api_url}: {what} failed {plural(failures, 'time')}, giving up: "
                        f"{self._detail(exc)}"),
                        kind="unavailable", status=status) from exc

    def _refusal(self, what: str, exc: HTTPException) -> SourceError:
        """The error for a 4xx answer, worded for X."""
        said = self._detail(exc)
        auth = (f"{self.api_url}: {what}: X refused the bearer token from ${BEARER_ENV} ({said}): check "
                f"that the token is valid and that the app has access to the v2 recent search endpoint, "
                f"then export it again")
        not_found = f"{self.api_url}: {what}: not found ({said}); is sources.twitter.api_url right?"
        return http_error(exc.response.status_code, self._scrub(f"{self.api_url}: {what}: refused ({said})"),
                          headers=exc.response.headers, messages={SourceAuthError: self._scrub(auth),
                                                                  SourceNotFound: self._scrub(not_found)})

    def _detail(self, exc: Exception) -> str:
        """What X answered, in a few words (never the token, never a whole page)."""
        response = getattr(exc, "response", None)
        if not isinstance(response, requests.Response):
            return f"no answer: {type(exc).__name__}: {_short(str(exc))}"
        head = f"HTTP {response.status_code} {response.reason or ''}".strip()
        try:
            body = response.json()
        except (ValueError, RecursionError):
            return f"{head}, {len(response.content)} bytes that are not JSON"
        if not isinstance(body, Mapping):
            return head
        parts = [str(body[k]) for k in ("title", "detail", "type") if body.get(k)]
        for error in body.get("errors") or ():
            if isinstance(error, Mapping) and error.get("message"):
                parts.append(str(error["message"]))
        return f"{head}: {_short('; '.join(parts))}" if parts else head

    def _scrub(self, text: str) -> str:
        return scrub(text)  # the token was registered by __init__

    def _read_limits(self, response: requests.Response) -> tuple[int | None, float | None]:
        """(requests left, seconds until the window resets) from X's x-rate-limit headers (epoch reset)."""
        reset = as_int(response.headers.get("x-rate-limit-reset"))
        remaining = as_int(response.headers.get("x-rate-limit-remaining"))
        return remaining, None if reset is None else reset - self._http.pacer.clock()


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(scrub(text).split())  # masked before it is cut, so no piece of a secret stays
    return text if len(text) <= limit else text[: limit - 1] + "…"
