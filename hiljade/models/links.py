"""Stored duplicate links (``post_links``): what detection reads, and the links it found."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hiljade.models.schema import Media, Post, PostLink
from hiljade.pipeline.duplicates import LinkPost

Link = tuple[int, int, str]  # (post_id, duplicate_of, reason)


def post_links(conn: Connection) -> list[tuple[int, int]]:
    """Every stored link as ``(post_id, duplicate_of)``, for ``independent_groups``."""
    pl = PostLink.__table__
    return [(int(a), int(b)) for a, b in conn.execute(select(pl.c.post_id, pl.c.duplicate_of))]


def live_posts(conn: Connection) -> dict[int, LinkPost]:
    """Every post not deleted, as duplicate detection reads it."""
    p = Post.__table__
    rows = conn.execute(
        select(p.c.id, p.c.created_at, p.c.author_id, p.c.text, p.c.uri, p.c.url, p.c.quote_of_uri)
        .where(p.c.deleted_at.is_(None))
    )
    return {r.id: LinkPost(r.id, r.created_at, r.author_id, r.text or "", r.uri, r.url, r.quote_of_uri)
            for r in rows}


def hashed_media(conn: Connection) -> list[tuple[int, str | None, str | None]]:
    """``(post id, sha256, phash)`` of every media row with a hash."""
    m = Media.__table__
    query = select(m.c.post_id, m.c.sha256, m.c.phash).where(m.c.sha256.is_not(None) | m.c.phash.is_not(None))
    return [(r.post_id, r.sha256, r.phash) for r in conn.execute(query)]


def stored_links(conn: Connection) -> set[Link]:
    """Every stored link with its reason."""
    pl = PostLink.__table__
    return {(a, b, r) for a, b, r in conn.execute(select(pl.c.post_id, pl.c.duplicate_of, pl.c.reason))}


def add_links(conn: Connection, links: Iterable[Link], distances: Mapping[Link, float | None],
              now: dt.datetime) -> None:
    """Insert links (an already stored one is left as it is)."""
    rows = [
        {"post_id": a, "duplicate_of": b, "reason": r, "distance": distances[(a, b, r)], "created_at": now}
        for a, b, r in links
    ]
    if rows:
        pl = PostLink.__table__
        maker = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = maker(pl).on_conflict_do_nothing(index_elements=["post_id", "duplicate_of", "reason"])
        conn.execute(stmt, rows)
