"""`hiljade run`: the scheduler daemon (APScheduler 3).

Jobs: one harvest per enabled source, on ``sources.<name>.interval``; ``process`` on
``scheduler.process_interval``; ``recheck`` on ``scheduler.recheck_interval``. Every job runs once
at start, then on its interval, with ``max_instances=1``, coalescing, and
``scheduler.misfire_grace_seconds``. The daemon's jobs take turns (``Turns``): one at a time, and
whoever has the turn holds the run lock (harvest and process for the whole job, recheck for each
batch), so the daemon's own jobs wait for one another and never skip one another. Only another
process holding the run lock (a cron run, a manual command) makes a job wait, up to
``max(scheduler.lock_timeout_seconds, misfire_grace_seconds)``, and be skipped with a log line.
A job that raises, or whose report says ``failed`` (a harvest with a failed feed), is logged as
failed and counted in the summary, so the log and `hiljade status` agree.

A job is a ``Source(name, interval, job)``. Each enabled source under ``sources`` is looked up in
the registry ``hiljade.services.feeds.SOURCES`` (an enabled source it does not know is skipped
with a log line); its feeds are built at start and its job calls
``SOURCES[name].harvest(config, store, feeds, should_stop=...)``, which returns a report with
``summary()`` and ``failed``.

SIGTERM or SIGINT sets the stop flag: the running job stops after its current page (harvest) or
batch (process, recheck) commits, no new job starts, and `hiljade run` exits 0.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from hiljade.config import Config, parse_duration
from hiljade.errors import ConfigError, HiljadeError, LockBusy
from hiljade.secrecy import ScrubbingHandler
from hiljade.services.checkers import checkers_from_config
from hiljade.services.feeds import SOURCES, Feed, HarvestSource
from hiljade.services.process import process_pending
from hiljade.services.recheck import rechecker_from_config
from hiljade.services.store import Store, hold_run_lock
from hiljade.wording import plural

log = logging.getLogger("hiljade.run")


@dataclass(frozen=True)
class Source:
    """One scheduled job: its name, its interval in seconds, and what it runs (given the stop flag)."""

    name: str
    interval: float
    job: Callable[[Callable[[], bool]], Any]
    whole_job_lock: bool = True  # False: the job takes its turns itself (recheck, per batch)


def source_jobs(
    config: Config, store: Store, registry: Mapping[str, HarvestSource] = SOURCES
) -> list[Source]:
    """A harvest job for every enabled source in the registry; feeds are built once, here, so a
    configuration problem (a missing token) stops `hiljade run` at start."""
    found = []
    for name in config.get("sources") or {}:
        if not config.get(f"sources.{name}.enabled"):
            continue
        source = registry.get(name)
        if source is None:
            log.warning("source %s is enabled but its code is not installed (no harvester of that name): "
                        "skipped", name)
            continue
        feeds = source.feeds(config)
        if not feeds:
            log.warning("source %s is enabled but has no feed (no server configured): skipped", name)
            continue

        def job(should_stop: Callable[[], bool], source: HarvestSource = source,
                feeds: list[Feed] = feeds) -> Any:
            return source.harvest(config, store, feeds, should_stop=should_stop)

        found.append(Source(f"harvest {name}", parse_duration(config.get(f"sources.{name}.interval")), job))
    return found


class Turns:
    """The daemon's jobs take turns: one at a time, the one whose turn it is holding the run lock.

    A job waits for its turn as long as it takes (until a stop request): the daemon's jobs never
    skip one another. The run lock itself is waited for up to ``lock_wait``: only another process
    holding it makes a job skip (LockBusy)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._turn = threading.Lock()

    @contextlib.contextmanager
    def hold(self, name: str, should_stop: Callable[[], bool]) -> Iterator[None]:
        """Wait for the turn, then hold the run lock as ``run <name>`` for the block."""
        while not self._turn.acquire(timeout=0.2):
            if should_stop():
                raise LockBusy(f"not started: the daemon is stopping while {name} waited for its turn")
        try:
            wait = lock_wait(self.config)
            with hold_run_lock(self.config, f"run {name}", wait=wait, should_stop=should_stop):
                yield
        finally:
            self._turn.release()


def daemon_jobs(config: Config, store: Store, turns: Turns) -> list[Source]:
    """Every job of `hiljade run`: the sources' harvests, process and recheck (which takes ``turns``
    for each batch)."""

    def process(should_stop: Callable[[], bool]) -> Any:
        return process_pending(config, store, batch=100, should_stop=should_stop)

    def recheck(should_stop: Callable[[], bool]) -> Any:
        checkers, _ = checkers_from_config(config, store)
        rechecker = rechecker_from_config(
            config, store, checkers, should_stop=should_stop,
            lock=lambda: turns.hold("recheck", should_stop),
        )
        report = rechecker.run()
        if report.busy:
            log.warning("recheck stopped after %d batches: %s", report.batches, report.busy)
        return report

    return [
        *source_jobs(config, store),
        Source("process", parse_duration(config.get("scheduler.process_interval")), process),
        Source("recheck", parse_duration(config.get("scheduler.recheck_interval")), recheck,
               whole_job_lock=False),
    ]


def lock_wait(config: Config) -> float:
    """How long a job waits for the run lock before it is skipped."""
    section = config.get("scheduler")
    return float(max(section["lock_timeout_seconds"], section["misfire_grace_seconds"]))


