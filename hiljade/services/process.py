"""`hiljade process`: locate every post the current pipeline version has not seen, store its sightings.

Each batch of posts is one transaction: its sightings and its verdicts commit together, so a run
can be stopped at any time and the next one carries on. Manual sightings and reviewed ones
(confirmed, rejected) are never replaced. With `process.workers` above 1, forked processes locate
(``process_locate``) while this one reads and writes; the stored rows are the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, update

from hiljade.config import Config
from hiljade.errors import ConfigError, GeocoderError, HiljadeError, MediaRefused
from hiljade.harvester.geocoder import cache_key, normalise_query
from hiljade.models.locations import Locations
from hiljade.models.places import GAZETTEER_WAITING, GEOCODER_WAITING
from hiljade.models.schema import Media, Post, PostLocation
from hiljade.models.store import Store
from hiljade.pipeline.duplicates import image_phash
from hiljade.pipeline.exif import read_exif
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import locate
from hiljade.records import Candidate
from hiljade.services import downloads
from hiljade.services.downloads import CONFIG_REFUSALS, MediaFetcher, media_fetcher, media_settings_key
from hiljade.services.duplicates import link_duplicates
from hiljade.services.gazetteer import newest_gazetteer
from hiljade.services.geocoding import StoredGeocodeCache, geocoder, record_geocoder_run
from hiljade.services.process_evidence import platform_candidate, stored_exif_candidates
from hiljade.services.process_locate import (
    PARALLEL_FROM,
    Item,
    Job,
    Locator,
    PostAnswer,
    answer,
    usable_workers,
)
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


Started = tuple[list[int], Job]  # a batch's post ids, and its posts handed to the locator
Images = dict[int, list[Any]]  # a batch's images by post: (post id, media id, url, sha256, EXIF reading)


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
        workers: int = 1,
        parallel_from: int = PARALLEL_FROM,
    ) -> None:
        self.store = store
        self.gazetteer = gazetteer
        self.gazetteer_build = gazetteer_build
        self.geocode = geocode
        self.fetch_media = fetch_media
        self.geocode_cache = geocode_cache or StoredGeocodeCache(store)  # bound to each batch's transaction
        self.media_key = media_key  # the media settings' fingerprint (see ``media_settings_key``)
        self.clock = clock
        self.workers = usable_workers(workers)  # processes locating; 1 locates here
        self.parallel_from = parallel_from  # fewer posts than this are located here
        self.locations = Locations(store.engine.dialect, KEEP_STATUSES)  # the batch's queries
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
        """Process ``ids`` in batches, one transaction each; ``should_stop`` is asked between batches.
        With workers, the next batch is read and sent to them before this one is written, unless it
        has media to download (that belongs to its own transaction)."""
        chunks = [ids[start : start + batch] for start in range(0, len(ids), batch)]
        workers = self.workers if len(ids) >= self.parallel_from else 1
        with Locator(self.gazetteer, workers, geocoding=self.geocode is not None) as locator:
            ahead: Started | None = None
            for n, chunk in enumerate(chunks):
                if should_stop is not None and should_stop():
                    break
                with self.store.transaction() as conn, self.geocode_cache.bound(conn):
                    ids_here, job = ahead if ahead is not None else self._start(conn, chunk, locator)
                    ahead = None
                    if locator.parallel and n + 1 < len(chunks):
                        ahead = self._ahead(conn, chunks[n + 1], locator)
                    self._save(conn, self._finish(ids_here, job))
                if progress:
                    progress(len(chunk))
        return self.report

    def _ahead(self, conn: Connection, chunk: Sequence[int], locator: Locator) -> Started | None:
        """The next batch read and handed to the workers now, or None when it has media to download
        (its downloads belong to its own transaction)."""
        media = self._images(conn, chunk)
        if self.fetch_media is not None and any(row[3] is None for rows in media.values() for row in rows):
            return None
        return self._start(conn, chunk, locator, media)

    def _start(
        self, conn: Connection, chunk: Sequence[int], locator: Locator, media: Images | None = None
    ) -> Started:
        """Read a batch's posts and their evidence (downloading media not yet hashed) and hand them to
        ``locator``."""
        media = self._images(conn, chunk) if media is None else media
        ids, items = [], []
        for post_id, text, lat, lon, exif in self.locations.posts(conn, chunk):
            images = media.get(post_id)
            extra: list[Candidate] = []
            if exif is not None or (lat is not None and lon is not None) or images:  # else only the text
                extra = stored_exif_candidates(exif) + platform_candidate(lat, lon)
                extra += self._media_candidates(conn, images or [])
            ids.append(post_id)
            items.append((text or "", extra))
        return ids, locator.start(items)

    def _finish(self, ids: list[int], job: Job) -> list[tuple[int, PostAnswer]]:
        """The batch's answers; posts left to this process, and those the geocoder may help with, are
        located here with the geocoder."""
        results = []
        items: list[Item] = job.items
        for post_id, (text, extra), found in zip(ids, items, job.answers(), strict=True):
            self._geocoder_missed = False
            if found is None or found.asked:
                found = answer(locate(text, self.gazetteer, extra=extra, geocode=self._geocode))
            found = self._verdict(found)
            results.append((post_id, found))
            self.report.outcomes[found.outcome] += 1
        return results

    def _verdict(self, found: PostAnswer) -> PostAnswer:
        """Nothing found because the geocoder failed, or without a gazetteer: the post waits."""
        if found.outcome not in ("nothing", "outside_area"):
            return found
        if self._geocoder_missed:
            why = f"{found.reason}; the geocoder did not answer (asked again next time)"
            return found._replace(outcome=GEOCODER_WAITING, reason=why)
        if self.gazetteer_build is None and found.outcome == "nothing":
            return found._replace(outcome=GAZETTEER_WAITING)
        return found

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

    def _images(self, conn: Connection, ids: Sequence[int]) -> Images:
        images: Images = {}
        for row in self.locations.images(conn, ids):
            images.setdefault(row[0], []).append(row)
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

    def _save(self, conn: Connection, results: Sequence[tuple[int, PostAnswer]]) -> None:
        """Replace the batch's pipeline sightings and verdicts (reviewed and manual ones stay); a post a
        reviewer already placed keeps the reviewer's choice."""
        placed = self.locations.clear(conn, [post_id for post_id, _ in results])
        now = self.locations.bind_time(self.clock())
        sightings = [
            (post_id, row[0] and post_id not in placed, *row[1:], PIPELINE_VERSION, now)
            for post_id, found in results
            for row in found.rows
        ]
        build = self.gazetteer_build
        verdicts = [(post_id, PIPELINE_VERSION, build, found.outcome, now) for post_id, found in results]
        self.locations.insert(conn, sightings, verdicts)


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
        workers=workers_setting(config),
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


def workers_setting(config: Config) -> int:
    """`process.workers`: how many processes locate posts (1: this one alone)."""
    value = config.get("process.workers")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError([f"process.workers: must be a whole number of at least 1 (got {value})"])
    return value
