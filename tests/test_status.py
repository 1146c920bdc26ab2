"""`hiljade status`: the ledger per feed, and the warnings that need a human: failing, empty, stuck,
silent and overdue feeds, the X/Twitter monthly cap, a geocoder that refuses us, a lock held too long."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hiljade.config import Config, load_config
from hiljade.models.ledger import Cursor, add_to_run, finish_run, save_cursor, start_run
from hiljade.models.posts import save_post
from hiljade.models.runlock import Holder, run_lock
from hiljade.models.schema import HarvestRun
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.gazetteer import build_gazetteer
from hiljade.services.process import process_pending
from hiljade.services.status import collect_status
from hiljade.services.store import author_policy, hold_run_lock, open_store
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.http import LocalServer, QuietHandler

A, B, C = "https://a.example", "https://b.example", "https://c.example"
API = "https://api.twitter.com"


def write(tmp_path: Path, db_url: str, **extra: object) -> Path:
    settings: dict[str, object] = {
        "sources__twitter__enabled": True,
        "sources__twitter__monthly_cap": 100,
        "sources__twitter__empty_feed_warning_days": 10,
    }
    return write_config(tmp_path, db_url, [A, B, C], **{**settings, **extra})


def run(conn, source: str, server: str, tag: str, started: dt.datetime, status: str, **counts: float) -> None:  # noqa: ANN001
    row = start_run(conn, "run", Cursor(source, server, tag), started)
    if counts:
        add_to_run(conn, row, **counts)
    if status != "running":
        failed = status not in ("ok", "empty", "partial", "budget_exhausted", "refused")
        finish_run(
            conn, row, status, started + dt.timedelta(minutes=1), message=f"said {status}", failed=failed
        )


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
MONTH_START = NOW.replace(day=1, hour=0, minute=0, second=0)
THIS_MONTH = max(NOW - dt.timedelta(minutes=2), MONTH_START)  # a recent run, in this calendar month


@pytest.fixture
def ledger(tmp_path: Path, db_url: str) -> Path:
    config = write(tmp_path, db_url)
    assert cli(config, "init")[0] == 0
    store = open_store(load_config(config))
    minutes = dt.timedelta(minutes=1)
    with store.transaction() as conn:
        for k in range(3):  # a: failing three times in a row, after an ok run
            run(conn, "mastodon", A, "hiljadekamera", NOW - (10 - k) * minutes, "ok" if k == 0 else "error")
        run(conn, "mastodon", A, "hiljadekamera", NOW - 5 * minutes, "auth_error", errors=0)
        run(conn, "mastodon", B, "hiljadekamera", NOW - 5 * minutes, "ok", new_posts=0, rate_limit_waits=2)
        save_cursor(
            conn, Cursor("mastodon", B, "hiljadekamera", "777", None, True, NOW - dt.timedelta(days=40)), NOW
        )
        run(conn, "mastodon", B, "kamere", NOW - dt.timedelta(hours=7), "running")  # stuck and overdue
        run(conn, "twitter", API, "hiljadekamera", MONTH_START - dt.timedelta(days=40), "ok", new_posts=900)
        run(
            conn,
            "twitter",
            API,
            "hiljadekamera",
            THIS_MONTH,
            "ok",
            new_posts=60,
            duplicates=20,
            updated_posts=5,
            opted_out=7,
        )
        run(conn, "recheck", API, "", THIS_MONTH, "ok", duplicates=3)
        save_cursor(
            conn, Cursor("twitter", API, "hiljadekamera", "99", None, True, NOW - dt.timedelta(days=11)), NOW
        )
        run(conn, "geocoder", "https://nominatim.example", "", NOW - 2 * minutes, "refused", requests=1)
        run(conn, "geocoder", "https://other.example", "", NOW - 9 * minutes, "refused", requests=1)
        run(conn, "geocoder", "https://other.example", "", NOW - 3 * minutes, "ok", requests=4)
    store.close()
    return config


def kinds(config: Path, lock: Holder | None = None) -> dict[str, list[str]]:
    cfg = load_config(config)
    store = open_store(cfg)
    with store.connect() as conn:
        status = collect_status(conn, cfg, now=NOW, lock=lock)
    store.close()
    found: dict[str, list[str]] = {}
    for alert in status.alerts:
        found.setdefault(alert.kind, []).append(alert.message)
    return found


def test_every_warning_that_needs_a_human(ledger: Path) -> None:
    found = kinds(ledger)
    assert found["failed"] == [
        f"mastodon {A} #hiljadekamera: the last 3 runs in a row failed (auth_error): said auth_error"
    ]
    assert found["silent"] == [
        f"mastodon {B} #hiljadekamera: no new post for 40 days (since {NOW - dt.timedelta(days=40):%Y-%m-%d}"
        "; sources.mastodon.empty_feed_warning_days is 30); check that the feed still answers",
        f"twitter {API} #hiljadekamera: no new post for 11 days (since {NOW - dt.timedelta(days=11):%Y-%m-%d}"
        "; sources.twitter.empty_feed_warning_days is 10); check that the feed still answers",
    ]
    assert len(found["stuck"]) == 1 and f"{B} #kamere: a run started" in found["stuck"][0]
    assert len(found["overdue"]) == 1 and f"{B} #kamere: not harvested since" in found["overdue"][0]
    assert found["twitter_cap"] == [
        f"X/Twitter: 95 of sources.twitter.monthly_cap=100 posts read since {MONTH_START:%Y-%m-%d} "
        "(95% used); harvesting stops at the cap until next month"
    ]
    assert (
        len(found["geocoder_refused"]) == 1 and "nominatim.example refused us" in found["geocoder_refused"][0]
    )
    assert "empty" not in found and "lock_held" not in found
    assert set(found) == {"failed", "silent", "stuck", "overdue", "twitter_cap", "geocoder_refused"}
    held = Holder(4242, NOW - dt.timedelta(hours=7), "harvest", "box")
    assert "pid 4242, hiljade harvest on box" in kinds(ledger, lock=held)["lock_held"][0]
    assert "lock_held" not in kinds(
        ledger, lock=Holder(4242, NOW - dt.timedelta(minutes=5), "harvest", "box")
    )


def test_status_command_table_json_and_exit_status(ledger: Path, db_url: str) -> None:
    code, out, err = cli(ledger, "status")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["source", "server", "hashtag", "last", "run"]
    row_b = next(line for line in lines if B in line and "#" not in line and "hiljadekamera" in line)
    assert row_b.split()[5:11] == ["ok", "0", "0", "0", "2", "-"]
    assert any(C in line and "never run" in line for line in lines), "a configured feed that never ran"
    assert f"X/Twitter: 95 of 100 posts read since {MONTH_START:%Y-%m-%d}" in out
    assert "run lock: free" in out
    assert err.count("warning: ") == 7
    assert err.rstrip().splitlines()[-1] == f"status: {len(lines) - 5} feeds, 7 warnings; needs a human"
    code, out, _ = cli(ledger, "status", "--json")
    data = json.loads(out)
    assert code == 1 and len(data["warnings"]) == 7
    assert {w["kind"] for w in data["warnings"]} >= {"failed", "twitter_cap", "geocoder_refused"}
    assert data["twitter"]["read_this_month"] == 95 and data["lock"] is None
    b = next(f for f in data["feeds"] if f["server"] == B and f["hashtag"] == "hiljadekamera")
    assert b["cursor_after"] is None and b["last_post_at"].startswith(
        f"{NOW - dt.timedelta(days=40):%Y-%m-%d}"
    )
    with run_lock(db_url, command="harvest"):
        code, out, _ = cli(ledger, "status", "--json")
    assert json.loads(out)["lock"]["command"] == "harvest"


def test_stats_counts_feeds_as_status_does_in_plain_words(ledger: Path) -> None:
    """`stats` lists and counts the feeds `status` does (a configured feed that never ran too, the
    geocoder not), with no Python ``None`` for a missing cursor or hashtag and plurals right."""
    feeds = len(json.loads(cli(ledger, "status", "--json")[1])["feeds"])
    code, out, err = cli(ledger, "stats")
    assert code == 1
    listed = out.split("last run per feed:\n", 1)[1].splitlines()
    assert len(listed) == feeds and any(C in line and "never run" in line for line in listed)
    assert "None" not in out and "geocoder" not in out and "no cursor yet" in out
    assert "1 duplicates" not in out and "1 errors" not in out and "1 rate-limit waits" not in out
    assert f", {feeds} feeds, " in err.rstrip().splitlines()[-1]


def test_a_healthy_installation_exits_0(tmp_path: Path, sqlite_url: str) -> None:
    config = write(tmp_path, sqlite_url, sources__twitter__enabled=False)
    cli(config, "init")
    store = open_store(load_config(config))
    with store.transaction() as conn:
        for server in (A, B, C):
            run(conn, "mastodon", server, "hiljadekamera", NOW - dt.timedelta(minutes=3), "ok", new_posts=2)
            save_cursor(conn, Cursor("mastodon", server, "hiljadekamera", "5", None, True, NOW), NOW)
    store.close()
    code, out, err = cli(config, "status")
    assert code == 0, err
    assert err.strip() == "status: 3 feeds, 0 warnings"
    assert "X/Twitter" not in out


def test_a_run_left_running_is_marked_interrupted_by_the_next_lock_holder_and_stats_says_so(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = write(tmp_path, sqlite_url, sources__twitter__enabled=False)
    cli(config, "init")
    cfg = load_config(config)
    store = open_store(cfg)
    with store.transaction() as conn:
        for server in (A, B, C):
            save_cursor(conn, Cursor("mastodon", server, "hiljadekamera", "5", None, True, NOW), NOW)
            run(conn, "mastodon", server, "hiljadekamera", NOW - dt.timedelta(minutes=3),
                "running" if server == A else "ok")  # A's run was killed: its row says running
    assert list(kinds(config)) == [], "a running row alone is not known to be dead"
    with hold_run_lock(cfg, "process", wait=0):
        pass
    assert len(kinds(config)["interrupted"]) == 1
    code, _, err = cli(config, "stats")
    store.close()
    assert code == 1 and f"mastodon {A} #hiljadekamera: the run started" in err
    assert "was interrupted (killed or crashed) before it finished" in err


def test_a_recheck_that_could_not_check_posts_is_a_warning(tmp_path: Path, sqlite_url: str) -> None:
    config = write(tmp_path, sqlite_url, sources__twitter__enabled=False)
    cli(config, "init")
    store = open_store(load_config(config))
    with store.transaction() as conn:
        for server in (A, B, C):
            run(conn, "mastodon", server, "hiljadekamera", NOW - dt.timedelta(minutes=3), "ok", new_posts=2)
            save_cursor(conn, Cursor("mastodon", server, "hiljadekamera", "5", None, True, NOW), NOW)
        run(conn, "recheck", A, "", NOW - dt.timedelta(minutes=2), "partial", duplicates=7, errors=5)
        run(conn, "recheck", B, "", NOW - dt.timedelta(minutes=2), "ok", duplicates=7)
    store.close()
    code, out, err = cli(config, "status")
    assert code == 1, err
    assert f"recheck {A}: the last recheck could not check 5 posts; their deletions wait until a recheck " \
           "can ask: said partial" in err
    assert f"recheck {B}" not in err
    assert err.strip().endswith("status: 5 feeds, 1 warning; needs a human")


def test_secrets_are_masked_in_the_ledger_and_in_all_status_prints(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10, item 23: a token a server echoed reached ``harvest_runs.error_message`` and
    ``status --json``; it is masked where it is stored, and where it is printed (a row written by an
    older version included)."""
    token = "status-token-0007-abcdef"
    monkeypatch.setenv("HILJADE_TEST_TOKEN", token)
    config = write_config(tmp_path, sqlite_url, [{"url": A, "token_env": "HILJADE_TEST_TOKEN"}])
    cli(config, "init")
    store = open_store(load_config(config))
    table = HarvestRun.__table__
    with store.transaction() as conn:
        row = start_run(conn, "run", Cursor("mastodon", A, "hiljadekamera"), NOW - dt.timedelta(minutes=3))
        finish_run(conn, row, "auth_error", NOW, message=f"{A} answered: bad token {token}", failed=True)
        assert conn.execute(select(table.c.error_message)).scalar_one() == f"{A} answered: bad token ***"
        conn.execute(update(table).values(error_message=f"older version stored {token}"))
    store.close()
    for args in (("status",), ("status", "--json"), ("stats",)):
        code, out, err = cli(config, *args)
        assert code == 1 and token not in out + err and "***" in out + err, args


