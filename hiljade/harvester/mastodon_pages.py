"""Pages of a Mastodon hashtag timeline: the request as plain JSON, and the page read into records.

``timeline_json`` asks ``/api/v1/timelines/tag/:tag`` through hiljade's one HTTP session, exactly as
Mastodon.py's ``timeline_hashtag`` would (the same query, headers, timeout and feed probe), but
keeps the answer as the plain JSON hiljade reads anyway: Mastodon.py's typed conversion costs more
than everything else a page does. Failures are raised as the Mastodon.py errors its request layer
raises (``MastodonNetworkError``, ``MastodonRatelimitError``, ``MastodonAPIError`` and its
subclasses by status), so ``MastodonSource`` translates both ways of asking with one retry loop.
``read_page`` turns the statuses of a page into ``PostRecord``s, whichever way they were asked.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonBadGatewayError,
    MastodonDeprecationWarning,
    MastodonGatewayTimeoutError,
    MastodonInternalServerError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonServiceUnavailableError,
    MastodonUnauthorizedError,
    MastodonWarning,
)

from hiljade.errors import SourceError
from hiljade.harvester.http import HttpSession
from hiljade.harvester.mastodon_status import opt_out_reason, parse_time, status_id, status_to_record
from hiljade.records import FIELD_LIMITS, PostRecord, text_problem, unstorable

# The Mastodon.py error for an answer that is not OK, by status (as its request layer chooses them).
_ERRORS: dict[int, type[MastodonAPIError]] = {
    404: MastodonNotFoundError, 401: MastodonUnauthorizedError, 500: MastodonInternalServerError,
    502: MastodonBadGatewayError, 503: MastodonServiceUnavailableError, 504: MastodonGatewayTimeoutError,
}


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


def timeline_params(max_id: str | None, min_id: str | None, limit: int | None) -> dict[str, Any]:
    """The query of a timeline page, in the order Mastodon.py sends it (so the URL is the same)."""
    asked = {"max_id": max_id, "min_id": min_id, "limit": limit}
    return {key: value for key, value in asked.items() if value is not None}


def timeline_json(api: Mastodon, http: HttpSession, base_url: str, tag: str, params: Mapping[str, Any], *,
                  access_token: str | None, timeout: float) -> Any:
    """The JSON answer to ``/api/v1/timelines/tag/<tag>`` (``tag`` already quoted for a path).

    As Mastodon.py's ``timeline_hashtag``: its feed probe first (``timeline_is_available``, cached
    by Mastodon.py, warning when the feed needs a login this client lacks), then one GET with the
    bearer token; a failure raises the Mastodon.py error its request layer would."""
    if not api.timeline_is_available("hashtag", with_auth=access_token is not None, fail_hard=False):
        warnings.warn(f"Timeline 'tag/{tag}' appears to be unavailable on this instance for the current "
                      "auth context.", MastodonWarning, stacklevel=2)
    endpoint = f"/api/v1/timelines/tag/{tag}"
    headers = {"Authorization": f"Bearer {access_token}"} if access_token is not None else {}
    try:  # the no-op auth keeps a .netrc entry from replacing the bearer token, as in Mastodon.py
        response = http.request("GET", base_url + endpoint, params=dict(params), headers=headers,
                                timeout=timeout, auth=lambda prepared: prepared)
    except Exception as exc:  # any failure to get an answer, as Mastodon.py wraps it
        raise MastodonNetworkError(f"Could not complete request: {exc}") from exc
    if "deprecation" in response.headers:
        warnings.warn(f"Endpoint {endpoint} is marked as deprecated and may be removed in future Mastodon "
                      "versions.", MastodonDeprecationWarning, stacklevel=2)
    if not response.ok:
        raise _api_error(response)
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deeply
        raise MastodonAPIError(f"Could not parse response as JSON, response code was {response.status_code}",
                               f"Exception was: {type(exc).__name__}") from exc


def _api_error(response: requests.Response) -> Exception:
    """The Mastodon.py error for an answer that is not OK."""
    if response.status_code == 429:
        return MastodonRatelimitError("Hit rate limit.")
    try:
        body = response.json()
    except ValueError:  # a RecursionError goes up, as from Mastodon.py: the loop reads it as too deep
        body = None
    said = body.get("error") if isinstance(body, dict) else body if isinstance(body, str) else None
    status = response.status_code
    kind = _ERRORS.get(status) or (MastodonServerError if 500 <= status <= 511 else MastodonAPIError)
    return kind("Mastodon API returned error", status, response.reason, said)


def read_page(data: list[Any], *, server: str, url: str, fetched_at: datetime,
              response: requests.Response, requests_made: int, rate_limit_waits: int,
              waited_seconds: float) -> Page:
    """The page of statuses ``data`` (plain JSON, server order) answered by ``response`` to ``url``."""
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
        bad_id = text_problem("its id", sid, FIELD_LIMITS["native_id"])
        if bad_id:  # never a cursor: it could not be stored
            malformed.append(f"a status whose id cannot be stored: {bad_id}")
            continue
        ids.append(sid)
        original = item["reblog"] if isinstance(item.get("reblog"), dict) else item
        if opt_out_reason(original.get("account") or {}):
            opted_out += 1
            continue
        try:
            record = status_to_record(item, server=server, fetched_from=url, fetched_at=fetched_at)
        except SourceError as exc:
            malformed.append(f"status {sid}: {exc}")
            continue
        except RecursionError:
            malformed.append(f"status {sid}: nested too deeply to read")
            continue
        problem = unstorable(record)
        if problem:
            malformed.append(f"status {sid} cannot be stored: {problem}")
            continue
        if record.uri not in seen:
            seen.add(record.uri)
            posts.append(record)
    last = data[-1] if data and isinstance(data[-1], dict) else {}
    links = response.links
    return Page(
        posts=tuple(posts), opted_out=opted_out, ids=tuple(ids),
        oldest_created_at=parse_time(last.get("created_at")), request_url=url,
        requests=requests_made, rate_limit_waits=rate_limit_waits, waited_seconds=waited_seconds,
        next_max_id=_query_value(links.get("next"), "max_id"),
        prev_min_id=_query_value(links.get("prev"), "min_id", "since_id"),
        malformed=tuple(malformed),
    )


def _query_value(link: Mapping[str, str] | None, *names: str) -> str | None:
    """The first of ``names`` found in the query of a Link header entry."""
    query = parse_qs(urlsplit(link["url"]).query) if link and link.get("url") else {}
    return next((query[name][-1] for name in names if query.get(name)), None)
