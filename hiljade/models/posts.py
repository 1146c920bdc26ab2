"""Storing posts: one row per report (merged by uri), its copies, media, author pseudonym and edits."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hiljade.models.schema import Author, Media, Post, PostCopy, PostVersion
from hiljade.privacy import pseudonym
from hiljade.records import AuthorRecord, MediaRecord, PostRecord

NEW, DUPLICATE, UPDATED = "new", "duplicate", "updated"
ERASED = "erased"  # the post was deleted at its source and erased here: never stored again
WITHDRAWN = "withdrawn"  # an edit took the campaign's hashtags out: nothing written, the caller erases it
ERASED_PREFIX = "erased:"
AUTHOR_KEY = "author_pseudonym"  # the one trace of the author a stored payload keeps
FEDERATED = ("mastodon",)  # platforms whose post uri names the post's home server
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class AuthorPolicy:
    """How authors are stored: the pseudonym key, and whether handles are kept."""

    secret: bytes
    store_handles: bool = False


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any], keys: Sequence[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; True when a row was inserted."""
    maker = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = maker(table).values(**values).on_conflict_do_nothing(index_elements=list(keys))
    # rowcount is not reliable with implicit RETURNING on psycopg; a returned row is.
    return conn.execute(stmt.returning(table.c[keys[0]])).first() is not None


def insert_chunked(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], size: int) -> None:
    """INSERT ``rows`` into ``table`` as executemany statements of at most ``size`` rows each."""
    for start in range(0, len(rows), size):
        conn.execute(table.insert(), rows[start : start + size])


def author_id(conn: Connection, author: AuthorRecord, policy: AuthorPolicy, now: dt.datetime) -> int:
    """The id of the author's row, created on first sight; the handle only when the policy keeps handles."""
    table = Author.__table__
    alias = pseudonym(policy.secret, author.platform, author.account_key)
    handle = author.handle if policy.store_handles else None
    insert_ignore(
        conn,
        table,
        {"platform": author.platform, "pseudonym": alias, "handle": handle, "first_seen_at": now},
        ("platform", "pseudonym"),
    )
    row = conn.execute(
        select(table.c.id, table.c.handle).where(
            table.c.platform == author.platform, table.c.pseudonym == alias
        )
    ).one()
    if handle and row.handle != handle:
        conn.execute(update(table).where(table.c.id == row.id).values(handle=handle))
    return int(row.id)


def _jsonable(raw: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(raw, default=str))


def stored_raw(post: PostRecord, policy: AuthorPolicy) -> dict[str, Any]:
    """The payload as stored: the adapter already reduced every account in it to its opt-out flags;
    the author is named only by the pseudonym (``author_pseudonym``), never by a platform id."""
    raw = _jsonable(post.raw)
    raw.pop(AUTHOR_KEY, None)
    if post.author:
        raw[AUTHOR_KEY] = pseudonym(policy.secret, post.author.platform, post.author.account_key)
    return raw


def post_values(post: PostRecord, policy: AuthorPolicy, now: dt.datetime) -> dict[str, Any]:
    return {
        "text": post.text,
        "edited_at": post.edited_at,
        "language": post.language,
        "hashtags": list(post.hashtags),
        "url": post.url,
        "geo_lat": post.geo[0] if post.geo else None,
        "geo_lon": post.geo[1] if post.geo else None,
        "quote_of_uri": post.quote_of,
        "raw": stored_raw(post, policy),
        "fetched_from": post.fetched_from,
        "fetched_at": post.fetched_at or now,
    }


