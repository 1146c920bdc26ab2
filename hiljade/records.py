"""Plain frozen records passed between sources, the pipeline and the store.

Vendor objects (Mastodon dicts, tweepy objects, geopy locations) are converted
into these once, in the adapter that fetched them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    # the payload without account identity: the adapter reduces every account in it to its opt-out
    # flags; the store adds the author's pseudonym (``author_pseudonym``)
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


# The longest value each stored field takes (the column sizes of ``hiljade.models.schema``).
FIELD_LIMITS = {
    "platform": 32, "server": 512, "native_id": 128, "uri": 2048, "url": 2048, "language": 16,
    "fetched_from": 2048, "quote_of": 2048, "handle": 512, "media type": 32, "media native_id": 128,
    "media url": 2048, "media preview_url": 2048, "media remote_url": 2048, "media blurhash": 128,
}
MAX_DIMENSION = 2**31 - 1  # media width and height are 32-bit integers in the store
MAX_RAW_DEPTH = 100  # a stored payload nested deeper than this is refused


def text_problem(name: str, value: str | None, limit: int | None = None) -> str | None:
    """Why a text cannot be stored (too long, a NUL, a lone surrogate), or None when it can."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"{name} is not text"
    if limit is not None and len(value) > limit:
        return f"{name} is {len(value)} characters long (at most {limit})"
    if "\x00" in value:
        return f"{name} contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name} contains a lone surrogate (not valid Unicode)"
    return None


def unstorable(post: PostRecord) -> str | None:
    """Why this post cannot be stored as it is, in plain words, or None when every field fits.

    The one check every source runs on its records before handing them on: field lengths as the
    schema has them, text without NUL or lone surrogates (PostgreSQL refuses both), dates that
    exist in UTC, dimensions and coordinates in range, and a raw payload of plain finite JSON.
    """
    texts: list[tuple[str, str | None]] = [
        (name, getattr(post, name)) for name in ("platform", "server", "native_id", "uri", "url", "language",
                                                 "fetched_from", "quote_of")
    ]
    if not post.native_id or not post.uri:
        return "no id or no uri"
    texts += [("text", post.text)] + [("a hashtag", tag) for tag in post.hashtags]
    if post.author is not None:
        texts += [("the account key", post.author.account_key), ("handle", post.author.handle),
                  ("the opt-out reason", post.author.opt_out)]
    for number, media in enumerate(post.media, 1):
        for field_name in ("type", "native_id", "url", "preview_url", "remote_url", "blurhash"):
            texts.append((f"media {field_name}", getattr(media, field_name)))
        texts.append(("media alt text", media.alt_text))
        for side in ("width", "height"):
            size = getattr(media, side)
            if size is not None and not 0 <= size <= MAX_DIMENSION:
                return f"media {number} has a {side} of {size} pixels, out of range"
    for name, value in texts:
        problem = text_problem(name, value, FIELD_LIMITS.get(name))
        if problem:
            return problem
    for name in ("created_at", "edited_at", "fetched_at"):
        problem = _time_problem(name, getattr(post, name))
        if problem:
            return problem
    if post.geo is not None and not (-90 <= post.geo[0] <= 90 and -180 <= post.geo[1] <= 180):
        return "its coordinates are out of range"
    return _raw_problem(post.raw)


def _time_problem(name: str, moment: datetime | None) -> str | None:
    if moment is None:
        return None
    try:
        if moment.tzinfo is None or moment.astimezone(UTC).year < 1:
            return f"{name} has no time zone"
    except (OverflowError, ValueError):
        return f"{name} is out of range"
    return None


def _raw_problem(raw: Any) -> str | None:
    """Why a raw payload cannot be stored as JSON (walked without recursion), or None."""
    stack: list[tuple[Any, int]] = [(raw, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_RAW_DEPTH:
            return f"its payload is nested deeper than {MAX_RAW_DEPTH} levels"
        if isinstance(value, str):
            problem = text_problem("a text in its payload", value)
            if problem:
                return problem
        elif isinstance(value, float) and not math.isfinite(value):
            return "its payload holds a number that is not finite"
        elif isinstance(value, dict):
            for key, item in value.items():
                stack += [(key, depth + 1), (item, depth + 1)]
        elif isinstance(value, (list, tuple)):
            stack += [(item, depth + 1) for item in value]
    return None
