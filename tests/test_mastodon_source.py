"""The Mastodon source: the real Mastodon.py client against the local stand-in server."""

from __future__ import annotations

import copy
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNetworkError, MastodonServerError
from mastodon.return_types import Status
from mastodon.types_base import try_cast_recurse

from hiljade.errors import (
    ConfigError,
    RateLimited,
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceUnavailable,
)
from hiljade.harvester.mastodon import (
    MastodonSource,
    Page,
    clean_hashtag,
    normalize_base_url,
    opt_out_reason,
    status_to_record,
)
from hiljade.pipeline.html_text import html_to_text
from tests.support.http import LocalServer, TrickleHandler
from tests.support.mastodon import OPTED_OUT_USERS, make_statuses, recorded_statuses
from tests.support.mastodon_server import MastodonStandIn

TAG = "hiljadekamera"
FETCHED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    """Sleep and clock seams: sleeping only moves the clock (epoch-like, so it can serve as wall time)."""

    def __init__(self) -> None:
        self.now = 1_717_000_000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def serve() -> Iterator[Callable[..., MastodonStandIn]]:
    servers: list[MastodonStandIn] = []

    def start(statuses: list[dict[str, Any]], **options: Any) -> MastodonStandIn:
        servers.append(MastodonStandIn(statuses, **options).start())
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def connect(fake: FakeTime) -> Iterator[Callable[..., MastodonSource]]:
    sources: list[MastodonSource] = []

    def make(url: str, **options: Any) -> MastodonSource:
        options = {"sleep": fake.sleep, "clock": fake.clock, "timeout": 5, **options}
        sources.append(MastodonSource(url, **options))
        return sources[-1]

    yield make
    for source in sources:
        source.close()


def tagged_ids_newest_first(statuses: list[dict[str, Any]], *, numeric: bool = True) -> list[str]:
    ids = [s["id"] for s in statuses if any(t["name"].lower() == TAG for t in s["tags"])]
    return sorted(ids, key=int if numeric else str, reverse=True)


def walk_back(source: MastodonSource, limit: int) -> list[Page]:
    pages = [source.tag_page(TAG, limit=limit)]
    while pages[-1].ids:
        pages.append(source.tag_page(TAG, max_id=pages[-1].ids[-1], limit=limit))
    return pages


# -- paging ------------------------------------------------------------------------------------


def test_first_page_is_newest_first_and_counts_every_request(serve, connect) -> None:
    statuses = make_statuses(50)
    server = serve(statuses)
    page = connect(server.url, user_agent="hiljade-test/1").tag_page(TAG, limit=20)
    assert list(page.ids) == tagged_ids_newest_first(statuses)[:20]
    assert page.requests == len(server.requests) == 2  # Mastodon.py's feed probe + the page
    path, query, headers = server.requests[-1]
    assert (path, query) == (f"/api/v1/timelines/tag/{TAG}", {"limit": "20"})
    assert headers["User-Agent"] == "hiljade-test/1" and "Authorization" not in headers
    assert page.request_url == f"{server.url}/api/v1/timelines/tag/{TAG}?limit=20"
    assert page.oldest_created_at == next(
        datetime.fromisoformat(s["created_at"]) for s in statuses if s["id"] == page.ids[-1])
    assert page.next_max_id == page.ids[-1] and page.prev_min_id == page.ids[0]
    assert all(isinstance(i, str) for i in page.ids) and page.malformed == ()


def test_max_id_walks_back_to_the_end_without_gaps(serve, connect) -> None:
    statuses = make_statuses(95, seed=3)
    source = connect(serve(statuses).url)
    pages = walk_back(source, limit=40)
    seen = [i for p in pages for i in p.ids]
    assert seen == tagged_ids_newest_first(statuses)
    assert [len(p.ids) for p in pages][-1] == 0 and pages[-1].next_max_id is None
    assert all(len(p.posts) + p.opted_out == len(p.ids) for p in pages)  # tag feeds list no boosts


