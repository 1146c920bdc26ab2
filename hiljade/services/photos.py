"""Photos for people: a reviewer marks a photo publishable (default: not); the public copy is the
photo downloaded again under the media policy and re-encoded without any metadata. The public site
page shows only those copies (``published_photos``); the reviewers' desk sees a stripped copy of
any downloaded photo (``review_photo``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from hiljade.config import Config
from hiljade.errors import HiljadeError, ReviewError
from hiljade.harvester.media import FetchedMedia, MediaPolicy, fetch_media, stored_format, strip_metadata
from hiljade.models.review_queue import write_review_log
from hiljade.models.schema import Media, Post, Sighting
from hiljade.models.store import Store

Fetcher = Callable[[str], FetchedMedia]
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff"}


@dataclass(frozen=True)
class PublishedPhoto:
    """A photo the public may see: its id, its address on hiljade and its size."""

    media_id: int
    url: str
    width: int | None
    height: int | None


def photo_url(media_id: int) -> str:
    """Where hiljade serves a published photo."""
    return f"/photos/{media_id}"


def fetcher(config: Config) -> Fetcher:
    """Downloads one image under the configured media policy (no private addresses, capped size)."""
    policy = MediaPolicy.from_config(
        {
            **{k: v for k, v in config.get("media").items() if k != "download"},
            "user_agent": config.get("user_agent"),
        }
    )
    return lambda url: fetch_media(url, policy)


def clean_copy(fetched: FetchedMedia) -> tuple[str, bytes]:
    """(content type, bytes) of the image re-encoded without metadata."""
    fmt = stored_format(fetched.format)
    return CONTENT_TYPES.get(fmt, "application/octet-stream"), strip_metadata(fetched.data, fetched.format)


def published_photos(store: Store, site_id: int) -> list[PublishedPhoto]:
    """The publishable photos of a site's reports (posts not deleted), in report order."""
    m, p, s = Media.__table__, Post.__table__, Sighting.__table__
    posts = select(s.c.post_id).where(s.c.site_id == site_id)
    query = (
        select(m.c.id, m.c.width, m.c.height)
        .select_from(m.join(p, p.c.id == m.c.post_id))
        .where(
            m.c.post_id.in_(posts),
            m.c.publishable.is_(True),
            m.c.published.is_not(None),
            p.c.deleted_at.is_(None),
        )
        .order_by(p.c.created_at, m.c.post_id, m.c.position)
    )
    with store.connect() as conn:
        return [PublishedPhoto(r.id, photo_url(r.id), r.width, r.height) for r in conn.execute(query)]


def published_copy(store: Store, media_id: int) -> tuple[str, bytes] | None:
    """(content type, bytes) of a published photo; None unless it is publishable and its post stands."""
    m, p = Media.__table__, Post.__table__
    query = (
        select(m.c.published_type, m.c.published)
        .select_from(m.join(p, p.c.id == m.c.post_id))
        .where(
            m.c.id == media_id,
            m.c.publishable.is_(True),
            m.c.published.is_not(None),
            p.c.deleted_at.is_(None),
        )
    )
    with store.connect() as conn:
        row = conn.execute(query).first()
    return (row.published_type, bytes(row.published)) if row else None


def review_photo(
    config: Config, store: Store, media_id: int, fetch: Fetcher | None = None
) -> tuple[str, bytes]:
    """For reviewers: a downloaded photo, fetched again and stripped of metadata (ReviewError if none)."""
    url = _photo(store, media_id, downloaded=True)
    return _copy(fetch or fetcher(config), url)


def set_publishable(
    config: Config,
    store: Store,
    media_id: int,
    publishable: bool,
    reviewer: str,
    *,
    fetch: Fetcher | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Mark a photo publishable (storing its clean copy) or not (dropping it); audited. A message."""
    url = _photo(store, media_id, downloaded=publishable)
    content_type, data = _copy(fetch or fetcher(config), url) if publishable else (None, None)
    at = now or dt.datetime.now(dt.UTC)
    with store.transaction() as conn:
        conn.execute(
            update(Media.__table__)
            .where(Media.id == media_id)
            .values(
                publishable=publishable,
                published=data,
                published_type=content_type,
                published_by=reviewer if publishable else None,
                published_at=at if publishable else None,
            )
        )
        _log(conn, at, reviewer, "publish" if publishable else "unpublish", media_id)
    return f"photo {media_id} {'published' if publishable else 'no longer public'}"


def _photo(store: Store, media_id: int, *, downloaded: bool) -> str:
    m, p = Media.__table__, Post.__table__
    with store.connect() as conn:
        row = conn.execute(
            select(m.c.url, m.c.type, m.c.downloaded_at, p.c.deleted_at)
            .select_from(m.join(p, p.c.id == m.c.post_id))
            .where(m.c.id == media_id)
        ).first()
    if row is None or row.deleted_at is not None:
        raise ReviewError(f"there is no photo {media_id}")
    if downloaded and (row.type != "image" or row.downloaded_at is None):
        raise ReviewError(f"photo {media_id} was not downloaded (see `hiljade process`)")
    return str(row.url)


def _copy(fetch: Fetcher, url: str) -> tuple[str, bytes]:
    try:
        return clean_copy(fetch(url))
    except HiljadeError as exc:
        raise ReviewError(f"the photo cannot be fetched again: {exc}") from exc


def _log(conn: Connection, at: dt.datetime, reviewer: str, action: str, media_id: int) -> None:
    write_review_log(conn, at=at, reviewer=reviewer, action=action, target="media", target_id=media_id)
