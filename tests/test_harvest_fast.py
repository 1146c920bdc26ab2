"""The fast harvest path pinned to the old one: timeline pages asked as plain JSON and each page's new
posts written in multi-row statements store exactly the rows that Mastodon.py's typed pages and the
post-by-post writes store (issue 13), on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, text

from hiljade.config import load_config
from hiljade.models.ledger import Cursor
from hiljade.models.schema import Base
from hiljade.models.store import Store
from hiljade.records import AuthorRecord, MediaRecord, PostRecord
from hiljade.services.feeds import mastodon_feeds, mastodon_paging
from hiljade.services.harvest import End, Feed, Harvester, Step
from hiljade.services.store import author_policy, init, open_store
from tests.support.config import write_config
from tests.support.mastodon import OPTED_OUT_USERS, homed_statuses, hostile_copy, make_statuses
from tests.support.mastodon_server import MastodonStandIn

# Columns that hold when a run happened (or which run it was), not what it stored.
RUN_COLUMNS = {"id", "run_id", "started_at", "finished_at", "duration_seconds", "updated_at", "fetched_at",
               "first_seen_at", "replaced_at", "at"}
# set by an edit or an erasure, at the run's time: compared as set or not
KEPT_TIMES = {("posts", "updated_at"), ("posts", "deleted_at"), ("posts", "checked_at")}


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as stored (JSON as its text on SQLite): autoincrement ids and run
    times left out, references to posts and authors replaced by their uri and pseudonym, sorted."""
    with store.connect() as conn:
        posts = dict(conn.execute(text("SELECT id, uri FROM posts")).all())
        authors = dict(conn.execute(text("SELECT id, pseudonym FROM authors")).all())
        return {table.name: _rows(conn, table.name, posts, authors) for table in Base.metadata.sorted_tables}


def _rows(conn: Connection, name: str, posts: dict[int, str],
          authors: dict[int, str]) -> list[tuple[Any, ...]]:
    table = Base.metadata.tables[name]
    refs = {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
    out = []
    for row in conn.execute(text(f"SELECT * FROM {name}")).mappings():
        values = []
        for column, value in sorted(row.items()):
            if (name, column) in KEPT_TIMES:
                values.append((column, value is not None))
            elif column in RUN_COLUMNS:
                continue
            elif refs.get(column) == "posts":
                values.append((column, posts.get(value, value)))
            elif refs.get(column) == "authors":
                values.append((column, authors.get(value, value)))
            elif (name, column) == ("review_log", "details"):  # names the run: compared without it
                details = json.loads(value) if isinstance(value, str) else dict(value)
                values.append((column, {k: v for k, v in details.items() if k != "run_id"}))
            else:
                values.append((column, value))
        out.append(tuple(values))
    return sorted(out, key=repr)


def harvest_twice(tmp: Path, db_url: str, servers: list[MastodonStandIn], *, typed: bool,
                  between: Any = None) -> dict[str, list[tuple[Any, ...]]]:
    """A backfill of ``servers`` (then, after ``between()``, a forward run) by one path; the dump."""
    tmp.mkdir()
    config = load_config(write_config(tmp, db_url, [s.url for s in servers], sources__mastodon__page_limit=7,
                                      sources__mastodon__max_pages_per_run=0,
                                      privacy__secret_file=str(tmp.parent / "shared.secret")))
    init(config)
    store = open_store(config)
    try:
        for run in range(2):
            if run and between is not None:
                between()
            feeds = mastodon_feeds(config)
            for feed in feeds:
                feed.client.typed_pages = typed
            harvester = Harvester(store, author_policy(config), mastodon_paging(config),
                                  campaign=config.hashtags, batch_writes=not typed)
            results = harvester.harvest(feeds)
            for feed in feeds:
                feed.client.close()
            assert [r.status for r in results] == ["ok"] * len(servers), [r.message for r in results]
        return dump(store)
    finally:
        wipe(store)
        store.close()


def wipe(store: Store) -> None:
    """Drop every table, so the next path starts from an empty database (PostgreSQL's is one per test)."""
    with store.engine.begin() as conn:
        tables = MetaData()
        tables.reflect(conn)
        tables.drop_all(conn)


def fill(home: MastodonStandIn, other: MastodonStandIn) -> list[dict[str, Any]]:
    """Fill two stand-ins afresh; the statuses of the home server's own accounts.

    ``home`` serves statuses of its own accounts (uris naming it) and the usual mix (boosts listed,
    opted-out accounts, media, edited and content-warned statuses); ``other`` mirrors some of them
    under its own ids, two with other text, hashtags and media, and statuses of its own."""
    for server in (home, other):
        for status in server.statuses:
            server.delete(status["id"])
    mixed = make_statuses(80, seed=23)
    own = homed_statuses(home.url, 8)
    for status in mixed + own:
        home.add(status)
    for n, status in enumerate((own + [s for s in mixed if s["reblog"] is None])[:12]):
        twin = copy.deepcopy(status)
        twin["id"] = str(950000 + n)
        other.add(hostile_copy(status, other.url, twin["id"]) if n in (0, 9) else twin)
    for status in make_statuses(15, seed=24):
        other.add(status)
    return own


def later(home: MastodonStandIn, other: MastodonStandIn, own: list[dict[str, Any]]) -> Any:
    """What arrives before the second run: new statuses, and new ids serving known uris edited (on the
    home server: an edit; on the other: a copy that disagrees)."""

    def arrive() -> None:
        for n, status in enumerate(make_statuses(20, seed=25, start=dt.datetime(2031, 1, 1, tzinfo=dt.UTC))):
            home.add({**status, "id": str(9 * 10**18 + n)})
        edited = copy.deepcopy(own[2])
        edited.update(id=str(9 * 10**18 + 100), edited_at="2031-06-01T00:00:00.000Z",
                      content="<p>Ispravka: kamera je kod pošte #hiljadekamera</p>")
        home.add(edited)
        other.add({**copy.deepcopy(own[3]), "id": str(9 * 10**18 + 200),
                   "edited_at": "2031-06-02T00:00:00.000Z", "content": "<p>Druga priča #hiljadekamera</p>"})

    return arrive


def test_raw_json_pages_and_batched_writes_store_the_rows_of_the_typed_path(
    tmp_path: Path, db_url: str
) -> None:
    dumps = {}
    with MastodonStandIn([], list_boosts=True) as home, MastodonStandIn([]) as other:
        for typed in (False, True):
            own = fill(home, other)
            dumps[typed] = harvest_twice(tmp_path / f"typed-{typed}", db_url, [other, home], typed=typed,
                                         between=later(home, other, own))
    fast, old = dumps[False], dumps[True]
    assert fast == old
    # the backfill exercised what it should: several pages, boosts, opt-outs, media, edits, merges
    assert len(old["harvest_runs"]) == 4 and all(row_value(r, "pages") > 1 for r in old["harvest_runs"])
    assert sum(row_value(r, "opted_out") for r in old["harvest_runs"]) >= len(OPTED_OUT_USERS)
    assert sum(row_value(r, "updated_posts") for r in old["harvest_runs"]) >= 2
    assert sum(row_value(r, "duplicates") for r in old["harvest_runs"]) >= 10
    assert old["media"] and old["post_versions"] and old["authors"]
    assert any(row_value(r, "disagrees") for r in old["post_copies"])
    assert any(row_value(r, "edited_at") for r in old["posts"])


def row_value(row: tuple[Any, ...], column: str) -> Any:
    return dict(row)[column]


class ListedPages:
    """A paging that hands out the given pages, one per harvest run."""

    limit_message = "stopped after {pages} pages"

    def __init__(self, *pages: tuple[PostRecord, ...]) -> None:
        self.pages = list(pages)

    def read(self, store: object, feed: Feed, cursor: Cursor, now: dt.datetime) -> Step | End:
        return Step(posts=self.pages.pop(0), cursor=cursor.moved(newest_id="9"), done=True, requests=1,
                    rate_limit_waits=0, waited_seconds=0.0, oldest_created_at=None)

    def outcome(self, feed: Feed, cursor: Cursor) -> End:
        return End("ok")


def post(n: int, tags: tuple[str, ...] = ("hiljadekamera",), *, edited: int | None = None,
         author: str = "ana", handle: str | None = None, server: str = "https://m.example") -> PostRecord:
    created = dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n)
    return PostRecord(
        platform="mastodon", server=server, native_id=str(n), uri=f"https://m.example/users/x/statuses/{n}",
        created_at=created, text=f"Kamera {n} " + " ".join(f"#{t}" for t in tags), hashtags=tags,
        fetched_from="test", edited_at=None if edited is None else created + dt.timedelta(hours=edited),
        author=AuthorRecord("mastodon", f"https://m.example/users/{author}", handle=handle),
        media=(MediaRecord(url=f"https://m.example/m/{n}.jpg", type="image"),) if n % 2 else (),
        raw={"id": str(n), "n": n})


