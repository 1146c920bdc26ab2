"""Plain frozen records passed between sources, the pipeline and the store.

Vendor objects (Mastodon dicts, tweepy objects, geopy locations) are converted
into these once, in the adapter that fetched them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AuthorRecord:
    """The account behind a post, as the platform gave it (pseudonymised by the store)."""

    platform: str
    account_key: str  # a stable platform identity, e.g. the account's ActivityPub uri
    handle: str | None = None  # e.g. user@server; kept only when privacy.store_handles is set
    opt_out: str | None = None  # why the account opted out (noindex, indexable:false, #nobot ...)


@dataclass(frozen=True)
class MediaRecord:
    """One attachment of a post."""

    url: str
    type: str = "unknown"
    native_id: str | None = None
    preview_url: str | None = None
    remote_url: str | None = None
    alt_text: str | None = None
    blurhash: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class PostRecord:
    """A post as fetched: raw, immutable, keyed by (platform, uri)."""

    platform: str  # mastodon, twitter, bluesky, mail, photos
    server: str  # the server or API it was fetched from
    native_id: str  # the id on that server (opaque, ordered per server)
    uri: str  # the global identity (ActivityPub uri, tweet URL ...)
    created_at: datetime
    text: str
    url: str | None = None
    language: str | None = None
    hashtags: tuple[str, ...] = ()
    edited_at: datetime | None = None
    author: AuthorRecord | None = None
    media: tuple[MediaRecord, ...] = ()
    geo: tuple[float, float] | None = None  # exact platform coordinates (lat, lon), if any
    quote_of: str | None = None  # the uri of the post this one quotes, if any
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    fetched_from: str = ""  # the request URL
    fetched_at: datetime | None = None


@dataclass(frozen=True)
class Candidate:
    """One possible location of a post, with the evidence behind it."""

    lat: float
    lon: float
    method: str  # exif, platform_geo, map_link, coordinates, plus_code, address,
    #              intersection, landmark, square, street, geocoder, manual
    precision_m: float
    confidence: float  # 0..1
    status: str  # auto or pending_review
    matched: str = ""  # the text span (or file name) it came from
    span: tuple[int, int] | None = None  # character offsets of ``matched`` in the text
    source: str = ""  # the gazetteer or geocoder entry it matched, e.g. "street:Дечанска"
    evidence: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