def test_min_id_gives_the_page_just_newer_still_newest_first(serve, connect) -> None:
    statuses = make_statuses(60, seed=5)
    desc = tagged_ids_newest_first(statuses)
    source = connect(serve(statuses).url)
    page = source.tag_page(TAG, min_id=desc[30], limit=10)
    assert list(page.ids) == desc[20:30]
    forward, cursor = [], desc[-1]  # catching up from the oldest, like the poll loop does
    while (page := source.tag_page(TAG, min_id=cursor, limit=7)).ids:
        forward += reversed(page.ids)
        cursor = page.ids[0]
    assert forward == desc[::-1][1:]


def test_stand_in_link_headers_drive_mastodon_py_pagination(serve) -> None:
    statuses = make_statuses(45, seed=9)
    server = serve(statuses)
    answer = requests.get(f"{server.url}/api/v1/timelines/tag/{TAG}", params={"limit": 10}, timeout=5)
    ids = [s["id"] for s in answer.json()]
    base = f"{server.url}/api/v1/timelines/tag/{TAG}"
    assert answer.headers["Link"] == (f'<{base}?limit=10&max_id={ids[-1]}>; rel="next", '
                                      f'<{base}?limit=10&min_id={ids[0]}>; rel="prev"')
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(answer.headers)
    since = requests.get(base, params={"since_id": ids[5], "limit": 3}, timeout=5).json()
    assert [s["id"] for s in since] == ids[:3]  # since_id: the newest page above it
    api = Mastodon(api_base_url=server.url, version_check_mode="none", ratelimit_method="throw")
    page, walked = api.timeline_hashtag(TAG, limit=10), []
    while page:
        walked += [str(s["id"]) for s in page]
        page = api.fetch_next(page)
    assert walked == tagged_ids_newest_first(statuses)
    empty = requests.get(base, params={"max_id": walked[-1]}, timeout=5)
    assert empty.json() == [] and "Link" not in empty.headers


def test_ulid_ids_are_never_parsed(serve, connect) -> None:
    statuses = make_statuses(45, id_style="ulid", seed=2)
    assert all(not s["id"].isdigit() and len(s["id"]) == 26 for s in statuses)
    source = connect(serve(statuses).url)
    seen = [i for p in walk_back(source, limit=20) for i in p.ids]
    assert seen == tagged_ids_newest_first(statuses, numeric=False)
    newer = source.tag_page(TAG, min_id=seen[10], limit=5)
    assert list(newer.ids) == seen[5:10]
    assert source.status(seen[3]).native_id == seen[3]


# -- conversion --------------------------------------------------------------------------------


def test_opted_out_accounts_are_counted_not_returned(serve, connect) -> None:
    statuses = make_statuses(40, seed=1)
    source = connect(serve(statuses).url)
    page = source.tag_page(TAG, limit=40)
    opted = [s for s in statuses if s["reblog"] is None and s["account"]["username"] in OPTED_OUT_USERS]
    assert page.opted_out == len(opted) >= 4
    handles = {p.author.handle.split("@")[0] for p in page.posts}
    assert not handles & set(OPTED_OUT_USERS)
    for status in opted:
        assert opt_out_reason(status["account"]) == OPTED_OUT_USERS[status["account"]["username"]]


@pytest.mark.parametrize(("account", "reason"), [
    ({"noindex": True, "indexable": True}, "noindex"),
    ({"noindex": "true"}, "noindex"),
    ({"indexable": False}, "indexable:false"),
    ({"noindex": False, "indexable": None, "note": "<p>hi</p>"}, None),
    ({}, None),
    ({"note": '<p>no bots <a href="https://x/tags/nobot" class="mention hashtag">#<span>NoBot</span>'
              "</a></p>"}, "#nobot"),
    ({"note": "<p>Privatno.<br>#NOINDEX</p>"}, "#noindex"),
    ({"note": "<p>#nosearch, hvala</p>"}, "#nosearch"),
    ({"note": "<p>#nobots and #nosearching and nobot and https://example.org/#nobot</p>"}, None),
    ({"note": "", "fields": [{"name": "bots", "value": "#nobot"}]}, "#nobot"),
])
def test_opt_out_reason(account: dict[str, Any], reason: str | None) -> None:
    assert opt_out_reason(account) == reason


