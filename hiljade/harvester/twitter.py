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
from urllib.parse import urlsplit

import requests
import tweepy
from tweepy.errors import (
    BadRequest,
    Forbidden,
    HTTPException,
    NotFound,
    TooManyRequests,
    TwitterServerError,
    Unauthorized,
)

from hiljade.errors import (
    ConfigError,
    RateLimited,
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceUnavailable,
)
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
from hiljade.records import PostRecord

__all__ = ["BEARER_ENV", "SearchPage", "TwitterSource", "normalize_api_url"]
log = logging.getLogger(__name__)
T = TypeVar("T")
BEARER_ENV = "HILJADE_TWITTER_BEARER_TOKEN"
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


class _Session(requests.Session):
    """The session tweepy sends through: rewrites the host, adds a timeout, remembers the answer."""

    def __init__(self, api_url: str, timeout: float,
                 after: Callable[[requests.Response | None], None]) -> None:
        super().__init__()
        self.api_url, self.timeout, self._after = api_url, timeout, after
        self.max_redirects = 3
        self.last_url = ""
        self.last_response: requests.Response | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        url = str(url)
        if url.startswith(TWEEPY_HOST):
            url = self.api_url + url[len(TWEEPY_HOST):]
        kwargs.setdefault("timeout", self.timeout)
        prepared = requests.Request(str(method), url, params=kwargs.get("params")).prepare()
        self.last_url, self.last_response = prepared.url or url, None
        response = None
        try:
            response = super().request(method, url, *args, **kwargs)
        finally:
            self._after(response)
        self.last_response = response
        return response


