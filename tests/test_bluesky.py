"""Bluesky through a local XRPC stand-in on 127.0.0.1: createSession/refreshSession and searchPosts
(tag, since, cursor paging, faults), the recorded real searchPosts payload of ../shared, and the
walk cursor (resume after a failure, ``since`` on the next run) on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from sqlalchemy import select

from hiljade.config import load_config
from hiljade.harvester.bluesky import PASSWORD_ENV, since_text
from hiljade.harvester.bluesky_post import full_text, media, opt_out_reason, view_to_record
from hiljade.models.schema import Author, HarvestCursor, HarvestRun, Media, Post
from hiljade.services.feeds import HarvestReport, bluesky_feeds, harvest
from hiljade.services.store import open_store
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.http import LocalServer, QuietHandler
from tests.support.identity import PROFILE_KEYS, keys_in, leaks

PASSWORD = "abcd-efgh-ijkl-mnop"
HANDLE = "hiljade-bot.bsky.social"
T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def harvest_bluesky(config: Any, store: Any, *, hashtag: str | None = None, **client: Any) -> HarvestReport:
    """Harvest every configured hashtag (or one) from Bluesky, as the scheduler does."""
    return harvest(config, store, bluesky_feeds(config, hashtag=hashtag, **client))


class BlueskyStandIn:
    """Enough of a PDS for the harvester: sessions, and searchPosts over ``posts`` (or ``recorded``
    answers replayed in order). Faults are consumed one per searchPosts request."""

    def __init__(self, posts: list[dict[str, Any]] | None = None, recorded: list[dict] | None = None) -> None:
        self.posts = posts or []
        self.recorded = deque(recorded or [])
        self.faults: deque[tuple[int, dict[str, str], dict[str, Any]]] = deque()
        self.expire_next = False
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, str], Any]] = []
        self.sessions = 0
        self.access = self.refresh = None

    def handle(self, method: str, url: str, headers: dict[str, str], body: Any) -> tuple[int, dict, dict]:
        parts = urlsplit(url)
        params = parse_qs(parts.query)
        self.requests.append((method, parts.path, params, headers, body))
        bearer = headers.get("Authorization", "").removeprefix("Bearer ")
        if parts.path == "/xrpc/com.atproto.server.createSession" and method == "POST":
            if body != {"identifier": HANDLE, "password": PASSWORD}:
                return (
                    401,
                    {},
                    {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                )
            return 200, {}, self._new_session()
        if parts.path == "/xrpc/com.atproto.server.refreshSession" and method == "POST":
            if bearer != self.refresh:
                return 400, {}, {"error": "ExpiredToken", "message": "Token has expired"}
            return 200, {}, self._new_session()
        if parts.path != "/xrpc/app.bsky.feed.searchPosts":
            return 404, {}, {"error": "MethodNotImplemented"}
        if bearer != self.access:
            return 401, {}, {"error": "AuthMissing", "message": "Authentication Required"}
        if self.expire_next:
            self.expire_next = False
            self.access = None
            return 400, {}, {"error": "ExpiredToken", "message": "Token has expired"}
        if self.faults:
            return self.faults.popleft()
        if self.recorded:
            return 200, {}, self.recorded.popleft()
        return 200, {}, self._search(params)

    def _new_session(self) -> dict[str, str]:
        self.sessions += 1  # JWTs as long as real ones (a token too short to mask is refused)
        self.access, self.refresh = (f"eyJ.{kind}{self.sessions}.{uuid.uuid4().hex * 8}" for kind in "ar")
        return {"accessJwt": self.access, "refreshJwt": self.refresh, "did": "did:plc:bot", "handle": HANDLE}

    def _search(self, params: dict[str, list[str]]) -> dict[str, Any]:
        tags = {t.lower() for t in params.get("tag", [])}
        since = params.get("since", [None])[0]
        limit = int(params.get("limit", ["25"])[0])
        offset = int(params.get("cursor", ["0"])[0])
        hits = [p for p in self.posts if tags <= set(post_tags(p))]
        if since:
            hits = [p for p in hits if p["indexedAt"] >= since]
        hits.sort(key=lambda p: p["indexedAt"], reverse=True)
        page = hits[offset : offset + limit]
        answer: dict[str, Any] = {"posts": copy.deepcopy(page)}
        if offset + limit < len(hits):
            answer["cursor"] = str(offset + limit)
        return answer


def post_tags(view: dict[str, Any]) -> list[str]:
    return [
        f["tag"].lower()
        for facet in view["record"].get("facets", [])
        for f in facet["features"]
        if f["$type"] == "app.bsky.richtext.facet#tag"
    ]


def make_view(
    n: int,
    *,
    tag: str | None = "hiljadekamera",
    did: str = "did:plc:alice",
    images: int = 0,
    labels: list[dict] | None = None,
) -> dict[str, Any]:
    """A post view as the AppView returns it; post ``n`` is ``n`` minutes after T0."""
    when = (T0 + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    text = f"Kamera {n} u Takovskoj" + (f" #{tag}" if tag else "")
    facets = []
    if tag:
        start = len(text.encode()) - len(tag) - 1
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": len(text.encode())},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        )
    view: dict[str, Any] = {
        "uri": f"at://{did}/app.bsky.feed.post/3k{n:011d}",
        "cid": f"bafy{n}",
        "author": {"did": did, "handle": "alice.bsky.social", "displayName": "Alice", "labels": labels or []},
        "record": {
            "$type": "app.bsky.feed.post",
            "createdAt": when,
            "text": text,
            "facets": facets,
            "langs": ["sr"],
        },
        "indexedAt": when,
        "labels": [],
    }
    if images:
        view["embed"] = {
            "$type": "app.bsky.embed.images#view",
            "images": [
                {
                    "thumb": f"https://cdn.example/thumb/{n}-{i}.jpg",
                    "fullsize": f"https://cdn.example/full/{n}-{i}.jpg",
                    "alt": f"kamera {i}",
                    "aspectRatio": {"width": 4000, "height": 3000},
                }
                for i in range(images)
            ],
        }
    return view


@pytest.fixture
def standin() -> Iterator[tuple[BlueskyStandIn, str]]:
    fake = BlueskyStandIn()

    class Handler(QuietHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, headers, payload = fake.handle(method, self.path, dict(self.headers), body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

    with LocalServer(Handler) as server:
        yield fake, server.url


def configured(tmp_path: Path, db_url: str, url: str, **extra: object) -> Path:
    config = write_config(
        tmp_path,
        db_url,
        [],
        sources__bluesky={"enabled": True, "handle": HANDLE, "service_url": url, "page_limit": 3, **extra},
    )
    assert invoke(["init"], config=config, catch_exceptions=True).exit_code == 0
    return config


def stored(config: Path) -> dict[str, Any]:
    store = open_store(load_config(config))
    with store.connect() as conn:
        out = {
            "posts": {r.uri: r for r in conn.execute(select(Post.__table__)).all()},
            "media": conn.execute(select(Media.__table__)).all(),
            "authors": conn.execute(select(Author.__table__)).all(),
            "cursor": conn.execute(select(HarvestCursor.__table__)).all(),
            "runs": conn.execute(select(HarvestRun.__table__).order_by(HarvestRun.id)).all(),
        }
    store.close()
    return out


def searches(fake: BlueskyStandIn) -> list[dict[str, list[str]]]:
    return [params for method, path, params, _, _ in fake.requests if path.endswith("searchPosts")]


def test_walk_resumes_after_a_failure_then_asks_since(tmp_path: Path, db_url: str, standin) -> None:
    fake, url = standin
    fake.posts = [make_view(n, images=1 if n == 2 else 0) for n in range(1, 8)]
    fake.posts += [make_view(50, tag=None), make_view(51, tag="drugo")]
    config = configured(tmp_path, db_url, url)
    cfg = load_config(config)
    env = {PASSWORD_ENV: PASSWORD}
    sleeps: list[float] = []
    fake.recorded.clear()
    # First run: page 1 commits, page 2 fails four times (3 retries) -> the walk stays open.
    original = fake.handle

    def failing_second_page(
        method: str, u: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict, dict]:
        if "searchPosts" in u and "cursor=3" in u and len(searches(fake)) < 5:
            fake.requests.append((method, urlsplit(u).path, parse_qs(urlsplit(u).query), headers, body))
            return 503, {}, {"error": "InternalServerError"}
        return original(method, u, headers, body)

    fake.handle = failing_second_page  # type: ignore[method-assign]
    report = harvest_bluesky(cfg, open_store(cfg), environ=env, sleep=sleeps.append)
    assert [r.status for r in report.results] == ["unavailable"] and sleeps == [1.0, 2.0, 4.0]
    got = stored(config)
    assert len(got["posts"]) == 3
    cursor = got["cursor"][0]
    newest = since_text(T0 + dt.timedelta(minutes=7))
    assert (cursor.source, cursor.pagination_token, cursor.newest_id) == ("bluesky", "3", None)
    assert cursor.backfill_max_id == newest and not cursor.backfill_done

    fake.handle = original  # type: ignore[method-assign]
    report = harvest_bluesky(cfg, open_store(cfg), environ=env)
    assert report.results[0].status == "ok" and report.total("new_posts") == 4
    assert searches(fake)[-2]["cursor"] == ["3"] and "since" not in searches(fake)[-2]
    got = stored(config)
    assert len(got["posts"]) == 7 and got["cursor"][0].newest_id == newest
    assert got["cursor"][0].pagination_token is None and got["cursor"][0].backfill_done
    post2 = got["posts"]["at://did:plc:alice/app.bsky.feed.post/3k00000000002"]
    assert post2.url == "https://bsky.app/profile/did:plc:alice/post/3k00000000002"
    assert post2.hashtags == ["hiljadekamera"] and post2.language == "sr" and post2.platform == "bluesky"
    assert [(m.url, m.preview_url, m.alt_text, m.width, m.height, m.type) for m in got["media"]] == [
        (
            "https://cdn.example/full/2-0.jpg",
            "https://cdn.example/thumb/2-0.jpg",
            "kamera 0",
            4000,
            3000,
            "image",
        )
    ]

    fake.posts += [make_view(8), make_view(9)]
    report = harvest_bluesky(cfg, open_store(cfg), environ=env)
    assert searches(fake)[-1]["since"] == [newest] and searches(fake)[-1]["tag"] == ["hiljadekamera"]
    assert searches(fake)[-1]["q"] == ["#hiljadekamera"] and searches(fake)[-1]["sort"] == ["latest"]
    assert report.total("new_posts") == 2 and report.total("duplicates") == 1
    got = stored(config)
    assert len(got["posts"]) == 9 and got["cursor"][0].newest_id == since_text(T0 + dt.timedelta(minutes=9))
    runs = [(r.status, r.new_posts, r.pages) for r in got["runs"]]
    assert runs == [("unavailable", 3, 1), ("ok", 4, 2), ("ok", 2, 1)]
    assert got["runs"][0].errors == 1 and "503" in got["runs"][0].error_message


def test_opt_out_handles_refresh_and_rate_limit(tmp_path: Path, sqlite_url: str, standin) -> None:
    fake, url = standin
    opted = [{"src": "did:plc:bob", "val": "!no-unauthenticated", "cts": "2024-01-01T00:00:00Z"}]
    fake.posts = [
        make_view(1),
        make_view(2, did="did:plc:bob", labels=opted),
        make_view(3, did="did:plc:carol", labels=[{"val": "rude", "src": "did:plc:mod"}]),
    ]
    config = configured(tmp_path, sqlite_url, url)
    cfg = load_config(config)
    fake.expire_next = True
    reset = int(dt.datetime.now(dt.UTC).timestamp()) + 5
    original = fake.handle
    limited = []

    def rate_limited_once(method: str, u: str, headers: dict[str, str], body: Any) -> tuple[int, dict, dict]:
        if "searchPosts" in u and not limited and not fake.expire_next:
            limited.append(u)
            return 429, {"RateLimit-Reset": str(reset)}, {"error": "RateLimitExceeded"}
        return original(method, u, headers, body)

    fake.handle = rate_limited_once  # type: ignore[method-assign]
    sleeps: list[float] = []
    report = harvest_bluesky(cfg, open_store(cfg), environ={PASSWORD_ENV: PASSWORD}, sleep=sleeps.append)
    assert report.results[0].status == "ok", report.results[0].message
    assert report.total("new_posts") == 2 and report.total("opted_out") == 1
    assert fake.sessions == 2 and len(sleeps) == 1 and 2 <= sleeps[0] <= 6
    assert report.total("rate_limit_waits") == 1
    got = stored(config)
    assert {r.author_id is not None for r in got["posts"].values()} == {True}
    assert [a.handle for a in got["authors"]] == [None, None]
    dump = json.dumps([dict(r._mapping) for r in got["posts"].values()], default=str)
    assert "did:plc:bob" not in dump and "alice.bsky.social" not in dump and '"Alice"' not in dump
    login = next(r for r in fake.requests if r[1].endswith("createSession"))
    assert login[4] == {"identifier": HANDLE, "password": PASSWORD}
    assert PASSWORD not in dump and PASSWORD not in json.dumps(
        [dict(r._mapping) for r in got["runs"]], default=str
    )


def test_harvest_command_and_login_problems(tmp_path: Path, sqlite_url: str, standin, monkeypatch) -> None:
    fake, url = standin
    fake.posts = [make_view(1), make_view(2)]
    config = configured(tmp_path, sqlite_url, url)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    missing = invoke(["harvest", "--source", "bluesky"], config=config, catch_exceptions=True)
    assert missing.exit_code == 2 and PASSWORD_ENV in missing.stderr
    monkeypatch.setenv(PASSWORD_ENV, "wrong-password-1234")
    wrong = invoke(["harvest", "--source", "bluesky"], config=config, catch_exceptions=True)
    assert wrong.exit_code == 1 and PASSWORD_ENV in wrong.stderr and "wrong-password-1234" not in wrong.stderr
    assert "auth_error" in stored(config)["runs"][-1].status
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    ok = invoke(["harvest", "--source", "bluesky"], config=config)
    assert ok.exit_code == 0, ok.stderr
    assert "harvest: 1 feed, 2 new posts" in ok.stderr
    (tmp_path / "off").mkdir()
    off = write_config(tmp_path / "off", sqlite_url, [], sources__bluesky={"handle": HANDLE})
    disabled = invoke(["harvest", "--source", "bluesky"], config=off, catch_exceptions=True)
    assert disabled.exit_code == 2 and "sources.bluesky.enabled" in disabled.stderr


def recorded_body(path: Path) -> dict[str, Any]:
    interaction = yaml.safe_load(path.read_text(encoding="utf-8"))["http_interactions"][0]
    return json.loads(interaction["response"]["body"]["string"])


def test_recorded_search_payload(tmp_path: Path, sqlite_url: str, standin, shared_data: Path) -> None:
    """The real searchPosts answer (25 posts, images, quotes, link facets, opt-out labels)."""
    fake, url = standin
    body = recorded_body(shared_data / "api_payloads" / "bluesky" / "bskyr_f_search.yml")
    fake.recorded.extend([body, {"posts": []}])
    config = configured(tmp_path, sqlite_url, url)
    cfg = load_config(config)
    report = harvest_bluesky(cfg, open_store(cfg), environ={PASSWORD_ENV: PASSWORD}, hashtag="redistricting")
    labelled = [p for p in body["posts"] if opt_out_reason(p["author"])]
    assert len(body["posts"]) == 25 and len(labelled) == 4
    assert report.results[0].status == "ok"
    assert report.total("new_posts") == 21 and report.total("opted_out") == 4 and report.total("pages") == 2
    assert searches(fake)[1]["cursor"] == [body["cursor"]]
    got = stored(config)
    assert len(got["posts"]) == 21
    with_images = [
        p
        for p in body["posts"]
        if p.get("embed", {}).get("$type") == "app.bsky.embed.images#view" and not opt_out_reason(p["author"])
    ]
    expected = {img["fullsize"] for p in with_images for img in p["embed"]["images"]}
    assert {m.url for m in got["media"]} == expected and len(expected) >= 4
    sizes = {img["fullsize"]: img.get("aspectRatio") for p in with_images for img in p["embed"]["images"]}
    assert {
        m.url: ({"width": m.width, "height": m.height} if m.width else None) for m in got["media"]
    } == sizes
    assert sum(size is None for size in sizes.values()) == 1  # one real image comes without aspectRatio
    first = got["posts"]["at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/3lpjzka2pzc2l"]
    assert "https://drive.google.com/file/d/1rporOuFeT8tvgIITtUCWAw6W_iM_RgfH/view?usp=sharing" in first.text
    assert first.url == "https://bsky.app/profile/did:plc:7nagdvjqrzaquzk7mueohne5/post/3lpjzka2pzc2l"
    # the author is reduced to its labels and opt-out reason (issue 9, item 3: no DID kept, a spec change)
    assert first.raw["author"] == {"labels": [], "opt_out": None}
    raws = [p.raw for p in got["posts"].values()]
    assert not keys_in(raws) & set(PROFILE_KEYS) and all(r["author_pseudonym"] for r in raws)
    profiles = [p["author"] for p in body["posts"]]
    named = {str(a.get(k) or "") for a in profiles for k in ("handle", "displayName", "avatar")}
    assert not leaks(raws, named)
    assert any("txlege" in p.hashtags for p in got["posts"].values())
    quotes = [p for p in body["posts"] if p.get("embed", {}).get("$type") == "app.bsky.embed.record#view"]
    assert quotes and all(opt_out_reason(p["author"]) for p in quotes)  # both quoting authors opted out
    for view in quotes:
        record = view_to_record(view, server=url, fetched_from="", fetched_at=T0)
        assert (
            record.quote_of == view["embed"]["record"]["uri"]
            and record.author.opt_out == "!no-unauthenticated"
        )
    assert all(p.quote_of_uri is None for p in got["posts"].values())
    assert got["cursor"][0].newest_id == since_text(
        max(
            min(
                dt.datetime.fromisoformat(p["record"]["createdAt"]), dt.datetime.fromisoformat(p["indexedAt"])
            )
            for p in body["posts"]
        )
    )


def test_view_conversion_details(shared_data: Path) -> None:
    body = recorded_body(shared_data / "api_payloads" / "bluesky" / "bskyr_f_getposts.yml")
    post = view_to_record(body["posts"][0], server="https://bsky.social/", fetched_from="x", fetched_at=T0)
    assert post.server == "https://bsky.social" and post.hashtags == ("rstats", "rgov")
    assert "https://rstats.ai/gov.html" not in post.text  # shown in full already: not shortened
    assert (
        post.media[0].url.startswith("https://cdn.bsky.app/img/feed_fullsize/")
        and post.media[0].width is None
    )


def test_link_facets_expand_after_multibyte_text_and_media_kinds() -> None:
    text = "Камера ovde: maps.app.goo.gl/abc... i jos"
    start = len("Камера ovde: ".encode())
    record = {
        "text": text,
        "facets": [
            {
                "index": {"byteStart": start, "byteEnd": start + len("maps.app.goo.gl/abc...")},
                "features": [
                    {"$type": "app.bsky.richtext.facet#link", "uri": "https://maps.app.goo.gl/abcdef"}
                ],
            }
        ],
    }
    assert full_text(record) == "Камера ovde: https://maps.app.goo.gl/abcdef i jos"
    broken = {"text": "x", "facets": [{"index": {"byteStart": 5, "byteEnd": 2}, "features": []}]}
    assert full_text(broken) == "x"
    inner = {
        "$type": "app.bsky.embed.images#view",
        "images": [{"fullsize": "https://c/f.jpg", "thumb": "https://c/t.jpg"}],
    }
    both = {
        "$type": "app.bsky.embed.recordWithMedia#view",
        "media": inner,
        "record": {
            "$type": "app.bsky.embed.record#view",
            "record": {"uri": "at://did:plc:x/app.bsky.feed.post/1"},
        },
    }
    assert [m.url for m in media(both)] == ["https://c/f.jpg"]
    video = {
        "$type": "app.bsky.embed.video#view",
        "playlist": "https://v/p.m3u8",
        "thumbnail": "https://v/t.jpg",
    }
    assert media(video)[0].type == "video"
    assert opt_out_reason({"labels": [{"val": "!no-unauthenticated", "neg": True}]}) is None
    view = make_view(4)
    view["record"]["createdAt"] = "not a date"
    assert view_to_record(view, server="s", fetched_from="", fetched_at=T0).created_at == T0 + dt.timedelta(
        minutes=4
    )


def test_secrets_echoed_by_the_service_are_never_stored_or_printed(
    tmp_path: Path, db_url: str, standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10, item 23: a service that echoes the app password and the session JWT in an error body
    got them into harvest_runs.error_message, onto stderr and into ``status --json``."""
    fake, url = standin
    fake.posts = [make_view(1)]
    config = configured(tmp_path, db_url, url)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    original = fake.handle

    def echoing(method: str, u: str, headers: dict[str, str], body: Any) -> tuple[int, dict, dict]:
        if "searchPosts" not in u:
            return original(method, u, headers, body)
        fake.requests.append((method, urlsplit(u).path, parse_qs(urlsplit(u).query), headers, body))
        said = f"{'x' * 150} bad request with {headers.get('Authorization')} (password {PASSWORD})"
        return 400, {}, {"error": f"Invalid:{fake.access}", "message": said}

    fake.handle = echoing  # type: ignore[method-assign]
    run = invoke(["harvest", "--source", "bluesky"], config=config, catch_exceptions=True)
    shown = invoke(["status", "--json"], config=config, catch_exceptions=True)
    assert run.exit_code == 1 and "***" in run.stderr
    ledger = stored(config)["runs"][-1]
    assert ledger.status == "error" and "***" in ledger.error_message
    texts = [run.stdout, run.stderr, shown.stdout, shown.stderr, ledger.error_message]
    for secret in (PASSWORD, fake.access, fake.refresh):
        pieces = {secret[i : i + 12] for i in range(len(secret) - 11)}  # not even a cut-off piece
        assert not [t for t in texts if any(piece in t for piece in pieces)], secret