def test_boost_counts_as_its_original(serve, connect) -> None:
    statuses = make_statuses(30, seed=4)
    wrapper = next(s for s in statuses if s["reblog"] is not None)
    page = connect(serve(statuses, list_boosts=True).url).tag_page(TAG, limit=40)
    assert wrapper["id"] in page.ids
    uris = [p.uri for p in page.posts]
    assert wrapper["uri"] not in uris and uris.count(wrapper["reblog"]["uri"]) == 1
    record = status_to_record(wrapper, server="https://m.example", fetched_from="x", fetched_at=FETCHED)
    assert (record.native_id, record.uri) == (wrapper["reblog"]["id"], wrapper["reblog"]["uri"])
    assert record.author.account_key == wrapper["reblog"]["account"]["uri"]
    # the stored payload is the original without account identity (issue 9, item 3: a spec change)
    original = {k: v for k, v in wrapper["reblog"].items() if k not in ("in_reply_to_account_id", "mentions")}
    account = wrapper["reblog"]["account"]
    flags = {k: account[k] for k in ("noindex", "indexable") if k in account}
    assert record.raw == {**original, "account": {**flags, "opt_out": None}}


def test_html_to_text() -> None:
    html = ('<p>Kamera na uglu Dečanske i Makedonske <a href="https://x/tags/hiljadekamera" '
            'class="mention hashtag" rel="tag">#<span>hiljadekamera</span></a></p>'
            '<p>druga&nbsp;linija<br />treća &amp; &quot;četvrta&quot; <span class="h-card"><a '
            'href="https://x/@mila" class="u-url mention">@<span>mila</span></a></span></p>'
            '<p><a href="https://www.google.com/maps/place/44.81,20.46" rel="nofollow">'
            '<span class="invisible">https://www.</span><span class="ellipsis">google.com/maps/place/44.8'
            '</span><span class="invisible">1,20.46</span></a> i <a href="https://osm.org/go/xyz?m=1">osm.org/go/…</a></p>'
            "<ul><li>jedan</li><li>dva</li></ul><script>alert(1)</script>")
    assert html_to_text(html) == (
        "Kamera na uglu Dečanske i Makedonske #hiljadekamera\n\n"
        'druga linija\ntreća & "četvrta" @mila\n\n'
        "https://www.google.com/maps/place/44.81,20.46 i https://osm.org/go/xyz?m=1\n\n"
        "jedan\ndva")
    assert html_to_text("plain &amp; simple\nsecond line") == "plain & simple\nsecond line"
    assert html_to_text(None) == "" and html_to_text("<p></p>") == ""


def test_status_to_record_fields() -> None:
    statuses = make_statuses(30, seed=7)
    for status in statuses:
        record = status_to_record(status, server="https://m.example/", fetched_from="u", fetched_at=FETCHED)
        post = status["reblog"] or status
        assert (record.platform, record.server, record.native_id, record.uri, record.url) == (
            "mastodon", "https://m.example", post["id"], post["uri"], post["url"])
        assert record.created_at == datetime.fromisoformat(post["created_at"]) and record.created_at.tzinfo
        assert record.hashtags == tuple(t["name"].lower() for t in post["tags"]) and record.geo is None
        assert "#" in record.text and "<" not in record.text
        acct = post["account"]["acct"]
        assert record.author.handle == (acct if "@" in acct else f"{acct}@m.example")
        assert [(m.native_id, m.width, m.height, m.alt_text) for m in record.media] == [
            (m["id"], m["meta"]["original"]["width"], m["meta"]["original"]["height"], m["description"])
            for m in post["media_attachments"]]
        # the payload rebuilds the post; the author comes from the store, not the payload (issue 9)
        assert status_to_record(record.raw, server="https://m.example", fetched_from="u",
                                fetched_at=FETCHED) == replace(record, author=None)
    edited = next(s for s in statuses if s["edited_at"])
    record = status_to_record(edited, server="https://m.example", fetched_from="u", fetched_at=FETCHED)
    assert record.edited_at == datetime.fromisoformat(edited["created_at"]) + timedelta(minutes=15)
    warned = next(s for s in statuses if s["spoiler_text"])
    text = status_to_record(warned, server="https://m.example", fetched_from="u", fetched_at=FETCHED).text
    assert text.startswith("kamera, lokacija\n\n")
    remote = next(s for s in statuses if s["media_attachments"] and "@" in s["account"]["acct"])
    media = status_to_record(remote, server="https://m.example", fetched_from="u", fetched_at=FETCHED).media
    assert media[0].remote_url and media[0].remote_url != media[0].url and media[0].blurhash