# -- the process job records what the geocoder said ---------------------------------------------


@pytest.fixture
def refusing_geocoder() -> Iterator[dict]:
    state = {"status": 403, "asked": 0}

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            state["asked"] += 1
            body = b"<html>Access blocked</html>" if state["status"] != 200 else b"[]"
            self.send_response(state["status"])
            self.send_header("Content-Type", "text/html" if state["status"] != 200 else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with LocalServer(Handler) as server:
        state["url"] = server.url
        yield state


STREET = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"highway": "residential", "name": "Таковска", "name:sr-Latn": "Takovska"},
            "geometry": {"type": "LineString", "coordinates": [[20.4690, 44.8130], [20.4750, 44.8150]]},
        }
    ],
}


def test_a_refusing_geocoder_is_recorded_by_the_process_job_and_clears_when_it_answers(
    tmp_path: Path, sqlite_url: str, refusing_geocoder: dict
) -> None:
    config_path = write(
        tmp_path,
        sqlite_url,
        sources__twitter__enabled=False,
        geocoder__enabled=True,
        geocoder__url=refusing_geocoder["url"],
        geocoder__user_agent="hiljade-tests/0.1 (tests@example.org)",
        media__download=False,
    )
    cli(config_path, "init")
    config: Config = load_config(config_path)
    store = open_store(config)
    (tmp_path / "street.geojson").write_text(json.dumps(STREET), encoding="utf-8")
    build_gazetteer(config, store, [tmp_path / "street.geojson"])
    with store.transaction() as conn:
        save_post(
            conn,
            PostRecord(
                platform="mastodon",
                server=A,
                native_id="1",
                uri=f"{A}/s/1",
                created_at=NOW,
                text="Kamera kod bioskopa Zvezda, pogledajte",
                author=AuthorRecord("mastodon", f"{A}/users/x"),
                fetched_from="test",
            ),
            author_policy(config),
            NOW,
        )
    report = process_pending(config, store)
    assert report.geocoder_refused == 1 and refusing_geocoder["asked"] == 1
    with store.connect() as conn:
        found = collect_status(conn, config, now=dt.datetime.now(dt.UTC))
    refused = [a for a in found.alerts if a.kind == "geocoder_refused"]
    assert len(refused) == 1 and "HTTP 403" in refused[0].message
    assert found.geocoder[0]["status"] == "refused" and found.geocoder[0]["errors"] == 1
    refusing_geocoder["status"] = 200
    process_pending(config, store, reprocess=True)
    with store.connect() as conn:
        found = collect_status(conn, config, now=dt.datetime.now(dt.UTC))
    assert not [a for a in found.alerts if a.kind == "geocoder_refused"]
    assert found.geocoder[0]["status"] == "ok" and found.geocoder[0]["requests"] == 1
    store.close()
