"""The online geocoder fallback: geopy's Nominatim, polite, bounded to the area, every answer cached.

Only what the local gazetteer cannot place comes here. Each answer (also "not found") is
cached under the normalised query plus the area bounds, so a re-run makes no requests. A
street name geocoded online is still only a claim: every candidate is ``pending_review``.
A failure that is not a refusal (no network, a timeout, a 5xx) is never cached; after
``GIVE_UP_AFTER_FAILURES`` of them in a row the geocoder stops asking for the rest of the run.
"""

from __future__ import annotations

import json
import math
import ssl
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

from geopy.adapters import RequestsAdapter
from geopy.exc import (
    GeocoderAuthenticationFailure,
    GeocoderInsufficientPrivileges,
    GeocoderQuotaExceeded,
    GeopyError,
)
from geopy.geocoders import Nominatim
from geopy.geocoders import nominatim as geopy_nominatim
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from urllib3.util.retry import Retry

from hiljade import __version__
from hiljade.defaults import DEFAULTS
from hiljade.errors import ConfigError, GeocoderError, RateLimited, SourceAuthError, error_class
from hiljade.harvester.deadline import DeadlineAdapter, DeadlineExceeded
from hiljade.harvester.http import Pacer
from hiljade.pipeline.geometry import cell_diagonal_m
from hiljade.records import Candidate

GEOCODER = DEFAULTS["geocoder"]
NOMINATIM_URL = GEOCODER["url"]
PUBLIC_NOMINATIM_HOST = "nominatim.openstreetmap.org"
RESULT_LIMIT = 5
MIN_PRECISION_M = 10.0
NO_BBOX_PRECISION_M = 1000.0
TOP_CONFIDENCE = 0.5  # a geocoder hit is a lead for a reviewer, never an auto-accepted point
REFUSAL_PAUSE_SECONDS = 600.0  # after a 429 without Retry-After
GIVE_UP_AFTER_FAILURES = 3  # failures in a row (no network, timeout, 5xx) before a run stops asking
_KEYS = {"enabled", "url", "user_agent", "min_delay_seconds", "country_codes", "timeout_seconds",
         "total_timeout_seconds"}
_REFUSALS = (SourceAuthError, RateLimited)  # 401, 403 and 429 in the table of hiljade.errors
_QUOTA_STATUS = {402, 509}  # payment required, bandwidth limit exceeded: quota answers of geocoders


class GeocodeCache(Protocol):
    """Stored geocoder answers. ``get`` gives None when the key was never stored, [] for a
    stored "not found"; ``put`` stores the raw answer list (JSON-serialisable dicts)."""

    def get(self, key: str) -> list[dict[str, Any]] | None: ...

    def put(self, key: str, results: list[dict[str, Any]]) -> None: ...


