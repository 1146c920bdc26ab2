"""A local Mastodon stand-in: the hashtag timeline, statuses and instance endpoints on 127.0.0.1.

It follows Mastodon 4.x semantics for ``GET /api/v1/timelines/tag/:tag``: statuses whose own
``tags`` hold the tag (case-insensitive), newest first by id; ``max_id`` (older than),
``since_id`` (newer than, newest page), ``min_id`` (the page just newer, still newest first),
``limit`` (default 20, max 40); a ``Link`` header with ``next`` (max_id) and ``prev`` (min_id)
when the page is not empty; ``X-RateLimit-*`` headers. Ids are opaque strings ordered as
integers when all are numeric, else lexically (GoToSocial's ULIDs).

Faults are consumed one per request (instance endpoints excepted unless ``faults_on_instance``):
``("status", code[, headers dict][, body str])`` (a Content-Type in the headers replaces the one
guessed from the body), ``("truncate",)`` (JSON cut in half, consistent Content-Length),
``("disconnect",)`` (Content-Length promises more than is sent), ``("reset",)`` (connection closed
without an answer), ``("hang", seconds)`` (answer only after ``seconds``).

Options: ``reset_format`` "iso" (Mastodon) or "epoch" (GoToSocial) for X-RateLimit-Reset;
``list_boosts`` lists a boost when its original holds the tag (real Mastodon never does);
``clock`` drives the rate-limit window and the Date header (pass a fake clock with a fake sleep);
``instance_paths`` the exact paths that answer an instance document (default: ``/api/v1/instance``
and ``/api/v2/instance``, with or without a trailing slash, as Mastodon; Takahē answers only the
forms without a slash, its slash forms are an HTML 404); ``nodeinfo`` serves
``/.well-known/nodeinfo`` and the NodeInfo 2.0 document it links.
"""

from __future__ import annotations

import copy
import email.utils
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from tests.support.http import LocalServer, QuietHandler

_KEPT_PARAMS = ("limit", "local", "remote", "only_media")  # what Mastodon keeps in its Link URLs


class FaultQueue(deque):
    """Faults to inject, first in first out; ``push`` is ``append``."""

    def push(self, *fault: Any) -> None:
        self.append(tuple(fault))


