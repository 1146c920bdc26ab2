"""`hiljade run`: APScheduler's own job processing driven by a fake clock, the job wrapper (lock,
failures, stop), the source registry, JSON logs, and a real daemon stopped with SIGTERM mid-harvest
and restarted: nothing lost, nothing doubled."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select

from hiljade.config import Config, load_config
from hiljade.errors import ConfigError, SourceUnavailable
from hiljade.models.runlock import run_lock
from hiljade.models.schema import HarvestRun
from hiljade.scheduler import (
    Daemon,
    Source,
    build_scheduler,
    check_jobs,
    setup_logging,
    source_jobs,
)
from hiljade.services.feeds import SOURCES, HarvestReport
from hiljade.services.harvest import Feed, FeedResult
from hiljade.services.store import open_store
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.harvest import snapshot
from tests.support.mastodon import make_statuses
from tests.support.mastodon_server import MastodonStandIn
from tests.support.paths import REPO

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """APScheduler's notion of "now" (in the scheduler and the executors) is this fake clock."""
    import apscheduler.executors.base as executors_base
    import apscheduler.schedulers.base as schedulers_base

    fake = FakeClock()

    class FakeDateTime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return fake.now.astimezone(tz) if tz else fake.now.replace(tzinfo=None)

    monkeypatch.setattr(schedulers_base, "datetime", FakeDateTime)
    monkeypatch.setattr(executors_base, "datetime", FakeDateTime)
    return fake


class SteppedScheduler(BaseScheduler):
    """APScheduler's own job processing (`_process_jobs`), stepped by the test instead of a thread."""

    def wakeup(self) -> None:
        pass

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def step(self) -> None:
        self._process_jobs()


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Config:
    return load_config(write_config(tmp_path, sqlite_url, [], scheduler__misfire_grace_seconds=300))


def recorder(clock: FakeClock, runs: list[tuple[str, dt.datetime]], name: str) -> Callable[..., str]:
    def job(should_stop: Callable[[], bool]) -> str:
        runs.append((name, clock.now))
        return f"{name} done"

    return job


def started(daemon: Daemon, executor: Any = None) -> SteppedScheduler:
    scheduler = SteppedScheduler(timezone=dt.UTC, executors={"default": executor or DebugExecutor()})
    build_scheduler(daemon, scheduler, now=START)
    scheduler.start()
    return scheduler


def times(runs: list[tuple[str, dt.datetime]], name: str) -> list[float]:
    return [(when - START).total_seconds() for job, when in runs if job == name]


def test_jobs_fire_on_their_intervals_and_a_long_gap_is_coalesced(clock: FakeClock, config: Config) -> None:
    runs: list[tuple[str, dt.datetime]] = []
    daemon = Daemon(config, [
        Source("harvest mastodon", 30, recorder(clock, runs, "harvest")),
        Source("process", 60, recorder(clock, runs, "process")),
        Source("recheck", 86400, recorder(clock, runs, "recheck"), whole_job_lock=False),
    ])
    scheduler = started(daemon)
    for _ in range(31):  # five minutes in steps of ten seconds
        scheduler.step()
        clock.advance(10)
    assert times(runs, "harvest") == [30.0 * k for k in range(11)]
    assert times(runs, "process") == [60.0 * k for k in range(6)]
    assert times(runs, "recheck") == [0.0]
    for job in scheduler.get_jobs():
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 300)
    clock.advance(20 * 60)  # the machine slept for twenty minutes: one run each, not forty
    scheduler.step()
    assert len(times(runs, "harvest")) == 12 and len(times(runs, "process")) == 7
    assert times(runs, "recheck") == [0.0]
    assert daemon.ran == {"harvest mastodon": 12, "process": 7, "recheck": 1}
    scheduler.shutdown()


def test_a_run_later_than_the_misfire_grace_time_is_skipped(clock: FakeClock, config: Config) -> None:
    runs: list[tuple[str, dt.datetime]] = []
    daemon = Daemon(config, [Source("recheck", 1000, recorder(clock, runs, "recheck"))])
    scheduler = started(daemon)
    missed: list[Any] = []
    scheduler.add_listener(missed.append, EVENT_JOB_MISSED)
    scheduler.step()
    clock.advance(1000 + 400)  # due at 1000 s, noticed at 1400 s: later than the 300 s grace
    scheduler.step()
    clock.advance(600)
    scheduler.step()  # 2000 s: on time again
    assert times(runs, "recheck") == [0.0, 2000.0]
    assert len(missed) == 1


