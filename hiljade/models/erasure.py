"""Erasing a post that was deleted at its source: an anonymous tombstone stays, the person goes.

What goes: the text and its earlier versions, the raw payload, the url, the author link (and
the author row when no other post is theirs), every copy (server, native id), the media rows,
the exact platform position, the geocoder cache entries asked with the post's words, and the
text in its sightings (``matched``, spans, any string in ``evidence``). What stays: the
``posts`` row as a tombstone (``deleted_at`` set, ``uri`` = ``erased:`` + a keyed hash of the
old uri, so `save_post` recognises a re-harvest and does not store it again), its sightings
(a location a reviewer confirmed stays as evidence, without the person), the pipeline verdict,
duplicate links, and a ``review_log`` row that records the erasure.

A post whose author edited the campaign's hashtags out of it is *withdrawn* (``save_post`` answers
``WITHDRAWN``) and erased the same way (``erase_withdrawn``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from hiljade.models.posts import erased_uri
from hiljade.models.review_queue import write_review_log
from hiljade.models.schema import (
    Author,
    GeocodeAnswer,
    Media,
    Post,
    PostCopy,
    PostVersion,
    Sighting,
)

ERASED_NATIVE_ID = "erased"
CachePrefix = Callable[[str], str | None]  # a post's text -> the start of its geocoder cache queries


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed and kept."""

    post_id: int
    copies: int
    versions: int
    media: int
    sightings_kept: int
    author_removed: bool
    geocoder_entries: int


def scrub_text(value: Any) -> Any:
    """``value`` without any string in it (dict keys stay; numbers, booleans and None stay)."""
    if isinstance(value, dict):
        return {k: scrub_text(v) for k, v in value.items() if not isinstance(v, str)}
    if isinstance(value, list | tuple):
        return [scrub_text(v) for v in value if not isinstance(v, str)]
    return value


def erase_post(
    conn: Connection,
    post_id: int,
    secret: bytes,
    now: dt.datetime,
    *,
    reason: str,
    cache_prefix: CachePrefix,
    reviewer: str = "recheck",
    details: dict[str, Any] | None = None,
) -> Erasure | None:
    """Erase one post in the caller's transaction (see the module docstring); None when it is
    unknown or was erased already. ``cache_prefix(text)`` is the start of every geocoder cache
    query made from ``text`` (None when such a text asks nothing)."""
    p = Post.__table__
    row = conn.execute(
        select(p.c.platform, p.c.uri, p.c.text, p.c.author_id, p.c.deleted_at).where(p.c.id == post_id)
    ).first()
    if row is None or row.deleted_at is not None:
        return None
    versions = PostVersion.__table__
    texts = [row.text, *conn.execute(select(versions.c.text).where(versions.c.post_id == post_id)).scalars()]
    removed = {
        name: conn.execute(delete(table).where(table.c.post_id == post_id)).rowcount
        for name, table in (
            ("copies", PostCopy.__table__),
            ("versions", PostVersion.__table__),
            ("media", Media.__table__),
        )
    }
    conn.execute(
        update(p)
        .where(p.c.id == post_id)
        .values(
            uri=erased_uri(secret, row.platform, row.uri),
            native_id=ERASED_NATIVE_ID,
            server="",
            url=None,
            text="",
            edited_at=None,
            hashtags=[],
            raw={},
            author_id=None,
            geo_lat=None,
            geo_lon=None,
            quote_of_uri=None,
            fetched_from="",
            deleted_at=now,
            checked_at=now,
            updated_at=now,
        )
    )
    author_removed = False
    if row.author_id is not None:
        others = conn.execute(select(func.count()).where(p.c.author_id == row.author_id)).scalar_one()
        if not others:
            a = Author.__table__
            author_removed = conn.execute(delete(a).where(a.c.id == row.author_id)).rowcount > 0
    kept = _scrub_sightings(conn, post_id)
    cached = _forget_geocoder_queries(conn, texts, cache_prefix)
    erasure = Erasure(
        post_id, removed["copies"], removed["versions"], removed["media"], kept, author_removed, cached
    )
    write_review_log(
        conn, at=now, reviewer=reviewer, action="erase", target="post", target_id=post_id, reason=reason,
        details={
            **(details or {}),
            "platform": row.platform,
            "copies": erasure.copies,
            "versions": erasure.versions,
            "media": erasure.media,
            "sightings_kept": erasure.sightings_kept,
            "author_removed": erasure.author_removed,
            "geocoder_entries": erasure.geocoder_entries,
        },
    )
    return erasure


WITHDRAWN_REASON = "withdrawn by its author: an edit removed the campaign hashtag"


def erase_withdrawn(
    conn: Connection,
    platform: str,
    uri: str,
    secret: bytes,
    now: dt.datetime,
    *,
    cache_prefix: CachePrefix,
    reviewer: str,
    details: dict[str, Any] | None = None,
) -> Erasure | None:
    """Erase the post (``platform``, ``uri``) that ``save_post`` found ``WITHDRAWN``, like a deletion."""
    p = Post.__table__
    post_id = conn.execute(select(p.c.id).where(p.c.platform == platform, p.c.uri == uri)).scalar()
    if post_id is None:
        return None
    return erase_post(conn, post_id, secret, now, reason=WITHDRAWN_REASON, cache_prefix=cache_prefix,
                      reviewer=reviewer, details=details)


def _scrub_sightings(conn: Connection, post_id: int) -> int:
    """Keep the post's sightings (place, method, status, review) without the words they came from."""
    s = Sighting.__table__
    rows = conn.execute(select(s.c.id, s.c.evidence).where(s.c.post_id == post_id)).all()
    for sighting_id, evidence in rows:
        conn.execute(
            update(s)
            .where(s.c.id == sighting_id)
            .values(matched="", span_start=None, span_end=None, evidence=scrub_text(evidence or {}))
        )
    return len(rows)


def _forget_geocoder_queries(conn: Connection, texts: list[str], cache_prefix: CachePrefix) -> int:
    """Delete cached geocoder answers whose query was made from these texts (the cache keeps the query)."""
    g = GeocodeAnswer.__table__
    removed = 0
    for text in {t for t in texts if t}:
        prefix = cache_prefix(text)
        if prefix:
            removed += conn.execute(delete(g).where(g.c.query.startswith(prefix, autoescape=True))).rowcount
    return removed