def test_missing_fields_are_tolerated(serve, connect) -> None:
    status = copy.deepcopy(make_statuses(1)[0])
    for key in ("tags", "language", "edited_at", "spoiler_text", "url", "card", "emojis"):
        status.pop(key, None)
    for key in ("noindex", "indexable", "uri", "note", "fields"):
        status["account"].pop(key, None)
    status["media_attachments"] = [
        {"id": "m1", "type": "image", "url": "https://f.example/a.jpg", "meta": None},
        {"id": "m2", "url": None, "remote_url": None, "preview_url": None}]
    record = status_to_record(status, server="https://m.example", fetched_from="u", fetched_at=FETCHED)
    assert record.hashtags == (TAG,)  # read from the text when the server sends no tags
    assert record.language is None and record.edited_at is None and record.url is None
    assert record.author.account_key == status["account"]["url"] and record.author.opt_out is None
    assert [(m.url, m.width) for m in record.media] == [("https://f.example/a.jpg", None)]
    served = connect(serve([status]).url).status(status["id"])
    assert (served.text, served.hashtags, served.media, served.author.account_key) == (
        record.text, record.hashtags, record.media, record.author.account_key)
    with pytest.raises(SourceError) as caught:
        status_to_record({"id": "1", "content": "x"}, server="s", fetched_from="u", fetched_at=FETCHED)
    assert caught.value.kind == "malformed"


def test_a_malformed_status_is_reported_not_fatal(serve, connect) -> None:
    statuses = make_statuses(5, seed=8)
    broken = copy.deepcopy(next(s for s in statuses if s["account"]["username"] not in OPTED_OUT_USERS))
    broken["created_at"] = "yesterday"
    server = serve([*statuses, broken])  # replaces the original (same id)
    page = connect(server.url).tag_page(TAG)
    assert broken["id"] in page.ids and len(page.malformed) == 1 and broken["id"] in page.malformed[0]
    assert len(page.posts) + page.opted_out + 1 == len(page.ids) == 5


def test_mastodon_py_objects_convert_like_plain_json() -> None:
    for status in make_statuses(12, seed=6):
        typed = try_cast_recurse(Status, copy.deepcopy(status))
        assert not isinstance(typed["created_at"], str)  # Mastodon.py did convert it
        record = status_to_record(typed, server="https://m.example", fetched_from="u", fetched_at=FETCHED)
        assert record == status_to_record(status, server="https://m.example", fetched_from="u",
                                          fetched_at=FETCHED)
        assert type(record.native_id) is str and isinstance(record.raw["created_at"], str)


def test_recorded_statuses_convert(shared_data, serve, connect) -> None:
    statuses = recorded_statuses(shared_data)
    assert len(statuses) >= 50
    records = [status_to_record(s, server="http://localhost:3000", fetched_from="u", fetched_at=FETCHED)
               for s in statuses]
    assert len({r.uri for r in records}) == len(records)
    assert all(r.created_at.tzinfo and r.native_id and r.author for r in records)
    assert any(r.media and r.media[0].width for r in records) and any(r.edited_at for r in records)
    tagged = [s for s in statuses if any(t["name"] == "hoot" for t in s["tags"])]
    page = connect(serve(statuses).url).tag_page("hoot")
    assert len(page.ids) == len(tagged) >= 1 and len(page.posts) + page.opted_out == len(tagged)


# -- politeness and failures -------------------------------------------------------------------


def test_429_retry_after_is_waited_out(serve, connect, fake) -> None:
    server = serve(make_statuses(10))
    source = connect(server.url)
    source.tag_page(TAG)  # warm up (Mastodon.py's probe)
    server.faults.push("status", 429, {"Retry-After": "7"})
    page = source.tag_page(TAG)
    assert fake.sleeps[-1] == 7 and page.rate_limit_waits == 1 and page.requests == 2 and page.ids
    assert page.waited_seconds == pytest.approx(8.0)  # 1 s pacing + 7 s asked