@dataclass
class Daemon:
    """The jobs, the stop flag, and a count of what ran."""

    config: Config
    sources: list[Source]
    turns: Turns | None = None  # shared with the jobs that take turns themselves (recheck)
    stop: threading.Event = field(default_factory=threading.Event)
    ran: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.turns is None:
            self.turns = Turns(self.config)

    def run_job(self, source: Source) -> None:
        """Run one job in its turn under the run lock, logging what it did; never raises."""
        if self.stop.is_set():
            return
        assert self.turns is not None
        log.info("%s: starting", source.name, extra={"job": source.name, "event": "start"})
        try:
            if source.whole_job_lock:
                with self.turns.hold(source.name, self.stop.is_set):
                    outcome = source.job(self.stop.is_set)
            else:
                outcome = source.job(self.stop.is_set)
        except LockBusy as exc:
            log.warning("%s: skipped: %s", source.name, exc, extra={"job": source.name, "event": "skipped"})
            return
        except HiljadeError as exc:
            self.failed[source.name] = self.failed.get(source.name, 0) + 1
            log.error("%s: failed: %s", source.name, exc, extra={"job": source.name, "event": "failed"})
            return
        except Exception:
            self.failed[source.name] = self.failed.get(source.name, 0) + 1
            log.exception("%s: crashed", source.name, extra={"job": source.name, "event": "crashed"})
            return
        text = outcome.summary() if hasattr(outcome, "summary") else str(outcome)
        failures = getattr(outcome, "failed", None)
        if failures:  # it ran, but part of it failed: counted and logged as a failure
            self.failed[source.name] = self.failed.get(source.name, 0) + 1
            log.error("%s: failed: %s%s", source.name, text, _failure_lines(failures),
                      extra={"job": source.name, "event": "failed"})
            return
        self.ran[source.name] = self.ran.get(source.name, 0) + 1
        log.info("%s: %s", source.name, text, extra={"job": source.name, "event": "done"})

    def summary(self) -> str:
        done = ", ".join(f"{name} {n}x" for name, n in sorted(self.ran.items())) or "no job finished"
        failed = sum(self.failed.values())
        return f"run: stopped; {done}; {plural(failed, 'job run')} failed"


def _failure_lines(failures: Any) -> str:
    """What failed, as in `hiljade status`: ``; <server> #<tag>: <status>: <message>`` per failed feed."""
    if not isinstance(failures, list):
        return ""
    said = []
    for result in failures:
        feed = getattr(result, "feed", None)
        where = f"{feed.server} #{feed.hashtag}" if feed is not None else "?"
        said.append(f"{where}: {getattr(result, 'status', 'failed')}: {getattr(result, 'message', '')}")
    return "".join(f"; {line}" for line in said)


def build_scheduler(daemon: Daemon, scheduler: BaseScheduler | None = None,
                    now: dt.datetime | None = None) -> BaseScheduler:
    """Add every job of ``daemon`` to ``scheduler`` (a BackgroundScheduler by default); each first
    runs at ``now``, then every interval."""
    grace = max(1, int(daemon.config.get("scheduler.misfire_grace_seconds")))  # APScheduler: at least 1 s
    if scheduler is None:
        scheduler = BackgroundScheduler(
            timezone=dt.UTC, executors={"default": ThreadPoolExecutor(max(1, len(daemon.sources)))}
        )
    start = now or dt.datetime.now(dt.UTC)
    for source in daemon.sources:
        scheduler.add_job(
            daemon.run_job,
            IntervalTrigger(seconds=source.interval, start_date=start, timezone=dt.UTC),
            args=(source,),
            id=source.name,
            name=source.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=grace,
            next_run_time=start,
        )
    return scheduler


def serve(daemon: Daemon, *, install_signals: bool = True) -> int:
    """Run the jobs until SIGTERM or SIGINT; returns once the running job has committed and stopped."""
    if install_signals:
        def on_signal(signum: int, _frame: Any) -> None:
            log.info("%s: stopping after the current batch", signal.Signals(signum).name,
                     extra={"event": "stopping"})
            daemon.stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    scheduler = build_scheduler(daemon)
    scheduler.start()
    log.info("started: %s", ", ".join(f"{s.name} every {s.interval:g} s" for s in daemon.sources),
             extra={"event": "started"})
    while not daemon.stop.wait(1.0):
        pass
    scheduler.shutdown(wait=True)
    return 0


class JsonLines(logging.Formatter):
    """One JSON object per log record: time, level, logger, message, and any ``job``/``event``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("job", "event"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(json_logs: bool, stream: Any = None) -> logging.Handler:
    """Log INFO and up to stderr, as text lines or JSON lines; returns the installed handler."""
    handler = ScrubbingHandler(stream or sys.stderr)  # every line with its secrets masked
    handler.setFormatter(
        JsonLines() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)  # library warnings become log lines too (JSON when asked)
    return handler


def check_jobs(sources: list[Source]) -> None:
    """ConfigError when nothing would be harvested."""
    if not any(s.name.startswith("harvest ") for s in sources):
        raise ConfigError(["sources: no source can be harvested; enable one and configure its servers "
                           "(e.g. sources.mastodon.servers)"])
