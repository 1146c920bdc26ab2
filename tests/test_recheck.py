"""`hiljade recheck` against the Mastodon stand-in: deleted statuses are erased to anonymous
tombstones, edits update the text, failures (500, 401, 403, timeout) erase nothing, exports lack
the erased content, and a re-harvest does not bring an erased post back."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hiljade.config import load_config
from hiljade.errors import SourceAuthError
from hiljade.harvester.geocoder import cache_key
from hiljade.harvester.mastodon import MastodonSource
from hiljade.models.erasure import erase_post, scrub_text
from hiljade.models.ledger import Cursor, add_to_run, finish_run, start_run, twitter_reads_this_month
from hiljade.models.posts import ERASED, NEW, save_post
from hiljade.models.schema import (
    Author,
    GeocodeAnswer,
    HarvestRun,
    Media,
    Post,
    PostCopy,
    PostVersion,
    ReviewLog,
    Sighting,
)
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.checkers import (
    DELETED,
    PRESENT,
    UNCHECKED,
    Check,
    LookupChecker,
    MastodonChecker,
    PostRef,
    pick_copy,
)
from hiljade.services.process import geocode_query, geocoder_cache_prefix
from hiljade.services.recheck import Rechecker
from hiljade.services.store import author_policy, open_store
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.http import LocalServer, QuietHandler
from tests.support.mastodon import homed_statuses, hostile_copy, make_statuses
from tests.support.mastodon_server import MastodonStandIn

HTML_404 = ("<!DOCTYPE html><html><head><title>The page you were looking for doesn't exist (404)</title>"
            "</head><body><h1>404</h1></body></html>")


def rows(config: Path, table: Any, *where: Any) -> list[Any]:
    store = open_store(load_config(config))
    try:
        with store.connect() as conn:
            return list(conn.execute(select(table.__table__).where(*where)))
    finally:
        store.close()


def stored_posts(config: Path) -> list[Any]:
    """Every post with its first copy's native id, by post id (the order recheck asks in)."""
    store = open_store(load_config(config))
    p, c = Post.__table__, PostCopy.__table__
    try:
        with store.connect() as conn:
            return list(conn.execute(
                select(p.c.id, p.c.uri, p.c.url, p.c.text, p.c.author_id, c.c.native_id)
                .join(c, c.c.post_id == p.c.id).order_by(p.c.id)
            ))
    finally:
        store.close()


