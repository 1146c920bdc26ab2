"""Hashtag feeds of Mastodon-API servers, read one page at a time.

Timeline pages are asked as plain JSON through the one HTTP session, the way Mastodon.py asks
them (``mastodon_pages``; ``typed_pages=True`` goes through Mastodon.py's typed objects instead);
Mastodon.py keeps the rest: its feed probe, single statuses for the recheck.

Works with any server that speaks the Mastodon client API (Mastodon, GoToSocial, Akkoma,
Pleroma, Takahē ...): ids stay opaque strings, missing fields are tolerated, requests are
paced even when a server sends no X-RateLimit headers, and every failure becomes one of the
``hiljade.errors.Source*`` errors. Statuses become records in ``mastodon_status`` (pure
functions, re-exported here: ``status_to_record``, ``opt_out_reason``).
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNetworkError, MastodonRatelimitError

from hiljade.defaults import DEFAULTS
from hiljade.errors import (
    ConfigError,
    RateLimited,
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceUnavailable,
    http_error,
    retryable,
    server_time,
)
from hiljade.harvester.http import HttpClient, HttpSession, Retries
from hiljade.harvester.mastodon_pages import Page, read_page, timeline_json, timeline_params
from hiljade.harvester.mastodon_status import as_int, opt_out_reason, parse_time, status_to_record
from hiljade.records import PostRecord, unstorable
from hiljade.secrecy import keep_secret, scrub
from hiljade.wording import plural

__all__ = ["MastodonSource", "Page", "clean_hashtag", "normalize_base_url", "opt_out_reason",
           "status_to_record"]
log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_WAIT_SECONDS = 15 * 60.0
MASTODON_DEFAULTS = DEFAULTS["sources"]["mastodon"]
_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_VALID_HASHTAG = re.compile(r"[\w·]+")
# Mastodon.py caches /api/v2/instance here after its "is the hashtag feed open?" probe; a failed
# probe is not cached and would be repeated before every page, so an empty answer is cached.
_PROBE_CACHE = "_Mastodon__instance_v2_cache"
# Where a server says it is alive: Mastodon answers these paths with or without a trailing slash,
# Takahē only without (Mastodon.py's instance_v1() asks with one).
_INSTANCE_PATHS = ("/api/v1/instance", "/api/v2/instance", "/api/v1/instance/", "/api/v2/instance/")


class MastodonSource(HttpClient):
    """One Mastodon-API server: hashtag pages and single statuses, politely (one instance per server)."""

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        token_env: str | None = None,
        timeout: float = 30,
        total_timeout: float = MASTODON_DEFAULTS["total_timeout_seconds"],
        max_retries: int = 4,
        backoff_seconds: float = 2.0,
        min_interval: float = 1.0,
        user_agent: str = "hiljade/0.1 (+https://example.invalid)",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_wait: float = MAX_WAIT_SECONDS,
        typed_pages: bool = False,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        # True: timeline pages through Mastodon.py's typed objects (the old way, kept as the benchmark's
        # peer and a fallback); False: the same request as plain JSON through the one session
        self.typed_pages = typed_pages
        self._timeout = timeout
        if access_token is None and token_env:
            access_token = os.environ.get(token_env) or None
            if access_token is None:
                raise ConfigError([f"sources.mastodon.servers: {self.base_url}: token_env {token_env} is "
                                   f"not set in the environment: export {token_env}=<access token>"])
        if access_token:
            keep_secret(access_token, token_env or "the access token")
        self._token, self._token_env = access_token, token_env
        self._notes: list[str] = []
        # the session Mastodon.py sends through: paces, counts, reads the rate-limit headers
        self._http = HttpSession(user_agent=user_agent, min_interval=min_interval, max_redirects=5,
                                      retries=Retries(max_retries, backoff_seconds, max_wait), sleep=sleep,
                                      clock=clock, limits=_read_limits, total_timeout=total_timeout)
        self._api = Mastodon(api_base_url=self.base_url, access_token=access_token, version_check_mode="none",
                             request_timeout=timeout, user_agent=user_agent, ratelimit_method="throw",
                             session=self._http)

    def tag_page(self, hashtag: str, *, min_id: str | None = None, max_id: str | None = None,
                 limit: int = 40) -> Page:
        """One page of ``#hashtag``: newest first; ``max_id`` asks older, ``min_id`` the page just newer."""
        tag = clean_hashtag(hashtag)
        what = f"#{tag} timeline"
        self._http.reset_counts()
        if self.typed_pages:  # Mastodon.py's typed objects, thrown away: the answer is read as JSON below
            self._call(what, lambda: self._api.timeline_hashtag(
                quote(tag, safe=""), min_id=min_id, max_id=max_id, limit=limit))
            data = None
        else:
            params = timeline_params(max_id, min_id, limit)
            data = self._call(what, lambda: timeline_json(
                self._api, self._http, self.base_url, quote(tag, safe=""), params,
                access_token=self._token, timeout=self._timeout))
        response, url = self._http.last_response, self._http.last_url
        assert response is not None  # the call succeeded, so a response arrived
        data = self._json(response, list, what, data)
        counts = self._http.counts
        return read_page(data, server=self.base_url, url=url, fetched_at=datetime.now(UTC), response=response,
                         requests_made=counts.requests, rate_limit_waits=counts.rate_limit_waits,
                         waited_seconds=counts.waited_seconds)

    def status(self, native_id: str) -> PostRecord | None:
        """The status with this id on this server, or None when the server says 404/410 (deleted)."""
        self._http.reset_counts()
        try:
            self._call(f"status {native_id}", lambda: self._api.status(quote(str(native_id), safe="")))
        except SourceNotFound:
            return None
        response = self._http.last_response
        assert response is not None
        data = self._json(response, dict, f"status {native_id}")
        try:
            record = status_to_record(data, server=self.base_url, fetched_from=self._http.last_url,
                                      fetched_at=datetime.now(UTC))
        except RecursionError as exc:
            raise SourceError(f"status {native_id}: nested too deeply to read", kind="malformed") from exc
        problem = unstorable(record)
        if problem:  # the same check as a harvested status: never handed on to be stored
            raise SourceError(f"status {native_id} cannot be stored: {problem}", kind="malformed")
        return record

    def speaks_mastodon(self) -> bool:
        """True when the server still answers as a fediverse server: an instance document at
        ``/api/v1/instance`` or ``/api/v2/instance`` (each without and with a trailing slash, as
        servers answer one or the other), else a NodeInfo document found through
        ``/.well-known/nodeinfo``. Its 404s for statuses can then be trusted as deletions (a dead or
        parked domain answers 404 to everything)."""
        self._http.reset_counts()
        for path in _INSTANCE_PATHS:
            data = self._get_json(self.base_url + path)
            if isinstance(data, dict) and (data.get("uri") or data.get("domain") or data.get("title")):
                return True
        return self._speaks_nodeinfo()

    def _speaks_nodeinfo(self) -> bool:
        """True when ``/.well-known/nodeinfo`` links a NodeInfo document of this server naming its
        software."""
        index = self._get_json(self.base_url + "/.well-known/nodeinfo")
        links = index.get("links") if isinstance(index, dict) else None
        host = urlsplit(self.base_url).netloc
        for link in links if isinstance(links, list) else ():
            href = link.get("href") if isinstance(link, dict) else None
            if not isinstance(href, str) or urlsplit(href).netloc != host:
                continue  # only the server's own document says the server is alive
            document = self._get_json(href)
            software = document.get("software") if isinstance(document, dict) else None
            if isinstance(software, dict) and software.get("name"):
                return True
        return False

    def _get_json(self, url: str) -> Any:
        """The JSON body of a 200 answer to ``url``, or None (any failure, any other status)."""
        try:
            self._http.wait_for_window(f"{self.base_url}: instance")
            response = self._http.get(url, headers={"Accept": "application/json"}, allow_redirects=False)
        except (requests.RequestException, SourceError):
            return None
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            return None

    # -- one call with retries, waits and error translation ------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        failures = limited = 0
        http = self._http
        while True:
            http.wait_for_window(f"{self.base_url}: {what}")
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
                wait = http.rate_limit_wait(limited)
                if not http.wait_rate_limit(limited, wait):
                    raise RateLimited(self._scrub(f"{self.base_url}: {what}: rate limited (HTTP 429) "
                                                  f"{plural(limited, 'time')}; server asks to wait "
                                                  f"{wait:.0f} s"),
                                      retry_after=wait) from exc
            except RecursionError as exc:  # JSON nested too deeply to read: a malformed answer
                text = f"{self.base_url}: {what}: the answer is JSON nested too deeply to read"
                raise SourceUnavailable(text, kind="bad_response", status=self._status()) from exc
            except (MastodonNetworkError, MastodonAPIError) as exc:
                status = self._status()
                if status is not None and not retryable(status):
                    raise self._refusal(what, exc, status) from exc
                failure = http.last_failure
                if status is None and failure is not None and failure.unresolvable:  # no retry will help soon
                    raise SourceUnavailable(self._scrub(f"{self.base_url}: {what}: {failure.text}"),
                                            kind="network") from exc
                failures += 1
                if not http.backoff(failures):
                    raise SourceUnavailable(self._scrub(
                        f"{self.base_url}: {what} failed {plural(failures, 'time')}, giving up: "
                        f"{self._detail(exc)}"),
                        kind="unavailable", status=status) from exc

    def _refusal(self, what: str, exc: Exception, status: int) -> SourceError:
        """The error for a 4xx answer, worded for a Mastodon server."""
        said, response = self._detail(exc), self._http.last_response
        not_found = (f"{self.base_url}: {what}: not found ({said}); is {self.base_url} a "
                     f"Mastodon-API server with public hashtag timelines?")
        return http_error(status, self._scrub(f"{self.base_url}: {what}: refused ({said})"),
                          headers=response.headers if response is not None else None,
                          body=response.text[:2000] if response is not None else "",
                          messages={SourceAuthError: self._auth_message(what, status),
                                    SourceNotFound: self._scrub(not_found)})

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
        response = self._http.last_response
        return response.status_code if response is not None else None

    def _detail(self, exc: Exception | None) -> str:
        """What the server answered, in a few words (never the token, never a whole page)."""
        response = self._http.last_response
        if response is None:
            failure = self._http.last_failure
            if failure is not None:
                return failure.text
            return f"no answer: {type(exc).__name__ if exc else 'error'}: {_short(str(exc or ''))}"
        head = f"HTTP {response.status_code} {response.reason or ''}".strip()
        kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
        try:
            body = response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            text = response.text.strip() if len(response.content) <= 200 else ""
            if text and "<" not in text:  # a short plain answer, e.g. Takahē's "Invalid Bearer token"
                return f"{head}, {kind}: {_short(text)}"
            return f"{head}, {len(response.content)} bytes of {kind} that is not valid JSON"
        if isinstance(body, dict) and body.get("error"):
            return f"{head}: {_short(str(body['error']))}"
        return head

    def _json(self, response: requests.Response, expected: type, what: str, data: Any = None) -> Any:
        """The answer's JSON (``data`` when it was read already), which must be an ``expected``."""
        try:
            data = response.json() if data is None else data  # Mastodon.py has parsed this body already
        except (ValueError, RecursionError) as exc:
            raise SourceUnavailable(f"{self.base_url}: {what}: the answer is not JSON hiljade can read",
                                    kind="bad_response", status=response.status_code) from exc
        if not isinstance(data, expected):
            text = f"{self.base_url}: {what}: expected a JSON {expected.__name__}, got {type(data).__name__}"
            raise SourceUnavailable(text, kind="bad_response", status=response.status_code)
        return data

    def _scrub(self, text: str) -> str:
        return scrub(text)  # the token was registered by __init__



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
    text = " ".join(scrub(text).split())  # masked before it is cut, so no piece of a secret stays
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_limits(response: requests.Response) -> tuple[int | None, float | None]:
    """(requests left, seconds until the window resets) from the X-RateLimit headers, which are then
    removed: Mastodon.py would raise on a reset time it cannot parse."""
    remaining, reset_in = as_int(response.headers.get("X-RateLimit-Remaining")), _reset_in(response.headers)
    for name in _RATE_HEADERS:
        response.headers.pop(name, None)
    return remaining, None if reset_in is None else max(0.0, reset_in)


def _reset_in(headers: Mapping[str, str]) -> float | None:
    """Seconds until X-RateLimit-Reset (ISO time as Mastodon, epoch seconds as GoToSocial), or None."""
    value = (headers.get("X-RateLimit-Reset") or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        moment = parse_time(value)
        return None if moment is None else moment.timestamp() - server_time(headers)
    return number - server_time(headers) if number > 1e9 else number  # a small number is a delta