class TwitterSource:
    """X/Twitter API v2 with an app bearer token: recent search pages and lookups, politely."""

    def __init__(self, bearer_token: str, *, api_url: str = DEFAULT_SERVER, timeout: float = 30.0,
                 max_retries: int = 4, backoff_seconds: float = 2.0, user_agent: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 max_wait: float = MAX_WAIT_SECONDS, include_retweets: bool = True) -> None:
        if not bearer_token:
            raise ConfigError([f"sources.twitter: no bearer token: export {BEARER_ENV}=<your app's token>"])
        self.api_url = normalize_api_url(api_url)
        self.server = self.api_url
        self._token = bearer_token
        self.max_retries, self.backoff_seconds, self.max_wait = max_retries, backoff_seconds, max_wait
        self.include_retweets = include_retweets
        self._sleep, self._clock = sleep, clock
        self._remaining: int | None = None
        self._reset_at: float | None = None  # epoch seconds, on self._clock
        self._count = [0, 0, 0.0]  # requests, rate-limit waits, seconds waited (for the current call)
        self.total_requests = 0
        self.client = tweepy.Client(bearer_token=bearer_token, return_type=dict, wait_on_rate_limit=False)
        self.client.session = self._session = _Session(self.api_url, timeout, self._after_request)
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

    def __enter__(self) -> TwitterSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()

    def query(self, hashtag: str) -> str:
        """The search query for a hashtag."""
        tag = clean_hashtag(hashtag)
        return f"#{tag}" if self.include_retweets else f"#{tag} -is:retweet"

    def search_page(self, hashtag: str, *, since_id: str | None = None, next_token: str | None = None,
                    max_results: int = MAX_RESULTS) -> SearchPage:
        """One page of recent search for ``#hashtag`` newer than ``since_id``, newest first."""
        query = self.query(hashtag)
        limit = max(MIN_RESULTS, min(MAX_RESULTS, int(max_results)))
        self._count = [0, 0, 0.0]
        body = self._call(f"search {query!r}", lambda: self.client.search_recent_tweets(
            query, since_id=since_id, next_token=next_token, max_results=limit, expansions=EXPANSIONS,
            tweet_fields=TWEET_FIELDS, media_fields=MEDIA_FIELDS, place_fields=PLACE_FIELDS,
            user_fields=USER_FIELDS))
        return self._page(body, self._session.last_url)

    def lookup(self, ids: Sequence[str]) -> dict[str, PostRecord | None]:
        """Each id's tweet as a record, or None when X says it does not exist (deleted).

        Ids missing from the answer could not be checked (withheld, protected, malformed); a
        401/403/5xx raises and says nothing about any tweet."""
        found: dict[str, PostRecord | None] = {}
        wanted = list(dict.fromkeys(str(i) for i in ids))
        for start in range(0, len(wanted), 100):
            chunk = wanted[start:start + 100]
            self._count = [0, 0, 0.0]
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
        return SearchPage(
            posts=tuple(posts.values()), ids=tuple(ids), read=len(data),
            newest_id=str(newest) if newest else None, next_token=meta.get("next_token") or None,
            opted_out=opted_out, repeats=repeats, retweets=retweets, skipped=tuple(skipped),
            oldest_created_at=min(times, default=None), request_url=url, requests=int(self._count[0]),
            rate_limit_waits=int(self._count[1]), waited_seconds=float(self._count[2]))

    def _lookup_answer(self, body: Any, asked: list[str]) -> dict[str, PostRecord | None]:
        body = self._body(body, "lookup")
        includes = Includes.from_response(body.get("includes"))
        url, fetched_at = self._session.last_url, datetime.now(UTC)
        out: dict[str, PostRecord | None] = {}
        for tweet in body.get("data") or ():
            if not isinstance(tweet, Mapping) or str(tweet.get("id")) not in asked:
                continue
            try:
                out[str(tweet["id"])] = tweet_to_record(tweet, includes, server=self.api_url,
                                                        fetched_from=url, fetched_at=fetched_at)
            except SourceError as exc:
                log.warning("%s: lookup: %s", self.api_url, exc)
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
        while True:
            self._wait_for_window(what)
            try:
                return fn()
            except TooManyRequests as exc:
                limited += 1
                said = self._detail(exc)
                wait = self._reset_wait(exc.reset_time, limited)
                if "usage-capped" in said.lower() or "usagecap" in said.lower().replace(" ", ""):
                    raise RateLimited(f"{self.api_url}: {what}: X's monthly usage cap of this app is used "
                                      f"up ({said}); it comes back with the next billing period",
                                      retry_after=wait) from exc
                if wait > self.max_wait or limited > self.max_retries:
                    raise RateLimited(f"{self.api_url}: {what}: rate limited (HTTP 429) {limited} time(s); "
                                      f"the window resets in {wait:.0f} s", retry_after=wait) from exc
                self._wait(wait, rate_limit=True)
            except (Unauthorized, Forbidden) as exc:
                status = exc.response.status_code
                raise SourceAuthError(self._scrub(
                    f"{self.api_url}: {what}: X refused the bearer token from ${BEARER_ENV} "
                    f"({self._detail(exc)}): check that the token is valid and that the app has access to "
                    f"the v2 recent search endpoint, then export it again"),
                    kind="auth", status=status) from exc
            except NotFound as exc:
                raise SourceNotFound(self._scrub(f"{self.api_url}: {what}: not found ({self._detail(exc)}); "
                                                 f"is sources.twitter.api_url right?"),
                                     kind="not_found", status=404) from exc
            except BadRequest as exc:
                raise SourceError(self._scrub(f"{self.api_url}: {what}: refused ({self._detail(exc)})"),
                                  kind="http", status=400) from exc
            except (TwitterServerError, requests.RequestException, ValueError) as exc:
                failures += 1
                if failures > self.max_retries:
                    status = exc.response.status_code if isinstance(exc, TwitterServerError) else None
                    raise SourceUnavailable(self._scrub(
                        f"{self.api_url}: {what} failed {failures} time(s), giving up: {self._detail(exc)}"),
                        kind="unavailable", status=status) from exc
                self._wait(min(self.backoff_seconds * 2 ** (failures - 1), self.max_wait), rate_limit=False)
            except HTTPException as exc:
                status = exc.response.status_code
                raise SourceError(self._scrub(f"{self.api_url}: {what}: refused ({self._detail(exc)})"),
                                  kind="http", status=status) from exc

    def _detail(self, exc: Exception) -> str:
        """What X answered, in a few words (never the token, never a whole page)."""
        response = getattr(exc, "response", None)
        if not isinstance(response, requests.Response):
            return f"no answer: {type(exc).__name__}: {_short(str(exc))}"
        head = f"HTTP {response.status_code} {response.reason or ''}".strip()
        try:
            body = response.json()
        except ValueError:
            return f"{head}, {len(response.content)} bytes that are not JSON"
        if not isinstance(body, Mapping):
            return head
        parts = [str(body[k]) for k in ("title", "detail", "type") if body.get(k)]
        for error in body.get("errors") or ():
            if isinstance(error, Mapping) and error.get("message"):
                parts.append(str(error["message"]))
        return f"{head}: {_short('; '.join(parts))}" if parts else head

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    # -- rate limits --------------------------------------------------------------------------

    def _after_request(self, response: requests.Response | None) -> None:
        self._count[0] += 1
        self.total_requests += 1
        if response is None:
            return
        self._remaining = as_int(response.headers.get("x-rate-limit-remaining"))
        reset = as_int(response.headers.get("x-rate-limit-reset"))
        self._reset_at = float(reset) if reset is not None else None

    def _wait_for_window(self, what: str) -> None:
        """Before a request: when the window is used up, wait for its reset (or refuse a long wait)."""
        if self._remaining is None or self._remaining > 0 or self._reset_at is None:
            return
        wait = self._reset_at - self._clock() + 1
        if wait > self.max_wait:
            raise RateLimited(f"{self.api_url}: {what}: rate limit used up; it resets in {wait:.0f} s",
                              retry_after=wait)
        self._remaining = None
        self._wait(wait, rate_limit=True)

    def _reset_wait(self, reset_time: int | None, attempt: int) -> float:
        self._remaining = None  # the wait covers the window
        if reset_time is not None:
            wait = reset_time - self._clock() + 1
            if wait > 0:
                return wait
        return self.backoff_seconds * 2 ** (attempt - 1)

    def _wait(self, seconds: float, *, rate_limit: bool) -> None:
        if seconds <= 0:
            return
        self._sleep(seconds)
        self._count[2] += seconds
        if rate_limit:
            self._count[1] += 1


def normalize_api_url(url: str) -> str:
    """``scheme://host[:port][/prefix]`` without a trailing slash; ConfigError when not http(s)."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError([f"sources.twitter.api_url: {url!r} is not an http(s) URL; the default is "
                           f"{DEFAULT_SERVER}"])
    return url


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
