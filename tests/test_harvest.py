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

import pytest
from sqlalchemy import select

from hiljade.config import load_config
from hiljade.harvester.mastodon import opt_out_reason
from hiljade.models.schema import HarvestRun
from hiljade.services.feeds import harvest, mastodon_feeds
from hiljade.services.store import open_store
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.harvest import snapshot
from tests.support.mastodon import make_statuses, recorded_statuses
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
    edited = copy.deepcopy(original)
    edited["id"] = "990001"
    edited["content"] = "<p>Ispravka: kamera je na uglu Dečanske i Nušićeve #hiljadekamera</p>"
    edited["edited_at"] = "2030-01-01T00:00:00.000Z"
    with MastodonStandIn(statuses) as one, MastodonStandIn([edited]) as two:
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
    monkeypatch.setenv("HILJADE_TEST_TOKEN", "s3cret")
    with MastodonStandIn(statuses[:10], require_token="s3cret") as locked:
        config = write_config(tmp_path, sqlite_url, [{"url": locked.url, "token_env": "HILJADE_TEST_TOKEN"}])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
    assert code == 0, err
    assert len(snapshot(config)["posts"]) == len(expected(statuses[:10]))


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
