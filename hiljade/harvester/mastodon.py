"""Hashtag feeds of Mastodon-API servers, read with Mastodon.py one page at a time.

Works with any server that speaks the Mastodon client API (Mastodon, GoToSocial, Akkoma,
Pleroma, Takahē ...): ids stay opaque strings, missing fields are tolerated, requests are
paced even when a server sends no X-RateLimit headers, and every failure becomes one of the
``hiljade.errors.Source*`` errors. Statuses become records in ``mastodon_status`` (pure
functions, re-exported here: ``status_to_record``, ``opt_out_reason``).
"""

from __future__ import annotations

import email.utils
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNetworkError, MastodonRatelimitError

from hiljade.errors import (
    ConfigError,
    RateLimited,
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceUnavailable,
)
from hiljade.harvester.mastodon_status import as_int, opt_out_reason, parse_time, status_id, status_to_record
from hiljade.records import PostRecord

__all__ = ["MastodonSource", "Page", "clean_hashtag", "normalize_base_url", "opt_out_reason",
           "status_to_record"]
log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_WAIT_SECONDS = 15 * 60.0
_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_VALID_HASHTAG = re.compile(r"[\w·]+")
# Mastodon.py caches /api/v2/instance here after its "is the hashtag feed open?" probe; a failed
# probe is not cached and would be repeated before every page, so an empty answer is cached.
_PROBE_CACHE = "_Mastodon__instance_v2_cache"


@dataclass(frozen=True)
class Page:
    """One page of a hashtag feed, converted, with what it cost to get it."""

    posts: tuple[PostRecord, ...]  # statuses NOT opted out, server order (newest first), one per uri
    opted_out: int  # statuses skipped because their account opted out
    ids: tuple[str, ...]  # ALL status ids the server returned, server order (newest first)
    oldest_created_at: datetime | None  # created_at of the last status on the page, any opt-out state
    request_url: str  # the URL asked (no token in it)
    requests: int  # HTTP requests made for this page, retries (and Mastodon.py's feed probe) included
    rate_limit_waits: int  # how many times we waited for a rate limit
    waited_seconds: float  # all time slept for this page: pacing, backoff and rate limits
    next_max_id: str | None = None  # from the Link header rel="next" (older page), if any
    prev_min_id: str | None = None  # from the Link header rel="prev" (newer page), if any
    malformed: tuple[str, ...] = ()  # one reason per status that could not be converted


class _Transport(requests.Session):
    """The session Mastodon.py sends through: paces, counts, remembers the last URL and response."""

    def __init__(self, before: Callable[[], None], after: Callable[[requests.Response | None], None]) -> None:
        super().__init__()
        self.max_redirects = 5
        self._before, self._after = before, after
        self.last_url = ""
        self.last_response: requests.Response | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self._before()
        prepared = requests.Request(str(method), str(url), params=kwargs.get("params")).prepare()
        self.last_url, self.last_response = prepared.url or str(url), None
        response = None
        try:
            response = super().request(method, url, *args, **kwargs)
        finally:
            self._after(response)
        self.last_response = response
        return response


