"""Harvesting end to end: the real Mastodon.py client against a local Mastodon stand-in, into SQLite
and the real PostgreSQL, through the same CLI a maintainer's cron runs."""

from __future__ import annotations

import copy
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hiljade.cli import harvest as harvest_command
from hiljade.config import load_config
from hiljade.harvester.mastodon import opt_out_reason
from hiljade.models.ledger import Cursor
from hiljade.models.schema import HarvestRun, Media, Post, PostCopy, PostVersion, ReviewLog, Sighting
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.feeds import HarvestReport, harvest, mastodon_feeds
from hiljade.services.harvest import End, Feed, Harvester, Step
from hiljade.services.store import author_policy, open_store
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.harvest import snapshot
from tests.support.identity import PROFILE_KEYS, keys_in, leaks, stored_payloads
from tests.support.mastodon import homed_statuses, hostile_copy, make_statuses, recorded_statuses
from tests.support.mastodon_server import MastodonStandIn


def opted_out(statuses: list[dict]) -> set[str]:
    return {s["uri"] for s in statuses if opt_out_reason(s["account"])}


def expected(statuses: list[dict]) -> set[str]:
    """What a harvest must store: every listed status (a tag feed lists no boosts) not opted out."""
    return {s["uri"] for s in statuses if s.get("reblog") is None} - opted_out(statuses)


@pytest.fixture
def statuses() -> list[dict]:
    return make_statuses(95, seed=7)


def test_backfill_stores_every_tagged_status_once_and_rerun_changes_nothing(
    tmp_path: Path, db_url: str, statuses: list[dict]
) -> None:
    with MastodonStandIn(statuses) as server:
        config = write_config(tmp_path, db_url, [server.url])
        assert cli(config, "init")[0] == 0
        code, _, err = cli(config, "harvest")
        assert code == 0, err
        first = snapshot(config)
        code, _, err = cli(config, "harvest")
        assert code == 0, err
        assert "0 new posts" in err
    want = expected(statuses)
    assert opted_out(statuses), "the fixture must contain opted-out accounts"
    assert {row[0] for row in first["posts"]} == want
    assert snapshot(config) == first
    store = open_store(load_config(config))
    with store.connect() as conn:
        runs = conn.execute(select(HarvestRun.__table__).order_by(HarvestRun.id)).all()
    assert [r.status for r in runs] == ["ok", "ok"]
    assert runs[0].new_posts == len(want)
    assert runs[0].opted_out == len(opted_out(statuses))
    assert runs[1].new_posts == 0 and runs[1].cursor_before == runs[0].cursor_after


def test_new_statuses_are_picked_up_forward(tmp_path: Path, db_url: str, statuses: list[dict]) -> None:
    ordered = sorted(statuses, key=lambda s: int(s["id"]))  # later statuses get higher ids, as on a server
    first, later = ordered[:60], ordered[60:]
    with MastodonStandIn(first) as server:
        config = write_config(tmp_path, db_url, [server.url])
        cli(config, "init")
        assert cli(config, "harvest")[0] == 0
        for status in later:
            server.add(status)
        asked = len(server.requests)
        code, _, err = cli(config, "harvest")
        assert code == 0, err
        forward = [q for _, q, _ in server.requests[asked:] if "min_id" in q]
        assert forward and not [q for _, q, _ in server.requests[asked:] if "max_id" in q]
    snap = snapshot(config)
    assert {row[0] for row in snap["posts"]} == expected(statuses)


