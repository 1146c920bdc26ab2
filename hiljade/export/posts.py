"""Export of posts: no author identity unless asked for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from hiljade.models.schema import Author, Post

FIELDS = (
    "platform",
    "server",
    "native_id",
    "uri",
    "url",
    "created_at",
    "edited_at",
    "text",
    "language",
    "hashtags",
)
AUTHOR_FIELDS = ("author_pseudonym", "author_handle")


def post_fields(include_authors: bool) -> tuple[str, ...]:
    return FIELDS + AUTHOR_FIELDS if include_authors else FIELDS


def post_rows(conn: Connection, *, include_authors: bool = False) -> Iterator[dict[str, Any]]:
    """Posts oldest first, as plain dicts with ``post_fields(include_authors)``."""
    p, a = Post.__table__, Author.__table__
    cols = [p.c[name] for name in FIELDS]
    query = select(*cols).order_by(p.c.created_at, p.c.id)
    if include_authors:
        query = (
            select(*cols, a.c.pseudonym.label("author_pseudonym"), a.c.handle.label("author_handle"))
            .select_from(p.outerjoin(a, a.c.id == p.c.author_id))
            .order_by(p.c.created_at, p.c.id)
        )
    for row in conn.execute(query.execution_options(yield_per=1000)):
        yield dict(row._mapping)
