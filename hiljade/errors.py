"""One exception root for hiljade; adapters translate vendor errors into these."""

from __future__ import annotations


class HiljadeError(Exception):
    """Root of every error hiljade raises on purpose."""


class ConfigError(HiljadeError, ValueError):
    """The configuration is invalid; ``problems`` lists every problem with its fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")


class StoreError(HiljadeError):
    """The database could not be opened, migrated or written."""


class SourceError(HiljadeError):
    """A source (server, API, file) failed; ``kind`` names the failure family."""

    def __init__(self, message: str, *, kind: str = "error", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class SourceAuthError(SourceError):
    """401/403: the source refuses us (missing or bad token, closed feed)."""


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


class ReviewError(HiljadeError, ValueError):
    """A review decision that cannot be made as asked (unknown id, a point outside the area ...)."""


class LockBusy(HiljadeError):
    """Another hiljade run holds the run lock (``holder`` says who, when known); nothing was written."""

    def __init__(self, message: str, *, holder: object | None = None) -> None:
        super().__init__(message)
        self.holder = holder
