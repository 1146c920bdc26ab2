"""The store on SQLite and on the real PostgreSQL: migrations, posts, edits, authors, cursors, ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from hiljade.errors import StoreError
from hiljade.models.ledger import Cursor, finish_run, last_runs, load_cursor, save_cursor, start_run
from hiljade.models.posts import DUPLICATE, NEW, UPDATED, AuthorPolicy, save_post
from hiljade.models.schema import Author, Media, Post, PostCopy, PostVersion
from hiljade.models.store import MIGRATIONS, SCHEMA_HEAD, Store
from hiljade.privacy import pseudonym
from hiljade.records import AuthorRecord, MediaRecord, PostRecord

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
POLICY = AuthorPolicy(secret=b"k" * 64)


def make_post(server: str = "https://a.example", native_id: str = "1", **kw) -> PostRecord:
    base = dict(
        platform="mastodon",
        server=server,
        native_id=native_id,
        uri="https://a.example/users/x/statuses/1",
        created_at=dt.datetime(2024, 4, 30, 8, 0, tzinfo=dt.UTC),
        text="Kamera na uglu Dečanske i Makedonske",
        url="https://a.example/@x/1",
        language="sr",
        hashtags=("hiljadekamera",),
        author=AuthorRecord("mastodon", "https://a.example/users/x", handle="x@a.example"),
        media=(MediaRecord(url="https://a.example/m/1.jpg", type="image", alt_text="kamera"),),
        raw={"id": native_id},
        fetched_from=f"{server}/api/v1/timelines/tag/hiljadekamera",
        fetched_at=NOW,
    )
    base.update(kw)
    return PostRecord(**base)


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(db_url)
    s.migrate()
    yield s
    s.close()


def count(store: Store, table) -> int:  # noqa: ANN001
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)).scalar_one()


def test_uninitialised_database_says_run_init(db_url: str) -> None:
    with pytest.raises(StoreError, match="hiljade init"):
        Store(db_url).check_schema()


def test_migrate_is_idempotent(store: Store) -> None:
    before, after = store.migrate()
    assert before == after
    store.check_schema()


def test_same_uri_through_two_servers_is_one_post(store: Store) -> None:
    with store.transaction() as conn:
        assert save_post(conn, make_post(), POLICY, NOW) == NEW
        assert (
            save_post(conn, make_post(server="https://b.example", native_id="777"), POLICY, NOW) == DUPLICATE
        )
        assert save_post(conn, make_post(), POLICY, NOW) == DUPLICATE
    assert count(store, Post) == 1
    assert count(store, PostCopy) == 2
    assert count(store, Media) == 1
    assert count(store, Author) == 1


def test_edit_updates_text_and_keeps_earlier_version(store: Store) -> None:
    edited = dt.datetime(2024, 4, 30, 9, 0, tzinfo=dt.UTC)
    with store.transaction() as conn:
        save_post(conn, make_post(), POLICY, NOW)
        assert (
            save_post(conn, make_post(text="Kamera na uglu Dečanske", edited_at=edited), POLICY, NOW)
            == UPDATED
        )
        # an older copy of the same edit seen again changes nothing
        assert (
            save_post(conn, make_post(text="Kamera na uglu Dečanske", edited_at=edited), POLICY, NOW)
            == DUPLICATE
        )
    with store.connect() as conn:
        post = conn.execute(select(Post.__table__)).one()
        versions = conn.execute(select(PostVersion.__table__)).all()
    assert post.text == "Kamera na uglu Dečanske"
    assert post.edited_at == edited
    assert [v.text for v in versions] == ["Kamera na uglu Dečanske i Makedonske"]


def test_authors_are_pseudonyms_without_handles_by_default(store: Store) -> None:
    with store.transaction() as conn:
        save_post(conn, make_post(), POLICY, NOW)
    with store.connect() as conn:
        author = conn.execute(select(Author.__table__)).one()
    assert author.handle is None
    assert len(author.pseudonym) == 64
    assert author.pseudonym != pseudonym(b"other-key" * 8, "mastodon", "https://a.example/users/x")


def test_handles_kept_only_when_configured(store: Store) -> None:
    with store.transaction() as conn:
        save_post(conn, make_post(), AuthorPolicy(secret=b"k" * 64, store_handles=True), NOW)
    with store.connect() as conn:
        assert conn.execute(select(Author.__table__.c.handle)).scalar_one() == "x@a.example"


def test_timestamps_come_back_timezone_aware(store: Store) -> None:
    with store.transaction() as conn:
        save_post(
            conn,
            make_post(created_at=dt.datetime(2024, 4, 30, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
            POLICY,
            NOW,
        )
    with store.connect() as conn:
        created = conn.execute(select(Post.__table__.c.created_at)).scalar_one()
    assert created == dt.datetime(2024, 4, 30, 8, 0, tzinfo=dt.UTC)


def test_cursor_and_ledger_round_trip(store: Store) -> None:
    cursor = Cursor("mastodon", "https://a.example", "hiljadekamera")
    with store.transaction() as conn:
        assert load_cursor(conn, cursor.source, cursor.server, cursor.hashtag) == cursor
        row = start_run(conn, "run-1", cursor, NOW)
        moved = cursor.moved(newest_id="110", backfill_max_id="90")
        save_cursor(conn, moved, NOW)
        save_cursor(conn, moved.moved(backfill_done=True, backfill_max_id=None), NOW)
        finish_run(conn, row, "ok", NOW + dt.timedelta(seconds=3), cursor_after="110")
    with store.connect() as conn:
        stored = load_cursor(conn, "mastodon", "https://a.example", "hiljadekamera")
        runs = last_runs(conn)
    assert stored.newest_id == "110" and stored.backfill_done and stored.backfill_max_id is None
    assert (
        runs[0]["status"] == "ok" and runs[0]["duration_seconds"] == 3.0 and runs[0]["cursor_after"] == "110"
    )


def test_migration_0005_scrubs_account_identity_from_stored_payloads(db_url: str) -> None:
    """Payloads stored before issue 9 lose the account (kept: its opt-out flags and the pseudonym)."""
    old = Store(db_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    account = {"id": "4711", "username": "mila", "acct": "mila", "display_name": "Mila M.",
               "avatar": "https://a.example/avatars/mila.png", "noindex": False, "url": "https://a.example/@mila"}
    raws = {
        "mastodon": {"id": "1", "content": "<p>kamera</p>", "account": account,
                     "in_reply_to_account_id": "4711",
                     "mentions": [{"id": "4711", "username": "mila", "acct": "mila"}]},
        "twitter": {"id": "2", "text": "kamera", "author_id": "99887766", "in_reply_to_user_id": "99887766",
                    "entities": {"mentions": [{"start": 0, "end": 5, "username": "mila", "id": "99887766"}]}},
        "bluesky": {"uri": "at://did:plc:abc/app.bsky.feed.post/1",
                    "author": {"did": "did:plc:abc", "avatar": "https://cdn/mila.jpg", "labels": [
                        {"src": "did:plc:abc", "val": "!no-unauthenticated", "neg": True}]}},
    }
    with old.transaction() as conn:
        for n, (platform, raw) in enumerate(raws.items(), 1):
            conn.execute(Author.__table__.insert().values(id=n, platform=platform, pseudonym=f"p{n}",
                                                          first_seen_at=NOW))
            conn.execute(Post.__table__.insert().values(
                id=n, platform=platform, server="s", native_id=str(n), uri=f"u{n}", created_at=NOW, text="t",
                hashtags=[], author_id=n, raw=raw, fetched_from="f", fetched_at=NOW))
        conn.execute(PostVersion.__table__.insert().values(post_id=1, text="t", raw=raws["mastodon"],
                                                           replaced_at=NOW))
    old.migrate()
    with old.connect() as conn:
        stored = {platform: raw for platform, raw in conn.execute(select(Post.platform, Post.raw))}
        version = conn.execute(select(PostVersion.raw)).scalar_one()
    old.close()
    assert stored["mastodon"] == version == {"id": "1", "content": "<p>kamera</p>", "author_pseudonym": "p1",
                                             "account": {"noindex": False, "opt_out": None}}
    assert stored["twitter"] == {"id": "2", "text": "kamera", "author_pseudonym": "p2",
                                 "entities": {"mentions": [{"start": 0, "end": 5}]}}
    assert stored["bluesky"] == {"uri": "at://did:plc:abc/app.bsky.feed.post/1", "author_pseudonym": "p3",
                                 "author": {"labels": [{"val": "!no-unauthenticated", "neg": True}],
                                            "opt_out": None}}


def test_a_saved_post_names_its_author_only_by_pseudonym(store: Store) -> None:
    with store.transaction() as conn:
        save_post(conn, make_post(raw={"id": "1", "author_pseudonym": "forged"}), POLICY, NOW)
        raw = conn.execute(select(Post.raw)).scalar_one()
    assert raw == {"id": "1", "author_pseudonym": pseudonym(POLICY.secret, "mastodon", "https://a.example/users/x")}


def test_the_schema_head_written_in_the_code_is_alembics_head(db_url: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head == SCHEMA_HEAD  # a new migration must move SCHEMA_HEAD too
    store = Store(db_url)
    with pytest.raises(StoreError, match="not initialised"):
        store.check_schema()
    older = ScriptDirectory.from_config(cfg).get_revision(head).down_revision
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, older)
    with pytest.raises(StoreError, match=f"is at schema {older}, the code needs {head}"):
        store.check_schema()
    store.migrate()
    store.check_schema()
    store.close()