def test_recheck_erases_deleted_posts_updates_edits_and_trusts_no_failure(
    tmp_path: Path, db_url: str
) -> None:
    statuses = make_statuses(60, seed=21)
    by_id = {s["id"]: s for s in statuses}
    with MastodonStandIn(statuses) as server:
        config = write_config(tmp_path, db_url, [server.url], sources__mastodon__max_retries=0,
                              sources__mastodon__timeout_seconds=0.5, recheck__batch_size=15,
                              recheck__min_age="1h")
        assert cli(config, "init")[0] == 0
        assert cli(config, "harvest")[0] == 0
        posts = stored_posts(config)
        masked, html404, gone410, edited, opted = posts[0:4], posts[4], posts[5], posts[6], posts[7]
        media_posts = {r.post_id for r in rows(config, Media)}
        victim = next(p for p in posts[8:] if p.id in media_posts)
        plain = next(p for p in posts[8:] if p.id != victim.id)
        erased = [html404, gone410, victim, plain]
        for post in [*masked, *erased]:
            server.delete(post.native_id)
        changed = copy.deepcopy(by_id[edited.native_id])
        changed["content"] = "<p>Ispravka: kamera je kod Vukovog spomenika #hiljadekamera</p>"
        changed["edited_at"] = "2031-01-01T00:00:00.000Z"
        server.add(changed)
        hiding = copy.deepcopy(by_id[opted.native_id])
        hiding["account"]["noindex"] = True
        server.add(hiding)
        other_author = _add_evidence(config, victim)
        server.faults.extend([("status", 500), ("status", 401), ("status", 403), ("hang", 3),
                              ("status", 404, HTML_404), ("status", 410)])

        code, out, err = cli(config, "recheck")
        assert code == 0, err
        n = len(posts)
        assert f"recheck: {n} posts in {-(-n // 15)} batches" in err
        assert f"4 deleted and erased, 1 opted out and erased, 1 edited, {n - 10} unchanged, " \
               f"4 could not be checked" in err

        now = {r.id: r for r in rows(config, Post)}
        for post in masked:  # 500, 401, 403, timeout: deleted on the server, but nothing is erased
            assert now[post.id].deleted_at is None and now[post.id].checked_at is None
            assert now[post.id].text == post.text and now[post.id].uri == post.uri
        for post in [*erased, opted]:
            _assert_tombstone(config, now[post.id], post)
        assert now[edited.id].text.startswith("Ispravka: kamera je kod Vukovog spomenika")
        assert [v.text for v in rows(config, PostVersion, PostVersion.post_id == edited.id)] == [edited.text]
        assert now[edited.id].checked_at is not None
        unchanged = [p for p in posts[8:] if p.id not in {victim.id, plain.id}]
        assert all(now[p.id].checked_at is not None and now[p.id].text == p.text for p in unchanged)

        sighting = rows(config, Sighting, Sighting.post_id == victim.id)[0]
        assert (sighting.status, sighting.lat, sighting.lon, sighting.reviewed_by) == (
            "confirmed", 44.8150, 20.4620, "mila-reviewer")
        assert sighting.matched == "" and sighting.span_start is None
        assert sighting.evidence == {"direction": 120.5, "doubts": [], "nested": {"ok": True}}
        assert [g.key for g in rows(config, GeocodeAnswer)] == ["unrelated"]
        assert rows(config, Author, Author.id == other_author) == [], "an author with no post left goes"

        log = rows(config, ReviewLog)
        assert len(log) == 5
        assert {(r.reviewer, r.action, r.target) for r in log} == {("recheck", "erase", "post")}
        reasons = sorted(r.reason.split(":")[0] for r in log)
        assert reasons == ["deleted at the source"] * 4 + ["the author opted out (noindex)"]
        ledger = rows(config, HarvestRun, HarvestRun.source == "recheck")
        assert len(ledger) == 1
        row = ledger[0]
        assert (row.server, row.hashtag, row.status) == (server.url, "", "partial")  # 4 could not be checked
        assert (row.pages, row.errors, row.updated_posts, row.opted_out, row.duplicates) == (
            -(-n // 15), 4, 1, 1, n - 10)
        assert row.requests >= n and "4 deleted and erased" in row.error_message
        assert "first failure" in row.error_message

        code, _, err = cli(config, "recheck")  # the four that could not be checked are asked again
        assert code == 0, err
        assert "recheck: 4 posts in 1 batch " in err and "4 deleted and erased" in err
        after = {r.id: r for r in rows(config, Post)}
        for post in masked:
            _assert_tombstone(config, after[post.id], post)

        code, exported, err = cli(config, "export", "posts", "--format", "jsonl", "--include-authors")
        assert code == 0, err
        lines = [json.loads(line) for line in exported.splitlines()]
        gone = [*erased, opted, *masked]
        live_texts = {p.text for p in posts if p not in gone}
        assert {row["id"] for row in lines} == {p.id for p in posts} - {p.id for p in gone}
        for post in gone:
            assert post.uri not in exported and post.native_id not in exported
            assert post.url is None or post.url not in exported
            if post.text not in live_texts:  # generated texts repeat; a live post may say the same
                assert post.text not in exported
        assert any(p.text not in live_texts for p in gone)

        mirrored = []
        for k, post in enumerate([victim, plain]):  # another server still shows them
            twin = copy.deepcopy(by_id[post.native_id])
            twin["id"] = str(990000 + k)
            mirrored.append(twin)
        fresh = make_statuses(1, seed=77, opt_outs=False, extras=False)
        with MastodonStandIn(mirrored + fresh) as mirror:
            config = write_config(tmp_path, db_url, [server.url, mirror.url])
            code, _, err = cli(config, "harvest")
        assert code == 0, err
    live = [r for r in rows(config, Post) if r.deleted_at is None]
    assert len(live) == n - 9 + 1, "the new status is stored, the erased ones are not stored again"
    assert {r.uri for r in live} & {victim.uri, plain.uri} == set()
    assert len(rows(config, Post)) == n + 1
    assert not rows(config, PostCopy, PostCopy.native_id.in_(["990000", "990001"]))


def _add_evidence(config: Path, victim: Any) -> int:
    """A confirmed sighting with text in its evidence, an earlier version, geocoder cache entries,
    and the victim moved to an author of its own; returns that author's id."""
    cfg = load_config(config)
    store = open_store(cfg)
    now = dt.datetime.now(dt.UTC)
    with store.transaction() as conn:
        author = conn.execute(Author.__table__.insert().values(
            platform="mastodon", pseudonym="f" * 64, handle=None, first_seen_at=now)).inserted_primary_key[0]
        conn.execute(update(Post.__table__).where(Post.id == victim.id).values(author_id=author))
        conn.execute(PostVersion.__table__.insert().values(
            post_id=victim.id, edited_at=None, text="Prva verzija: kamera kod Mileve kuće", raw={},
            replaced_at=now))
        conn.execute(Sighting.__table__.insert().values(
            post_id=victim.id, chosen=True, method="intersection", lat=44.8150, lon=20.4620, precision_m=15.0,
            confidence=0.9, status="confirmed", matched=victim.text[:30], span_start=0, span_end=30,
            source="intersection:Дечанска/Македонска", pipeline_version="1", created_at=now,
            reviewed_by="mila-reviewer", reviewed_at=now,
            evidence={"direction": 120.5, "context": victim.text[:50], "doubts": ["also names Mila's street"],
                      "nested": {"ok": True, "said": "Mila"}}))
        for key, text in (("victim", victim.text), ("version", "Prva verzija: kamera kod Mileve kuće")):
            query = cache_key(geocode_query(text), (20.39, 44.79, 20.48, 44.84), ("rs",))
            conn.execute(
                GeocodeAnswer.__table__.insert().values(key=key, query=query, results=[], fetched_at=now)
            )
        conn.execute(GeocodeAnswer.__table__.insert().values(
            key="unrelated", query=cache_key("Slavija", None, ("rs",)), results=[], fetched_at=now))
    store.close()
    return int(author)


def _assert_tombstone(config: Path, row: Any, before: Any) -> None:
    assert row.deleted_at is not None and row.checked_at is not None
    assert row.uri.startswith("erased:") and before.uri not in row.uri
    assert (row.text, row.url, row.raw, row.author_id, row.native_id, row.server) == ("", None, {}, None,
                                                                                     "erased", "")
    assert row.hashtags == [] and row.geo_lat is None and row.fetched_from == ""
    for table in (PostCopy, PostVersion, Media):
        assert rows(config, table, table.post_id == row.id) == []


# -- the parts, without a server --------------------------------------------------------------------


def record(n: int, *, created: dt.datetime, author: str = "mila", opt_out: str | None = None) -> PostRecord:
    return PostRecord(platform="twitter", server="https://api.x.example", native_id=str(n),
                      uri=f"https://x.example/{author}/status/{n}", created_at=created, text=f"kamera {n}",
                      author=AuthorRecord("twitter", f"user-{author}", opt_out=opt_out), fetched_from="test")


class FakeLookup:
    """A platform's batch lookup: known ids answer, ``gone`` ids are deleted, others are missing."""

    def __init__(self, known: dict[str, PostRecord], gone: set[str], error: Exception | None = None) -> None:
        self.known, self.gone, self.error = known, gone, error
        self.asked: list[list[str]] = []
        self.total_requests = 0

    def lookup(self, ids: Sequence[str]) -> dict[str, PostRecord | None]:
        self.asked.append(list(ids))
        self.total_requests += 1
        if self.error:
            raise self.error
        answer: dict[str, PostRecord | None] = {i: self.known[i] for i in ids if i in self.known}
        answer.update({i: None for i in ids if i in self.gone})
        return answer


def refs(*ids: int) -> list[PostRef]:
    return [PostRef(i, "twitter", f"https://x.example/mila/status/{i}", (("https://api.x.example", str(i)),))
            for i in ids]


def test_lookup_checker_verdicts_and_budget() -> None:
    created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    source = FakeLookup({"1": record(1, created=created)}, gone={"2"})
    checks = LookupChecker(source, "https://api.x.example").check(refs(1, 2, 3))
    assert [c.outcome for c in checks] == [PRESENT, DELETED, UNCHECKED]
    assert sum(c.requests for c in checks) == 1
    refused = LookupChecker(FakeLookup({}, set(), SourceAuthError("HTTP 401")), "s").check(refs(1, 2))
    assert [(c.outcome, c.kind) for c in refused] == [(UNCHECKED, "auth_error")] * 2
    poor = FakeLookup({"1": record(1, created=created)}, set())
    short = LookupChecker(poor, "s", budget=lambda: 1).check(refs(1, 2))
    assert [(c.outcome, c.kind) for c in short] == [(UNCHECKED, "budget_exhausted")] * 2
    assert poor.asked == [], "no lookup beyond the monthly budget"


def test_pick_copy_prefers_the_home_server() -> None:
    ref = PostRef(1, "mastodon", "https://home.example/users/a/statuses/9",
                  (("https://mirror.example", "5"), ("https://home.example", "9")))
    assert pick_copy(ref) == ("https://home.example", "9")
    assert pick_copy(PostRef(1, "mastodon", "https://gone.example/s/1", (("https://m.example", "5"),))) == (
        "https://m.example", "5")
    assert pick_copy(PostRef(1, "mastodon", "https://a.example/1", ())) is None


def test_scrub_text_keeps_numbers_and_structure() -> None:
    assert scrub_text({"a": "text", "b": 1.5, "c": [1, "x", {"d": "y", "e": None}], "f": True}) == {
        "b": 1.5, "c": [1, {"e": None}], "f": True}


class RecordingChecker:
    def __init__(self, outcome: str = PRESENT, records: dict[int, PostRecord] | None = None) -> None:
        self.asked: list[list[int]] = []
        self.outcome, self.records = outcome, records or {}

    def check(self, refs: Sequence[PostRef]) -> list[Check]:
        self.asked.append([r.post_id for r in refs])
        return [Check(r.post_id, "https://api.x.example", self.outcome, record=self.records.get(r.post_id))
                for r in refs]


def test_due_posts_oldest_check_first_respecting_min_age_and_every(tmp_path: Path, sqlite_url: str) -> None:
    config = load_config(write_config(tmp_path, sqlite_url, []))
    cli(tmp_path / "config.yaml", "init")
    store = open_store(config)
    policy = author_policy(config)
    now = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
    records = {n: record(n, created=now - dt.timedelta(days=30)) for n in range(1, 6)}
    records[6] = record(6, created=now - dt.timedelta(hours=2))  # too young to recheck
    with store.transaction() as conn:
        ids = {n: _save(conn, r, policy, now) for n, r in records.items()}
        p = Post.__table__
        conn.execute(update(p).where(p.c.id == ids[1]).values(checked_at=now - dt.timedelta(days=10)))
        conn.execute(update(p).where(p.c.id == ids[2]).values(checked_at=now - dt.timedelta(days=3)))
        conn.execute(update(p).where(p.c.id == ids[3]).values(checked_at=now - dt.timedelta(days=20)))
    checker = RecordingChecker(records={ids[n]: records[n] for n in records})
    clock = [now]
    rechecker = Rechecker(store, policy, {"twitter": checker}, batch_size=2, min_age=dt.timedelta(days=1),
                          every=dt.timedelta(days=7), clock=lambda: clock[0])
    assert rechecker.due_ids() == [ids[4], ids[5], ids[3], ids[1]]  # never checked, then the oldest check
    report = rechecker.run()
    assert checker.asked == [[ids[4], ids[5]], [ids[3], ids[1]]]
    assert report.counts["unchanged"] == 4 and report.batches == 2
    assert Rechecker(store, policy, {"twitter": checker}, clock=lambda: now).due_ids() == []
    later = now + dt.timedelta(days=8)
    # 6 was never checked (and is old enough now), 2 was checked 11 days before, the rest 8 days before
    assert Rechecker(store, policy, {"twitter": checker}, clock=lambda: later).due_ids() == [
        ids[6], ids[2], ids[1], ids[3], ids[4], ids[5]]
    assert Rechecker(store, policy, {"mastodon": checker}, clock=lambda: later).due_ids() == []


def _save(conn: Any, post: PostRecord, policy: Any, now: dt.datetime) -> int:
    assert save_post(conn, post, policy, now) == NEW
    return int(conn.execute(select(Post.id).where(Post.uri == post.uri)).scalar_one())


def test_a_tombstone_stops_the_same_post_being_stored_again(tmp_path: Path, db_url: str) -> None:
    config = load_config(write_config(tmp_path, db_url, []))
    cli(tmp_path / "config.yaml", "init")
    store = open_store(config)
    policy = author_policy(config)
    now = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
    gone, kept = record(1, created=now, author="ana"), record(2, created=now, author="mila")
    shared = record(3, created=now, author="mila")
    with store.transaction() as conn:
        ids = [_save(conn, r, policy, now) for r in (gone, kept, shared)]
        erase = {"reason": "test", "cache_prefix": geocoder_cache_prefix}
        first = erase_post(conn, ids[0], policy.secret, now, **erase)
        again = erase_post(conn, ids[0], policy.secret, now, **erase)
        by_shared = erase_post(conn, ids[2], policy.secret, now, **erase)
        assert first is not None and first.author_removed and again is None
        assert by_shared is not None and not by_shared.author_removed, "mila still has a post"
        assert save_post(conn, gone, policy, now) == ERASED
        assert save_post(conn, kept, policy, now) != ERASED
        assert conn.execute(select(func.count()).select_from(Post.__table__)).scalar_one() == 3
        assert conn.execute(select(func.count()).select_from(Author.__table__)).scalar_one() == 1


def test_twitter_reads_count_harvest_and_recheck_rows_of_this_month(tmp_path: Path, sqlite_url: str) -> None:
    config = load_config(write_config(tmp_path, sqlite_url, []))
    cli(tmp_path / "config.yaml", "init")
    store = open_store(config)
    now = dt.datetime(2030, 6, 15, tzinfo=dt.UTC)
    with store.transaction() as conn:
        for source, server, when, read in (("twitter", "https://api.x", now, 40),
                                           ("twitter", "https://api.x", now - dt.timedelta(days=20), 500),
                                           ("recheck", "https://api.x", now, 7),
                                           ("recheck", "https://m.example", now, 900)):
            row = start_run(conn, "r", Cursor(source, server, "t"), when)
            add_to_run(conn, row, new_posts=read // 2, duplicates=read - read // 2)
            finish_run(conn, row, "ok", when)
        assert twitter_reads_this_month(conn, "https://api.x", now) == 47


@pytest.fixture(autouse=True)
def _quiet_pseudonym_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HILJADE_SECRET", raising=False)


def test_a_dead_or_parked_domain_answering_404_to_everything_erases_nothing() -> None:
    """A 404 means "deleted" only from a server that still answers as a Mastodon API server."""

    class Parked(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = HTML_404.encode()
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    parked = LocalServer(Parked).start()
    dead_url = parked.url
    statuses = make_statuses(3, seed=1)
    try:
        with MastodonStandIn(statuses) as live:
            live.delete(statuses[0]["id"])

            def client(url: str) -> MastodonSource:
                return MastodonSource(url, min_interval=0, max_retries=0, sleep=lambda s: None)

            checker = MastodonChecker(client)
            dead_ref = PostRef(1, "mastodon", f"{dead_url}/users/a/statuses/1", ((dead_url, "1"),))
            live_ref = PostRef(2, "mastodon", statuses[0]["uri"], ((live.url, statuses[0]["id"]),))
            dead, gone = checker.check([dead_ref, live_ref])
    finally:
        parked.close()
    assert dead.outcome == UNCHECKED and "no deletion" in dead.reason
    assert gone.outcome == DELETED


@pytest.mark.parametrize(
    ("instance_paths", "nodeinfo", "trusted"),
    [
        (("/api/v1/instance",), False, True),  # Takahē: no trailing slash, the slash form is an HTML 404
        (("/api/v2/instance",), False, True),
        ((), True, True),  # no instance API, but NodeInfo says the server runs
        ((), False, False),  # nothing says the server is alive: its 404 is no deletion
    ],
)
def test_liveness_does_not_depend_on_one_path_spelling(
    instance_paths: tuple[str, ...], nodeinfo: bool, trusted: bool
) -> None:
    statuses = make_statuses(2, seed=3)
    with MastodonStandIn(statuses, instance_paths=instance_paths, nodeinfo=nodeinfo) as server:
        server.delete(statuses[0]["id"])
        checker = MastodonChecker(lambda url: MastodonSource(url, min_interval=0, max_retries=0,
                                                             sleep=lambda s: None))
        ref = PostRef(1, "mastodon", statuses[0]["uri"], ((server.url, statuses[0]["id"]),))
        (check,) = checker.check([ref])
    assert check.outcome == (DELETED if trusted else UNCHECKED), check.reason


def test_on_a_takahe_like_server_deletions_are_erased_edits_kept_and_withdrawals_erased(
    tmp_path: Path, db_url: str
) -> None:
    """Takahē answers only /api/v1/instance (no slash). Deleted posts are erased, an edit that keeps
    the hashtag updates the text, an edit that drops it withdraws the post: erased, its confirmed
    location kept on the tombstone; a post that could not be checked makes `status` warn (exit 1)."""
    statuses = make_statuses(12, seed=5, opt_outs=False, extras=False)
    with MastodonStandIn(statuses, instance_paths=("/api/v1/instance",)) as server:
        config = write_config(tmp_path, db_url, [server.url], sources__mastodon__max_retries=0,
                              recheck__min_age="1h")
        assert cli(config, "init")[0] == 0
        assert cli(config, "harvest")[0] == 0
        posts = stored_posts(config)
        failing, deleted, kept, dropped = posts[0], posts[1:3], posts[3], posts[4]
        for post in deleted:
            server.delete(post.native_id)
        server.edit(kept.native_id, "<p>Ispravka: kamera kod Vukovog spomenika #hiljadekamera</p>",
                    ["hiljadekamera"], "2031-01-01T00:00:00.000Z")
        server.edit(dropped.native_id, "<p>Ipak nije kamera, samo lampa.</p>", [], "2031-01-02T00:00:00.000Z")
        confirmed = _add_evidence(config, dropped)
        server.faults.push("status", 500)  # the first post asked (posts[0]) cannot be checked

        code, _, err = cli(config, "recheck")
        assert code == 0, err
        assert "2 deleted and erased, 0 opted out and erased, 1 withdrawn by their authors and erased, " \
               f"1 edited, {len(posts) - 5} unchanged, 1 could not be checked" in err
        now = {r.id: r for r in rows(config, Post)}
        for post in [*deleted, dropped]:
            _assert_tombstone(config, now[post.id], post)
        assert now[failing.id].deleted_at is None and now[failing.id].checked_at is None
        assert now[kept.id].text.startswith("Ispravka: kamera kod Vukovog spomenika")
        sighting = rows(config, Sighting, Sighting.post_id == dropped.id)[0]
        assert (sighting.status, sighting.lat, sighting.lon) == ("confirmed", 44.8150, 20.4620)
        assert sighting.matched == "" and sighting.reviewed_by == "mila-reviewer"
        assert rows(config, Author, Author.id == confirmed) == []
        reasons = sorted(r.reason for r in rows(config, ReviewLog))
        assert reasons[-1] == "withdrawn by its author: an edit removed the campaign hashtag"
        assert [r.split(":")[0] for r in reasons[:2]] == ["deleted at the source"] * 2
        (row,) = rows(config, HarvestRun, HarvestRun.source == "recheck")
        assert (row.status, row.erased_posts, row.errors, row.updated_posts) == ("partial", 3, 1, 1)
        assert "1 withdrawn by their authors and erased" in row.error_message

        code, out, err = cli(config, "status")
        assert code == 1, err
        assert f"recheck {server.url}: the last recheck could not check 1 post;" in err + out
        assert "needs a human" in err

        code, _, err = cli(config, "recheck")  # the one that failed is asked again and answers
        assert code == 0, err
        assert "recheck: 1 post in 1 batch " in err and "0 could not be checked" in err
        code, out, err = cli(config, "status")
        assert "could not check" not in err + out

        code, _, err = cli(config, "harvest")  # the withdrawn post is not in the feed, nor stored again
        assert code == 0, err
    assert len([r for r in rows(config, Post) if r.deleted_at is None]) == len(posts) - 3


def _by_uri(config: Path) -> dict[str, Any]:
    return {r.uri: r for r in rows(config, Post)}


def test_only_the_home_server_can_say_a_post_is_deleted(tmp_path: Path, db_url: str) -> None:
    """A hostile server harvested first serves copies of the home server's posts; its 404 erases
    nothing (the home server still has the post, which a re-harvest keeps), the home's 404 does."""
    with MastodonStandIn([]) as honest, MastodonStandIn([]) as hostile:
        statuses = homed_statuses(honest.url, 3)
        for status in statuses:
            honest.add(status)
        kept, gone = statuses[0], statuses[1]
        hostile.add(hostile_copy(kept, hostile.url, "770001"))
        hostile.add(hostile_copy(gone, hostile.url, "770002"))
        config = write_config(tmp_path, db_url, [hostile.url, honest.url], sources__mastodon__max_retries=0,
                              recheck__min_age="1h")
        assert cli(config, "init")[0] == 0
        assert cli(config, "harvest")[0] == 0
        hostile.delete("770001")  # the hostile server "deletes" the home server's post
        honest.delete(gone["id"])  # the home server deletes this one: the hostile copy stays up
        code, _, err = cli(config, "recheck")
        assert code == 0, err
        assert "1 deleted and erased" in err
        assert cli(config, "harvest")[0] == 0
    now = _by_uri(config)
    assert now[kept["uri"]].deleted_at is None and now[kept["uri"]].checked_at is not None
    assert "Lažna" not in now[kept["uri"]].text
    assert gone["uri"] not in now and len([r for r in now.values() if r.deleted_at is not None]) == 1


def test_without_a_home_copy_every_server_that_had_the_post_must_say_it_is_gone(
    tmp_path: Path, db_url: str
) -> None:
    """Posts of a server never harvested, seen through two others: one 404 is no deletion."""
    statuses = homed_statuses("https://home.example", 3)
    mirrored = [dict(copy.deepcopy(s), id=str(500 + n)) for n, s in enumerate(statuses)]
    with MastodonStandIn(statuses) as one, MastodonStandIn(mirrored) as two:
        config = write_config(tmp_path, db_url, [one.url, two.url], sources__mastodon__max_retries=0,
                              recheck__min_age="1h")
        assert cli(config, "init")[0] == 0
        assert cli(config, "harvest")[0] == 0
        asked = sorted(_by_uri(config).values(), key=lambda r: r.id)  # the order recheck asks in
        on_one = {s["uri"]: s["id"] for s in statuses}
        on_two = {s["uri"]: s["id"] for s in mirrored}
        unanswered, present, gone = (r.uri for r in asked)
        for uri in (unanswered, present, gone):
            one.delete(on_one[uri])
        two.delete(on_two[gone])
        two.faults.push("status", 500)  # the first post asked: deleted on one, two cannot answer
        code, _, err = cli(config, "recheck")
        assert code == 0, err
    assert ("1 deleted and erased, 0 opted out and erased, 0 edited, 1 unchanged, "
            "1 could not be checked") in err
    now = _by_uri(config)
    assert now[present].deleted_at is None and now[present].checked_at is not None
    assert gone not in now
    assert now[unanswered].deleted_at is None and now[unanswered].checked_at is None
