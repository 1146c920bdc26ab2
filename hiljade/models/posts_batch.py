"""Storing a page of posts at once: what ``save_post`` does post by post, in a few multi-row statements.

The common case of a harvest is a page of posts never seen before: their authors, posts, copies and
media go in as one multi-row INSERT per table (statements built once per dialect; SQLAlchemy sends
them as executemany / insertmanyvalues). Every other post (its uri or its tombstone already stored,
its copy already seen, or a repeat of a uri or copy earlier in the same page) takes the per-post
path the caller passes (``save_post`` and what follows from its answer), in page order, so the rows
are the ones ``save_post`` would have written post by post.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Connection, Insert, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hiljade.models.posts import NEW, AuthorPolicy, erased_uri, media_rows, post_values
from hiljade.models.schema import Author, Media, Post, PostCopy
from hiljade.privacy import pseudonym
from hiljade.records import PostRecord

IN_CHUNK = 500  # values per IN (...) list, well under every database's limit on parameters
_STATEMENTS: dict[tuple[str, str], Insert] = {}
_KEYS = {"authors": ("platform", "pseudonym"), "posts": ("platform", "uri"),
         "post_copies": ("platform", "server", "native_id"), "media": ("post_id", "url")}


def save_posts(conn: Connection, posts: Sequence[PostRecord], policy: AuthorPolicy, now: dt.datetime,
               save_one: Callable[[PostRecord], str]) -> list[str]:
    """Store ``posts`` in order; one outcome each (NEW for the new ones, else what ``save_one`` said).

    ``save_one`` stores one post the ordinary way (``save_post`` and, for the harvest, the erasure
    of a withdrawn post); runs of new posts between the others are written together."""
    outcomes: list[str] = []
    run: list[PostRecord] = []
    for post, new in zip(posts, unseen(conn, posts, policy), strict=True):
        if new:
            run.append(post)
            continue
        outcomes += _insert_new(conn, run, policy, now, save_one)
        run = []
        outcomes.append(save_one(post))
    return outcomes + _insert_new(conn, run, policy, now, save_one)


def unseen(conn: Connection, posts: Sequence[PostRecord], policy: AuthorPolicy) -> list[bool]:
    """For each post: True when nothing of it is stored (its uri, its tombstone, its copy) and no
    earlier post of ``posts`` has its uri or its copy, so storing it touches no other post."""
    stored: set[tuple[str, str]] = set()
    copies: set[tuple[str, str, str]] = set()
    tombstones = [erased_uri(policy.secret, post.platform, post.uri) for post in posts]
    p, c = Post.__table__, PostCopy.__table__
    for platform in dict.fromkeys(post.platform for post in posts):
        mine = [post for post in posts if post.platform == platform]
        uris = {post.uri for post in mine}
        uris |= {tomb for post, tomb in zip(posts, tombstones, strict=True) if post.platform == platform}
        for chunk in _chunks(sorted(uris)):
            query = select(p.c.uri).where(p.c.platform == platform, p.c.uri.in_(chunk))
            stored.update((platform, uri) for (uri,) in conn.execute(query))
        for chunk in _chunks(sorted({post.native_id for post in mine})):
            query = select(c.c.server, c.c.native_id).where(c.c.platform == platform,
                                                            c.c.native_id.in_(chunk))
            copies.update((platform, server, native_id) for server, native_id in conn.execute(query))
    seen_uris, seen_copies = set(stored), set(copies)
    fresh = []
    for post, tomb in zip(posts, tombstones, strict=True):
        uri, copy = (post.platform, post.uri), (post.platform, post.server, post.native_id)
        tombstone = (post.platform, tomb)
        fresh.append(uri not in seen_uris and copy not in seen_copies and tombstone not in stored)
        seen_uris.add(uri)
        seen_copies.add(copy)
    return fresh


def _insert_new(conn: Connection, run: list[PostRecord], policy: AuthorPolicy, now: dt.datetime,
                save_one: Callable[[PostRecord], str]) -> list[str]:
    """Write posts ``unseen`` found new: authors, posts, copies, media, a statement per table."""
    if not run:
        return []
    rows = []
    for post, author in zip(run, _author_ids(conn, run, policy, now), strict=True):
        rows.append({"platform": post.platform, "server": post.server, "native_id": post.native_id,
                     "uri": post.uri, "created_at": post.created_at, "author_id": author,
                     **post_values(post, policy, now)})
    p = Post.__table__
    returned = conn.execute(_statement(conn, p).returning(p.c.id, p.c.platform, p.c.uri), rows)
    ids = {(platform, uri): post_id for post_id, platform, uri in returned}
    copies, media, outcomes = [], [], []
    for post in run:
        post_id = ids.get((post.platform, post.uri))
        if post_id is None:  # stored meanwhile by another writer: the ordinary path sorts it out
            outcomes.append(save_one(post))
            continue
        copies.append({"post_id": post_id, "platform": post.platform, "server": post.server,
                       "native_id": post.native_id, "fetched_at": post.fetched_at or now})
        media += media_rows(post_id, post.media)
        outcomes.append(NEW)
    for table, values in ((PostCopy.__table__, copies), (Media.__table__, media)):
        if values:
            conn.execute(_statement(conn, table), values)
    return outcomes


def _author_ids(conn: Connection, run: list[PostRecord], policy: AuthorPolicy,
                now: dt.datetime) -> list[int | None]:
    """The author id of each post of ``run`` (None without an author), the authors created on first
    sight; the handle (only when the policy keeps handles) ends as the last one given, as post by post."""
    first: dict[tuple[str, str], str | None] = {}
    last: dict[tuple[str, str], str] = {}
    keys: list[tuple[str, str] | None] = []
    for post in run:
        if post.author is None:
            keys.append(None)
            continue
        key = (post.author.platform, pseudonym(policy.secret, post.author.platform, post.author.account_key))
        keys.append(key)
        handle = post.author.handle if policy.store_handles else None
        first.setdefault(key, handle)
        if handle:
            last[key] = handle
    if not first:
        return [None] * len(run)
    a = Author.__table__
    conn.execute(_statement(conn, a), [{"platform": platform, "pseudonym": alias, "handle": handle,
                                        "first_seen_at": now} for (platform, alias), handle in first.items()])
    found: dict[tuple[str, str], tuple[int, str | None]] = {}
    for chunk in _chunks(sorted({alias for _, alias in first})):
        query = select(a.c.id, a.c.platform, a.c.pseudonym, a.c.handle).where(a.c.pseudonym.in_(chunk))
        for author, platform, alias, handle in conn.execute(query):
            found[(platform, alias)] = (author, handle)
    for key, handle in last.items():
        if found[key][1] != handle:
            conn.execute(a.update().where(a.c.id == found[key][0]).values(handle=handle))
    return [found[key][0] if key is not None else None for key in keys]


def _statement(conn: Connection, table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING into ``table`` for this database, built once."""
    key = (conn.dialect.name, table.name)
    if key not in _STATEMENTS:
        maker = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        _STATEMENTS[key] = maker(table).on_conflict_do_nothing(index_elements=list(_KEYS[table.name]))
    return _STATEMENTS[key]


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]
