"""A local X/Twitter API v2 stand-in on 127.0.0.1 for the real tweepy Client.

``GET /2/tweets/search/recent`` follows X's semantics: ``query`` is ``#tag`` (matched against
``entities.hashtags``) optionally with ``-is:retweet``; only tweets of the last 7 days (on
``clock``) are searchable; newest first; ``since_id``/``until_id`` exclusive; ``max_results``
10..100 (default 10, else 400); ``next_token`` is issued by the server, bound to its query and
``since_id`` (an unknown or mismatched token, or a ``since_id`` older than the window, is a 400
with X's error body). Only the requested ``tweet.fields``/``media.fields``/``place.fields``/
``user.fields`` are returned (plus X's defaults), and ``includes`` holds only the requested
``expansions``: ``author_id``, ``referenced_tweets.id``, ``referenced_tweets.id.author_id``,
``attachments.media_keys`` (of the tweets in ``data``), ``geo.place_id``.
``GET /2/tweets?ids=`` answers found tweets in ``data`` and the others as "Not Found Error".
Requests need ``Authorization: Bearer <bearer_token>`` (else 401 as X sends it) and get
``x-rate-limit-*`` headers (epoch reset); over ``rate_limit`` per ``rate_window`` seconds: 429.

Faults are consumed one per request: ``("status", code[, headers dict][, body str])``,
``("reset",)`` (connection closed without an answer), ``("hang", seconds)``, ``("truncate",)``.
``script(path, body)`` queues a recorded answer (bytes, with its recorded headers) for the next
request on ``path``, so recorded real payloads reach tweepy as X sent them.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.http import LocalServer, QuietHandler

TWITTER_EPOCH_MS = 1288834974657
WINDOW = timedelta(days=7)
DEFAULT_FIELDS = {
    "tweet": ("id", "text", "edit_history_tweet_ids"),
    "media": ("media_key", "type"),
    "place": ("id", "full_name"),
    "user": ("id", "name", "username"),
}


def snowflake(moment: datetime, sequence: int = 0) -> str:
    """A tweet id made at ``moment`` (as X makes them)."""
    ms = int(moment.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((ms << 22) | (sequence & 0x3FFFFF))


def id_time(tweet_id: str) -> datetime:
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


def x_error(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status, **extra}


def invalid_request(parameter: str, value: str, message: str) -> dict[str, Any]:
    return {"errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"}


class TwitterStandIn:
    """A local server (tests.support.http) speaking enough of X API v2 for harvesting tests."""

    def __init__(self, *, bearer_token: str = "test-bearer-token", rate_limit: int | None = 450,
                 rate_window: float = 900.0, clock: Callable[[], float] = time.time) -> None:
        self.bearer_token, self.rate_limit, self.rate_window, self.clock = bearer_token, rate_limit, \
            rate_window, clock
        self.tweets: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.places: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.faults: deque[tuple[Any, ...]] = deque()
        self.scripted: dict[str, deque[tuple[int, bytes, dict[str, str]]]] = {}
        self._tokens: dict[str, tuple[str, str | None, str]] = {}  # token -> (query, since_id, until_id)
        self._window: tuple[float, int] = (0.0, 0)
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = LocalServer(_Handler, standin=self)
        self.url = self._server.url

    def __enter__(self) -> TwitterStandIn:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.close()

    # -- data ----------------------------------------------------------------------------------

    def add(self, tweet: dict[str, Any], *, user: dict[str, Any] | None = None,
            media: list[dict[str, Any]] | None = None, place: dict[str, Any] | None = None) -> None:
        """Add (or replace) a tweet with the user, media and place it refers to."""
        with self._lock:
            self.tweets[str(tweet["id"])] = copy.deepcopy(tweet)
            if user:
                self.users[str(user["id"])] = copy.deepcopy(user)
            for item in media or ():
                self.media[str(item["media_key"])] = copy.deepcopy(item)
            if place:
                self.places[str(place["id"])] = copy.deepcopy(place)

    def delete(self, tweet_id: str) -> None:
        with self._lock:
            self.tweets.pop(str(tweet_id), None)

    def script(self, path: str, body: bytes, *, status: int = 200,
               headers: dict[str, str] | None = None) -> None:
        """Answer the next request on ``path`` with this recorded body (and headers)."""
        self.scripted.setdefault(path, deque()).append((status, body, dict(headers or {})))

    @property
    def tokens(self) -> list[str]:
        """Every next_token issued, in order."""
        return list(self._tokens)

    @property
    def searches(self) -> list[dict[str, str]]:
        """The query parameters of every search request, in order."""
        return [q for p, q, _ in self.requests if p == "/2/tweets/search/recent"]

    # -- the API -------------------------------------------------------------------------------

    def search(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        query = params.get("query", "").strip()
        words = query.split()
        tags = [w[1:].lower() for w in words if w.startswith("#")]
        no_retweets = "-is:retweet" in words
        try:
            limit = int(params.get("max_results", "10"))
        except ValueError:
            limit = 0
        if not 10 <= limit <= 100:
            return 400, invalid_request("max_results", params.get("max_results", ""),
                                        f"The `max_results` query parameter value [{limit}] is not "
                                        f"between 10 and 100")
        now = datetime.fromtimestamp(self.clock(), UTC)
        since, until = params.get("since_id"), params.get("until_id")
        if since and id_time(since) < now - WINDOW:
            oldest = f"{now - WINDOW:%Y-%m-%dT%H:%MZ}"
            return 400, invalid_request("since_id", since, f"Invalid 'since_id':'{since}'. 'since_id' must "
                                        f"be a tweet id created after {oldest}. Please use a 'start_time' "
                                        f"instead.")
        token = params.get("next_token")
        if token:
            bound = self._tokens.get(token)
            if bound is None or bound[:2] != (query, since):
                return 400, invalid_request("next_token", token, f"The `next_token` query parameter value "
                                            f"[{token}] is not a valid token.")
            until = bound[2]
        with self._lock:
            chosen = [t for t in self.tweets.values()
                      if id_time(str(t["id"])) >= now - WINDOW and _has_tags(t, tags)
                      and not (no_retweets and _retweeted(t))]
        chosen.sort(key=lambda t: int(t["id"]), reverse=True)
        if since:
            chosen = [t for t in chosen if int(t["id"]) > int(since)]
        if until:
            chosen = [t for t in chosen if int(t["id"]) < int(until)]
        page, more = chosen[:limit], len(chosen) > limit
        body = self._answer(page, params)
        if page:
            body["meta"] = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"],
                            "result_count": len(page)}
            if more:
                new_token = f"tok{len(self._tokens) + 1:06d}x{page[-1]['id']}"
                self._tokens[new_token] = (query, since, str(page[-1]["id"]))
                body["meta"]["next_token"] = new_token
        else:
            body["meta"] = {"result_count": 0}
        return 200, body

    def lookup(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        ids = [i for i in params.get("ids", "").split(",") if i]
        with self._lock:
            found = [self.tweets[i] for i in ids if i in self.tweets]
        body = self._answer(found, params)
        missing = [i for i in ids if i not in self.tweets]
        if missing:
            body["errors"] = [{"value": i, "detail": f"Could not find tweet with ids: [{i}].",
                               "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                               "resource_id": i,
                               "type": "https://api.twitter.com/2/problems/resource-not-found"}
                              for i in missing]
        return 200, body

    def _answer(self, tweets: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        expansions = set(filter(None, params.get("expansions", "").split(",")))
        asked = {kind: params.get(f"{kind}.fields", "").split(",") for kind in DEFAULT_FIELDS}
        fields = {kind: set(DEFAULT_FIELDS[kind]) | set(filter(None, asked[kind])) for kind in DEFAULT_FIELDS}
        users, media, places, referenced = {}, {}, {}, {}
        for tweet in tweets:
            if "author_id" in expansions and tweet.get("author_id") in self.users:
                users[tweet["author_id"]] = self.users[tweet["author_id"]]
            if "attachments.media_keys" in expansions:
                for key in (tweet.get("attachments") or {}).get("media_keys") or ():
                    if key in self.media:
                        media[key] = self.media[key]
            place_id = (tweet.get("geo") or {}).get("place_id")
            if "geo.place_id" in expansions and place_id in self.places:
                places[place_id] = self.places[place_id]
            for ref in tweet.get("referenced_tweets") or ():
                original = self.tweets.get(ref["id"])
                if "referenced_tweets.id" in expansions and original is not None:
                    referenced[ref["id"]] = original
                    author = original.get("author_id")
                    if "referenced_tweets.id.author_id" in expansions and author in self.users:
                        users[author] = self.users[author]
        body: dict[str, Any] = {}
        if tweets:
            body["data"] = [_only(t, fields["tweet"]) for t in tweets]
        includes = {"users": [_only(u, fields["user"]) for u in users.values()],
                    "media": [_only(m, fields["media"]) for m in media.values()],
                    "places": [_only(p, fields["place"]) for p in places.values()],
                    "tweets": [_only(t, fields["tweet"]) for t in referenced.values()]}
        includes = {k: v for k, v in includes.items() if v}
        if includes:
            body["includes"] = includes
        return body

    def rate_headers(self) -> tuple[dict[str, str], bool]:
        if self.rate_limit is None:
            return {}, False
        now = self.clock()
        start = now - (now % self.rate_window)
        with self._lock:
            window, count = self._window
            count = count + 1 if window == start else 1
            self._window = (start, count)
        headers = {"x-rate-limit-limit": str(self.rate_limit),
                   "x-rate-limit-remaining": str(max(0, self.rate_limit - count)),
                   "x-rate-limit-reset": str(int(start + self.rate_window))}
        return headers, count > self.rate_limit


def _has_tags(tweet: dict[str, Any], tags: list[str]) -> bool:
    own = {str(h.get("tag", "")).lower() for h in (tweet.get("entities") or {}).get("hashtags") or ()}
    return all(tag in own for tag in tags)


def _retweeted(tweet: dict[str, Any]) -> bool:
    return any(r.get("type") == "retweeted" for r in tweet.get("referenced_tweets") or ())


def _only(item: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in item.items() if k in fields}


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10

    @property
    def standin(self) -> TwitterStandIn:
        return self.server.standin  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        standin = self.standin
        standin.requests.append((parts.path, params, dict(self.headers.items())))
        fault = standin.faults.popleft() if standin.faults else None
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
                body = json.dumps(x_error(int(fault[1]), "Stand-in fault", f"fault {fault[1]}"))
            self._send(int(fault[1]), body.encode("utf-8"), headers)
            return
        if self.headers.get("Authorization") != f"Bearer {standin.bearer_token}":
            self._send(401, json.dumps(x_error(401, "Unauthorized", "Unauthorized")).encode(), {})
            return
        limit_headers, over = standin.rate_headers()
        if over:
            body = x_error(429, "Too Many Requests", "Too Many Requests")
            self._send(429, json.dumps(body).encode(), limit_headers)
            return
        queue = standin.scripted.get(parts.path)
        if queue:
            status, raw, headers = queue.popleft()
            self._send(status, raw, {**limit_headers, **headers})
            return
        if parts.path == "/2/tweets/search/recent":
            status, payload = standin.search(params)
        elif parts.path == "/2/tweets":
            status, payload = standin.lookup(params)
        else:
            status, payload = 404, x_error(404, "Not Found Error", f"no route {parts.path}")
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if fault and fault[0] == "truncate":
            body = body[: len(body) // 2]
        self._send(status, body, limit_headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        lowered = {k.lower() for k in headers}
        if "content-type" not in lowered:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
