"""A total deadline per HTTP request: headers and body, however slowly the server trickles them.

requests and urllib3 apply their timeout to each socket operation, so a server that sends one byte
a second never trips it. ``DeadlineAdapter`` (a requests transport) gives every request it sends a
deadline: its connections tell a watchdog thread which socket they use as soon as they have one
(before the headers arrive), and when the deadline passes the watchdog shuts that socket down, so
the blocked read ends at once. The request then fails with ``DeadlineExceeded`` ("no complete
answer from HOST within N s"), a ``requests.Timeout``. A non-streamed answer is read whole inside
the deadline; a streamed one (``stream=True``) keeps its deadline while the caller reads it, and
``check_deadline`` says whether a body that ended early was cut off by it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()  # .watch: the deadline of the request this thread is sending; .limit: an override


class DeadlineExceeded(requests.Timeout):
    """A request got no complete answer (headers and body) within its deadline."""

    def __init__(self, host: str, seconds: float, **kwargs: Any) -> None:
        super().__init__(f"no complete answer from {host} within {seconds:g} s", **kwargs)


class _Watch:
    """One request's deadline and the connection it uses; ``fire`` shuts that connection's socket."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._conn: Any = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def attach(self, conn: Any, sock: socket.socket | None = None) -> None:
        """The request now uses ``conn`` (its socket ``sock`` while it is being opened)."""
        with self._lock:
            self._conn, self._sock = conn, sock
            conn.hiljade_watch = self
            if self.expired:
                self._shut()

    def fire(self) -> None:
        """The deadline passed: mark it and shut the socket, unless the request ended first."""
        with self._lock:
            if self.done:
                return
            self.expired = True
            self._shut()

    def cancel(self) -> None:
        """The request ended in time: the watchdog forgets it."""
        with self._lock:
            self.done = True

    def _shut(self) -> None:
        conn = self._conn
        if conn is None or getattr(conn, "hiljade_watch", None) is not self:
            return  # no socket yet, or the connection went on to serve another request
        sock = getattr(conn, "sock", None) or self._sock
        if sock is None:
            return
        with contextlib.suppress(OSError):  # OSError: already closed
            # the plain socket's shutdown, also for a TLS socket: a blocked read ends at once
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that fires every watch whose deadline has passed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        """Fire ``watch`` when its deadline passes (unless it is cancelled first)."""
        with self._cond:
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hiljade-http-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                due: list[_Watch] = []
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    watch = heapq.heappop(self._heap)[2]
                    if not watch.done:
                        due.append(watch)
                if not due:
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
            for watch in due:
                watch.fire()


_WATCHDOG = _Watchdog()


def _claim(conn: Any, sock: socket.socket | None = None) -> None:
    watch = getattr(_local, "watch", None)
    if watch is not None:
        watch.attach(conn, sock)


class DeadlineConnectionMixin:
    """Tells the deadline of the request being sent which socket this connection uses."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        _claim(self, sock)  # before TLS and before the headers: a slow handshake is bounded too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "sock", None) is not None:
            _claim(self)  # a kept-alive connection serving the next request
        return super().request(*args, **kwargs)  # type: ignore[misc]


@contextlib.contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Requests sent by this thread inside the block get ``seconds`` as their deadline."""
    previous = getattr(_local, "limit", None)
    _local.limit = max(seconds, 0.001)
    try:
        yield
    finally:
        _local.limit = previous


def check_deadline(response: requests.Response, exc: BaseException | None = None) -> None:
    """Raise DeadlineExceeded when the deadline of a streamed ``response`` cut its body off."""
    watch = getattr(response, "hiljade_watch", None)
    if watch is not None and watch.expired:
        host = urlsplit(response.url or "").hostname or "the server"
        raise DeadlineExceeded(host, response.hiljade_seconds) from exc  # type: ignore[attr-defined]


class DeadlineAdapter(HTTPAdapter):
    """A requests transport whose every request has ``total_timeout`` seconds to be answered in full
    (None: no deadline); ``ssl_context`` is handed to its HTTPS connections when given."""

    def __init__(self, total_timeout: float | None, *, ssl_context: Any = None, **kwargs: Any) -> None:
        self.total_timeout = total_timeout
        self.ssl_context = ssl_context
        super().__init__(**kwargs)

    def connection_classes(self) -> tuple[type, type]:
        """The (HTTP, HTTPS) connection classes to give a deadline; subclasses add their own."""
        return HTTPConnection, HTTPSConnection

    def _pool_classes(self) -> dict[str, type]:
        plain, secure = self.connection_classes()
        http_conn = type(f"Deadline{plain.__name__}", (DeadlineConnectionMixin, plain), {})
        https_conn = type(f"Deadline{secure.__name__}", (DeadlineConnectionMixin, secure), {})
        return {
            "http": type("DeadlineHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("DeadlineHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
        }

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes()

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if self.ssl_context is not None:
            proxy_kwargs["ssl_context"] = self.ssl_context
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pool_classes()
        return manager

    def send(self, request: requests.PreparedRequest, stream: bool = False, *args: Any,
             **kwargs: Any) -> requests.Response:
        """Send ``request``; a non-streamed answer is read whole before its deadline."""
        seconds = getattr(_local, "limit", None) or self.total_timeout
        if seconds is None:
            return super().send(request, stream, *args, **kwargs)
        host = urlsplit(request.url or "").hostname or "the server"
        watch = _Watch(seconds)
        _WATCHDOG.add(watch)
        previous, _local.watch = getattr(_local, "watch", None), watch
        try:
            response = super().send(request, stream, *args, **kwargs)
            if not stream:
                response.content  # noqa: B018 - the whole body, inside the deadline
        except Exception as exc:
            watch.cancel()
            if watch.expired:
                raise DeadlineExceeded(host, seconds, request=request) from exc
            raise
        finally:
            _local.watch = previous
        if watch.expired:  # a body without a length ends early, without an error, when its socket is shut
            watch.cancel()
            response.close()
            raise DeadlineExceeded(host, seconds, request=request, response=response)
        if stream:
            response.hiljade_watch, response.hiljade_seconds = watch, seconds  # type: ignore[attr-defined]
        else:
            watch.cancel()
        return response
