"""One exception root for hiljade, and the one HTTP-status-to-exception table every adapter uses."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

from hiljade.wording import plural


class HiljadeError(Exception):
    """Root of every error hiljade raises on purpose."""


class ConfigError(HiljadeError, ValueError):
    """The configuration is invalid; ``problems`` lists every problem with its fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration ({plural(len(self.problems), 'problem')}):\n{lines}")


class StoreError(HiljadeError):
    """The database could not be opened, migrated or written."""


class SourceError(HiljadeError):
    """A source (server, API, file) failed; ``kind`` names the failure family."""

    def __init__(self, message: str, *, kind: str = "error", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class SourceAuthError(SourceError):
    """401/403, or a 400 about a token: the source refuses us (missing or bad token, closed feed)."""


class SourceNotFound(SourceError):
    """404/410: the endpoint or item does not exist."""


class SourceUnavailable(SourceError, ConnectionError):
    """5xx, timeouts, broken responses that survived the retries."""


class RateLimited(SourceError):
    """429 that could not be waited out; ``retry_after`` in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, kind="rate_limited", status=429)
        self.retry_after = retry_after


class MediaRefused(HiljadeError, ValueError):
    """A media URL or payload was refused by the safety checks (reason in the message).

    ``reason`` is a short code to count by: scheme, private_address, too_large,
    too_many_redirects, not_an_image, format_not_allowed, too_many_pixels, bad_url.
    """

    def __init__(self, message: str, *, reason: str = "refused") -> None:
        super().__init__(message)
        self.reason = reason


class GeocoderError(HiljadeError):
    """The online geocoder failed or refused us.

    ``refused`` is true when the service turned us away (403, 429, bandwidth limit):
    ``hiljade status`` warns about it. ``retry_after`` is in seconds when known.
    """

    def __init__(
        self,
        message: str,
        *,
        refused: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.refused = refused
        self.status = status
        self.retry_after = retry_after


class GazetteerDataError(HiljadeError, ValueError):
    """A gazetteer input file (GeoJSON, Overpass JSON, OSM XML/PBF, CSV) could not be read."""


class ListFileError(HiljadeError, ValueError):
    """An official list (CSV, XLSX, GeoJSON) could not be read: the file, its encoding or a column."""


class ReviewError(HiljadeError, ValueError):
    """A review decision that cannot be made as asked (unknown id, a point outside the area ...)."""


class AccountError(HiljadeError, ValueError):
    """A user account that cannot be added or changed as asked (unknown name, a taken name ...)."""


class LockBusy(HiljadeError):
    """Another hiljade run holds the run lock (``holder`` says who, when known); nothing was written."""

    def __init__(self, message: str, *, holder: object | None = None) -> None:
        super().__init__(message)
        self.holder = holder


# -- HTTP status -> exception (in the manner of geopy's ERROR_CODE_MAP) ----------------------------

ERROR_CODE_MAP: dict[int, type[SourceError]] = {
    401: SourceAuthError,
    403: SourceAuthError,
    404: SourceNotFound,
    408: SourceUnavailable,  # request timeout: worth another try, like a 5xx
    410: SourceNotFound,
    425: SourceUnavailable,  # too early: worth another try
    429: RateLimited,
}
"""Statuses with their own exception; any other 4xx is a SourceError, every 5xx SourceUnavailable."""

KIND_BY_ERROR: dict[type[SourceError], str] = {
    SourceAuthError: "auth",
    SourceNotFound: "not_found",
    SourceUnavailable: "server",
    RateLimited: "rate_limited",
    SourceError: "http",
}


# A 400 about the credentials is an authentication problem too: Takahē answers a bad token with
# 400 "Invalid Bearer token", RFC 6750 names "invalid_token" (in the body or WWW-Authenticate).
TOKEN_REFUSAL = re.compile(
    r"\bbearer\b|invalid[ _-]?token|access[ _-]?token|\bunauthori[sz]ed\b|\bnot authenticated\b",
    re.IGNORECASE,
)


def error_class(status: int, said: str = "") -> type[SourceError] | None:
    """The exception class for an HTTP status; None for a success or redirect (below 400). ``said``
    (the answer's body or WWW-Authenticate header) makes a 400 about a token a SourceAuthError."""
    if status < 400:
        return None
    if status >= 500:
        return SourceUnavailable
    if status == 400 and said and TOKEN_REFUSAL.search(said[:2000]):
        return SourceAuthError
    return ERROR_CODE_MAP.get(status, SourceError)


def retryable(status: int | None) -> bool:
    """True when another try may help: no answer at all, a broken 2xx, 408, 425 or any 5xx."""
    return status is None or error_class(status) in (None, SourceUnavailable)


def http_error(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    messages: Mapping[int | type[SourceError], str] | None = None,
    kinds: Mapping[int | type[SourceError], str] | None = None,
    body: str = "",
) -> SourceError:
    """The exception for an HTTP error answer (``status`` >= 400).

    The class comes from ERROR_CODE_MAP (a 400 whose ``body`` or ``WWW-Authenticate`` header speaks
    of a token is a SourceAuthError: 400, 401 and 403 about a token are all one problem). The text
    is ``message`` unless ``messages`` has one for this status or, failing that, for this class
    (each adapter words its own errors); the kind likewise from ``kinds``, else KIND_BY_ERROR. A
    429 carries ``retry_after`` from the ``Retry-After`` header when there is one.
    """
    said = f"{body[:2000]} {(headers or {}).get('WWW-Authenticate', '')}".strip()
    cls = error_class(status, said) or SourceError
    chosen = messages or {}
    text = chosen.get(status) or chosen.get(cls) or message
    if cls is RateLimited:
        return RateLimited(text, retry_after=retry_after_seconds(headers or {}))
    named = kinds or {}
    kind = named.get(status) or named.get(cls) or KIND_BY_ERROR[cls]
    return cls(text, kind=kind, status=status)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - server_time(headers))
    except (TypeError, ValueError, IndexError):
        return None


def server_time(headers: Mapping[str, str]) -> float:
    """The server's clock from its ``Date`` header (epoch seconds), else ours."""
    try:
        return email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
    except (KeyError, TypeError, ValueError, IndexError):
        return time.time()
