"""The database schema (SQLAlchemy 2 declarative models). docs/schema.md explains every column.

Changing a table here needs a new Alembic migration in models/migrations/versions/.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: hiljade stores only timezone-aware times")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class Author(Base):
    """A reporting account, known only by a keyed pseudonym."""

    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("platform", "pseudonym"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    pseudonym: Mapped[str] = mapped_column(String(64))
    handle: Mapped[str | None] = mapped_column(String(512))
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Post(Base):
    """One report, merged across servers by its uri."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("platform", "uri"),
        Index("ix_posts_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    server: Mapped[str] = mapped_column(String(512))
    native_id: Mapped[str] = mapped_column(String(128))
    uri: Mapped[str] = mapped_column(String(2048))
    url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    hashtags: Mapped[list[str]] = mapped_column(JSONDoc)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id"))
    geo_lat: Mapped[float | None] = mapped_column(Float)
    geo_lon: Mapped[float | None] = mapped_column(Float)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    fetched_from: Mapped[str] = mapped_column(String(2048))
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    quote_of_uri: Mapped[str | None] = mapped_column(String(2048))
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PostCopy(Base):
    """Every (server, id) through which a post was seen; the same status on two servers is one post."""

    __tablename__ = "post_copies"
    __table_args__ = (UniqueConstraint("platform", "server", "native_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    server: Mapped[str] = mapped_column(String(512))
    native_id: Mapped[str] = mapped_column(String(128))
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # What of this copy disagrees with the post as stored ("text, hashtags, media"), None when it agrees:
    # a copy from another server than the post's home never changes the post, it is flagged here.
    disagrees: Mapped[str | None] = mapped_column(String(64))


class PostVersion(Base):
    """Earlier texts of edited posts, kept when an edit replaces them."""

    __tablename__ = "post_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    replaced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Media(Base):
    """An attachment of a post; sha256 is filled once the bytes were downloaded."""

    __tablename__ = "media"
    __table_args__ = (UniqueConstraint("post_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    native_id: Mapped[str | None] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    preview_url: Mapped[str | None] = mapped_column(String(2048))
    remote_url: Mapped[str | None] = mapped_column(String(2048))
    alt_text: Mapped[str | None] = mapped_column(Text)
    blurhash: Mapped[str | None] = mapped_column(String(128))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    phash: Mapped[str | None] = mapped_column(String(32))
    exif: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)  # GPS, bearing, time read from the bytes
    downloaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # a reviewer marked the photo publishable: the public copy, re-encoded without any metadata
    publishable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    published: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    published_type: Mapped[str | None] = mapped_column(String(32))
    published_by: Mapped[str | None] = mapped_column(String(128))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class HarvestCursor(Base):
    """Where each (source, server, hashtag) feed was read up to; moves with the posts it covers."""

    __tablename__ = "harvest_cursors"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    server: Mapped[str] = mapped_column(String(512), primary_key=True)
    hashtag: Mapped[str] = mapped_column(String(128), primary_key=True)
    newest_id: Mapped[str | None] = mapped_column(String(128))
    backfill_max_id: Mapped[str | None] = mapped_column(String(128))
    backfill_done: Mapped[bool] = mapped_column(Boolean, default=False)
    pagination_token: Mapped[str | None] = mapped_column(String(512))
    last_post_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class HarvestRun(Base):
    """The run ledger: one row per source/server/hashtag per run."""

    __tablename__ = "harvest_runs"
    __table_args__ = (Index("ix_harvest_runs_feed", "source", "server", "hashtag", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), index=True)
    source: Mapped[str] = mapped_column(String(32))
    server: Mapped[str] = mapped_column(String(512))
    hashtag: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(32))
    cursor_before: Mapped[str | None] = mapped_column(String(128))
    cursor_after: Mapped[str | None] = mapped_column(String(128))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    new_posts: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    updated_posts: Mapped[int] = mapped_column(Integer, default=0)
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    rate_limit_waits: Mapped[int] = mapped_column(Integer, default=0)
    waited_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    erased_posts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error_message: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Float)


class GazetteerEntry(Base):
    """A place of the offline gazetteer built from OpenStreetMap (street, square, landmark, address,
    intersection, named area, the area polygon)."""

    __tablename__ = "gazetteer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(512))
    variants: Mapped[list[str]] = mapped_column(JSONDoc)
    geometry: Mapped[str | None] = mapped_column(Text)  # GeoJSON; null for a name known without a shape
    properties: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class GazetteerBuild(Base):
    """Each gazetteer build: when, from which files, how many entries."""

    __tablename__ = "gazetteer_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    entries: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))


class GeocodeAnswer(Base):
    """Every answer of the online geocoder, "not found" included, so nothing is asked twice."""

    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Sighting(Base):
    """A claim "a camera is here", produced by the location pipeline (or a reviewer), with its evidence."""

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    chosen: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    precision_m: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(32), index=True)
    matched: Mapped[str] = mapped_column(Text)
    span_start: Mapped[int | None] = mapped_column(Integer)
    span_end: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(512))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    pipeline_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PostLocation(Base):
    """The pipeline's verdict per post: which version looked at it and what it found."""

    __tablename__ = "post_locations"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    pipeline_version: Mapped[str] = mapped_column(String(64), index=True)
    gazetteer_build: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    processed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Site(Base):
    """A camera location (a pole or a facade, which may hold several cameras): merged sightings."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(32), index=True)  # unverified, verified, rejected
    reports: Mapped[int] = mapped_column(Integer, default=0)
    independent_reports: Mapped[int] = mapped_column(Integer, default=0)
    camera_count: Mapped[int | None] = mapped_column(Integer)
    camera_type: Mapped[str | None] = mapped_column(String(32))
    camera_mount: Mapped[str | None] = mapped_column(String(32))
    camera_model: Mapped[str | None] = mapped_column(String(64))
    camera_direction: Mapped[float | None] = mapped_column(Float)
    first_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verified_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PostLink(Base):
    """Two posts that are the same report (same media bytes, near-identical photo, the same author's
    near-identical text within a day, a quote): the later one is not an independent report."""

    __tablename__ = "post_links"
    __table_args__ = (UniqueConstraint("post_id", "duplicate_of", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    duplicate_of: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # sha256, phash, text, quote
    distance: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ReviewLog(Base):
    """The audit trail: every review decision and every erasure, who, when, what and why."""

    __tablename__ = "review_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    reviewer: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(32))  # sighting, site, post
    target_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
