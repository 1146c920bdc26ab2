"""`hiljade process`: locate every post the current pipeline version has not seen, store its sightings.

Each batch of posts is one transaction: its sightings and its verdicts commit together, so a run
can be stopped at any time and the next one carries on. Manual sightings and reviewed ones
(confirmed, rejected) are never replaced.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, delete, select, update

from hiljade.config import Config
from hiljade.errors import GeocoderError, HiljadeError
from hiljade.harvester.geocoder import Geocoder, cache_key, normalise_query
from hiljade.harvester.media import MediaPolicy, fetch_media, media_session
from hiljade.models.ledger import Cursor, add_to_run, finish_run, start_run
from hiljade.models.places import geocode_answer, save_geocode_answer
from hiljade.models.schema import Media, Post, PostLocation, Sighting
from hiljade.models.store import Store
from hiljade.pipeline.duplicates import image_phash
from hiljade.pipeline.exif import ExifResult, read_exif
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import Located, locate
from hiljade.records import Candidate
from hiljade.services.duplicates import link_duplicates
from hiljade.services.gazetteer import stored_gazetteer
from hiljade.services.sites import assign_sites

# Bump when the pipeline's answers change, so `hiljade process` looks at every post again.
PIPELINE_VERSION = "1"
KEEP_STATUSES = ("confirmed",)  # a reviewer's word stays, as do manual and reviewed sightings
MediaFetcher = Callable[[str], tuple[str, bytes]]  # url -> (sha256, bytes)


@dataclass
class ProcessReport:
    """What a process run did."""

    outcomes: Counter[str] = field(default_factory=Counter)
    media: Counter[str] = field(default_factory=Counter)
    geocoder_refused: int = 0
    links: Counter[str] = field(default_factory=Counter)  # duplicate reports linked, by reason
    sites: str = ""  # what the site assignment did

    @property
    def posts(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        o = self.outcomes
        media = f", media {dict(self.media)}" if self.media else ""
        refused = f", geocoder refused {self.geocoder_refused}x" if self.geocoder_refused else ""
        links = f", duplicate links {dict(self.links)}" if self.links else ""
        sites = f"; {self.sites}" if self.sites else ""
        return (
            f"process: {self.posts} posts: {o['located']} located, {o['pending_review']} pending review, "
            f"{o['nothing']} nothing found, {o['outside_area']} outside the area"
            f" (pipeline {PIPELINE_VERSION}){media}{refused}{links}{sites}"
        )


def platform_candidate(lat: float | None, lon: float | None) -> list[Candidate]:
    """Exact platform coordinates as evidence (a place's bounding box never reaches here)."""
    if lat is None or lon is None:
        return []
    return [
        Candidate(
            lat,
            lon,
            "platform_geo",
            10.0,
            0.95,
            "auto",
            matched="platform coordinates",
            source="platform:geo",
        )
    ]


_EXIF_FIELDS = tuple(f.name for f in dataclasses.fields(ExifResult))


def stored_exif_candidates(entries: Any) -> list[Candidate]:
    """Candidates from the EXIF results an importer kept in ``posts.raw["media_exif"]`` (original
    photos from mail or photo folders, whose bytes are not stored); malformed entries are skipped."""
    found = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not all(_is_number(entry.get(k)) for k in ("lat", "lon")):
            continue
        fields = {k: entry.get(k) for k in _EXIF_FIELDS if k != "file"}
        fields.update({k: None for k in ("altitude", "direction", "h_error_m") if not _is_number(fields[k])})
        candidate = ExifResult(file=str(entry.get("file") or ""), **fields).to_candidate()
        if candidate is not None:
            evidence = {**candidate.evidence, "sha256": entry.get("sha256")}
            found.append(dataclasses.replace(candidate, evidence=evidence))
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


URL_OR_TAG = re.compile(r"https?://\S+|[@#][\w.@-]+", re.UNICODE)


def geocode_query(text: str) -> str:
    """The text a geocoder is asked: no links, mentions or hashtags, at most 200 characters."""
    return " ".join(URL_OR_TAG.sub(" ", text).split())[:200]


def geocoder_cache_prefix(text: str) -> str | None:
    """The start of the geocoder cache queries made from a post's ``text`` (for any area and any
    countries), or None when the text asks the geocoder nothing; erasing a post forgets them."""
    query = geocode_query(text)
    if not normalise_query(query):
        return None
    return cache_key(query, None, ()).split("|bbox=")[0] + "|bbox="


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
        self,
        ids: Sequence[int],
        *,
        batch: int = 500,
        progress: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ProcessReport:
        """Process ``ids`` in batches, one transaction each; ``should_stop`` is asked between batches."""
        for start in range(0, len(ids), batch):
            if should_stop is not None and should_stop():
                break
            chunk = ids[start : start + batch]
            with self.store.transaction() as conn:
                results = []
                media = self._images(conn, chunk)
                for post_id, text, lat, lon, exif in self._posts(conn, chunk):
                    extra = stored_exif_candidates(exif) + platform_candidate(lat, lon)
                    extra += self._media_candidates(conn, media.get(post_id, []))
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
            select(p.c.id, p.c.text, p.c.geo_lat, p.c.geo_lon, p.c.raw["media_exif"])
            .where(p.c.id.in_(list(ids)))
            .order_by(p.c.id)
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

    def _images(self, conn: Connection, ids: Iterable[int]) -> dict[int, list[Any]]:
        m = Media.__table__
        rows = conn.execute(
            select(m.c.post_id, m.c.id, m.c.url, m.c.sha256, m.c.exif)
            .where(m.c.post_id.in_(list(ids)), m.c.type == "image")
            .order_by(m.c.post_id, m.c.position)
        )
        images: dict[int, list[Any]] = {}
        for row in rows:
            images.setdefault(row.post_id, []).append(row)
        return images

    def _media_candidates(self, conn: Connection, images: Sequence[Any]) -> list[Candidate]:
        """Download the post's images not yet hashed (keeping their sha256, perceptual hash and EXIF
        reading), then turn every stored EXIF reading of the post's media into candidates."""
        readings = []
        for _, media_id, url, sha256, exif in images:
            if sha256 is None and self.fetch_media is not None:
                exif = self._download(conn, media_id, url)
            if exif:
                readings.append(exif)
        return stored_exif_candidates(readings)

    def _download(self, conn: Connection, media_id: int, url: str) -> dict[str, Any] | None:
        try:
            sha256, data = self.fetch_media(url)  # type: ignore[misc]
        except HiljadeError as exc:
            self.report.media[type(exc).__name__] += 1
            return None
        self.report.media["downloaded"] += 1
        reading = dataclasses.asdict(read_exif(data, name=url)) | {"sha256": sha256}
        conn.execute(
            update(Media.__table__)
            .where(Media.__table__.c.id == media_id)
            .values(sha256=sha256, phash=image_phash(data), exif=reading, downloaded_at=self.clock())
        )
        return reading

    def _save(self, conn: Connection, results: Sequence[tuple[int, Located]]) -> None:
        """Replace the batch's pipeline sightings and verdicts (reviewed and manual ones stay)."""
        s, pl = Sighting.__table__, PostLocation.__table__
        now = self.clock()
        ids = [post_id for post_id, _ in results]
        reviewed = (s.c.method == "manual") | s.c.status.in_(KEEP_STATUSES) | s.c.reviewed_by.is_not(None)
        conn.execute(delete(s).where(s.c.post_id.in_(ids), ~reviewed))
        # a post a reviewer already placed keeps the reviewer's choice
        placed = set(
            conn.execute(select(s.c.post_id).where(s.c.post_id.in_(ids), s.c.chosen, reviewed)).scalars()
        )
        conn.execute(delete(pl).where(pl.c.post_id.in_(ids)))
        rows = [
            {
                "post_id": post_id,
                "chosen": c is located.chosen and post_id not in placed,
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


class StoredGeocodeCache:
    """The geocoder's cache in the store: every answer kept, "not found" (an empty list) included."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str) -> list[dict[str, Any]] | None:
        with self.store.connect() as conn:
            return geocode_answer(conn, key)

    def put(self, key: str, results: list[dict[str, Any]]) -> None:
        with self.store.transaction() as conn:
            save_geocode_answer(conn, key, results, dt.datetime.now(dt.UTC))


def geocoder(config: Config, store: Store, area: BaseGeometry | None) -> Geocoder | None:
    """The online geocoder fallback, or None when `geocoder.enabled` is false."""
    section = dict(config.get("geocoder"))
    if not section.get("enabled"):
        return None
    section["user_agent"] = section.get("user_agent") or config.get("user_agent")
    return Geocoder.from_config(section, cache=StoredGeocodeCache(store), area=area)


def media_fetcher(config: Config) -> MediaFetcher:
    """Downloads one image under the configured media policy (one HTTP session for the run)."""
    section = {k: v for k, v in config.get("media").items() if k != "download"}
    policy = MediaPolicy.from_config({**section, "user_agent": config.get("user_agent")})
    session = media_session(policy)

    def fetch(url: str) -> tuple[str, bytes]:
        got = fetch_media(url, policy, session=session)
        return got.sha256, got.data

    return fetch


def process_pending(
    config: Config,
    store: Store,
    *,
    reprocess: bool = False,
    media: bool = True,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ProcessReport:
    """What `hiljade process` does, stoppable between batches; a geocoder that was asked (or refused
    us) leaves a ledger row (source ``geocoder``, status ``ok`` or ``refused``) for `hiljade status`."""
    build_id, places = stored_gazetteer(store)
    coder = geocoder(config, store, places.area)
    fetch = media_fetcher(config) if config.get("media.download") and media else None
    processor = Processor(
        store, places, gazetteer_build=build_id, geocode=coder.geocode if coder else None, fetch_media=fetch
    )
    started = dt.datetime.now(dt.UTC)
    report = processor.run(
        processor.pending_ids(reprocess=reprocess), batch=batch, progress=progress, should_stop=should_stop
    )
    with store.transaction() as conn:
        settings = dict(config.get("sites"))
        report.links = link_duplicates(conn, settings, dt.datetime.now(dt.UTC))
        report.sites = assign_sites(conn, settings, dt.datetime.now(dt.UTC)).summary()
    if coder is not None and (coder.requests_made or coder.refusal is not None):
        with store.transaction() as conn:
            row = start_run(conn, str(uuid.uuid4()), Cursor("geocoder", coder.settings.url, ""), started)
            add_to_run(conn, row, requests=coder.requests_made, errors=report.geocoder_refused)
            refused = coder.refusal is not None
            finish_run(
                conn,
                row,
                "refused" if refused else "ok",
                dt.datetime.now(dt.UTC),
                message=str(coder.refusal) if refused else None,
            )
    return report
