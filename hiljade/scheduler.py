"""`hiljade run`: the scheduler daemon (APScheduler 3).

Jobs: one harvest per enabled source, on ``sources.<name>.interval``; ``process`` on
``scheduler.process_interval``; ``recheck`` on ``scheduler.recheck_interval``. Every job runs once
at start, then on its interval, with ``max_instances=1``, coalescing, and
``scheduler.misfire_grace_seconds``. Harvest and process hold the run lock for the whole job,
recheck for each batch; a job waits for the lock up to ``max(scheduler.lock_timeout_seconds,
misfire_grace_seconds)`` and is skipped with a log line when it cannot get it.

A job is a ``Source(name, interval, job)``. Each enabled source under ``sources`` is looked up in
the registry ``hiljade.services.feeds.SOURCES`` (an enabled source it does not know is skipped
with a log line); its feeds are built at start and its job calls
``SOURCES[name].harvest(config, store, feeds, should_stop=...)``, which returns a report with
``summary()`` and ``failed``.

SIGTERM or SIGINT sets the stop flag: the running job stops after its current page (harvest) or
batch (process, recheck) commits, no new job starts, and `hiljade run` exits 0.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from hiljade.config import Config, parse_duration
from hiljade.errors import ConfigError, HiljadeError, LockBusy
from hiljade.services.checkers import checkers_from_config
from hiljade.services.feeds import SOURCES, Feed, HarvestSource
from hiljade.services.process import process_pending
from hiljade.services.recheck import rechecker_from_config
from hiljade.services.store import Store, hold_run_lock

log = logging.getLogger("hiljade.run")


@dataclass(frozen=True)
class Source:
    """One scheduled job: its name, its interval in seconds, and what it runs (given the stop flag)."""

    name: str
    interval: float
    job: Callable[[Callable[[], bool]], Any]
    whole_job_lock: bool = True  # False: the job takes the run lock itself (recheck, per batch)


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


def daemon_jobs(config: Config, store: Store) -> list[Source]:
    """Every job of `hiljade run`: the sources' harvests, process and recheck."""
    wait = lock_wait(config)

    def process(should_stop: Callable[[], bool]) -> Any:
        return process_pending(config, store, batch=100, should_stop=should_stop)

    def recheck(should_stop: Callable[[], bool]) -> Any:
        checkers, _ = checkers_from_config(config, store)
        rechecker = rechecker_from_config(
            config, store, checkers, should_stop=should_stop,
            lock=lambda: hold_run_lock(config, "run recheck", wait=wait, should_stop=should_stop),
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
    stop: threading.Event = field(default_factory=threading.Event)
    ran: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def run_job(self, source: Source) -> None:
        """Run one job under the run lock, logging what it did; never raises."""
        if self.stop.is_set():
            return
        log.info("%s: starting", source.name, extra={"job": source.name, "event": "start"})
        try:
            if source.whole_job_lock:
                with hold_run_lock(self.config, f"run {source.name}", wait=lock_wait(self.config),
                                   should_stop=self.stop.is_set):
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
        self.ran[source.name] = self.ran.get(source.name, 0) + 1
        text = outcome.summary() if hasattr(outcome, "summary") else str(outcome)
        level = logging.WARNING if getattr(outcome, "failed", None) else logging.INFO
        log.log(level, "%s: %s", source.name, text, extra={"job": source.name, "event": "done"})

    def summary(self) -> str:
        done = ", ".join(f"{name} {n}x" for name, n in sorted(self.ran.items())) or "no job finished"
        failed = sum(self.failed.values())
        return f"run: stopped; {done}; {failed} job runs failed"


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
    handler = logging.StreamHandler(stream or sys.stderr)
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
