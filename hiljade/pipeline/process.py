"""`hiljade process`: locate every post the current pipeline version has not seen, store its sightings.

Each batch of posts is one transaction: its sightings and its verdicts commit together, so a run
can be stopped at any time and the next one carries on. Manual sightings and reviewed ones
(confirmed, rejected) are never replaced.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update

from hiljade.errors import GeocoderError, HiljadeError
from hiljade.models.records import Candidate
from hiljade.models.schema import Media, Post, PostLocation, Sighting
from hiljade.models.store import Store
from hiljade.pipeline.exif import read_exif
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import Located, locate

# Bump when the pipeline's answers change, so `hiljade process` looks at every post again.
PIPELINE_VERSION = "1"
KEEP_STATUSES = ("confirmed",)  # a reviewer's word stays
MediaFetcher = Callable[[str], tuple[str, bytes]]  # url -> (sha256, bytes)


@dataclass
class ProcessReport:
    """What a process run did."""

    outcomes: Counter[str] = field(default_factory=Counter)
    media: Counter[str] = field(default_factory=Counter)
    geocoder_refused: int = 0

    @property
    def posts(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        o = self.outcomes
        media = f", media {dict(self.media)}" if self.media else ""
        refused = f", geocoder refused {self.geocoder_refused}x" if self.geocoder_refused else ""
        return (
            f"process: {self.posts} posts: {o['located']} located, {o['pending_review']} pending review, "
            f"{o['nothing']} nothing found, {o['outside_area']} outside the area"
            f" (pipeline {PIPELINE_VERSION}){media}{refused}"
        )


def platform_candidate(lat: float | None, lon: float | None) -> list[Candidate]:
    """Exact platform coordinates as evidence (a place's bounding box never reaches here)."""
    if lat is None or lon is None:
        return []
    return [Candidate(lat, lon, "platform_geo", 10.0, 0.95, "auto", matched="platform coordinates",
                      source="platform:geo")]


URL_OR_TAG = re.compile(r"https?://\S+|[@#][\w.@-]+", re.UNICODE)


def geocode_query(text: str) -> str:
    """The text a geocoder is asked: no links, mentions or hashtags, at most 200 characters."""
    return " ".join(URL_OR_TAG.sub(" ", text).split())[:200]


class Processor:
    """Runs ``locate`` over stored posts and writes sightings."""

    def __init__(
        self,
        store: Store,
        gazetteer: Gazetteer | None,
        *,
        gazetteer_build: int | None = None,
        geocode: Callable[[str], list[Candidate]] | None = None,
        fetch_media: MediaFetcher | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.gazetteer = gazetteer
        self.gazetteer_build = gazetteer_build
        self.geocode = geocode
        self.fetch_media = fetch_media
        self.clock = clock
        self.report = ProcessReport()

    def pending_ids(self, *, reprocess: bool = False) -> list[int]:
        """Ids of posts to look at: all with ``reprocess``, else those this pipeline version has not seen."""
        p, pl = Post.__table__, PostLocation.__table__
        query = select(p.c.id).order_by(p.c.id)
        if not reprocess:
            query = query.outerjoin(pl, pl.c.post_id == p.c.id).where(
                (pl.c.post_id.is_(None)) | (pl.c.pipeline_version != PIPELINE_VERSION)
            )
        with self.store.connect() as conn:
            return list(conn.execute(query).scalars())

    def run(
        self, ids: Sequence[int], *, batch: int = 500, progress: Callable[[int], None] | None = None
    ) -> ProcessReport:
        """Process ``ids`` in batches, one transaction each."""
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            with self.store.transaction() as conn:
                results = []
                for post_id, text, lat, lon in self._posts(conn, chunk):
                    extra = platform_candidate(lat, lon) + self._media_candidates(conn, post_id)
                    located = locate(text or "", self.gazetteer, extra=extra, geocode=self._geocode)
                    results.append((post_id, located))
                    self.report.outcomes[located.outcome] += 1
                self._save(conn, results)
            if progress:
                progress(len(chunk))
        return self.report

    def _posts(self, conn: Connection, ids: Iterable[int]) -> list[Any]:
        p = Post.__table__
        return conn.execute(
            select(p.c.id, p.c.text, p.c.geo_lat, p.c.geo_lon).where(p.c.id.in_(list(ids))).order_by(p.c.id)
        ).all()

    def _geocode(self, text: str) -> list[Candidate]:
        if self.geocode is None:
            return []
        query = geocode_query(text)
        if not query:
            return []
        try:
            return self.geocode(query)
        except GeocoderError:
            self.report.geocoder_refused += 1
            return []

    def _media_candidates(self, conn: Connection, post_id: int) -> list[Candidate]:
        """Download the post's images not yet hashed, keep their sha256, and read their EXIF GPS."""
        if self.fetch_media is None:
            return []
        m = Media.__table__
        rows = conn.execute(
            select(m.c.id, m.c.url).where(m.c.post_id == post_id, m.c.sha256.is_(None), m.c.type == "image")
        ).all()
        found = []
        for media_id, url in rows:
            try:
                sha256, data = self.fetch_media(url)
            except HiljadeError as exc:
                self.report.media[type(exc).__name__] += 1
                continue
            self.report.media["downloaded"] += 1
            conn.execute(
                update(m).where(m.c.id == media_id).values(sha256=sha256, downloaded_at=self.clock())
            )
            candidate = read_exif(data, name=url).to_candidate()
            if candidate is not None:
                found.append(candidate)
        return found

    def _save(self, conn: Connection, results: Sequence[tuple[int, Located]]) -> None:
        """Replace the batch's pipeline sightings and verdicts (reviewed and manual ones stay)."""
        s, pl = Sighting.__table__, PostLocation.__table__
        now = self.clock()
        ids = [post_id for post_id, _ in results]
        conn.execute(
            delete(s).where(s.c.post_id.in_(ids), s.c.method != "manual", s.c.status.not_in(KEEP_STATUSES))
        )
        conn.execute(delete(pl).where(pl.c.post_id.in_(ids)))
        rows = [
            {
                "post_id": post_id,
                "chosen": c is located.chosen,
                "method": c.method,
                "lat": c.lat,
                "lon": c.lon,
                "precision_m": c.precision_m,
                "confidence": c.confidence,
                "status": c.status,
                "matched": c.matched,
                "span_start": c.span[0] if c.span else None,
                "span_end": c.span[1] if c.span else None,
                "source": c.source,
                "evidence": _jsonable(c.evidence),
                "pipeline_version": PIPELINE_VERSION,
                "created_at": now,
            }
            for post_id, located in results
            for c in located.candidates
        ]
        if rows:
            conn.execute(s.insert(), rows)
        if results:
            conn.execute(
                pl.insert(),
                [
                    {
                        "post_id": post_id,
                        "pipeline_version": PIPELINE_VERSION,
                        "gazetteer_build": self.gazetteer_build,
                        "outcome": located.outcome,
                        "processed_at": now,
                    }
                    for post_id, located in results
                ],
            )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
