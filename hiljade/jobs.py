"""The jobs behind the commands (and later the scheduler): open the store, harvest, report."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hiljade.config import Config, MastodonServer
from hiljade.harvester.poll import Feed, FeedResult, Harvester
from hiljade.models.posts import AuthorPolicy
from hiljade.models.store import Store
from hiljade.privacy import ensure_secret, load_secret, secret_path


def open_store(config: Config, *, check: bool = True) -> Store:
    """The configured store; with ``check``, StoreError unless `hiljade init` has run."""
    store = Store(config.database_url, busy_timeout_seconds=config.get("database.busy_timeout_seconds", 30))
    if check:
        store.check_schema()
    return store


def key_path(config: Config) -> Path:
    """Where the generated pseudonym key lives."""
    return secret_path(config.get("privacy.secret_file", ""), config.database_url)


def init(config: Config) -> tuple[Store, str | None, str, bool]:
    """Create or upgrade the database and the pseudonym key; returns (store, before, after, key created)."""
    store = open_store(config, check=False)
    before, after = store.migrate()
    created = ensure_secret(key_path(config))
    return store, before, after, created


def author_policy(config: Config) -> AuthorPolicy:
    return AuthorPolicy(
        secret=load_secret(key_path(config)), store_handles=bool(config.get("privacy.store_handles"))
    )


def mastodon_feeds(
    config: Config,
    *,
    server: str | None = None,
    hashtag: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Feed]:
    """One feed per configured Mastodon server and hashtag, optionally narrowed to one of each."""
    from hiljade.harvester.mastodon import MastodonSource

    section = config.get("sources.mastodon")
    servers = config.mastodon_servers
    if server:
        wanted = server.rstrip("/")
        servers = [s for s in servers if s.url == wanted] or [MastodonServer(wanted)]
    tags = [hashtag.lstrip("#").lower()] if hashtag else config.hashtags
    feeds = []
    for entry in servers:
        client = MastodonSource(
            entry.url,
            access_token=entry.token(),
            token_env=entry.token_env,
            timeout=section["timeout_seconds"],
            max_retries=section["max_retries"],
            min_interval=section["min_interval_seconds"],
            user_agent=config.get("user_agent"),
            sleep=sleep,
        )
        feeds.extend(Feed("mastodon", entry.url, tag, client) for tag in tags)
    return feeds


@dataclass(frozen=True)
class HarvestReport:
    results: list[FeedResult]

    @property
    def failed(self) -> list[FeedResult]:
        return [r for r in self.results if r.failed]

    def total(self, key: str) -> int:
        return int(sum(r.counts.get(key, 0) for r in self.results))

    def summary(self) -> str:
        warn = [r for r in self.results if r.status in ("empty", "partial")]
        return (
            f"harvest: {len(self.results)} feeds, {self.total('new_posts')} new posts, "
            f"{self.total('updated_posts')} edited, {self.total('duplicates')} duplicates, "
            f"{self.total('opted_out')} opted out, {self.total('pages')} pages, "
            f"{self.total('rate_limit_waits')} rate-limit waits, "
            f"{len(self.failed)} failed, {len(warn)} warnings"
        )


# ---- locating: the gazetteer, the geocoder, media, process ------------------------------------


def load_area(config: Config, path: str | Path | None = None):  # noqa: ANN201 - shapely geometry | None
    """The area polygon from ``path`` or `area.boundary`, or None when neither is set."""
    from hiljade.pipeline.gazetteer import load_area as read_area

    chosen = path or config.get("area.boundary")
    return read_area(chosen) if chosen else None


def file_provenance(path: Path) -> dict[str, object]:
    """Name, size and sha256 of an input file, for the gazetteer build record."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"file": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def build_gazetteer(config: Config, store: Store, paths: list[Path], *, area_path: Path | None = None):  # noqa: ANN201
    """Build the gazetteer from OSM files and replace the stored one; returns (build id, gazetteer)."""
    from hiljade.models.places import replace_gazetteer
    from hiljade.pipeline.gazetteer import build_gazetteer as build

    gazetteer = build(paths, area=load_area(config, area_path))
    with store.transaction() as conn:
        build_id = replace_gazetteer(
            conn, gazetteer.to_rows(), [file_provenance(p) for p in paths], dt.datetime.now(dt.UTC)
        )
    return build_id, gazetteer


def stored_gazetteer(store: Store):  # noqa: ANN201 - (build id, Gazetteer)
    """The newest gazetteer in the store; StoreError with the fix when none was built."""
    from hiljade.errors import StoreError
    from hiljade.models.places import load_gazetteer_rows
    from hiljade.pipeline.gazetteer import Gazetteer

    with store.connect() as conn:
        build_id, rows = load_gazetteer_rows(conn)
    if build_id is None:
        raise StoreError("no gazetteer in the database; run `hiljade gazetteer build FILE...` first")
    return build_id, Gazetteer.from_rows(rows)


