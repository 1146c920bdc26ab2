"""`hiljade process`: locate every post the current pipeline version has not seen, store its sightings.

Each batch of posts is one transaction: its sightings and its verdicts commit together, so a run
can be stopped at any time and the next one carries on. Manual sightings and reviewed ones
(confirmed, rejected) are never replaced.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update

from hiljade.config import Config
from hiljade.errors import GeocoderError, HiljadeError, MediaRefused
from hiljade.harvester.geocoder import cache_key, normalise_query
from hiljade.models.places import GAZETTEER_WAITING, GEOCODER_WAITING
from hiljade.models.schema import Media, Post, PostLocation, Sighting
from hiljade.models.store import Store
from hiljade.pipeline.duplicates import image_phash
from hiljade.pipeline.exif import ExifResult, read_exif
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import Located, locate
from hiljade.records import Candidate
from hiljade.services import downloads
from hiljade.services.downloads import CONFIG_REFUSALS, MediaFetcher, media_fetcher, media_settings_key
from hiljade.services.duplicates import link_duplicates
from hiljade.services.gazetteer import newest_gazetteer
from hiljade.services.geocoding import StoredGeocodeCache, geocoder, record_geocoder_run
from hiljade.services.sites import assign_sites
from hiljade.wording import plural, plural_with, tally

# Bump when the pipeline's answers change, so `hiljade process` looks at every post again.
PIPELINE_VERSION = "1"
KEEP_STATUSES = ("confirmed",)  # a reviewer's word stays, as do manual and reviewed sightings
WAITING = {GEOCODER_WAITING: "the geocoder (the next process asks again)",
           GAZETTEER_WAITING: "the gazetteer: run `hiljade gazetteer build FILE...`, then `hiljade process` "
                              "places them"}


@dataclass
class ProcessReport:
    """What a process run did."""

    outcomes: Counter[str] = field(default_factory=Counter)
    media: Counter[str] = field(default_factory=Counter)
    geocoder_refused: int = 0
    geocoder_failed: int = 0  # lookups that failed without a refusal (no network, timeout, 5xx)
    links: Counter[str] = field(default_factory=Counter)  # duplicate reports linked, by reason
    sites: str = ""  # what the site assignment did

    @property
    def posts(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        o = self.outcomes
        media = f"; media: {tally(self.media)}" if self.media else ""
        refused = (f", geocoder refused {plural(self.geocoder_refused, 'time')}"
                   if self.geocoder_refused else "")
        refused += f", geocoder failed {plural(self.geocoder_failed, 'time')}" if self.geocoder_failed else ""
        for outcome, what in WAITING.items():
            if o[outcome]:  # "1 post waits for ...", "2 posts wait for ..."
                refused += f"; {plural_with(o[outcome], 'post', 'waits', 'wait')} for {what}"
        links = f"; duplicate links: {tally(self.links)}" if self.links else ""
        sites = f"; {self.sites}" if self.sites else ""
        return (
            f"process: {plural(self.posts, 'post')}: {o['located']} located, "
            f"{o['pending_review']} pending review, "
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
        geocode_cache: StoredGeocodeCache | None = None,
        media_key: str | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.gazetteer = gazetteer
        self.gazetteer_build = gazetteer_build
        self.geocode = geocode
        self.fetch_media = fetch_media
        self.geocode_cache = geocode_cache or StoredGeocodeCache(store)  # bound to each batch's transaction
        self.media_key = media_key  # the media settings' fingerprint (see ``media_settings_key``)
        self.clock = clock
        self.report = ProcessReport()
        self._geocoder_missed = False

    def pending_ids(self, *, reprocess: bool = False) -> list[int]:
        """Ids of posts to look at: all with ``reprocess``; else the new ones, the waiting ones, those that
        found nothing before this gazetteer, and those with media refused under other media settings."""
        p, pl = Post.__table__, PostLocation.__table__
        query = select(p.c.id).order_by(p.c.id)
        if not reprocess:
            again = (pl.c.post_id.is_(None)) | (pl.c.pipeline_version != PIPELINE_VERSION)
            again |= pl.c.outcome == GEOCODER_WAITING
            if self.gazetteer_build is not None:
                older = pl.c.gazetteer_build.is_(None) | (pl.c.gazetteer_build != self.gazetteer_build)
                again |= pl.c.outcome.in_(("nothing", GAZETTEER_WAITING)) & older
            query = query.outerjoin(pl, pl.c.post_id == p.c.id).where(again)
        with self.store.connect() as conn:
            ids = set(conn.execute(query).scalars())
            if not reprocess:
                ids |= self._refused_media_posts(conn)
        return sorted(ids)

    def _refused_media_posts(self, conn: Connection) -> set[int]:
        """Posts with media refused by the media settings, when the settings have changed since."""
        if self.fetch_media is None or self.media_key is None:
            return set()
        m = Media.__table__
        refused = m.c.sha256.is_(None) & m.c.exif.is_not(None) & (m.c.type == "image")
        rows = conn.execute(select(m.c.post_id, m.c.exif).where(refused))
        return {
            post_id
            for post_id, exif in rows
            if isinstance(exif, dict) and exif.get("refused") and exif.get("media_settings") != self.media_key
        }

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
            with self.store.transaction() as conn, self.geocode_cache.bound(conn):
                results = []
                media = self._images(conn, chunk)
                for post_id, text, lat, lon, exif in self._posts(conn, chunk):
                    extra = stored_exif_candidates(exif) + platform_candidate(lat, lon)
                    extra += self._media_candidates(conn, media.get(post_id, []))
                    self._geocoder_missed = False
                    located = locate(text or "", self.gazetteer, extra=extra, geocode=self._geocode)
                    located = self._verdict(located)
                    results.append((post_id, located))
                    self.report.outcomes[located.outcome] += 1
                self._save(conn, results)
            if progress:
                progress(len(chunk))
        return self.report

    def _verdict(self, located: Located) -> Located:
        """Nothing found because the geocoder failed, or without a gazetteer: the post waits."""
        if located.outcome not in ("nothing", "outside_area"):
            return located
        if self._geocoder_missed:
            why = f"{located.reason}; the geocoder did not answer (asked again next time)"
            return dataclasses.replace(located, outcome=GEOCODER_WAITING, reason=why)
        if self.gazetteer_build is None and located.outcome == "nothing":
            return dataclasses.replace(located, outcome=GAZETTEER_WAITING)
        return located

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
        except GeocoderError as exc:
            self._geocoder_missed = True  # the post waits for the next run
            if exc.refused:
                self.report.geocoder_refused += 1
            else:
                self.report.geocoder_failed += 1
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
        m = Media.__table__
        try:
            sha256, data = self.fetch_media(url)  # type: ignore[misc]
        except HiljadeError as exc:
            self.report.media[downloads.failure_words(exc)] += 1
            if isinstance(exc, MediaRefused) and exc.reason in CONFIG_REFUSALS:
                # the settings refused it: remember under which settings, to try again when they change
                refusal = {"refused": exc.reason, "error": str(exc), "media_settings": self.media_key}
                conn.execute(update(m).where(m.c.id == media_id).values(exif=refusal))
            return None
        self.report.media["downloaded"] += 1
        reading = dataclasses.asdict(read_exif(data, name=url)) | {"sha256": sha256}
        conn.execute(
            update(m)
            .where(m.c.id == media_id)
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
    """What `hiljade process` does, stoppable between batches. Without a gazetteer it places what needs
    none (EXIF, platform coordinates, links, coordinates, plus codes) and leaves the rest waiting; the
    geocoder is asked only with a gazetteer, and leaves a ledger row for `hiljade status`."""
    build_id, places = newest_gazetteer(config, store)
    cache = StoredGeocodeCache(store)
    coder = geocoder(config, cache, places.area if places else None) if build_id is not None else None
    fetch = media_fetcher(config) if config.get("media.download") and media else None
    processor = Processor(
        store,
        places,
        gazetteer_build=build_id,
        geocode=coder.geocode if coder else None,
        fetch_media=fetch,
        geocode_cache=cache,
        media_key=media_settings_key(config),
    )
    started = dt.datetime.now(dt.UTC)
    report = processor.run(
        processor.pending_ids(reprocess=reprocess), batch=batch, progress=progress, should_stop=should_stop
    )
    with store.transaction() as conn:
        settings = dict(config.get("sites"))
        report.links = link_duplicates(conn, settings, dt.datetime.now(dt.UTC))
        report.sites = assign_sites(conn, settings, dt.datetime.now(dt.UTC)).summary()
    if coder is not None:
        record_geocoder_run(store, coder, report.geocoder_refused + report.geocoder_failed, started)
    return report