def test_a_job_still_running_is_not_started_twice(clock: FakeClock, config: Config) -> None:
    release, inside = threading.Event(), threading.Event()
    calls = []

    def slow(should_stop: Callable[[], bool]) -> None:
        calls.append(clock.now)
        inside.set()
        release.wait(10)

    daemon = Daemon(config, [Source("harvest mastodon", 30, slow)])
    scheduler = started(daemon, ThreadPoolExecutor(4))
    refused: list[Any] = []
    scheduler.add_listener(refused.append, EVENT_JOB_MAX_INSTANCES)
    scheduler.step()
    assert inside.wait(5)
    clock.advance(30)
    scheduler.step()  # still running: max_instances=1 refuses a second one
    release.set()
    deadline = time.monotonic() + 5
    while not daemon.ran and time.monotonic() < deadline:
        time.sleep(0.01)
    clock.advance(30)
    inside.clear()
    release.clear()
    scheduler.step()
    assert inside.wait(5)
    release.set()
    scheduler.shutdown(wait=True)
    assert len(calls) == 2 and len(refused) == 1


def test_failing_jobs_are_logged_and_the_daemon_goes_on(
    clock: FakeClock, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[tuple[str, dt.datetime]] = []

    def broken(should_stop: Callable[[], bool]) -> None:
        raise SourceUnavailable("http://x: 503 for the third time")

    def crashing(should_stop: Callable[[], bool]) -> None:
        raise RuntimeError("a bug")

    daemon = Daemon(config, [
        Source("harvest mastodon", 30, broken),
        Source("harvest twitter", 30, crashing),
        Source("process", 30, recorder(clock, runs, "process")),
    ])
    scheduler = started(daemon)
    with caplog.at_level(logging.INFO, logger="hiljade.run"):
        for _ in range(3):
            scheduler.step()
            clock.advance(30)
    assert daemon.failed == {"harvest mastodon": 3, "harvest twitter": 3}
    assert times(runs, "process") == [0.0, 30.0, 60.0]
    assert "harvest mastodon: failed: http://x: 503 for the third time" in caplog.text
    assert "harvest twitter: crashed" in caplog.text and "process: process done" in caplog.text
    assert daemon.summary() == "run: stopped; process 3x; 6 job runs failed"


def test_a_job_waits_for_the_lock_then_is_skipped_and_a_stop_runs_nothing(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(write_config(tmp_path, sqlite_url, [], scheduler__misfire_grace_seconds=1))
    calls = []
    source = Source("harvest mastodon", 30, lambda should_stop: calls.append(1))
    daemon = Daemon(config, [source])
    with run_lock(sqlite_url, command="harvest"), caplog.at_level(logging.INFO, logger="hiljade.run"):
        began = time.monotonic()
        daemon.run_job(source)
        waited = time.monotonic() - began
    assert not calls and 0.9 < waited < 5, "it waits max(lock_timeout_seconds, misfire grace) = 1 s"
    assert "harvest mastodon: skipped: another hiljade run holds the lock since" in caplog.text
    daemon.run_job(source)
    assert calls == [1]
    daemon.stop.set()
    daemon.run_job(source)
    assert calls == [1], "after a stop request no job starts"


def test_the_daemons_jobs_take_turns_and_a_failed_harvest_counts(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(write_config(tmp_path, sqlite_url, [], scheduler__misfire_grace_seconds=1))
    order: list[str] = []
    harvesting = threading.Event()

    def harvest(should_stop: Callable[[], bool]) -> HarvestReport:
        harvesting.set()
        time.sleep(2.5)  # longer than the 1 s a job waits for the run lock
        order.append("harvest")
        feed = Feed("mastodon", "https://down.example", "hiljadekamera", None)
        return HarvestReport([FeedResult(feed, "unavailable", "cannot resolve down.example")])

    def recheck(should_stop: Callable[[], bool]) -> str:
        for batch in (1, 2):  # like the rechecker: a turn per batch
            with daemon.turns.hold("recheck", should_stop):  # type: ignore[union-attr]
                order.append(f"recheck {batch}")
        return "recheck done"

    daemon = Daemon(config, [
        Source("harvest mastodon", 30, harvest),
        Source("process", 30, lambda should_stop: order.append("process") or "process done"),
        Source("recheck", 30, recheck, whole_job_lock=False),
    ])
    with caplog.at_level(logging.INFO, logger="hiljade.run"):
        first = threading.Thread(target=daemon.run_job, args=(daemon.sources[0],))
        first.start()
        assert harvesting.wait(5)
        others = [threading.Thread(target=daemon.run_job, args=(s,)) for s in daemon.sources[1:]]
        for thread in others:
            thread.start()
        for thread in [first, *others]:
            thread.join(30)
    assert "skipped" not in caplog.text, "the daemon's own jobs never skip one another"
    assert order[0] == "harvest" and sorted(order[1:]) == ["process", "recheck 1", "recheck 2"]
    assert daemon.ran == {"process": 1, "recheck": 1} and daemon.failed == {"harvest mastodon": 1}
    assert "harvest mastodon: failed: harvest: 1 feed," in caplog.text
    assert "https://down.example #hiljadekamera: unavailable: cannot resolve down.example" in caplog.text
    assert daemon.summary() == "run: stopped; process 1x, recheck 1x; 1 job run failed"
    with run_lock(sqlite_url, command="harvest"):  # another process's lock still makes a job skip
        daemon.run_job(daemon.sources[1])
    assert "process: skipped: another hiljade run holds the lock" in caplog.text


def test_sources_are_imported_lazily_and_missing_ones_are_skipped(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = write_config(tmp_path, sqlite_url, ["https://a.example", "https://b.example"],
                       sources__twitter__enabled=True, sources__bluesky__enabled=True,
                       sources__mastodon__interval="2m")
    config = load_config(cfg)
    specs = {"mastodon": SOURCES["mastodon"]}  # twitter and bluesky are enabled but not in the registry
    with caplog.at_level(logging.WARNING, logger="hiljade.run"):
        sources = source_jobs(config, store=None, registry=specs)  # type: ignore[arg-type]
    assert [(s.name, s.interval) for s in sources] == [("harvest mastodon", 120.0)]
    assert "source twitter is enabled but its code is not installed" in caplog.text
    assert "source bluesky is enabled but its code is not installed" in caplog.text
    check_jobs(sources)
    with pytest.raises(ConfigError, match="no source can be harvested"):
        check_jobs([s for s in sources if not s.name.startswith("harvest")])
    quiet = load_config(write_config(tmp_path, sqlite_url, [], sources__twitter__enabled=False))
    assert source_jobs(quiet, store=None, registry=specs) == []  # type: ignore[arg-type]


def test_json_logs_are_one_object_per_line() -> None:
    stream = io.StringIO()
    handler = setup_logging(True, stream=stream)
    try:
        logging.getLogger("hiljade.run").info("process: 3 posts", extra={"job": "process", "event": "done"})
        try:
            raise ValueError("boom\nwith a second line")
        except ValueError:
            logging.getLogger("hiljade.run").exception("recheck: crashed", extra={"job": "recheck"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "process: 3 posts" and first["job"] == "process" and first["event"] == "done"
    assert first["level"] == "info" and first["time"].endswith("+00:00")
    assert second["level"] == "error" and "second line" in second["error"]


# -- the real daemon, stopped with a signal ---------------------------------------------------------


def _spawn_run(config: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "hiljade", "--config", str(config), "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _newest_mastodon_run(config: Path) -> Any:
    store = open_store(load_config(config))
    try:
        with store.connect() as conn:
            t = HarvestRun.__table__
            return conn.execute(select(t).where(t.c.source == "mastodon").order_by(t.c.id.desc())).first()
    finally:
        store.close()


def _comparable(snap: dict) -> dict:
    return {**snap, "authors": len(snap["authors"])}


def test_sigterm_mid_harvest_stops_after_a_committed_page_and_a_restart_completes_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    statuses = make_statuses(200, seed=5)
    with MastodonStandIn(statuses) as server:
        ref_dir = tmp_path / "reference"
        ref_dir.mkdir()
        ref_config = write_config(ref_dir, f"sqlite:///{ref_dir / 'ref.db'}", [server.url])
        cli(ref_config, "init")
        assert cli(ref_config, "harvest")[0] == 0
        reference = _comparable(snapshot(ref_config))

        config = write_config(
            tmp_path, sqlite_url, [server.url], sources__mastodon__page_limit=10,
            sources__mastodon__interval="1h", scheduler__json_logs=True, recheck__min_age="36500d",
        )
        cli(config, "init")
        server.delay = 0.3
        base = len(server.requests)
        daemon = _spawn_run(config)
        deadline = time.monotonic() + 60
        while len(server.requests) < base + 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
        assert daemon.returncode == 0, err
        logs = [json.loads(line) for line in err.splitlines() if line.strip()]  # every line is JSON
        assert any(entry.get("event") == "stopping" for entry in logs)
        assert logs[-1]["event"] == "summary" and logs[-1]["message"].startswith("run: stopped")
        stopped = _newest_mastodon_run(config)
        assert stopped.status == "partial" and "stopped on request" in stopped.error_message
        assert 0 < stopped.new_posts < len(reference["posts"])
        partial = snapshot(config)
        assert len(partial["posts"]) == stopped.new_posts, "every committed page is stored, nothing else"

        server.delay = 0
        daemon = _spawn_run(config)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            newest = _newest_mastodon_run(config)
            if newest.run_id != stopped.run_id and newest.status == "ok":
                break
            time.sleep(0.1)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
        assert daemon.returncode == 0, err
    assert newest.status == "ok" and newest.run_id != stopped.run_id
    assert newest.new_posts + stopped.new_posts == len(reference["posts"])
    assert _comparable(snapshot(config)) == reference


def test_sigint_stops_an_idle_daemon_with_exit_0(tmp_path: Path, sqlite_url: str) -> None:
    with MastodonStandIn(make_statuses(5, seed=1)) as server:
        config = write_config(tmp_path, sqlite_url, [server.url], sources__mastodon__interval="1h")
        cli(config, "init")
        daemon = _spawn_run(config)
        deadline = time.monotonic() + 60
        while (_newest_mastodon_run(config) is None or _newest_mastodon_run(config).status == "running") \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        daemon.send_signal(signal.SIGINT)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert "harvest mastodon: harvest: 1 feed," in err
    # without a gazetteer the process job runs (it places what needs none; the rest waits for one)
    assert "process: process: " in err and "process: failed" not in err, err
    assert err.rstrip().splitlines()[-1].startswith("run: stopped; harvest mastodon 1x")


def test_a_real_daemon_runs_every_job_in_turn_and_its_log_and_status_agree_on_failures(
    tmp_path: Path, sqlite_url: str
) -> None:
    with MastodonStandIn(make_statuses(60, seed=4)) as server:
        config = write_config(
            tmp_path, sqlite_url, [server.url, "https://hiljade-test.invalid"],
            sources__mastodon__page_limit=10, sources__mastodon__interval="1h",
            sources__mastodon__empty_feed_warning_days=36500, recheck__min_age="36500d",
            scheduler__json_logs=True, scheduler__misfire_grace_seconds=1,
        )
        cli(config, "init")
        server.delay = 0.4  # the harvest holds the lock for seconds, longer than a job waits for it
        daemon = _spawn_run(config)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            newest = _newest_mastodon_run(config)
            if newest is not None and newest.status != "running" and server.delay:
                server.delay = 0
                time.sleep(3)  # process and recheck take their turns after the harvest
                break
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    logs = [json.loads(line) for line in err.splitlines() if line.strip()]
    events = {(entry.get("job"), entry.get("event")) for entry in logs}
    assert not any(entry.get("event") == "skipped" for entry in logs), err
    assert {("process", "done"), ("recheck", "done"), ("harvest mastodon", "failed")} <= events, err
    failed = next(e for e in logs if e.get("event") == "failed")["message"]
    assert "https://hiljade-test.invalid #hiljadekamera: unavailable: " in failed
    assert "cannot resolve hiljade-test.invalid: is this machine online?" in failed
    assert logs[-1]["message"].endswith("; 1 job run failed")
    code, out, _ = cli(config, "status", "--json")
    warnings = json.loads(out)["warnings"]
    assert code == 1 and [(w["kind"], w["subject"]) for w in warnings] == [
        ("failed", "mastodon https://hiljade-test.invalid #hiljadekamera")]
