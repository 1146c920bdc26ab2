"""The run lock: one writer at a time across cron runs, `hiljade run` jobs and manual commands.

SQLite: an exclusive ``flock`` on ``<database file>.lock`` beside the database. The kernel drops
it when the holding process dies, so a killed run leaves no stale lock. PostgreSQL: a session
advisory lock (``pg_try_advisory_lock``) on a dedicated connection held for the whole run. The
server drops it when that connection ends. Whoever holds the lock writes who they are (pid,
command, host, since when) where a waiting run can read it: into the lock file, or into the
connection's ``application_name``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from hiljade.errors import LockBusy, StoreError

LOCK_KEY = 0x68696C6A  # "hilj": the advisory lock key (below 2**31, so pg_locks shows it in objid)
POLL_SECONDS = 0.2
_LABEL = re.compile(
    r"^hiljade (?P<command>.*?) pid=(?P<pid>\d+) since=(?P<since>\d+)(?: host=(?P<host>.*))?$"
)


@dataclass(frozen=True)
class Holder:
    """Who holds the run lock, as far as it can be told."""

    pid: int | None = None
    since: dt.datetime | None = None
    command: str = ""
    host: str = ""

    def describe(self) -> str:
        """e.g. ``since 2026-11-26 14:29:09Z (pid 4242, hiljade harvest on box)``."""
        when = f"since {self.since:%Y-%m-%d %H:%M:%SZ}" if self.since else "since an unknown time"
        who = [f"pid {self.pid}" if self.pid else "pid unknown"]
        if self.command:
            who.append(f"hiljade {self.command}" + (f" on {self.host}" if self.host else ""))
        return f"{when} ({', '.join(who)})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "since": self.since.isoformat() if self.since else None,
            "command": self.command,
            "host": self.host,
        }


def _me(command: str) -> Holder:
    return Holder(os.getpid(), dt.datetime.now(dt.UTC).replace(microsecond=0), command, socket.gethostname())


class FileLock:
    """``flock`` on a file beside a SQLite database."""

    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        self.command = command
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        me = _me(self.command)
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me.as_dict()) + "\n").encode("utf-8"), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        self.release()

    def holder(self) -> Holder | None:
        """The holder written in the lock file, or None when nobody (alive on this host) holds it."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        since = _parse_time(data.get("since"))
        command, host = str(data.get("command") or ""), str(data.get("host") or "")
        holder = Holder(_int(data.get("pid")), since, command, host)
        if holder.host == socket.gethostname() and holder.pid and not _alive(holder.pid):
            return None  # a killed run: the kernel released its flock, only the note is left
        return holder


class AdvisoryLock:
    """A PostgreSQL session advisory lock on a dedicated connection."""

    def __init__(self, conninfo: str, safe_url: str, command: str) -> None:
        self.conninfo = conninfo
        self.safe_url = safe_url
        self.command = command
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg  # the PostgreSQL driver, needed only when the store is PostgreSQL

        try:
            return psycopg.connect(self.conninfo, autocommit=True, application_name="hiljade lock wait")
        except psycopg.Error as exc:
            raise StoreError(f"cannot reach database {self.safe_url} for the run lock: {exc}") from exc

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks."""
        if self._conn is None:
            self._conn = self._connect()
        if not self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
            return False
        me = _me(self.command)
        label = f"hiljade {me.command} pid={me.pid} since={int(me.since.timestamp())} host={me.host}"  # type: ignore[union-attr]
        self._conn.execute("SELECT set_config('application_name', %s, false)", (label[:63],))
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):  # a dead connection has dropped the lock already
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def holder(self) -> Holder | None:
        """The session that holds the lock (from pg_locks), or None when it is free."""
        conn = self._conn or self._connect()
        try:
            row = conn.execute(
                "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = 0 "
                "AND l.objid::bigint = %s AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (LOCK_KEY,),
            ).fetchone()
        finally:
            if conn is not self._conn:
                conn.close()
        if row is None:
            return None
        match = _LABEL.match(row[1] or "")
        if match is None:  # not labelled (yet): the server's view of the session
            return Holder(None, row[2], "", "")
        since = dt.datetime.fromtimestamp(int(match["since"]), dt.UTC)
        return Holder(int(match["pid"]), since, match["command"], match["host"] or "")


class NoLock:
    """An in-memory SQLite database is private to its process: nothing to lock."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass

    def holder(self) -> Holder | None:
        return None


RunLock = FileLock | AdvisoryLock | NoLock


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database (``hiljade.db.lock``), None for PostgreSQL or :memory:."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        return None
    db = Path(url.database).expanduser().resolve()
    return db.with_name(db.name + ".lock")


def make_lock(database_url: str, command: str) -> RunLock:
    """The run lock for this database (not taken yet)."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return AdvisoryLock(conninfo, url.render_as_string(hide_password=True), command)
    path = lock_path(database_url)
    return NoLock() if path is None else FileLock(path, command)


@contextlib.contextmanager
def run_lock(
    database_url: str,
    *,
    command: str,
    wait: float = 0.0,
    should_stop: Callable[[], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[RunLock]:
    """Hold the run lock for the block. Waits up to ``wait`` seconds (or until ``should_stop``) for
    another holder, then raises LockBusy naming that holder; nothing runs without the lock."""
    lock = make_lock(database_url, command)
    deadline = clock() + max(0.0, float(wait))
    try:
        while not lock.try_acquire():
            if clock() >= deadline or (should_stop is not None and should_stop()):
                holder = lock.holder()
                where = holder.describe() if holder else "(it was released just now; try again)"
                raise LockBusy(f"another hiljade run holds the lock {where}", holder=holder)
            sleep(min(POLL_SECONDS, max(0.01, deadline - clock())))
    except BaseException:
        lock.close()
        raise
    try:
        yield lock
    finally:
        lock.release()


def lock_holder(database_url: str) -> Holder | None:
    """Who holds the run lock now (without taking it), or None when it is free."""
    lock = make_lock(database_url, "status")
    try:
        return lock.holder()
    finally:
        lock.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _parse_time(value: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