def test_a_session_token_too_short_to_mask_is_refused(tmp_path: Path, sqlite_url: str, standin) -> None:
    """Issue 9, item 4: a token too short to be masked is never used (nor written into a message)."""
    fake, url = standin
    fake.posts = [make_view(1)]
    config = configured(tmp_path, sqlite_url, url)
    original = fake._new_session

    def short_session() -> dict[str, str]:
        return {**original(), "accessJwt": "abc"}

    fake._new_session = short_session  # type: ignore[method-assign]
    cfg = load_config(config)
    report = harvest_bluesky(cfg, open_store(cfg), environ={PASSWORD_ENV: PASSWORD})
    assert report.results[0].status == "error" and "too short" in str(report.results[0].message)
    assert not any(r[1].endswith("searchPosts") for r in fake.requests)


def test_a_search_that_repeats_its_cursor_is_stopped(tmp_path: Path, sqlite_url: str, standin) -> None:
    """Before: 846 requests in 60 s with the run lock held; now the page that does not advance ends the
    run with a recorded error (``max_pages_per_run: 0``, no cap: only the detection stops it)."""
    fake, url = standin
    fake.posts = [make_view(n) for n in range(1, 8)]
    original = fake.handle

    def same_cursor(method: str, u: str, headers: dict[str, str], body: Any) -> tuple[int, dict, dict]:
        if "searchPosts" in u and len(searches(fake)) >= 60:  # a loop that never ends is cut here
            return 404, {}, {"error": "MethodNotImplemented"}
        status, extra, answer = original(method, u, headers, body)
        if "searchPosts" in u and status == 200:
            answer = {**answer, "cursor": "3"}  # whatever it is asked, the next page is "3"
        return status, extra, answer

    fake.handle = same_cursor  # type: ignore[method-assign]
    config = configured(tmp_path, sqlite_url, url, max_pages_per_run=0)
    cfg = load_config(config)
    report = harvest_bluesky(cfg, open_store(cfg), environ={PASSWORD_ENV: PASSWORD})
    assert [r.status for r in report.results] == ["error"]
    assert "same cursor" in str(report.results[0].message)
    assert len(searches(fake)) == 2
    got = stored(config)
    assert got["runs"][-1].status == "error" and "same cursor" in got["runs"][-1].error_message
    assert got["cursor"][0].pagination_token == "3" and len(got["posts"]) == 3  # the first page, kept


def test_a_post_that_cannot_be_stored_is_skipped_counted_and_described(
    tmp_path: Path, db_url: str, standin
) -> None:
    """The one check of every source (``records.unstorable``): a uri longer than the store keeps and a
    lone surrogate in the text are skipped with their reason; the other posts are stored."""
    fake, url = standin
    fake.posts = [make_view(n) for n in range(1, 6)]
    fake.posts[1]["uri"] = "at://did:plc:alice/app.bsky.feed.post/" + "a" * 2100
    fake.posts[3]["record"]["text"] += " \ud800"  # sent as the JSON escape \ud800
    config = configured(tmp_path, db_url, url)
    cfg = load_config(config)
    report = harvest_bluesky(cfg, open_store(cfg), environ={PASSWORD_ENV: PASSWORD})
    assert [r.status for r in report.results] == ["ok"] and report.results[0].skipped == 2
    assert "2 skipped" in report.summary()
    got = stored(config)
    assert len(got["posts"]) == 3
    run = got["runs"][-1]
    assert run.errors == 2 and "2 posts were skipped" in run.error_message
    assert "2138 characters long" in run.error_message and "surrogate" in run.error_message
