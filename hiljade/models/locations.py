"""The queries of `hiljade process` per batch of posts: reading what locating needs (a post's text,
platform coordinates and stored EXIF readings, its images), and replacing the pipeline's answers,
its sightings and verdicts (``post_locations``), in bulk.

The statements are written once per dialect and sent through ``exec_driver_sql`` (writes with the
driver's ``executemany``): nothing is compiled per batch or per row. Values go in and come out as the
column types would have them: timestamps through the column type's own bind processor, evidence as
JSON text serialised once by the caller (SQLite keeps the text as is; PostgreSQL casts it to JSONB),
JSON read back decoded as SQLAlchemy decodes it (PostgreSQL's driver decodes it itself).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect

from hiljade.models.schema import Media, Post, PostLocation, Sighting

SIGHTING_COLUMNS = (
    "post_id", "chosen", "method", "lat", "lon", "precision_m", "confidence", "status", "matched",
    "span_start", "span_end", "source", "evidence", "pipeline_version", "created_at",
)
VERDICT_COLUMNS = ("post_id", "pipeline_version", "gazetteer_build", "outcome", "processed_at")
# sightings a run never replaces: a reviewer's placing, or one a reviewer has decided on
REVIEWED = "(method = 'manual' OR status IN ({keep}) OR reviewed_by IS NOT NULL)"


class Locations:
    """The statements over ``posts``, ``media``, ``sightings`` and ``post_locations`` for one dialect."""

    def __init__(self, dialect: Dialect, keep_statuses: Sequence[str]) -> None:
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sqlite = dialect.name == "sqlite"
        self.true = "1" if self.sqlite else "true"
        exif = """JSON_QUOTE(JSON_EXTRACT(raw, '$."media_exif"'))""" if self.sqlite else "raw -> 'media_exif'"
        self.read_posts = (
            f"SELECT id, text, geo_lat, geo_lon, {exif} FROM {Post.__tablename__} "
            "WHERE id IN ({ids}) ORDER BY id"
        )
        self.read_images = (
            f"SELECT post_id, id, url, sha256, exif FROM {Media.__tablename__} "
            "WHERE post_id IN ({ids}) AND type = 'image' ORDER BY post_id, position"
        )
        keep = ", ".join(_quoted(status) for status in keep_statuses)
        self.reviewed = REVIEWED.format(keep=keep)
        evidence = self.mark if dialect.name == "sqlite" else f"CAST({self.mark} AS JSONB)"
        marks = [evidence if c == "evidence" else self.mark for c in SIGHTING_COLUMNS]
        self.insert_sightings = (
            f"INSERT INTO {Sighting.__tablename__} ({', '.join(SIGHTING_COLUMNS)}) "
            f"VALUES ({', '.join(marks)})"
        )
        self.insert_verdicts = (
            f"INSERT INTO {PostLocation.__tablename__} ({', '.join(VERDICT_COLUMNS)}) "
            f"VALUES ({', '.join([self.mark] * len(VERDICT_COLUMNS))})"
        )
        bind = Sighting.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        self._bind_time: Callable[[Any], Any] = bind or (lambda value: value)

    def bind_time(self, when: dt.datetime) -> Any:
        """``when`` as the timestamp columns bind it (once per batch, not once per row)."""
        return self._bind_time(when)

    def posts(self, conn: Connection, post_ids: Sequence[int]) -> list[tuple[int, str, Any, Any, Any]]:
        """(id, text, platform latitude, longitude, the EXIF readings in ``raw["media_exif"]``) by id."""
        rows = self._read(conn, self.read_posts, post_ids)
        if not self.sqlite:
            return rows
        return [(post_id, text, lat, lon, self._json(exif)) for post_id, text, lat, lon, exif in rows]

    def images(self, conn: Connection, post_ids: Sequence[int]) -> list[tuple[int, int, str, Any, Any]]:
        """(post id, media id, url, sha256, EXIF reading) of the posts' images, in their order."""
        rows = self._read(conn, self.read_images, post_ids)
        if not self.sqlite:
            return rows
        return [(post_id, media, url, sha256, self._json(exif)) for post_id, media, url, sha256, exif in rows]

    def _read(self, conn: Connection, statement: str, post_ids: Sequence[int]) -> list[Any]:
        if not post_ids:
            return []
        marks = ", ".join([self.mark] * len(post_ids))
        rows = conn.exec_driver_sql(statement.format(ids=marks), tuple(post_ids)).all()
        return [tuple(row) for row in rows]

    @staticmethod
    def _json(value: Any) -> Any:
        """A JSON column's text as SQLAlchemy decodes it on SQLite (a number stored as such stays one)."""
        if value is None or value == "null":
            return None
        return json.loads(value) if isinstance(value, str | bytes) else value

    def clear(self, conn: Connection, post_ids: Sequence[int]) -> set[int]:
        """Delete the posts' pipeline sightings (reviewed and manual ones stay) and their verdicts;
        returns the posts a reviewer has already placed (a reviewed sighting is chosen)."""
        if not post_ids:
            return set()
        ids = ", ".join([self.mark] * len(post_ids))
        params = tuple(post_ids)
        s, pl = Sighting.__tablename__, PostLocation.__tablename__
        conn.exec_driver_sql(f"DELETE FROM {s} WHERE post_id IN ({ids}) AND NOT {self.reviewed}", params)
        placed = conn.exec_driver_sql(
            f"SELECT DISTINCT post_id FROM {s} WHERE post_id IN ({ids}) AND chosen = {self.true} "
            f"AND {self.reviewed}",
            params,
        )
        found = {row[0] for row in placed}
        conn.exec_driver_sql(f"DELETE FROM {pl} WHERE post_id IN ({ids})", params)
        return found

    def insert(
        self, conn: Connection, sightings: list[tuple[Any, ...]], verdicts: list[tuple[Any, ...]]
    ) -> None:
        """Insert rows in the order of ``SIGHTING_COLUMNS`` and ``VERDICT_COLUMNS``, as bound values."""
        if sightings:
            conn.exec_driver_sql(self.insert_sightings, sightings)
        if verdicts:
            conn.exec_driver_sql(self.insert_verdicts, verdicts)


def _quoted(word: str) -> str:
    return "'" + word.replace("'", "''") + "'"
