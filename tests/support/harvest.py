"""What a harvest stored, in a form tests can compare."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from hiljade.config import load_config
from hiljade.models.schema import Author, HarvestCursor, Media, Post, PostCopy, PostVersion
from hiljade.services.store import open_store


def snapshot(config: Path) -> dict[str, list]:
    """Everything a harvest stores, in a comparable form (no fetch times, no surrogate ids)."""
    store = open_store(load_config(config))
    with store.connect() as conn:
        posts = conn.execute(
            select(Post.uri, Post.text, Post.created_at, Post.edited_at, Post.native_id, Post.server)
        ).all()
        copies = conn.execute(select(PostCopy.server, PostCopy.native_id)).all()
        media = conn.execute(select(Post.uri, Media.url).join(Post, Post.id == Media.post_id)).all()
        authors = conn.execute(select(Author.pseudonym, Author.handle)).all()
        cursors = conn.execute(
            select(HarvestCursor.server, HarvestCursor.newest_id, HarvestCursor.backfill_done)
        ).all()
        versions = conn.execute(select(PostVersion.text)).all()
    store.close()
    return {
        name: sorted(map(tuple, rows), key=repr)
        for name, rows in dict(
            posts=posts, copies=copies, media=media, authors=authors, cursors=cursors, versions=versions
        ).items()
    }
