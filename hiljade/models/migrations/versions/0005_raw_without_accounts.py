"""stored payloads without account identity

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 13:30:00

Data only, no schema change: the raw payloads of posts and of their earlier versions lose every
account identity the adapters kept before (the Mastodon ``account`` object, the X/Twitter
``author_id``, the Bluesky author's DID and profile, the account a reply answers, the names of
mentioned accounts). Each account is reduced to its opt-out flags, and the payload names its
author only by the pseudonym already stored in ``authors`` (``author_pseudonym``): the pseudonym
key is not needed. The rules are a frozen copy of the adapters' at this revision
(``harvester/mastodon_status``, ``twitter_tweet``, ``bluesky_post``). The downgrade keeps the
reduced payloads: the removed identity is gone for good.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

AUTHOR_KEY = "author_pseudonym"
MASTODON_FLAGS = ("noindex", "indexable")
ACCOUNT_IDS = ("in_reply_to_account_id", "author_id", "in_reply_to_user_id")
MASTODON_DROPPED = ("mentions",)
TWARC_USERS = ("author", "in_reply_to_user", "pinned_tweet")

_json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
authors = sa.table("authors", sa.column("id", sa.Integer), sa.column("pseudonym", sa.String))
posts = sa.table(
    "posts",
    sa.column("id", sa.Integer),
    sa.column("platform", sa.String),
    sa.column("author_id", sa.Integer),
    sa.column("raw", _json),
)
versions = sa.table("post_versions", sa.column("id", sa.Integer), sa.column("post_id", sa.Integer),
                    sa.column("raw", _json))


def _mastodon(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: {**{f: v[f] for f in MASTODON_FLAGS if f in v}, "opt_out": None}
            if k == "account" and isinstance(v, dict) else _mastodon(v)
            for k, v in value.items()
            if k not in ACCOUNT_IDS and k not in MASTODON_DROPPED
        }
    return [_mastodon(v) for v in value] if isinstance(value, list) else value


def _twitter(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: [{p: m[p] for p in ("start", "end") if p in m} if isinstance(m, dict) else m for m in v]
            if k == "mentions" and isinstance(v, list) else _twitter(v)
            for k, v in value.items()
            if k not in ACCOUNT_IDS and k not in TWARC_USERS
        }
    return [_twitter(v) for v in value] if isinstance(value, list) else value


def _bluesky(value: Any) -> Any:
    if isinstance(value, dict):
        if "did" in value and ("handle" in value or "$type" not in value):  # a profile (its handle dropped)
            labels = [{k: label[k] for k in ("val", "neg") if k in label}
                      for label in value.get("labels") or () if isinstance(label, dict)]
            return {"labels": labels, "opt_out": None}
        return {k: _bluesky(v) for k, v in value.items()}
    return [_bluesky(v) for v in value] if isinstance(value, list) else value


RULES = {"mastodon": _mastodon, "twitter": _twitter, "bluesky": _bluesky}


def reduced(platform: str, raw: Any, alias: str | None) -> Any:
    """A stored payload without account identity, naming its author by ``alias`` only."""
    if not isinstance(raw, dict) or not raw:
        return raw
    out = dict(RULES.get(platform, dict)(raw))
    out.pop(AUTHOR_KEY, None)
    if alias:
        out[AUTHOR_KEY] = alias
    return out


def upgrade() -> None:
    conn = op.get_bind()
    owner = (
        sa.select(posts.c.id, posts.c.platform, authors.c.pseudonym)
        .select_from(posts.outerjoin(authors, posts.c.author_id == authors.c.id))
    )
    who = {row.id: (row.platform, row.pseudonym) for row in conn.execute(owner)}
    for table, post_of in ((posts, posts.c.id.label("post_id")), (versions, versions.c.post_id)):
        for row_id, post_id, raw in conn.execute(sa.select(table.c.id, post_of, table.c.raw)).all():
            platform, alias = who.get(post_id, ("", None))
            new = reduced(platform, raw, alias)
            if new != raw:
                conn.execute(sa.update(table).where(table.c.id == row_id).values(raw=new))


def downgrade() -> None:
    pass  # the removed identity cannot come back; the reduced payloads stay
