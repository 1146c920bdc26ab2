"""What a stored payload must not hold: the identity of the accounts behind the posts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hiljade.config import load_config
from hiljade.models.schema import Author, Post
from hiljade.services.store import open_store

# Keys of account profiles on Mastodon, X/Twitter and Bluesky that name a person.
PROFILE_KEYS = ("username", "acct", "display_name", "displayName", "avatar", "avatar_static", "header",
                "handle", "author_id", "profile_image_url", "in_reply_to_account_id", "did")


def stored_payloads(config: Path) -> list[tuple[dict[str, Any], str | None]]:
    """Every stored ``posts.raw`` with its author's pseudonym."""
    store = open_store(load_config(config))
    with store.connect() as conn:
        rows = conn.execute(select(Post.raw, Author.pseudonym).outerjoin(Author, Post.author_id == Author.id))
        out = [(raw, alias) for raw, alias in rows]
    store.close()
    return out


def keys_in(value: Any) -> set[str]:
    """Every mapping key anywhere in a JSON value."""
    if isinstance(value, Mapping):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


# Kept on purpose: the post's addresses (a Mastodon uri carries the account's name or id, see
# docs/schema.md) and what the person wrote, where a name may appear by itself.
KEPT_KEYS = ("uri", "url", "content", "text", "spoiler_text", "description", "alt")


def without_keys(value: Any, keys: Iterable[str] = KEPT_KEYS) -> Any:
    """A JSON value without the given keys, at any depth."""
    drop = set(keys)
    if isinstance(value, Mapping):
        return {k: without_keys(v, drop) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [without_keys(v, drop) for v in value]
    return value


def leaks(payloads: Iterable[dict[str, Any]], values: Iterable[str]) -> set[str]:
    """The identity ``values`` (names, ids, avatars ...) found in ``payloads`` outside ``KEPT_KEYS``."""
    text = "\n".join(json.dumps(without_keys(p), ensure_ascii=False) for p in payloads)
    return {v for v in values if v and len(v) > 2 and v in text}