def geocoder(config: Config, store: Store, area):  # noqa: ANN001, ANN201 - Geocoder | None
    """The online geocoder fallback, or None when `geocoder.enabled` is false."""
    from hiljade.models.places import StoredGeocodeCache
    from hiljade.pipeline.geocoder import Geocoder

    section = dict(config.get("geocoder"))
    if not section.get("enabled"):
        return None
    section["user_agent"] = section.get("user_agent") or config.get("user_agent")
    return Geocoder.from_config(section, cache=StoredGeocodeCache(store), area=area)


def media_fetcher(config: Config):  # noqa: ANN201 - url -> (sha256, bytes)
    """Downloads one image under the configured media policy (one HTTP session for the run)."""
    from hiljade.harvester.media import MediaPolicy, fetch_media, media_session

    section = {k: v for k, v in config.get("media").items() if k != "download"}
    policy = MediaPolicy.from_config({**section, "user_agent": config.get("user_agent")})
    session = media_session(policy)

    def fetch(url: str) -> tuple[str, bytes]:
        got = fetch_media(url, policy, session=session)
        return got.sha256, got.data

    return fetch


# ---- X/Twitter: recent search and twarc archives ----------------------------------------------


def twitter_feeds(
    config: Config,
    *,
    hashtag: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    environ: dict[str, str] | None = None,
) -> list[Feed]:
    """One X/Twitter feed per configured hashtag; ConfigError when the bearer token is not exported."""
    from hiljade.harvester.twitter import TwitterSource

    section = config.get("sources.twitter")
    client = TwitterSource.from_env(
        environ,
        api_url=section["api_url"],
        timeout=section.get("timeout_seconds", 30.0),
        max_retries=section.get("max_retries", 4),
        user_agent=config.get("user_agent"),
        include_retweets=section.get("include_retweets", True),
        sleep=sleep,
    )
    tags = [hashtag.lstrip("#").lower()] if hashtag else config.hashtags
    return [Feed("twitter", client.server, tag, client) for tag in tags]


def harvest_twitter(
    config: Config,
    store: Store,
    feeds: list[Feed],
    *,
    progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HarvestReport:
    """Harvest X/Twitter feeds into the store within `sources.twitter.monthly_cap`; ``should_stop`` is
    asked between pages (the scheduler's SIGTERM)."""
    from hiljade.harvester.twitter_poll import TwitterHarvester

    section = config.get("sources.twitter")
    harvester = TwitterHarvester(
        store,
        author_policy(config),
        monthly_cap=section["monthly_cap"],
        page_limit=section["page_limit"],
        max_pages=section["max_pages_per_run"],
        progress=progress,
        should_stop=should_stop,
    )
    return HarvestReport(harvester.harvest(feeds))


def import_twarc(config: Config, store: Store, path: Path | str):  # noqa: ANN201 - TwarcReport
    """Import a twarc2 JSONL archive (raw pages or flattened tweets; ``-`` for stdin)."""
    from hiljade.harvester.twarc import import_twarc as run_import

    return run_import(store, author_policy(config), path)


# ---- the scheduler's jobs (hiljade run): stoppable harvest and process -----------------------


def harvest(
    config: Config,
    store: Store,
    feeds: list[Feed],
    *,
    progress: Callable[[Feed, int, dt.datetime | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HarvestReport:
    """Harvest Mastodon feeds into the store; ``should_stop`` ends the run after a committed page."""
    section = config.get("sources.mastodon")
    harvester = Harvester(
        store,
        author_policy(config),
        backfill_since=section["backfill_since"],
        page_limit=section["page_limit"],
        max_pages=section["max_pages_per_run"],
        progress=progress,
        should_stop=should_stop,
    )
    return HarvestReport(harvester.harvest(feeds))


def process_pending(
    config: Config,
    store: Store,
    *,
    reprocess: bool = False,
    media: bool = True,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
):  # noqa: ANN201 - ProcessReport
    """What `hiljade process` does, stoppable between batches; a geocoder that was asked (or refused
    us) leaves a ledger row (source ``geocoder``, status ``ok`` or ``refused``) for `hiljade status`."""
    from hiljade.models.ledger import Cursor, add_to_run, finish_run, start_run
    from hiljade.pipeline.process import Processor

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
    from hiljade.models.sites import assign_sites
    from hiljade.pipeline.duplicates import link_duplicates

    with store.transaction() as conn:
        settings = dict(config.get("sites"))
        report.links = link_duplicates(conn, settings, dt.datetime.now(dt.UTC))
        report.sites = assign_sites(conn, settings, dt.datetime.now(dt.UTC)).summary()
    if coder is not None and (coder.requests_made or coder.refusal is not None):
        import uuid

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