def test_an_edit_seen_later_updates_the_text_and_keeps_the_old_one(
    tmp_path: Path, db_url: str, statuses: list[dict]
) -> None:
    original = next(s for s in statuses if s["uri"] not in opted_out(statuses))
    with MastodonStandIn(statuses) as one, MastodonStandIn([]) as two:
        # the post's home is server two (its uri names it): its edit replaces the copy seen on one
        original["uri"] = two.url + urlsplit(original["uri"]).path
        one.add(original)
        edited = copy.deepcopy(original)
        edited["id"] = "990001"
        edited["content"] = "<p>Ispravka: kamera je na uglu Dečanske i Nušićeve #hiljadekamera</p>"
        edited["edited_at"] = "2030-01-01T00:00:00.000Z"
        two.add(edited)
        config = write_config(tmp_path, db_url, [one.url, two.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
        assert code == 0, err
        assert "1 edited" in err
    snap = snapshot(config)
    texts = {row[0]: row[1] for row in snap["posts"]}
    assert texts[original["uri"]].startswith("Ispravka: kamera je na uglu Dečanske i Nušićeve")
    assert len(snap["versions"]) == 1 and "Ispravka" not in snap["versions"][0][0]


def test_two_servers_sharing_statuses_store_each_once(
    tmp_path: Path, db_url: str, statuses: list[dict]
) -> None:
    shared = statuses[:30]
    mirrored = []
    for n, status in enumerate(shared):
        twin = copy.deepcopy(status)
        twin["id"] = str(900000 + n)  # another server numbers the same status differently
        mirrored.append(twin)
    with MastodonStandIn(statuses) as one, MastodonStandIn(mirrored + make_statuses(10, seed=99)) as two:
        config = write_config(tmp_path, db_url, [one.url, two.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
        assert code == 0, err
    snap = snapshot(config)
    uris = [row[0] for row in snap["posts"]]
    assert len(uris) == len(set(uris))
    extra = make_statuses(10, seed=99)
    assert set(uris) == expected(statuses) | expected(extra)
    copies_on_two = [c for c in snap["copies"] if c[0] == two.url]
    assert len(copies_on_two) == len(expected(mirrored) | expected(extra))


def test_backfill_stops_at_backfill_since(tmp_path: Path, sqlite_url: str, statuses: list[dict]) -> None:
    dates = sorted(dt.datetime.fromisoformat(s["created_at"].replace("Z", "+00:00")) for s in statuses)
    cut = dates[len(dates) // 2]
    with MastodonStandIn(statuses) as server:
        config = write_config(tmp_path, sqlite_url, [server.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest", "--backfill-since", cut.date().isoformat())
        assert code == 0, err
    since = dt.datetime.combine(cut.date(), dt.time(), tzinfo=dt.UTC)
    snap = snapshot(config)
    assert snap["posts"], "something after the cut must be stored"
    assert all(row[2] >= since for row in snap["posts"])
    recent = [
        s for s in statuses if dt.datetime.fromisoformat(s["created_at"].replace("Z", "+00:00")) >= since
    ]
    assert {row[0] for row in snap["posts"]} == expected(recent)


def test_broken_server_is_loud_and_does_not_stop_the_others(
    tmp_path: Path, db_url: str, statuses: list[dict]
) -> None:
    with MastodonStandIn(statuses) as good, MastodonStandIn(statuses[:5], require_token="s3cret") as locked:
        config = write_config(tmp_path, db_url, [locked.url, good.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
    assert code == 1
    assert "token_env" in err and locked.url in err
    assert "s3cret" not in err
    snap = snapshot(config)
    assert len(snap["posts"]) == len(expected(statuses))
    store = open_store(load_config(config))
    with store.connect() as conn:
        by_server = {r.server: r for r in conn.execute(select(HarvestRun.__table__))}
    assert by_server[locked.url].status == "auth_error" and by_server[locked.url].errors == 1
    assert "token_env" in by_server[locked.url].error_message
    assert by_server[good.url].status == "ok"
    code, out, err = cli(config, "stats")
    assert code == 1 and "auth_error" in err


def test_token_from_environment_opens_a_locked_feed(
    tmp_path: Path, sqlite_url: str, statuses: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HILJADE_TEST_TOKEN", "s3cret-token-0006")  # 8 characters at least (issue 9, item 4)
    with MastodonStandIn(statuses[:10], require_token="s3cret-token-0006") as locked:
        config = write_config(tmp_path, sqlite_url, [{"url": locked.url, "token_env": "HILJADE_TEST_TOKEN"}])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
    assert code == 0, err
    assert len(snapshot(config)["posts"]) == len(expected(statuses[:10]))


def test_a_token_too_short_to_mask_is_refused_before_any_request(
    tmp_path: Path, sqlite_url: str, statuses: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9, item 4: with a token ``x`` a message read "Ma*** retries e***ceeded"; such a token
    can be neither masked nor left in messages, so it is refused when the configuration loads."""
    monkeypatch.setenv("HILJADE_TEST_TOKEN", "x")
    with MastodonStandIn(statuses[:3], require_token="x") as locked:
        config = write_config(tmp_path, sqlite_url, [{"url": locked.url, "token_env": "HILJADE_TEST_TOKEN"}])
        code, _, err = cli(config, "harvest")
        assert locked.requests == []
    assert code == 2 and "HILJADE_TEST_TOKEN: the value is 1 character long" in err
    assert "***" not in err


def test_a_server_url_with_credentials_is_refused_in_the_file_and_on_the_command_line(
    tmp_path: Path, sqlite_url: str, statuses: list[dict]
) -> None:
    """Issue 10, item 24: ``http://user:TOKEN@host`` was accepted and the token stored in posts, post
    copies, the ledger and cursors, and shown by ``status --json``."""
    with MastodonStandIn(statuses[:3]) as server:
        with_token = server.url.replace("http://", "http://user:TOKEN-0008@")
        config = write_config(tmp_path, sqlite_url, [with_token])
        code, _, err = cli(config, "harvest")
        assert code == 2 and "sources.mastodon.servers: http://***@127.0.0.1" in err
        config = write_config(tmp_path, sqlite_url, [server.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest", "--server", with_token)
        assert code == 2 and "--server: http://***@127.0.0.1" in err and "environment" in err
        assert server.requests == []
    assert "TOKEN-0008" not in err and snapshot(config)["posts"] == []


def test_a_400_invalid_bearer_token_is_recorded_as_auth_error(
    tmp_path: Path, sqlite_url: str, statuses: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HILJADE_TEST_TOKEN", "not-the-token")
    with MastodonStandIn(statuses[:5]) as server:  # answers a bad token as Takahē does
        config = write_config(tmp_path, sqlite_url, [{"url": server.url, "token_env": "HILJADE_TEST_TOKEN"}])
        cli(config, "init")
        server.faults.push("status", 400, {"Content-Type": "text/html"}, "Invalid Bearer token")
        code, _, err = cli(config, "harvest")
    assert code == 1 and "$HILJADE_TEST_TOKEN" in err and "not-the-token" not in err
    store = open_store(load_config(config))
    with store.connect() as conn:
        row = conn.execute(select(HarvestRun.__table__)).one()
    assert row.status == "auth_error" and "$HILJADE_TEST_TOKEN" in row.error_message


def test_empty_feed_is_reported(tmp_path: Path, sqlite_url: str) -> None:
    with MastodonStandIn([]) as server:
        config = write_config(tmp_path, sqlite_url, [server.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
    assert code == 0
    assert "warning" in err and "no posts" in err
    code, _, err = cli(config, "stats")
    assert code == 1 and "returned nothing" in err


def test_a_feed_empty_at_first_is_read_again_when_posts_arrive(
    tmp_path: Path, sqlite_url: str, statuses: list[dict]
) -> None:
    with MastodonStandIn([]) as server:
        config = write_config(tmp_path, sqlite_url, [server.url])
        cli(config, "init")
        assert cli(config, "harvest")[0] == 0
        for status in statuses:
            server.add(status)
        code, _, err = cli(config, "harvest")
        assert code == 0, err
    assert {row[0] for row in snapshot(config)["posts"]} == expected(statuses)


def test_faults_are_retried_and_waited_out(tmp_path: Path, db_url: str, statuses: list[dict]) -> None:
    with MastodonStandIn(statuses) as server:
        config = write_config(tmp_path, db_url, [server.url], sources__mastodon__max_retries=4)
        cli(config, "init")
        server.faults.extend(
            [
                ("status", 429, {"Retry-After": "0"}),
                ("status", 502, "<html><body>Bad Gateway</body></html>"),
                ("truncate",),
                ("status", 503),
            ]
        )
        cfg = load_config(config)
        feeds = mastodon_feeds(cfg, sleep=lambda seconds: None)  # no real waiting in tests
        report = harvest(cfg, open_store(cfg), feeds)
    assert not report.failed, report.failed[0].message
    assert report.total("rate_limit_waits") >= 1
    assert report.total("new_posts") == len(expected(statuses))
    assert not server.faults


def test_harvest_without_init_says_so(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url, ["http://127.0.0.1:9"])
    code, _, err = cli(config, "harvest")
    assert code == 1 and "hiljade init" in err


def test_without_network_the_harvest_says_why_soon_and_shows_its_retries_on_a_terminal(
    tmp_path: Path, sqlite_url: str, statuses: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harvest_command, "_on_terminal", lambda: True)
    with MastodonStandIn(statuses[:5]) as server:
        config = write_config(tmp_path, sqlite_url, ["https://hiljade-test.invalid", server.url],
                              hashtags=["hiljadekamera", "kamere"], sources__mastodon__min_interval_seconds=0)
        cli(config, "init")
        server.faults.push("status", 503)  # one failure, retried after a notice
        started = time.monotonic()
        code, _, err = cli(config, "harvest")
    assert code == 1 and time.monotonic() - started < 30
    notice = "hiljadekamera: HTTP 503 Service Unavailable; trying again in 2 s (retry 1 of 2)"
    assert f"{server.url}/api/v1/timelines/tag/{notice}" in err
    for tag in ("hiljadekamera", "kamere"):
        where = "https://hiljade-test.invalid"
        assert (f"FAILED: {where} #{tag}: {where}: #{tag} timeline: "
                "cannot resolve hiljade-test.invalid: is this machine online?") in err
    store = open_store(load_config(config))
    with store.connect() as conn:
        rows = conn.execute(select(HarvestRun.__table__).order_by(HarvestRun.id)).all()
    assert [(r.server, r.status) for r in rows][:2] == [("https://hiljade-test.invalid", "unavailable")] * 2


@pytest.mark.parametrize("source", ["mastodon", "twitter", "bluesky"])
def test_a_disabled_source_is_refused_by_the_one_rule(
    tmp_path: Path, sqlite_url: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HILJADE_TWITTER_BEARER_TOKEN", "a-bearer-token")  # everything else is in order
    monkeypatch.setenv("HILJADE_BLUESKY_APP_PASSWORD", "an-app-password")
    with MastodonStandIn(make_statuses(3, seed=2)) as server:
        config = write_config(tmp_path, sqlite_url, [server.url], **{
            f"sources__{source}__enabled": False, "sources__twitter__api_url": server.url,
            "sources__bluesky__handle": "someone.bsky.social", "sources__bluesky__service_url": server.url,
        })
        assert cli(config, "init")[0] == 0
        code, _, err = cli(config, "harvest", "--source", source)
        assert code == 2, err
        assert f"sources.{source}.enabled is false; set it to true to harvest" in err
        assert server.requests == [], "a disabled source asks nobody"
    assert snapshot(config)["cursors"] == []


def _spawn_harvest(config: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    return subprocess.Popen(
        [sys.executable, "-m", "hiljade", "--config", str(config), "harvest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("kill_after_requests", [2, 4, 7])
def test_kill_9_mid_backfill_loses_nothing_and_doubles_nothing(
    tmp_path: Path, db_url: str, kill_after_requests: int
) -> None:
    statuses = make_statuses(300, seed=3)
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    with MastodonStandIn(statuses) as server:
        ref_config = write_config(reference_dir, f"sqlite:///{reference_dir / 'ref.db'}", [server.url])
        cli(ref_config, "init")
        assert cli(ref_config, "harvest")[0] == 0
    reference = snapshot(ref_config)

    with MastodonStandIn(statuses) as server:
        config = write_config(tmp_path, db_url, [server.url], sources__mastodon__page_limit=20)
        cli(config, "init")
        server.delay = 0.15  # slow pages so the kill lands mid-backfill
        proc = _spawn_harvest(config)
        deadline = time.monotonic() + 30
        while len(server.requests) < kill_after_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        partial = snapshot(config)
        assert len(partial["posts"]) < len(reference["posts"]), "the kill must land before the end"
        server.delay = 0
        code, _, err = cli(config, "harvest")
        assert code == 0, err
        resumed = [q for _, q, _ in server.requests[kill_after_requests:] if "max_id" in q]
        assert resumed, "the second run must resume the backfill, not start over"
    after = snapshot(config)
    for name in ("posts", "media", "versions"):
        assert [r[:4] for r in after[name]] == [r[:4] for r in reference[name]], name
    assert len(after["copies"]) == len(reference["copies"])


def test_recorded_real_statuses_harvest(tmp_path: Path, sqlite_url: str, shared_data: Path) -> None:
    recorded = recorded_statuses(shared_data / "api_payloads" / "mastodon")
    assert recorded
    tagged = []
    for status in recorded:
        status = copy.deepcopy(status)
        status["tags"] = list(status.get("tags") or []) + [{"name": "hiljadekamera", "url": "x"}]
        tagged.append(status)
    with MastodonStandIn(tagged) as server:
        config = write_config(tmp_path, sqlite_url, [server.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
        assert code == 0, err
    originals = {(s.get("reblog") or s)["uri"] for s in tagged if not opt_out_of(s)}
    assert {row[0] for row in snapshot(config)["posts"]} == originals


def opt_out_of(status: dict) -> bool:
    return opt_out_reason((status.get("reblog") or status)["account"]) is not None


class ListedPages:
    """A paging that hands out the given pages, one per harvest run."""

    limit_message = "stopped after {pages} pages"

    def __init__(self, *pages: tuple[PostRecord, ...]) -> None:
        self.pages = list(pages)

    def read(self, store: object, feed: Feed, cursor: Cursor, now: dt.datetime) -> Step | End:
        posts = self.pages.pop(0)
        return Step(posts=posts, cursor=cursor.moved(newest_id="9"), done=True, requests=1,
                    rate_limit_waits=0, waited_seconds=0.0, oldest_created_at=None)

    def outcome(self, feed: Feed, cursor: Cursor) -> End:
        return End("ok")


def test_an_edit_that_removes_the_campaign_hashtag_withdraws_the_post(tmp_path: Path, db_url: str) -> None:
    config_path = write_config(tmp_path, db_url, [], hashtags=["hiljadekamera", "kamere"])
    assert cli(config_path, "init")[0] == 0
    config = load_config(config_path)
    created = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    def post(text: str, tags: tuple[str, ...], edited: int | None = None) -> PostRecord:
        return PostRecord(platform="mastodon", server="https://m.example", native_id="7",
                          uri="https://m.example/users/ana/statuses/7", created_at=created, text=text,
                          hashtags=tags, fetched_from="test",
                          edited_at=None if edited is None else created + dt.timedelta(hours=edited),
                          author=AuthorRecord("mastodon", "https://m.example/users/ana"))

    paging = ListedPages(
        (post("Kamera kod Slavije #hiljadekamera #kamere", ("hiljadekamera", "kamere")),),
        (post("Kamera kod Slavije #kamere", ("kamere",), edited=1),),  # still in the campaign: an edit
        (post("Ipak nije kamera", ("lampe",), edited=2),),  # out of the campaign: withdrawn
    )
    store = open_store(config)
    feed = Feed("mastodon", "https://m.example", "hiljadekamera", None)
    results = []
    for _ in range(3):
        harvester = Harvester(store, author_policy(config), paging, campaign=config.hashtags)
        results.append(harvester.harvest([feed])[0])
    assert [r.counts.get("updated_posts") for r in results] == [0, 1, 0]
    assert [r.counts.get("erased_posts") for r in results] == [0, 0, 1]
    assert "1 withdrawn by their authors and erased" in HarvestReport(results[2:]).summary()
    with store.connect() as conn:
        (row,) = conn.execute(select(Post.__table__)).all()
        (log,) = conn.execute(select(ReviewLog.__table__)).all()
        ledger = conn.execute(select(HarvestRun.erased_posts).order_by(HarvestRun.id)).scalars().all()
    store.close()
    assert row.deleted_at is not None and row.text == "" and row.uri.startswith("erased:")
    assert row.author_id is None and row.raw == {} and row.hashtags == []
    assert (log.reviewer, log.action, log.reason) == (
        "harvest", "erase", "withdrawn by its author: an edit removed the campaign hashtag")
    assert ledger == [0, 0, 1]


def _account_values(statuses: list[dict]) -> set[str]:
    """What names the author of each status (besides its username, which its address carries)."""
    accounts = [(s.get("reblog") or s)["account"] for s in statuses]
    return {str(a.get(k) or "") for a in accounts for k in ("id", "display_name", "avatar", "avatar_static",
                                                             "header", "header_static", "note")}


def _assert_no_account_identity(config: Path, statuses: list[dict]) -> None:
    payloads = stored_payloads(config)
    assert payloads
    raws = [raw for raw, _ in payloads]
    assert not keys_in(raws) & set(PROFILE_KEYS)
    assert not leaks(raws, _account_values(statuses))
    for raw, alias in payloads:  # the account is its opt-out flags, the author only the pseudonym
        assert set(raw["account"]) <= {"noindex", "indexable", "opt_out"}
        assert alias and raw["author_pseudonym"] == alias


def test_stored_payloads_keep_no_account_identity(tmp_path: Path, db_url: str) -> None:
    statuses = make_statuses(40, seed=5)
    with MastodonStandIn(statuses) as server:
        config = write_config(tmp_path, db_url, [server.url])
        cli(config, "init")
        assert cli(config, "harvest")[0] == 0
    _assert_no_account_identity(config, statuses)


def test_recorded_statuses_are_stored_without_account_identity(
    tmp_path: Path, sqlite_url: str, shared_data: Path
) -> None:
    recorded = recorded_statuses(shared_data / "api_payloads" / "mastodon")
    tagged = [{**copy.deepcopy(s), "tags": [*(s.get("tags") or []), {"name": "hiljadekamera", "url": "x"}]}
              for s in recorded]
    with MastodonStandIn(tagged) as server:
        config = write_config(tmp_path, sqlite_url, [server.url])
        cli(config, "init")
        assert cli(config, "harvest")[0] == 0
    _assert_no_account_identity(config, [s for s in tagged if not opt_out_of(s)])


def _post_and_copies(config: Path, uri: str) -> tuple[Any, list[Any], list[str], list[str]]:
    """The stored post with this uri, its copies, its media urls and its earlier texts."""
    store = open_store(load_config(config))
    try:
        with store.connect() as conn:
            post = conn.execute(select(Post.__table__).where(Post.uri == uri)).one()
            copies = conn.execute(select(PostCopy.__table__).where(PostCopy.post_id == post.id)).all()
            media = conn.execute(select(Media.url).where(Media.post_id == post.id)).scalars().all()
            versions = conn.execute(select(PostVersion.text).where(PostVersion.post_id == post.id)).scalars()
            return post, list(copies), list(media), list(versions)
    finally:
        store.close()


@pytest.mark.parametrize("hostile_first", [True, False])
def test_another_server_cannot_change_a_post_its_home_server_serves(
    tmp_path: Path, db_url: str, hostile_first: bool
) -> None:
    """A server serving a status under another server's uri, with other text, an extra hashtag, its
    own attachment and a later edited_at, never changes the post: harvested after the home server
    it is flagged; harvested first, the home server's copy replaces its text (kept as a version)."""
    with MastodonStandIn([]) as honest, MastodonStandIn([]) as hostile:
        statuses = homed_statuses(honest.url)
        for status in statuses:
            honest.add(status)
        victim = statuses[0]
        hostile.add(hostile_copy(victim, hostile.url))
        servers = [hostile.url, honest.url] if hostile_first else [honest.url, hostile.url]
        config = write_config(tmp_path, db_url, servers)
        assert cli(config, "init")[0] == 0
        code, _, err = cli(config, "harvest")
        assert code == 0, err
        assert cli(config, "harvest")[0] == 0  # asked again: nothing changes
        code, out, err = cli(config, "status")
    post, copies, media, versions = _post_and_copies(config, victim["uri"])
    assert "Lažna" not in post.text and "uklonjena" not in post.text and "Kamera" in post.text
    assert post.hashtags == [t["name"] for t in victim["tags"]] and post.edited_at is None
    assert media == [] and post.fetched_from.startswith(honest.url)
    flags = {c.server: c.disagrees for c in copies}
    assert flags == {honest.url: None, hostile.url: "text, hashtags, media"}
    assert versions == (["Lažna vest: kamera je uklonjena #hiljadekamera #prevara"] if hostile_first else [])
    assert code == 1 and f"{hostile.url}: 1 post copy disagrees with the post" in out + err
    code, out, err = cli(config, "review", "show", str(_sighting_of(config, post.id)))
    assert code == 0, err
    assert f"copy on {hostile.url} disagrees (text, hashtags, media): kept apart" in out
    assert f"copy on {honest.url}" not in out


def _sighting_of(config: Path, post_id: int) -> int:
    """A sighting of the post, for `review show`."""
    store = open_store(load_config(config))
    now = dt.datetime.now(dt.UTC)
    try:
        with store.transaction() as conn:
            return int(conn.execute(Sighting.__table__.insert().values(
                post_id=post_id, chosen=True, method="intersection", lat=44.815, lon=20.462, precision_m=15.0,
                confidence=0.9, status="pending_review", matched="Kamera", span_start=0, span_end=6,
                source="test", pipeline_version="1", created_at=now, evidence={})).inserted_primary_key[0])
    finally:
        store.close()
