"""The run lock: flock beside SQLite, an advisory lock on PostgreSQL, and two concurrent
`hiljade harvest` processes of which exactly one writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hiljade.config import load_config
from hiljade.errors import LockBusy
from hiljade.models.runlock import lock_holder, lock_path, run_lock
from hiljade.models.schema import HarvestRun
from hiljade.services.store import open_store
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.harvest import snapshot
from tests.support.mastodon import make_statuses
from tests.support.mastodon_server import MastodonStandIn
from tests.support.paths import REPO

HOLD = """
import sys, time
from hiljade.models.runlock import run_lock
with run_lock(sys.argv[1], command="harvest"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _python(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _hold_in_other_process(url: str, seconds: float) -> subprocess.Popen:
    proc = _python("-c", HOLD, url, str(seconds))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_file_lives_beside_the_sqlite_database(tmp_path: Path) -> None:
    assert lock_path(f"sqlite:///{tmp_path / 'data' / 'hiljade.db'}") == tmp_path / "data" / "hiljade.db.lock"
    assert lock_path("sqlite:///:memory:") is None
    assert lock_path("postgresql://u@h/db") is None
    with run_lock("sqlite:///:memory:", command="harvest"), run_lock("sqlite:///:memory:", command="x"):
        pass  # an in-memory database is private to its process: nothing to exclude


def test_another_process_holding_the_lock_is_named_and_nothing_runs(db_url: str) -> None:
    holder = _hold_in_other_process(db_url, 30)
    try:
        ran = []
        started = time.monotonic()
        with pytest.raises(LockBusy) as caught, run_lock(db_url, command="harvest", wait=0.5):
            ran.append(True)
        assert not ran
        assert 0.4 < time.monotonic() - started < 5
        message = str(caught.value)
        assert message.startswith("another hiljade run holds the lock since ")
        assert f"pid {holder.pid}" in message and "hiljade harvest" in message
        seen = lock_holder(db_url)
        assert seen is not None and seen.pid == holder.pid and seen.command == "harvest"
    finally:
        holder.kill()
        holder.wait()
    # the kernel (SQLite) or the server (PostgreSQL) dropped the killed holder's lock
    deadline = time.monotonic() + 10
    while lock_holder(db_url) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock_holder(db_url) is None
    with run_lock(db_url, command="harvest"):
        assert lock_holder(db_url).pid == os.getpid()  # type: ignore[union-attr]


def test_a_waiting_run_gets_the_lock_when_the_holder_releases_it(db_url: str) -> None:
    holder = _hold_in_other_process(db_url, 0.8)
    started = time.monotonic()
    with run_lock(db_url, command="harvest", wait=20):
        waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert 0.3 < waited < 10
    assert lock_holder(db_url) is None


def test_threads_of_one_process_exclude_each_other_and_a_stop_ends_the_wait(sqlite_url: str) -> None:
    stop = threading.Event()
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with run_lock(sqlite_url, command="run harvest mastodon"):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(5)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(LockBusy, match="run harvest mastodon"), run_lock(
        sqlite_url, command="run process", wait=60, should_stop=stop.is_set
    ):
        pass
    assert time.monotonic() - started < 5, "a stop request must end the wait"
    release.set()
    thread.join()
    with run_lock(sqlite_url, command="run process"):
        pass


# -- two concurrent `hiljade harvest` processes ---------------------------------------------------


def _spawn(config: Path, *extra: str) -> subprocess.Popen:
    return _python("-m", "hiljade", "--config", str(config), "harvest", *extra)


def _reference(server: MastodonStandIn, folder: Path) -> dict:
    """What one uninterrupted harvest of ``server`` stores."""
    folder.mkdir()
    config = write_config(folder, f"sqlite:///{folder / 'ref.db'}", [server.url])
    cli(config, "init")
    assert cli(config, "harvest")[0] == 0
    return _comparable(snapshot(config))


def _comparable(snap: dict) -> dict:
    """A snapshot without the pseudonyms, which depend on each database's own key."""
    return {**snap, "authors": len(snap["authors"])}


def _harvest_rows(config: Path) -> int:
    store = open_store(load_config(config))
    with store.connect() as conn:
        count = conn.execute(select(func.count()).select_from(HarvestRun)).scalar_one()
    store.close()
    return int(count)


def test_two_concurrent_harvests_one_writes_the_other_says_so_and_exits_0(
    tmp_path: Path, db_url: str
) -> None:
    with MastodonStandIn(make_statuses(120, seed=11)) as server:
        expected = _reference(server, tmp_path / "reference")
        config = write_config(tmp_path, db_url, [server.url], sources__mastodon__page_limit=10)
        cli(config, "init")
        server.delay = 0.5  # the first run stays in the middle of its backfill while the second runs
        base = len(server.requests)
        first = _spawn(config)
        deadline = time.monotonic() + 60
        while len(server.requests) < base + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        second = _spawn(config)
        out2, err2 = second.communicate(timeout=60)
        assert first.poll() is None, "the first run must still be harvesting"
        server.delay = 0
        _, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "harvest: another hiljade run holds the lock since" in err2
    assert f"(pid {first.pid}, hiljade harvest on " in err2 and "nothing was written" in err2
    assert "new posts" not in err2 and out2 == ""
    assert "new posts" in err1
    assert _comparable(snapshot(config)) == expected
    assert _harvest_rows(config) == 1, "only the first run may leave a ledger row"


def test_a_second_harvest_with_wait_runs_after_the_first(tmp_path: Path, sqlite_url: str) -> None:
    with MastodonStandIn(make_statuses(120, seed=12)) as server:
        expected = _reference(server, tmp_path / "reference")
        config = write_config(tmp_path, sqlite_url, [server.url], sources__mastodon__page_limit=10)
        cli(config, "init")
        server.delay = 0.5
        base = len(server.requests)
        first = _spawn(config)
        deadline = time.monotonic() + 60
        while len(server.requests) < base + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        second = _spawn(config, "--wait", "120")
        time.sleep(4)  # the second starts up and waits for the lock
        assert first.poll() is None and second.poll() is None, "the second must be waiting for the first"
        server.delay = 0
        _, err1 = first.communicate(timeout=60)
        _, err2 = second.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "0 new posts" in err2, "the second run waited, then found everything stored"
    assert _comparable(snapshot(config)) == expected
    assert _harvest_rows(config) == 2


def test_sigterm_on_a_cron_harvest_releases_the_lock(tmp_path: Path, sqlite_url: str) -> None:
    with MastodonStandIn(make_statuses(100, seed=2)) as server:
        config = write_config(tmp_path, sqlite_url, [server.url], sources__mastodon__page_limit=10)
        cli(config, "init")
        server.delay = 0.2
        proc = _spawn(config)
        deadline = time.monotonic() + 30
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock_holder(sqlite_url) is not None
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert lock_holder(sqlite_url) is None
    with run_lock(sqlite_url, command="harvest"):
        pass


def _rows(config: Path) -> list:
    store = open_store(load_config(config))
    with store.connect() as conn:
        rows = conn.execute(select(HarvestRun.__table__).order_by(HarvestRun.id)).all()
    store.close()
    return rows


def test_a_killed_run_is_marked_interrupted_by_the_next_run_that_takes_the_lock_and_status_shows_it(
    tmp_path: Path, db_url: str
) -> None:
    statuses = make_statuses(100, seed=3)
    with MastodonStandIn(statuses) as server, MastodonStandIn(statuses[:5]) as other_server:
        config = write_config(tmp_path, db_url, [server.url, other_server.url],
                              sources__mastodon__page_limit=10,
                              sources__mastodon__empty_feed_warning_days=36500)  # old fixture posts
        cli(config, "init")
        server.delay = 0.3
        proc = _spawn(config, "--server", server.url)
        deadline = time.monotonic() + 30
        while len(server.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()  # kill -9: nothing closes the ledger row
        proc.wait(timeout=10)
        server.delay = 0
        assert [r.status for r in _rows(config)] == ["running"]
        holder = _hold_in_other_process(db_url, 30)
        try:  # a run that finds the lock held writes nothing, not even the mark
            code, _, err = cli(config, "harvest", "--server", other_server.url)
            assert code == 0 and "nothing was written" in err
            assert [r.status for r in _rows(config)] == ["running"]
        finally:
            holder.kill()
            holder.wait()
        deadline = time.monotonic() + 10
        while lock_holder(db_url) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cli(config, "harvest", "--server", other_server.url)[0] == 0  # takes the lock: marks the row
        killed, other = _rows(config)
        assert (killed.status, other.status) == ("interrupted", "ok")
        assert "killed or crashed" in killed.error_message and "hiljade harvest" in killed.error_message
        code, out, err = cli(config, "status", "--json")
        data = json.loads(out)
        assert code == 1 and [w["kind"] for w in data["warnings"]] == ["interrupted"]
        assert f"{server.url} #hiljadekamera: the run started" in data["warnings"][0]["message"]
        assert [r["server"] for r in data["interrupted"]] == [server.url]
        assert cli(config, "harvest")[0] == 0  # the feed resumes: no warning left, the run still listed
        code, out, err = cli(config, "status")
    assert code == 0, err
    assert f"interrupted: mastodon {server.url} #hiljadekamera: the run started" in out