@pytest.mark.parametrize("reset_format", ["iso", "epoch"])
def test_429_with_only_a_reset_time_waits_until_it(serve, connect, fake, reset_format) -> None:
    server = serve(make_statuses(10), clock=fake.clock, reset_format=reset_format, rate_limit=4)
    late, early = connect(server.url, min_interval=0), connect(server.url, min_interval=0)
    late.tag_page(TAG)  # requests 1 and 2 of 4 in this window
    early.tag_page(TAG)  # 3 and 4: the limit is used up, which `late` does not know
    until_reset = 300 - fake.now % 300
    page = late.tag_page(TAG)
    assert page.ids
    assert page.rate_limit_waits == 1 and page.requests == 2  # a 429, then the page after the reset
    assert fake.sleeps[-1] == pytest.approx(until_reset, abs=1.0) and until_reset > 1


def test_used_up_rate_limit_waits_before_asking(serve, connect, fake) -> None:
    server = serve(make_statuses(10), clock=fake.clock, rate_limit=3)
    source = connect(server.url, min_interval=0)
    source.tag_page(TAG)
    source.tag_page(TAG)  # request 3 of 3: remaining 0
    page = source.tag_page(TAG)
    assert page.rate_limit_waits == 1 and page.requests == 1 and 0 < fake.sleeps[-1] <= 300
    assert page.ids  # no 429 was needed


def test_too_long_a_wait_raises_rate_limited(serve, connect, fake) -> None:
    server = serve(make_statuses(3))
    source = connect(server.url)
    server.faults.push("status", 429, {"Retry-After": "3600"})
    with pytest.raises(RateLimited) as caught:
        source.tag_page(TAG)
    assert caught.value.retry_after == 3600 and 3600 not in fake.sleeps
    for _ in range(6):
        server.faults.push("status", 429, {"Retry-After": "1"})
    with pytest.raises(RateLimited):
        source.tag_page(TAG)