class MemoryGeocodeCache:
    """A GeocodeCache in a dict; answers go through JSON like the database-backed one."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    def get(self, key: str) -> list[dict[str, Any]] | None:
        """The stored answer list, [] for "not found", None when absent."""
        stored = self.entries.get(key)
        return None if stored is None else json.loads(stored)

    def put(self, key: str, results: list[dict[str, Any]]) -> None:
        """Store (or replace) the answer list for ``key``."""
        self.entries[key] = json.dumps(results, ensure_ascii=False)


@dataclass(frozen=True)
class GeocoderSettings:
    """The ``geocoder`` config section, checked."""

    enabled: bool = True
    url: str = NOMINATIM_URL
    user_agent: str = ""
    min_delay_seconds: float = 1.0
    country_codes: tuple[str, ...] = ("rs",)
    timeout_seconds: float = 10.0  # connect and per read
    total_timeout_seconds: float = GEOCODER["total_timeout_seconds"]  # the whole answer

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> GeocoderSettings:
        """Check the section; raise ConfigError listing every problem with its fix."""
        section = {**GEOCODER, **(section or {})}
        problems = [
            f"geocoder.{k}: unknown key (known: {', '.join(sorted(_KEYS))})"
            for k in sorted(set(section) - _KEYS)
        ]
        enabled = section["enabled"]
        if not isinstance(enabled, bool):
            problems.append(f"geocoder.enabled: must be true or false (got {enabled!r})")
        url = str(section.get("url") or NOMINATIM_URL).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            problems.append(
                f"geocoder.url: give a base URL like {NOMINATIM_URL} or http://127.0.0.1:8080 (got {url!r})"
            )
        agent = section.get("user_agent") or ""
        if enabled is True and (problem := user_agent_problem(agent)):
            problems.append(problem)
        delay = section["min_delay_seconds"]
        public = parts.hostname == PUBLIC_NOMINATIM_HOST
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < (1.0 if public else 0.0):
            problems.append(
                f"geocoder.min_delay_seconds: must be a number, at least 1 for the public "
                f"Nominatim (its usage policy: at most 1 request a second); got {delay!r}"
            )
        codes = section["country_codes"]
        if isinstance(codes, str):
            codes = [c.strip() for c in codes.split(",") if c.strip()]
        if not isinstance(codes, (list, tuple)) or not all(
            isinstance(c, str) and len(c) == 2 and c.isalpha() for c in codes
        ):
            problems.append(f"geocoder.country_codes: two-letter ISO codes like [rs] (got {codes!r})")
        timeout, total = section["timeout_seconds"], section["total_timeout_seconds"]
        for key, value in (("timeout_seconds", timeout), ("total_timeout_seconds", total)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                problems.append(f"geocoder.{key}: must be a positive number (got {value!r})")
        if problems:
            raise ConfigError(problems)
        return cls(
            enabled=enabled,
            url=url.rstrip("/"),
            user_agent=str(agent).strip(),
            min_delay_seconds=float(delay),
            country_codes=tuple(c.lower() for c in codes),
            timeout_seconds=float(timeout),
            total_timeout_seconds=float(total),
        )


def user_agent_problem(agent: Any) -> str | None:
    """Why ``agent`` cannot identify us to Nominatim, or None when it can."""
    text = agent.strip() if isinstance(agent, str) else ""
    if not text:
        return (
            "geocoder.user_agent: required when the geocoder is enabled; name this installation and "
            "a contact, e.g. 'hiljade/0.1 (maps@example.org)' (Nominatim usage policy)"
        )
    defaults = {*geopy_nominatim._REJECTED_USER_AGENTS, "geopy"}
    if text in defaults or text.lower().startswith("geopy/") or text.lower().startswith("python-requests"):
        return f"geocoder.user_agent: {text!r} is a library default or sample; name this installation"
    return None


def normalise_query(query: str) -> str:
    """The query as cached: NFC, case-folded, single spaces (diacritics kept)."""
    return " ".join(unicodedata.normalize("NFC", query).casefold().split())


Bounds = tuple[float, float, float, float]


def cache_key(query: str, bounds: Bounds | None, country_codes: tuple[str, ...]) -> str:
    """The cache key: normalised query + area bounds + country codes."""
    box = "none" if bounds is None else ",".join(f"{v:.5f}" for v in bounds)
    return f"nominatim|{normalise_query(query)}|bbox={box}|cc={','.join(country_codes)}"


class Geocoder:
    """Nominatim through geopy: rate-limited, bounded to the area, cached, errors translated."""

    def __init__(
        self,
        settings: GeocoderSettings,
        *,
        cache: GeocodeCache,
        area: BaseGeometry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.area = area
        self.sleep = sleep
        self.clock = clock
        self.requests_made = 0
        self.refusal: GeocoderError | None = None  # the last refusal, for ``hiljade status``
        self.failure: GeocoderError | None = None  # the last failure that was not a refusal
        self.failures_in_a_row = 0
        self._pacer = Pacer(settings.min_delay_seconds, sleep=sleep, clock=clock)
        self._blocked_until: float | None = None
        self._nominatim: Nominatim | None = None

    @classmethod
    def from_config(
        cls,
        section: dict[str, Any] | None,
        *,
        cache: GeocodeCache,
        area: BaseGeometry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Geocoder:
        """Build from the ``geocoder`` config section (ConfigError when it is unusable)."""
        return cls(GeocoderSettings.from_config(section), cache=cache, area=area, sleep=sleep, clock=clock)

    @property
    def enabled(self) -> bool:
        """False when the configuration turned the online geocoder off."""
        return self.settings.enabled

    @property
    def bounds(self) -> Bounds | None:
        """The area bounds (min_lon, min_lat, max_lon, max_lat), or None without an area."""
        return None if self.area is None else tuple(float(v) for v in self.area.bounds)  # type: ignore[return-value]

    def geocode(self, query: str) -> list[Candidate]:
        """Candidates for a free-text place query; [] when disabled, blank or not found."""
        if not self.enabled or not normalise_query(query):
            return []
        raws, cached = self.lookup(query)
        candidates = []
        for raw in raws:
            candidate = self._candidate(query, raw, len(candidates), cached)
            if candidate is not None:
                candidates.append(candidate)
        return candidates

    def lookup(self, query: str) -> tuple[list[dict[str, Any]], bool]:
        """The raw Nominatim answers for ``query`` and whether they came from the cache."""
        key = cache_key(query, self.bounds, self.settings.country_codes)
        stored = self.cache.get(key)
        if stored is not None:
            return stored, True
        raws = self._request(query)
        self.cache.put(key, raws)
        return raws, False

    def _request(self, query: str) -> list[dict[str, Any]]:
        if self.failures_in_a_row >= GIVE_UP_AFTER_FAILURES:
            raise GeocoderError(
                f"geocoder stopped asking after {self.failures_in_a_row} failures in a row: {self.failure}",
                status=self.failure.status if self.failure else None,
            )
        if self._blocked_until is not None and self.clock() < self._blocked_until:
            earlier = self.refusal
            raise GeocoderError(
                f"geocoder refused us earlier and is paused: {earlier}",
                refused=True,
                status=earlier.status if earlier else None,
                retry_after=self._blocked_until - self.clock(),
            )
        self._pacer.pace()  # requests start min_delay_seconds after the last one ended
        bounds = self.bounds
        try:
            self.requests_made += 1
            found = self._client().geocode(
                query,
                exactly_one=False,
                limit=RESULT_LIMIT,
                viewbox=None if bounds is None else [(bounds[1], bounds[0]), (bounds[3], bounds[2])],
                bounded=bounds is not None,
                country_codes=list(self.settings.country_codes) or None,
            )
        except GeopyError as exc:
            raise self._refusal(exc) from exc
        finally:
            self._pacer.done()
        self.failures_in_a_row = 0
        return [dict(location.raw) for location in found or []]

    def _client(self) -> Nominatim:
        if self._nominatim is None:
            parts = urlsplit(self.settings.url)
            path = parts.path.rstrip("/").removesuffix("/search")
            self._nominatim = Nominatim(
                domain=f"{parts.netloc}{path}",
                scheme=parts.scheme,
                user_agent=self.settings.user_agent,
                timeout=self.settings.timeout_seconds,
                adapter_factory=partial(_adapter, total_timeout=self.settings.total_timeout_seconds),
            )
        return self._nominatim

    def _refusal(self, exc: GeopyError) -> GeocoderError:
        """Translate a geopy error; a refusal also pauses further requests."""
        cause = exc.__cause__
        status = getattr(cause, "status_code", None)
        text = f"{exc} {getattr(cause, 'text', '') or ''}"
        refused = (
            (status is not None and (error_class(status) in _REFUSALS or status in _QUOTA_STATUS))
            or isinstance(
                exc, (GeocoderQuotaExceeded, GeocoderInsufficientPrivileges, GeocoderAuthenticationFailure)
            )
            or "bandwidth limit exceeded" in text.lower()
        )
        retry_after = getattr(exc, "retry_after", None)
        label = f"HTTP {status}" if status else type(exc).__name__
        late = exc.__context__ if isinstance(exc.__context__, DeadlineExceeded) else None
        summary = " ".join(str(late or exc).split())[:200]  # late: "no complete answer from HOST within N s"
        error = GeocoderError(
            f"{'refused by' if refused else 'failed at'} {self.settings.url} ({label}): {summary}",
            refused=refused,
            status=status,
            retry_after=retry_after,
        )
        if refused:
            self.refusal = error
            pause = retry_after if retry_after else (REFUSAL_PAUSE_SECONDS if status == 429 else math.inf)
            self._blocked_until = self.clock() + pause
        else:
            self.failure = error
            self.failures_in_a_row += 1
        return error

    def _candidate(self, query: str, raw: dict[str, Any], rank: int, cached: bool) -> Candidate | None:
        try:
            lat, lon = float(raw["lat"]), float(raw["lon"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        if self.area is not None and not self.area.intersects(Point(lon, lat)):
            return None
        osm_type, osm_id = raw.get("osm_type", ""), raw.get("osm_id", "")
        return Candidate(
            lat=round(lat, 7),
            lon=round(lon, 7),
            method="geocoder",
            precision_m=round(bbox_precision(raw.get("boundingbox"), lat), 1),
            confidence=round(TOP_CONFIDENCE / (1 + rank), 3),
            status="pending_review",
            matched=query,
            source=f"geocoder:{osm_type}/{osm_id}" if osm_type else f"geocoder:{raw.get('place_id', '')}",
            evidence={
                "display_name": raw.get("display_name", ""),
                "osm_type": osm_type,
                "osm_id": osm_id,
                "class": raw.get("class", raw.get("category", "")),
                "type": raw.get("type", ""),
                "boundingbox": raw.get("boundingbox"),
                "licence": raw.get("licence", ""),
                "geocoder": self.settings.url,
                "cached": cached,
                "pipeline": __version__,
            },
        )


def _adapter(*, proxies: Any, ssl_context: Any, total_timeout: float) -> RequestsAdapter:
    """geopy's requests adapter without urllib3's silent retries (a 429 must reach us, not be slept
    through for Retry-After seconds, and nothing is re-sent but a connection that never opened), and
    with a total deadline per request: its session's transports are replaced by ours."""
    retry = Retry(
        total=1,
        connect=1,
        read=0,
        redirect=2,
        status=0,
        other=0,
        respect_retry_after_header=False,
        raise_on_status=False,
    )
    adapter = RequestsAdapter(proxies=proxies, ssl_context=ssl_context, max_retries=retry)
    context = ssl_context or ssl.create_default_context()  # as geopy's: the system's CA store
    for prefix in ("http://", "https://"):
        adapter.session.mount(prefix, DeadlineAdapter(total_timeout, ssl_context=context, max_retries=retry))
    return adapter


def bbox_precision(boundingbox: Any, lat: float) -> float:
    """Half the diagonal (metres) of a Nominatim ``boundingbox`` [south, north, west, east]."""
    try:
        south, north, west, east = (float(v) for v in boundingbox)
    except (TypeError, ValueError):
        return NO_BBOX_PRECISION_M
    return max(MIN_PRECISION_M, cell_diagonal_m(lat, abs(north - south), abs(east - west)) / 2)