class MastodonSource:
    """One Mastodon-API server: hashtag pages and single statuses, politely (one instance per server)."""

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        token_env: str | None = None,
        timeout: float = 30,
        max_retries: int = 4,
        backoff_seconds: float = 2.0,
        min_interval: float = 1.0,
        user_agent: str = "hiljade/0.1 (+https://example.invalid)",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        if access_token is None and token_env:
            access_token = os.environ.get(token_env) or None
            if access_token is None:
                raise ConfigError([f"sources.mastodon.servers: {self.base_url}: token_env {token_env} is "
                                   f"not set in the environment: export {token_env}=<access token>"])
        self._token, self._token_env = access_token, token_env
        self.max_retries, self.backoff_seconds = max_retries, backoff_seconds
        self.min_interval, self.max_wait = min_interval, max_wait
        self._sleep, self._clock = sleep, clock
        self._last_request_at: float | None = None
        self._remaining: int | None = None
        self._reset_at: float | None = None  # on self._clock
        self._count = [0, 0, 0.0]  # requests, rate-limit waits, seconds waited (since the last reset)
        self.total_requests = 0
        self._notes: list[str] = []
        self._transport = _Transport(self._before_request, self._after_request)
        self._api = Mastodon(api_base_url=self.base_url, access_token=access_token, version_check_mode="none",
                             request_timeout=timeout, user_agent=user_agent, ratelimit_method="throw",
                             session=self._transport)

    def __enter__(self) -> MastodonSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._transport.close()

    def tag_page(self, hashtag: str, *, min_id: str | None = None, max_id: str | None = None,
                 limit: int = 40) -> Page:
        """One page of ``#hashtag``: newest first; ``max_id`` asks older, ``min_id`` the page just newer."""
        tag = clean_hashtag(hashtag)
        self._count = [0, 0, 0.0]
        self._call(f"#{tag} timeline", lambda: self._api.timeline_hashtag(
            quote(tag, safe=""), min_id=min_id, max_id=max_id, limit=limit))
        response, url = self._transport.last_response, self._transport.last_url
        assert response is not None  # the call succeeded, so a response arrived
        data = self._json(response, list, f"#{tag} timeline")
        fetched_at = datetime.now(UTC)
        posts: list[PostRecord] = []
        ids: list[str] = []
        malformed: list[str] = []
        seen: set[str] = set()
        opted_out = 0
        for item in data:
            sid = status_id(item.get("id")) if isinstance(item, dict) else None
            if sid is None:
                malformed.append("an item without an id")
                continue
            ids.append(sid)
            original = item["reblog"] if isinstance(item.get("reblog"), dict) else item
            if opt_out_reason(original.get("account") or {}):
                opted_out += 1
                continue
            try:
                record = status_to_record(item, server=self.base_url, fetched_from=url, fetched_at=fetched_at)
            except SourceError as exc:
                malformed.append(f"{sid}: {exc}")
                continue
            if record.uri not in seen:
                seen.add(record.uri)
                posts.append(record)
        last = data[-1] if data and isinstance(data[-1], dict) else {}
        links = response.links
        return Page(
            posts=tuple(posts), opted_out=opted_out, ids=tuple(ids),
            oldest_created_at=parse_time(last.get("created_at")), request_url=url,
            requests=int(self._count[0]), rate_limit_waits=int(self._count[1]), waited_seconds=self._count[2],
            next_max_id=_query_value(links.get("next"), "max_id"),
            prev_min_id=_query_value(links.get("prev"), "min_id", "since_id"),
            malformed=tuple(malformed),
        )

    def status(self, native_id: str) -> PostRecord | None:
        """The status with this id on this server, or None when the server says 404/410 (deleted)."""
        self._count = [0, 0, 0.0]
        try:
            self._call(f"status {native_id}", lambda: self._api.status(quote(str(native_id), safe="")))
        except SourceNotFound:
            return None
        response = self._transport.last_response
        assert response is not None
        data = self._json(response, dict, f"status {native_id}")
        return status_to_record(data, server=self.base_url, fetched_from=self._transport.last_url,
                                fetched_at=datetime.now(UTC))

    def speaks_mastodon(self) -> bool:
        """True when the server still answers ``/api/v1/instance`` with an instance document: its
        404s for statuses can then be trusted as deletions (a dead or parked domain answers 404 to all)."""
        self._count = [0, 0, 0.0]
        try:
            self._call("instance", lambda: self._api.instance_v1())
            data = self._json(self._transport.last_response, dict, "instance")
        except SourceError:
            return False
        return bool(data.get("uri") or data.get("domain") or data.get("title"))

    # -- one call with retries, waits and error translation ------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        failures = limited = 0
        while True:
            self._refuse_long_wait(what)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        return fn()
                    finally:
                        self._notes = [str(w.message) for w in caught]
                        for note in self._notes:
                            log.info("%s: Mastodon.py: %s", self.base_url, note)
                        if getattr(self._api, _PROBE_CACHE, "absent") is None:
                            setattr(self._api, _PROBE_CACHE, {})
            except MastodonRatelimitError as exc:
                limited += 1
                wait = self._rate_limit_wait(limited)
                if wait > self.max_wait or limited > self.max_retries:
                    raise RateLimited(self._scrub(f"{self.base_url}: {what}: rate limited (HTTP 429) "
                                                  f"{limited} time(s); server asks to wait {wait:.0f} s"),
                                      retry_after=wait) from exc
                self._wait(wait, rate_limit=True)
            except (MastodonNetworkError, MastodonAPIError) as exc:
                status = self._status()
                self._raise_final(what, exc, status)
                failures += 1
                if failures > self.max_retries:
                    raise SourceUnavailable(self._scrub(
                        f"{self.base_url}: {what} failed {failures} time(s), giving up: {self._detail(exc)}"),
                        kind="unavailable", status=status) from exc
                backoff = self.backoff_seconds * 2 ** (failures - 1)
                response = self._transport.last_response
                hint = _retry_after(response.headers) if response is not None else None
                self._wait(min(max(backoff, hint or 0.0), self.max_wait), rate_limit=False)

    def _raise_final(self, what: str, exc: Exception, status: int | None) -> None:
        """Raise the error for failures that a retry cannot fix; return for the others."""
        if status in (401, 403):
            raise SourceAuthError(self._auth_message(what, status), kind="auth", status=status) from exc
        if status in (404, 410):
            text = (f"{self.base_url}: {what}: not found ({self._detail(exc)}); is {self.base_url} a "
                    f"Mastodon-API server with public hashtag timelines?")
            raise SourceNotFound(self._scrub(text), kind="not_found", status=status) from exc
        if status is not None and 400 <= status < 500 and status not in (408, 425):
            raise SourceError(self._scrub(f"{self.base_url}: {what}: refused ({self._detail(exc)})"),
                              kind="http", status=status) from exc

    def _auth_message(self, what: str, status: int) -> str:
        said = self._detail(None)
        if self._token is None:
            text = (f"{self.base_url} refused {what} without an access token ({said}): this server "
                    f"requires an access token for hashtag timelines: add {{url: {self.base_url}, "
                    f"token_env: SOME_VAR}} under sources.mastodon.servers and export SOME_VAR")
        else:
            origin = f"${self._token_env}" if self._token_env else "the configured access token"
            text = (f"{self.base_url} refused the access token from {origin} for {what} ({said}): check "
                    f"that it is valid, not revoked and has the read:statuses scope, then export it again")
        notes = [n for n in self._notes if "unavailable" in n]
        return self._scrub(text + (f" (Mastodon.py: {notes[0]})" if notes else ""))

    def _status(self) -> int | None:
        response = self._transport.last_response
        return response.status_code if response is not None else None

    def _detail(self, exc: Exception | None) -> str:
        """What the server answered, in a few words (never the token, never a whole page)."""
        response = self._transport.last_response
        if response is None:
            return f"no answer: {type(exc).__name__ if exc else 'error'}: {_short(str(exc or ''))}"
        head = f"HTTP {response.status_code} {response.reason or ''}".strip()
        kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
        try:
            body = response.json()
        except ValueError:
            return f"{head}, {len(response.content)} bytes of {kind} that is not valid JSON"
        if isinstance(body, dict) and body.get("error"):
            return f"{head}: {_short(str(body['error']))}"
        return head

    def _json(self, response: requests.Response, expected: type, what: str) -> Any:
        data = response.json()  # Mastodon.py has parsed this body already
        if not isinstance(data, expected):
            text = f"{self.base_url}: {what}: expected a JSON {expected.__name__}, got {type(data).__name__}"
            raise SourceUnavailable(text, kind="bad_response", status=response.status_code)
        return data

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    # -- pacing and rate limits ----------------------------------------------------------------

    def _before_request(self) -> None:
        now = self._clock()
        exhausted = self._remaining is not None and self._remaining <= 0
        if exhausted and self._reset_at is not None and self._reset_at > now:
            self._wait(min(self._reset_at - now, self.max_wait), rate_limit=True)
            self._remaining = None
            return
        if self._last_request_at is not None:
            self._wait(self.min_interval - (now - self._last_request_at), rate_limit=False)

    def _after_request(self, response: requests.Response | None) -> None:
        self._last_request_at = self._clock()
        self._count[0] += 1
        self.total_requests += 1
        if response is None:
            return
        remaining = as_int(response.headers.get("X-RateLimit-Remaining"))
        reset_in = _reset_in(response.headers)
        self._remaining = remaining
        self._reset_at = None if reset_in is None else self._clock() + max(0.0, reset_in)
        for name in _RATE_HEADERS:  # read here; Mastodon.py would raise on a reset it cannot parse
            response.headers.pop(name, None)

    def _refuse_long_wait(self, what: str) -> None:
        if self._remaining is not None and self._remaining <= 0 and self._reset_at is not None:
            wait = self._reset_at - self._clock()
            if wait > self.max_wait:
                raise RateLimited(f"{self.base_url}: {what}: rate limit used up; it resets in {wait:.0f} s",
                                  retry_after=wait)

    def _rate_limit_wait(self, attempt: int) -> float:
        response = self._transport.last_response
        hint = _retry_after(response.headers) if response is not None else None
        if hint is None and self._reset_at is not None:
            hint = self._reset_at - self._clock()
        if hint is None or hint <= 0:
            hint = self.backoff_seconds * 2 ** (attempt - 1)
        self._remaining = None  # the wait below covers it
        return hint

    def _wait(self, seconds: float, *, rate_limit: bool) -> None:
        if seconds <= 0:
            return
        self._sleep(seconds)
        self._count[2] += seconds
        if rate_limit:
            self._count[1] += 1