def media_rows(post_id: int, media: Sequence[MediaRecord]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    rows = []
    for position, m in enumerate(media):
        if m.url in seen:
            continue
        seen.add(m.url)
        rows.append(
            {
                "post_id": post_id,
                "position": position,
                "native_id": m.native_id,
                "type": m.type,
                "url": m.url,
                "preview_url": m.preview_url,
                "remote_url": m.remote_url,
                "alt_text": m.alt_text,
                "blurhash": m.blurhash,
                "width": m.width,
                "height": m.height,
            }
        )
    return rows


def erased_uri(secret: bytes, platform: str, uri: str) -> str:
    """The uri of an erased post's tombstone: a keyed hash that recognises the post, never names it."""
    return ERASED_PREFIX + pseudonym(secret, platform, "erased-post\x00" + uri)


def withdrawn(before: Collection[str], after: Collection[str], campaign: Collection[str]) -> bool:
    """True when an edit took the post out of the campaign: the hashtags ``before`` held one of the
    ``campaign`` hashtags and those ``after`` hold none (compared without case and ``#``)."""
    wanted = {_tag(t) for t in campaign}
    return bool(wanted & {_tag(t) for t in before}) and not wanted & {_tag(t) for t in after}


def _tag(text: str) -> str:
    return str(text).strip().lstrip("#").casefold()


def origin(url: str) -> tuple[str, int] | None:
    """The (host, port) of a URL, the port filled in from the scheme; None when it names no host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    return (host, port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)) if host else None


def is_home(server: str, uri: str) -> bool:
    """True when ``server`` is the post's home server: the host (and port) of its ``uri``."""
    home = origin(uri)
    return home is not None and origin(server) == home


def _earlier(first: dt.datetime | None, second: dt.datetime | None) -> bool:
    """True when a version edited at ``first`` is older than one edited at ``second`` (None: never edited)."""
    return second is not None and (first is None or first < second)


def _media_key(url: str | None, remote_url: str | None) -> str:
    return remote_url or url or ""  # a copy on another server names the original file in remote_url


def _disagreement(conn: Connection, row: Any, post: PostRecord) -> str | None:
    """What of ``post`` disagrees with the stored post ``row`` ("text, hashtags, media"), None if nothing."""
    m = Media.__table__
    stored_media = {_media_key(u, r) for u, r in conn.execute(
        select(m.c.url, m.c.remote_url).where(m.c.post_id == row.id))}
    parts = []
    if (row.text or "") != (post.text or ""):
        parts.append("text")
    if {_tag(t) for t in row.hashtags or ()} != {_tag(t) for t in post.hashtags}:
        parts.append("hashtags")
    if stored_media != {_media_key(x.url, x.remote_url) for x in post.media}:
        parts.append("media")
    return ", ".join(parts) or None


def _flag(conn: Connection, post_id: int, server_origin: tuple[str, int] | None, words: str | None,
          native_id: str | None = None) -> None:
    """Record on the post's copies from ``server_origin`` (one copy when ``native_id``) what disagrees."""
    c = PostCopy.__table__
    query = select(c.c.id, c.c.server).where(c.c.post_id == post_id)
    if native_id is not None:
        query = query.where(c.c.native_id == native_id)
    ids = [copy_id for copy_id, server in conn.execute(query) if origin(server) == server_origin]
    if ids:
        conn.execute(update(c).where(c.c.id.in_(ids)).values(disagrees=words))


def _other_server(conn: Connection, row: Any, post: PostRecord, values: dict[str, Any],
                  campaign: Collection[str], now: dt.datetime) -> str | None:
    """The rule between servers for a federated post whose stored text another server supplied than
    ``post``'s: a copy from a server that is not the post's home never changes it (it is flagged on
    its copy when it disagrees and is no older version); the home server's copy replaces what another
    server supplied (kept as a version; that server's copy is flagged when it claimed a later edit
    the home does not show). None when the ordinary edit rule applies (the same server, or home)."""
    supplier = origin(row.fetched_from) or origin(row.server)  # the server the stored text came from
    if supplier == origin(post.server):
        return None
    words = _disagreement(conn, row, post)
    here = origin(post.server)
    if not is_home(post.server, post.uri):
        if not _earlier(post.edited_at, row.edited_at):
            _flag(conn, row.id, here, words, post.native_id)
        return DUPLICATE
    posts = Post.__table__
    if words is None:  # the home agrees: from now on the stored post is the home's
        conn.execute(update(posts).where(posts.c.id == row.id).values(fetched_from=values["fetched_from"]))
        return DUPLICATE
    if campaign and withdrawn(row.hashtags or (), post.hashtags, campaign):
        return WITHDRAWN
    if not _earlier(row.edited_at, post.edited_at):
        _flag(conn, row.id, supplier, words)
    conn.execute(
        PostVersion.__table__.insert().values(
            post_id=row.id, edited_at=row.edited_at, text=row.text, raw=row.raw, replaced_at=now
        )
    )
    conn.execute(update(posts).where(posts.c.id == row.id).values(updated_at=now, **values))
    m = Media.__table__
    keep = {x.url for x in post.media}
    conn.execute(delete(m).where(m.c.post_id == row.id, m.c.url.not_in(keep)))
    for media in media_rows(row.id, post.media):
        insert_ignore(conn, Media.__table__, media, ("post_id", "url"))
    return UPDATED


def save_post(
    conn: Connection,
    post: PostRecord,
    policy: AuthorPolicy,
    now: dt.datetime,
    *,
    campaign: Collection[str] = (),
) -> str:
    """Store one fetched post; returns NEW, DUPLICATE (already known by uri), UPDATED (an edit),
    WITHDRAWN (an edit that removed every ``campaign`` hashtag the post held: nothing is written,
    the caller erases the post, see ``models.erasure.erase_withdrawn``) or ERASED (deleted at its
    source earlier and erased here, so it is not stored again). Between servers of a federated
    platform only the post's home server (the host of its uri) changes what another server supplied;
    any other server's disagreeing copy is flagged on ``post_copies.disagrees`` (DUPLICATE)."""
    posts = Post.__table__
    tombstone = erased_uri(policy.secret, post.platform, post.uri)
    if conn.execute(
        select(posts.c.id).where(posts.c.platform == post.platform, posts.c.uri == tombstone)
    ).first():
        return ERASED
    author = author_id(conn, post.author, policy, now) if post.author else None
    values = post_values(post, policy, now)
    inserted = insert_ignore(
        conn,
        posts,
        {
            "platform": post.platform,
            "server": post.server,
            "native_id": post.native_id,
            "uri": post.uri,
            "created_at": post.created_at,
            "author_id": author,
            **values,
        },
        ("platform", "uri"),
    )
    row = conn.execute(
        select(
            posts.c.id, posts.c.edited_at, posts.c.text, posts.c.raw, posts.c.hashtags, posts.c.server,
            posts.c.fetched_from,
        ).where(posts.c.platform == post.platform, posts.c.uri == post.uri)
    ).one()
    insert_ignore(
        conn,
        PostCopy.__table__,
        {
            "post_id": row.id,
            "platform": post.platform,
            "server": post.server,
            "native_id": post.native_id,
            "fetched_at": post.fetched_at or now,
        },
        ("platform", "server", "native_id"),
    )
    if inserted:
        for media in media_rows(row.id, post.media):
            insert_ignore(conn, Media.__table__, media, ("post_id", "url"))
        return NEW
    if post.platform in FEDERATED:
        between = _other_server(conn, row, post, values, campaign, now)
        if between is not None:
            return between
    if post.edited_at is None or (row.edited_at is not None and post.edited_at <= row.edited_at):
        return DUPLICATE
    if campaign and withdrawn(row.hashtags or (), post.hashtags, campaign):
        return WITHDRAWN
    conn.execute(
        PostVersion.__table__.insert().values(
            post_id=row.id, edited_at=row.edited_at, text=row.text, raw=row.raw, replaced_at=now
        )
    )
    conn.execute(update(posts).where(posts.c.id == row.id).values(updated_at=now, **values))
    for media in media_rows(row.id, post.media):
        insert_ignore(conn, Media.__table__, media, ("post_id", "url"))
    return UPDATED


def is_known(conn: Connection, platform: str, uri: str) -> bool:
    """True when a post with this (platform, uri) is already stored."""
    p = Post.__table__
    return conn.execute(select(p.c.id).where(p.c.platform == platform, p.c.uri == uri)).first() is not None


def save_original(
    conn: Connection,
    post: PostRecord,
    hashes: Sequence[tuple[str, str]],
    policy: AuthorPolicy,
    now: dt.datetime,
) -> str:
    """Store a post of original photos and their sha256 (``(media url, sha256)`` pairs); the outcome."""
    outcome = save_post(conn, post, policy, now)
    if outcome != NEW or not hashes:
        return outcome
    p, m = Post.__table__, Media.__table__
    post_id = conn.execute(
        select(p.c.id).where(p.c.platform == post.platform, p.c.uri == post.uri)
    ).scalar_one()
    for url, sha256 in hashes:
        conn.execute(
            update(m).where(m.c.post_id == post_id, m.c.url == url).values(sha256=sha256, downloaded_at=now)
        )
    return outcome


def stored_edits(conn: Connection, platform: str, uris: set[str]) -> dict[str, dt.datetime | None]:
    """uri -> ``edited_at`` of the stored posts among ``uris``."""
    p = Post.__table__
    query = select(p.c.uri, p.c.edited_at).where(p.c.platform == platform, p.c.uri.in_(uris))
    return dict(conn.execute(query).all())


def stored_copies(conn: Connection, platform: str, native_ids: set[str]) -> set[tuple[str, str]]:
    """The stored copies ``(server, native_id)`` among ``native_ids``."""
    c = PostCopy.__table__
    query = select(c.c.server, c.c.native_id).where(c.c.platform == platform, c.c.native_id.in_(native_ids))
    return {(server, native_id) for server, native_id in conn.execute(query)}


def copies_per_server(conn: Connection) -> list[dict[str, Any]]:
    """How many post copies each (platform, server) holds: ``platform``, ``server``, ``posts``."""
    c = PostCopy.__table__
    counts = conn.execute(
        select(c.c.platform, c.c.server, func.count().label("posts"))
        .group_by(c.c.platform, c.c.server)
        .order_by(c.c.platform, c.c.server)
    )
    return [dict(r._mapping) for r in counts]


def disagreeing_copies(conn: Connection) -> list[dict[str, Any]]:
    """Copies that disagree with their post, per (platform, server): ``platform``, ``server``, ``copies``."""
    c = PostCopy.__table__
    counts = conn.execute(
        select(c.c.platform, c.c.server, func.count().label("copies"))
        .where(c.c.disagrees.is_not(None))
        .group_by(c.c.platform, c.c.server)
        .order_by(c.c.platform, c.c.server)
    )
    return [dict(r._mapping) for r in counts]