class MastodonStandIn:
    """A local server (tests.support.http) speaking enough of the Mastodon API for harvesting tests."""

    def __init__(self, statuses: list[dict[str, Any]], *, page_limit_default: int = 20,
                 page_limit_max: int = 40, rate_limit: int | None = 300, rate_window: float = 300.0,
                 require_token: str | None = None,
                 send_ratelimit_headers: bool = True, reset_format: str = "iso", list_boosts: bool = False,
                 faults_on_instance: bool = False, clock: Callable[[], float] = time.time,
                 instance_paths: tuple[str, ...] | None = None, nodeinfo: bool = False) -> None:
        self.page_limit_default, self.page_limit_max = page_limit_default, page_limit_max
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.require_token, self.send_ratelimit_headers = require_token, send_ratelimit_headers
        self.reset_format, self.list_boosts = reset_format, list_boosts
        self.faults_on_instance = faults_on_instance
        self.instance_paths, self.nodeinfo = instance_paths, nodeinfo
        self.clock = clock
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.faults = FaultQueue()
        self.delay = 0.0  # seconds every non-instance request waits before its answer
        self._statuses: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._window: tuple[float, int] = (0.0, 0)  # (window start, requests in it)
        self.stopping = threading.Event()
        for status in statuses:
            self.add(status)
        self._server = LocalServer(_Handler, standin=self)
        self.url = self._server.url

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> MastodonStandIn:
        self._server.start()
        return self

    def close(self) -> None:
        self.stopping.set()
        self._server.close()

    def __enter__(self) -> MastodonStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- data --------------------------------------------------------------------------------------

    def add(self, status: dict[str, Any]) -> None:
        """Add (or replace) a status; later requests see it."""
        with self._lock:
            self._statuses[str(status["id"])] = copy.deepcopy(status)

    def edit(self, status_id: str, content: str, tags: list[str], edited_at: str) -> None:
        """Edit a status as its author would: new content, new ``tags``, ``edited_at`` set."""
        with self._lock:
            status = self._statuses[str(status_id)]
            status["content"], status["edited_at"] = content, edited_at
            status["tags"] = [{"name": tag, "url": f"{self.url}/tags/{tag}"} for tag in tags]

    def delete(self, status_id: str) -> None:
        """Delete a status: 404 from /statuses/:id, gone from timelines."""
        with self._lock:
            self._statuses.pop(str(status_id), None)

    def get(self, status_id: str) -> dict[str, Any] | None:
        """A copy of the status with this id, or None."""
        with self._lock:
            found = self._statuses.get(str(status_id))
            return copy.deepcopy(found) if found is not None else None

    @property
    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(s) for s in self._statuses.values()]

    def tag_timeline(self, tag: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """The statuses Mastodon would answer for this tag and these parameters."""
        with self._lock:
            chosen = [s for s in self._statuses.values() if self._has_tag(s, tag.lower())]
            ids = list(self._statuses)
        numeric = all(i.isdigit() for i in ids)

        def key(value: str) -> Any:
            return int(value) if numeric else value

        def bound(name: str) -> Any:
            value = params.get(name) or None
            if value is not None and numeric and not value.isdigit():
                raise ValueError(name)
            return None if value is None else key(value)

        try:
            max_id, since_id, min_id = bound("max_id"), bound("since_id"), bound("min_id")
        except ValueError:
            return []
        raw_limit = params.get("limit")
        limit = min(abs(_to_int(raw_limit)), self.page_limit_max) if raw_limit else self.page_limit_default
        chosen.sort(key=lambda s: key(str(s["id"])), reverse=True)
        if max_id is not None:
            chosen = [s for s in chosen if key(str(s["id"])) < max_id]
        if min_id is not None:  # paginate_by_min_id: the `limit` oldest above min_id, returned newest first
            chosen = [s for s in chosen if key(str(s["id"])) > min_id][-limit:] if limit else []
            return copy.deepcopy(chosen)
        if since_id is not None:
            chosen = [s for s in chosen if key(str(s["id"])) > since_id]
        return copy.deepcopy(chosen[:limit])

    def _has_tag(self, status: dict[str, Any], tag: str) -> bool:
        source = status.get("reblog") if self.list_boosts and status.get("reblog") else status
        return any(str(t.get("name", "")).lower() == tag for t in (source.get("tags") or []))

    def rate_headers(self) -> tuple[dict[str, str], bool]:
        """X-RateLimit headers for one more request, and whether it is over the limit."""
        if self.rate_limit is None:
            return {}, False
        now = self.clock()
        start = now - (now % self.rate_window)
        with self._lock:
            window, count = self._window
            count = count + 1 if window == start else 1
            self._window = (start, count)
        reset = start + self.rate_window
        if self.reset_format == "epoch":
            reset_text = str(int(reset))
        else:
            reset_text = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        headers = {"X-RateLimit-Limit": str(self.rate_limit),
                   "X-RateLimit-Remaining": str(max(0, self.rate_limit - count)),
                   "X-RateLimit-Reset": reset_text}
        return (headers if self.send_ratelimit_headers else {}), count > self.rate_limit


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server_version = "MastodonStandIn/1.0"

    @property
    def standin(self) -> MastodonStandIn:
        return self.server.standin  # type: ignore[attr-defined,no-any-return]

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(self.standin.clock() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        standin = self.standin
        standin.requests.append((parts.path, query, dict(self.headers.items())))
        instance = path in ("/api/v1/instance", "/api/v2/instance", "/.well-known/nodeinfo", "/nodeinfo/2.0")
        if standin.delay and not instance:
            standin.stopping.wait(standin.delay)
        fault = None
        if standin.faults and (standin.faults_on_instance or not instance):
            try:
                fault = standin.faults.popleft()
            except IndexError:
                fault = None
        if fault and fault[0] == "hang":
            standin.stopping.wait(float(fault[1]))
            fault = None
        if fault and fault[0] == "reset":
            self.close_connection = True
            return
        if fault and fault[0] == "status":
            headers = next((f for f in fault[2:] if isinstance(f, dict)), {})
            body = next((f for f in fault[2:] if isinstance(f, str)), None)
            if body is None:
                body = json.dumps({"error": f"stand-in fault {fault[1]}"})
            html = body.lstrip().startswith("<")
            kind = "text/html; charset=utf-8" if html else "application/json; charset=utf-8"
            kind = headers.get("Content-Type", kind)  # e.g. Takahē's "Invalid Bearer token" as text/html
            headers = {k: v for k, v in headers.items() if k != "Content-Type"}
            self._send(int(fault[1]), body.encode("utf-8"), headers, kind)
            return
        limit_headers, over = standin.rate_headers()
        if over:
            self._json(429, {"error": "Too many requests"}, limit_headers)
            return
        status, payload, headers = self._route(path, query)
        if path in ("/api/v1/instance", "/api/v2/instance") and standin.instance_paths is not None \
                and parts.path not in standin.instance_paths:
            html = b"<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>"
            self._send(404, html, limit_headers, "text/html; charset=utf-8")
            return
        headers.update(limit_headers)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if fault and fault[0] == "truncate":
            self._send(status, body[: len(body) // 2], headers)
        elif fault and fault[0] == "disconnect":
            self._send(status, body[: len(body) // 2], headers, length=len(body))
            self.close_connection = True
        else:
            self._send(status, body, headers)

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        standin = self.standin
        if path == "/.well-known/nodeinfo" and standin.nodeinfo:
            link = {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                    "href": f"{standin.url}/nodeinfo/2.0"}
            return 200, {"links": [link]}, {}
        if path == "/nodeinfo/2.0" and standin.nodeinfo:
            return 200, {"version": "2.0", "software": {"name": "stand-in", "version": "1.0"},
                         "protocols": ["activitypub"], "openRegistrations": False}, {}
        if path == "/api/v1/instance":
            return 200, {"uri": "127.0.0.1", "title": "stand-in", "version": "4.3.0", "urls": {}}, {}
        if path == "/api/v2/instance":
            access = "authenticated" if standin.require_token else "public"
            feeds = {"local": access, "remote": access}
            return 200, {"domain": "127.0.0.1", "title": "stand-in", "version": "4.3.0",
                         "configuration": {"timelines_access": {"live_feeds": feeds, "hashtag_feeds": feeds,
                                                                "trending_link_feeds": feeds}}}, {}
        auth = self.headers.get("Authorization")
        if standin.require_token is not None and auth != f"Bearer {standin.require_token}":
            message = "This API requires an authenticated user" if not auth else "The access token is invalid"
            return 401, {"error": message}, {}
        if path.startswith("/api/v1/timelines/tag/"):
            tag = unquote(path[len("/api/v1/timelines/tag/"):])
            page = standin.tag_timeline(tag, query)
            headers = {}
            if page:
                headers["Link"] = self._link(path, query, page)
            return 200, page, headers
        if path.startswith("/api/v1/statuses/"):
            found = standin.get(unquote(path[len("/api/v1/statuses/"):]))
            if found is not None:
                return 200, found, {}
        return 404, {"error": "Record not found"}, {}

    def _link(self, path: str, query: dict[str, str], page: list[dict[str, Any]]) -> str:
        kept = [(k, query[k]) for k in _KEPT_PARAMS if k in query]
        base = f"{self.standin.url}{path}"
        older = urlencode(kept + [("max_id", str(page[-1]["id"]))])
        newer = urlencode(kept + [("min_id", str(page[0]["id"]))])
        return f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'

    def _json(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str],
              kind: str = "application/json; charset=utf-8", length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