def test_server_errors_are_retried_with_backoff(serve, connect, fake) -> None:
    server = serve(make_statuses(10))
    source = connect(server.url, min_interval=0)
    server.faults.push("status", 500)
    server.faults.push("status", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
    server.faults.push("status", 503)
    page = source.tag_page(TAG)
    assert page.ids and fake.sleeps == [2.0, 4.0, 8.0] and page.requests == 5
    for _ in range(5):
        server.faults.push("status", 504, "<html>Gateway Timeout</html>")
    with pytest.raises(SourceUnavailable) as caught:
        source.tag_page(TAG)
    assert isinstance(caught.value.__cause__, MastodonServerError) and caught.value.status == 504
    assert "failed 5 times" in str(caught.value) and "text/html" in str(caught.value)


@pytest.mark.parametrize("fault", [("truncate",), ("disconnect",), ("reset",)])
def test_broken_responses_are_retried(serve, connect, fault) -> None:
    server = serve(make_statuses(10))
    source = connect(server.url)
    server.faults.push(*fault)
    assert len(source.tag_page(TAG).ids) == 10
    for _ in range(5):
        server.faults.push(*fault)
    with pytest.raises(SourceUnavailable) as caught:
        source.tag_page(TAG)
    assert isinstance(caught.value.__cause__, (MastodonAPIError, MastodonNetworkError))


def test_not_json_where_a_list_belongs(serve, connect) -> None:
    server = serve(make_statuses(3))
    source = connect(server.url)
    for _ in range(5):
        server.faults.push("status", 200, "<html><body>Welcome to my blog</body></html>")
    with pytest.raises(SourceUnavailable, match="not valid JSON"):
        source.tag_page(TAG)
    server.faults.push("status", 200, '{"error": "something else"}')
    with pytest.raises(SourceUnavailable, match="expected a JSON list"):
        source.tag_page(TAG)


def test_a_hanging_server_times_out_and_is_retried(serve, connect) -> None:
    server = serve(make_statuses(5))
    source = connect(server.url, timeout=0.3)
    source.tag_page(TAG)
    server.faults.push("hang", 3)
    started = time.monotonic()
    page = source.tag_page(TAG)
    assert page.ids and page.requests == 2 and time.monotonic() - started < 2


def test_401_without_a_token_says_how_to_configure_one(serve, connect) -> None:
    server = serve(make_statuses(3), require_token="sekret-token-123")
    with pytest.raises(SourceAuthError) as caught:
        connect(server.url).tag_page(TAG)
    message = str(caught.value)
    assert caught.value.status == 401 and "requires an access token for hashtag timelines" in message
    assert f"{{url: {server.url}, token_env: SOME_VAR}} under sources.mastodon.servers" in message
    assert "export SOME_VAR" in message and "This API requires an authenticated user" in message
    assert isinstance(caught.value.__cause__, MastodonAPIError)


def test_401_with_a_refused_token_never_shows_it(serve, connect, monkeypatch) -> None:
    server = serve(make_statuses(3), require_token="sekret-token-123")
    monkeypatch.setenv("HILJADE_TEST_TOKEN", "wrong-token-abc")
    with pytest.raises(SourceAuthError) as caught:
        connect(server.url, token_env="HILJADE_TEST_TOKEN").tag_page(TAG)
    assert "refused the access token from $HILJADE_TEST_TOKEN" in str(caught.value)
    assert "wrong-token-abc" not in str(caught.value) and "wrong-token-abc" not in repr(caught.value.args)
    monkeypatch.setenv("HILJADE_TEST_TOKEN", "sekret-token-123")
    page = connect(server.url, token_env="HILJADE_TEST_TOKEN").tag_page(TAG)
    assert page.ids and "sekret" not in page.request_url
    assert server.requests[-1][2]["Authorization"] == "Bearer sekret-token-123"
    monkeypatch.delenv("HILJADE_TEST_TOKEN")
    with pytest.raises(ConfigError, match="HILJADE_TEST_TOKEN"):
        connect(server.url, token_env="HILJADE_TEST_TOKEN")
    server.faults.push("status", 403, {}, '{"error": "This action is not allowed"}')
    with pytest.raises(SourceAuthError, match="configured access token"):
        connect(server.url, access_token="sekret-token-123").tag_page(TAG)


def test_a_400_about_the_token_is_an_authentication_problem(serve, connect, fake, monkeypatch) -> None:
    server = serve(make_statuses(3))
    monkeypatch.setenv("HILJADE_TEST_TOKEN", "wrong-token-abc")
    source = connect(server.url, token_env="HILJADE_TEST_TOKEN")
    server.faults.push("status", 400, {"Content-Type": "text/html; charset=utf-8"}, "Invalid Bearer token")
    with pytest.raises(SourceAuthError) as caught:  # Takahē's answer to a bad token
        source.tag_page(TAG)
    message = str(caught.value)
    assert caught.value.status == 400 and "refused the access token from $HILJADE_TEST_TOKEN" in message
    assert "Invalid Bearer token" in message and "wrong-token-abc" not in message
    server.faults.push("status", 400, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, '{"error": "no"}')
    with pytest.raises(SourceAuthError):
        source.tag_page(TAG)
    server.faults.push("status", 400, {}, '{"error": "max_id must be a number"}')
    with pytest.raises(SourceError) as caught:  # a 400 about something else stays a plain refusal
        source.tag_page(TAG)
    assert not isinstance(caught.value, SourceAuthError) and fake.sleeps.count(2.0) == 0


def test_no_network_is_said_in_plain_words_and_a_name_that_does_not_resolve_is_not_retried(
    connect, fake
) -> None:
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as caught:  # .invalid never resolves (RFC 2606): no network needed
        connect("https://hiljade-test.invalid", min_interval=0).tag_page(TAG)
    assert str(caught.value) == ("https://hiljade-test.invalid: #hiljadekamera timeline: cannot resolve "
                                 "hiljade-test.invalid: is this machine online?")
    assert fake.sleeps == [] and time.monotonic() - started < 10, "no retry: the name does not resolve"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused, which is retried
    with pytest.raises(SourceUnavailable) as caught:
        connect(f"http://127.0.0.1:{port}", max_retries=2, min_interval=0).tag_page(TAG)
    assert str(caught.value).endswith(
        "failed 3 times, giving up: 127.0.0.1 refused the connection: is the server up, and the URL right?")
    assert fake.sleeps == [2.0, 4.0]


def test_404_and_other_refusals_are_not_retried(serve, connect, fake) -> None:
    server = serve(make_statuses(3))
    with pytest.raises(SourceNotFound, match="Mastodon-API server") as caught:
        connect(f"{server.url}/not-mastodon").tag_page(TAG)
    assert caught.value.status == 404
    source = connect(server.url)
    server.faults.push("status", 404, "<!DOCTYPE html><html><body>Not Found</body></html>")
    with pytest.raises(SourceNotFound, match="text/html"):
        source.tag_page(TAG)
    server.faults.push("status", 422, {}, '{"error": "Validation failed"}')
    with pytest.raises(SourceError, match="Validation failed") as caught:
        source.tag_page(TAG)
    assert caught.value.status == 422 and fake.sleeps.count(2.0) == 0  # no backoff


def test_paced_even_without_rate_limit_headers(serve, connect, fake) -> None:
    server = serve(make_statuses(5), send_ratelimit_headers=False)
    plain = requests.get(f"{server.url}/api/v1/timelines/tag/{TAG}", timeout=5)
    assert plain.json() and "X-RateLimit-Remaining" not in plain.headers
    source = connect(server.url, min_interval=1.5)
    pages = [source.tag_page(TAG) for _ in range(3)]
    assert fake.sleeps == [1.5, 1.5, 1.5]  # before every request but the first (the probe)
    assert [p.rate_limit_waits for p in pages] == [0, 0, 0]


def test_real_clock_pacing(serve) -> None:
    server = serve(make_statuses(3), send_ratelimit_headers=False)
    with MastodonSource(server.url, min_interval=0.15, timeout=5) as source:
        started = time.monotonic()
        source.tag_page(TAG)
        source.tag_page(TAG)
        assert time.monotonic() - started >= 0.3  # three requests, two gaps


def test_status_by_id_and_deleted(serve, connect) -> None:
    statuses = make_statuses(5)
    server = serve(statuses)
    source = connect(server.url)
    record = source.status(statuses[0]["id"])
    assert record.uri == statuses[0]["uri"] and record.fetched_from.endswith(f"/statuses/{statuses[0]['id']}")
    server.delete(statuses[0]["id"])
    assert source.status(statuses[0]["id"]) is None
    server.faults.push("status", 410)
    assert source.status(statuses[1]["id"]) is None


def test_a_failed_feed_probe_is_not_repeated(serve, connect) -> None:
    server = serve(make_statuses(5), faults_on_instance=True)
    server.faults.push("status", 404)  # an older server without /api/v2/instance
    source = connect(server.url)
    pages = [source.tag_page(TAG) for _ in range(3)]
    assert [p.requests for p in pages] == [2, 1, 1] and all(p.ids for p in pages)
    assert [path for path, _, _ in server.requests].count("/api/v2/instance/") == 1


def test_hashtags_and_server_urls_are_checked() -> None:
    assert clean_hashtag(" #HiljadeKamera ") == "HiljadeKamera"
    assert clean_hashtag("хиљадекамера") == "хиљадекамера"
    assert normalize_base_url("mastodon.social/") == "https://mastodon.social"
    for bad in ("", "#", "two words", "a/b"):
        with pytest.raises(ConfigError):
            clean_hashtag(bad)
    with pytest.raises(ConfigError):
        normalize_base_url("ftp://files.example")


@pytest.mark.parametrize("mode", ["headers", "body"])
def test_a_trickling_server_fails_at_the_total_timeout(connect, mode: str) -> None:
    """One byte each 0.3 s never trips the per-read timeout; every try ends at the total timeout."""
    with LocalServer(TrickleHandler, trickle=mode, interval=0.3) as server:
        source = connect(server.url, timeout=1.0, total_timeout=1.5, max_retries=0)
        started = time.monotonic()
        with pytest.raises(SourceUnavailable) as caught:
            source.tag_page(TAG)
        # Mastodon.py's feed probe and the page itself; the stand-in would trickle for 12 s each
        assert time.monotonic() - started < 2 * 1.5 + 2.5
    assert "failed 1 time, giving up: no complete answer from 127.0.0.1 within 1.5 s" in str(caught.value)
