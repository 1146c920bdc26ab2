"""The XRPC client behind the Bluesky source: log in, search, refresh, wait out rate limits.

Plain ``requests`` against the PDS (`sources.bluesky.service_url`): ``createSession`` with a handle
and an app password, ``refreshSession`` when the access token expired, ``searchPosts`` for a
hashtag. 429 is waited out until ``RateLimit-Reset`` (at most 15 minutes), 5xx and network
errors are retried with backoff, and every failure becomes one of the ``hiljade.errors.Source*``
errors. The password and every session token are registered with ``hiljade.secrecy`` (a token
too short to be masked is refused), so messages never carry them, even when the service echoes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from hiljade import __version__
from hiljade.defaults import BLUESKY_PASSWORD_ENV as PASSWORD_ENV
from hiljade.defaults import DEFAULTS
from hiljade.errors import RateLimited, SourceAuthError, SourceError, SourceUnavailable, http_error
from hiljade.harvester.http import HttpSession, Retries
from hiljade.secrecy import MIN_SECRET_LENGTH, add_secret, keep_secret, scrub

MAX_LIMIT = 100  # searchPosts answers at most 100 posts a page
MAX_WAIT_SECONDS = 15 * 60.0


@dataclass(frozen=True)
class SearchPage:
    """One searchPosts answer, with what it cost to get it."""

    views: tuple[dict[str, Any], ...]
    cursor: str | None
    request_url: str  # the URL asked (no token in it)
    requests: int
    rate_limit_waits: int
    waited_seconds: float


class BlueskyClient:
    """A logged-in XRPC client for searchPosts; the password stays in this object, never in messages."""

    def __init__(
        self,
        service_url: str,
        handle: str,
        password: str,
        *,
        session: HttpSession | None = None,
        timeout: float = 30.0,
        total_timeout: float = DEFAULTS["sources"]["bluesky"]["total_timeout_seconds"],
        max_retries: int = 3,
        user_agent: str = f"hiljade/{__version__}",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.server = service_url.rstrip("/")
        self.handle, self._password = handle, keep_secret(password, PASSWORD_ENV)
        self.session = session or HttpSession(
            user_agent=user_agent, timeout=timeout, retries=Retries(max_retries, 1.0, MAX_WAIT_SECONDS),
            sleep=sleep, clock=clock, limits=self._read_limits, total_timeout=total_timeout)
        self._access: str | None = None
        self._refresh: str | None = None

    def search(self, tag: str, *, since: str | None, cursor: str | None, limit: int) -> SearchPage:
        """One page of posts carrying ``#tag``, newest first (logs in on first use)."""
        counts = self.session.reset_counts()  # this page's requests (a login included) and waits
        if self._access is None:
            self.login()
        params: dict[str, Any] = {
            "q": f"#{tag}",
            "tag": tag,
            "sort": "latest",
            "limit": min(limit, MAX_LIMIT),
        }
        if since:
            params["since"] = since
        if cursor:
            params["cursor"] = cursor
        data = self._call("GET", "app.bsky.feed.searchPosts", params=params)
        views = tuple(v for v in data.get("posts") or () if isinstance(v, dict))
        next_cursor = (
            data.get("cursor") if isinstance(data.get("cursor"), str) and data.get("cursor") else None
        )
        url = f"{self.server}/xrpc/app.bsky.feed.searchPosts?{urlencode(params)}"
        return SearchPage(
            views,
            next_cursor,
            url,
            counts.requests,
            counts.rate_limit_waits,
            counts.waited_seconds,
        )

    def login(self) -> None:
        """``createSession`` with the handle and the app password."""
        try:
            data = self._call(
                "POST",
                "com.atproto.server.createSession",
                body={"identifier": self.handle, "password": self._password},
                auth=None,
            )
        except SourceAuthError as exc:
            raise SourceAuthError(
                f"Bluesky refused the login of {self.handle} on {self.server} ({exc}); check "
                f"sources.bluesky.handle and {PASSWORD_ENV} (an app password, not the account password)",
                kind="auth",
                status=exc.status,
            ) from None
        self._store_tokens(data)

    def _refresh_session(self) -> None:
        try:
            data = self._call(
                "POST", "com.atproto.server.refreshSession", auth=self._refresh, retry_auth=False
            )
        except SourceError:
            self.login()
            return
        self._store_tokens(data)

    def _read_limits(self, response: requests.Response) -> tuple[int | None, float | None]:
        """(None, seconds until ``RateLimit-Reset``, epoch seconds): waited for after a 429 only."""
        reset = response.headers.get("RateLimit-Reset", "")
        return None, int(reset) - self.session.pacer.clock() if reset.isdigit() else None

    def _store_tokens(self, data: Mapping[str, Any]) -> None:
        access, refresh = data.get("accessJwt"), data.get("refreshJwt")
        if not isinstance(access, str) or not access:
            raise SourceError("createSession answered without an access token", kind="malformed")
        refresh = refresh if isinstance(refresh, str) and refresh else None
        for token in (access, refresh):
            if token is not None and len(token) < MIN_SECRET_LENGTH:
                raise SourceError(f"{self.server} answered a session token of {len(token)} characters, too "
                                  "short to be real (and to be kept out of messages)", kind="malformed")
            if token is not None:
                add_secret(token)
        self._access, self._refresh = access, refresh

    def _call(
        self,
        method: str,
        nsid: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        auth: str | None | bool = True,
        retry_auth: bool = True,
    ) -> dict[str, Any]:
        url = f"{self.server}/xrpc/{nsid}"
        failures = limited = 0
        refreshed = not retry_auth
        http = self.session
        while True:
            token = self._access if auth is True else auth or None
            headers = {"Accept": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            try:
                response = http.request(method, url, params=params, json=body, headers=headers)
            except requests.RequestException as exc:
                failure = SourceUnavailable(f"{nsid} on {self.server}: {type(exc).__name__}", kind="network")
                failures = self._retry(failures, failure, exc)
                continue
            status = response.status_code
            error = _error_of(response)
            if status == 200:
                try:
                    data = response.json()
                except (ValueError, RecursionError) as exc:
                    failure = SourceUnavailable(
                        f"{nsid} on {self.server}: the answer is not JSON", kind="malformed"
                    )
                    failures = self._retry(failures, failure, exc)
                    continue
                if not isinstance(data, dict):
                    raise SourceError(
                        f"{nsid} on {self.server}: the answer is not a JSON object", kind="malformed"
                    )
                return data
            if status in (400, 401) and error[0] in ("ExpiredToken", "InvalidToken") and not refreshed:
                refreshed = True
                self._refresh_session()
                continue
            if status == 429:
                limited += 1
                wait = max(1.0, http.rate_limit_wait(limited, fallback=60.0))
                if not http.wait_rate_limit(limited, wait):
                    raise RateLimited(
                        f"{nsid} on {self.server}: rate limited for {wait:.0f} s more", retry_after=wait
                    )
                continue
            message = f"HTTP {status} from {nsid} on {self.server}: {error[0]} {error[1]}".rstrip()
            failure = http_error(status, message, headers=response.headers, kinds={400: "bad_request"})
            if not isinstance(failure, SourceUnavailable):
                raise failure
            failures = self._retry(failures, failure)

    def _retry(self, failures: int, failure: SourceError, cause: Exception | None = None) -> int:
        """Back off after one more failure; raise ``failure`` when the retries are used up."""
        failures += 1
        if not self.session.backoff(failures):
            raise failure from cause
        return failures


def _error_of(response: requests.Response) -> tuple[str, str]:
    """(error name, message) of an XRPC error answer; never the request (which may carry a token)."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return scrub(str(data.get("error") or ""))[:100], scrub(str(data.get("message") or ""))[:200]