def test_pages_mixing_new_posts_with_edits_withdrawals_and_repeats_store_the_same_rows(
    tmp_path: Path, db_url: str
) -> None:
    """New posts around known ones on one page: an edit, an edit that drops the campaign hashtag (the
    post withdrawn and erased in its turn), a repeat of a uri and of a copy, handles changing."""
    pages = (
        (post(1, handle="ana@m"), post(2), post(3, author="bo")),
        (post(4, handle="ana@m"), post(1, ("kamere",), edited=1), post(5, author="bo", handle="bo@m"),
         post(2, ("lampe",), edited=2), post(6), post(6), post(7, author="bo", handle="bo@n"),
         post(3, server="https://n.example"), post(8, author="ana", handle="ana@new")),
        (post(2, handle="x"), post(9), post(10, author="ana", handle="ana@last")),
    )
    dumps = {}
    for batch in (True, False):
        folder = tmp_path / f"batch-{batch}"
        folder.mkdir()
        config = load_config(write_config(folder, db_url, [], hashtags=["hiljadekamera", "kamere"],
                                          privacy__store_handles=True,
                                          privacy__secret_file=str(tmp_path / "shared.secret")))
        init(config)
        store = open_store(config)
        paging = ListedPages(*pages)
        feed = Feed("mastodon", "https://m.example", "hiljadekamera", None)
        outcomes = []
        for _ in pages:
            harvester = Harvester(store, author_policy(config), paging, campaign=config.hashtags,
                                  batch_writes=batch)
            outcomes.append(harvester.harvest([feed])[0].counts)
        dumps[batch] = dump(store)
        wipe(store)
        store.close()
        assert [c["new_posts"] for c in outcomes] == [3, 5, 2]
        assert [c["updated_posts"] for c in outcomes] == [0, 1, 0]
        assert [c["erased_posts"] for c in outcomes] == [0, 1, 0]
    assert dumps[True] == dumps[False]
    assert {row_value(r, "handle") for r in dumps[True]["authors"]} == {"ana@last", "bo@n"}
