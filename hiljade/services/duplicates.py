"""Linking duplicate reports: read the live posts and their hashes, find links, store the new ones."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from hiljade.models.links import add_links, hashed_media, live_posts, stored_links
from hiljade.pipeline.duplicates import find_links


def link_duplicates(conn: Connection, settings: Mapping[str, Any], now: dt.datetime) -> Counter[str]:
    """Store links between duplicate reports in ``post_links`` (in the caller's transaction); returns
    the new links per reason.

    ``settings`` is the ``sites`` config section (``phash_threshold``, ``text_similarity``).
    Deleted posts take no part. Idempotent: links already stored are not written again.
    """
    edges = find_links(live_posts(conn), hashed_media(conn), settings)
    existing = stored_links(conn)
    new = [key for key in edges if key not in existing]
    add_links(conn, new, edges, now)
    return Counter(reason for _a, _b, reason in new)
