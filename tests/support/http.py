"""The one local HTTP server every stand-in runs on: a ThreadingHTTPServer on 127.0.0.1.

``with LocalServer(Handler, name=value) as server:`` serves on a free port in a daemon thread,
``server.url`` is its base URL, handlers read ``self.server.name``; leaving the block stops it,
closes the socket and waits for the serving thread.
"""

from __future__ import annotations

import threading
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
