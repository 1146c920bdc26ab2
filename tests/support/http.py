"""The one local HTTP server every stand-in runs on: a ThreadingHTTPServer on 127.0.0.1.

``with LocalServer(Handler, name=value) as server:`` serves on a free port in a daemon thread,
``server.url`` is its base URL, handlers read ``self.server.name``; leaving the block stops it,
closes the socket and waits for the serving thread.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing, so test output stays clean."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server API
        pass


class LocalServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on a free port of 127.0.0.1; keyword arguments become its attributes."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, poll_interval: float = 0.02,
                 **attributes: Any) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        for name, value in attributes.items():
            setattr(self, name, value)
        self.poll_interval = poll_interval
        self.port: int = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> LocalServer:
        """Serve in a daemon thread; returns the server."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": self.poll_interval}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, close the listening socket and wait for the serving thread."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class TrickleHandler(QuietHandler):
    """Answers every GET and POST too slowly: one byte each ``server.interval`` seconds (default 1),
    at most ``server.max_bytes`` of them (default 40). ``server.trickle`` says what trickles:
    ``headers`` (the status line and headers), ``body`` (a body with a Content-Length it never
    reaches) or ``body_no_length`` (a body that would end when the connection closes); ``quick``
    answers ``[]`` at once and keeps the connection open."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        mode = getattr(self.server, "trickle", "body")
        if mode == "quick":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\n\r\n[]")
            self.close_connection = False
            return
        interval = getattr(self.server, "interval", 1.0)
        limit = getattr(self.server, "max_bytes", 40)
        body = b"[" + b" " * limit + b"]"
        length = f"Content-Length: {len(body)}\r\n" if mode == "body" else ""
        head = f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n{length}\r\n".encode()
        slow, fast = (head, b"") if mode == "headers" else (body, head)
        try:
            self.wfile.write(fast)
            self.wfile.flush()
            for byte in slow[:limit]:
                time.sleep(interval)
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:
            return  # the client gave up: that is the point

    do_POST = do_GET