def normalize_base_url(url: str) -> str:
    """``https://server`` without a trailing slash; a bare host name gets https://."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError([f"sources.mastodon.servers: {url!r} is not an http(s) server URL"])
    return url


def clean_hashtag(hashtag: str) -> str:
    """The hashtag without ``#``; letters, digits, ``_`` and ``·`` only."""
    tag = hashtag.strip().lstrip("#")
    if not _VALID_HASHTAG.fullmatch(tag):
        raise ConfigError([f"hashtag {hashtag!r}: use letters, digits and _ only, e.g. hiljadekamera"])
    return tag


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _query_value(link: Mapping[str, str] | None, *names: str) -> str | None:
    """The first of ``names`` found in the query of a Link header entry."""
    query = parse_qs(urlsplit(link["url"]).query) if link and link.get("url") else {}
    return next((query[name][-1] for name in names if query.get(name)), None)


def _server_now(headers: Mapping[str, str]) -> float:
    try:
        return email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
    except (KeyError, TypeError, ValueError, IndexError):
        return time.time()


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from Retry-After (delta seconds or an HTTP date), or None."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - _server_now(headers))
    except (TypeError, ValueError, IndexError):
        return None


def _reset_in(headers: Mapping[str, str]) -> float | None:
    """Seconds until X-RateLimit-Reset (ISO time as Mastodon, epoch seconds as GoToSocial), or None."""
    value = (headers.get("X-RateLimit-Reset") or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        moment = parse_time(value)
        return None if moment is None else moment.timestamp() - _server_now(headers)
    return number - _server_now(headers) if number > 1e9 else number  # a small number is a delta
