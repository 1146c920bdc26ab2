"""Hostile Mastodon-API servers: one bad status, pages that do not advance, ids that go backwards and
JSON nested too deeply must each end the run in bounded time with a recorded reason (issue 10, items
10-13 and 15), while the good statuses and the other servers are harvested."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select

from hiljade.config import load_config
from hiljade.harvester.mastodon import MastodonSource
from hiljade.models.schema import Author, HarvestCursor, HarvestRun, Media, Post
from hiljade.records import FIELD_LIMITS
from hiljade.services.store import open_store
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.http import LocalServer, QuietHandler
from tests.support.mastodon import TEMPLATE_STATUS

TAG = "hiljadekamera"


def status(number: int, **changes: Any) -> dict[str, Any]:
    """A tagged public status with id ``number`` (later ids are newer)."""
    made = copy.deepcopy(TEMPLATE_STATUS)
    made.update(
        id=str(number), created_at=f"2024-05-{1 + number % 28:02d}T10:00:00.000Z",
        uri=f"https://m.example/statuses/{number}", url=f"https://m.example/@a/{number}",
        content=f"<p>kamera {number} #{TAG}</p>", tags=[{"name": TAG, "url": f"https://m.example/tags/{TAG}"}],
        media_attachments=[], reblog=None, edited_at=None, language="sr",
    )
    made["account"] = {**made["account"], "indexable": True, "noindex": False, "note": ""}
    made.update(changes)
    return made


class HostileHandler(QuietHandler):
    """Answers the hashtag timeline from ``server.feed`` (a ``Feed``); everything else is a 404."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        feed: Feed = self.server.feed  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        feed.requests += 1
        if not parts.path.startswith("/api/v1/timelines/tag/") or feed.requests > feed.give_up_after:
            self._send(404, b'{"error": "Record not found"}')
            return
        self._send(200, feed.answer(dict(parse_qsl(parts.query))))

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Feed:
    """A hashtag timeline, honest by default: numeric ids, newest first, ``max_id``/``min_id``/``limit``.

    ``ignore`` names the parameters it pretends not to know; ``patch`` rewrites the JSON text of every
    page (to send what ``json.dumps`` cannot: lone surrogates, NULs, 1e400); ``body`` replaces every
    answer; after ``give_up_after`` requests it answers 404, so a run that would loop forever ends."""

    def __init__(self, statuses: list[dict[str, Any]], *, ignore: tuple[str, ...] = (),
                 patch: Callable[[str], str] = lambda text: text, body: bytes | None = None,
                 give_up_after: int = 60) -> None:
        self.statuses, self.ignore, self.patch, self.body = statuses, ignore, patch, body
        self.give_up_after = give_up_after
        self.requests = 0

    def answer(self, query: dict[str, str]) -> bytes:
        if self.body is not None:
            return self.body
        limit = int(query.get("limit") or 20)
        chosen = sorted(self.statuses, key=lambda s: int(s["id"]), reverse=True)
        if query.get("max_id") and "max_id" not in self.ignore:
            chosen = [s for s in chosen if int(s["id"]) < int(query["max_id"])]
        if query.get("min_id") and "min_id" not in self.ignore:
            chosen = [s for s in chosen if int(s["id"]) > int(query["min_id"])][-limit:]
        return self.patch(json.dumps(chosen[:limit])).encode("utf-8")


def serve(feed: Feed) -> LocalServer:
    return LocalServer(HostileHandler, feed=feed)


def ledger(config: Path) -> list[Any]:
    store = open_store(load_config(config))
    with store.connect() as conn:
        rows = conn.execute(select(HarvestRun.__table__).order_by(HarvestRun.id)).all()
    store.close()
    return rows


def stored_ids(config: Path) -> set[str]:
    store = open_store(load_config(config))
    with store.connect() as conn:
        ids = set(conn.execute(select(Post.native_id)).scalars())
    store.close()
    return ids


def cursor_of(config: Path, server: str) -> str | None:
    store = open_store(load_config(config))
    with store.connect() as conn:
        newest = conn.execute(select(HarvestCursor.newest_id).where(HarvestCursor.server == server)).scalar()
    store.close()
    return newest


def _media(**original: Any) -> list[dict[str, Any]]:
    return [{"id": "9", "type": "image", "url": "https://m.example/a.jpg", "meta": {"original": original}}]


# (name, the bad status with id 3, a rewrite of the page's JSON text, words the reason must hold)
BAD_STATUSES = [
    ("created_at 1e20", status(3, created_at=1e20), None, "created_at"),
    ("created_at NaN", status(3, created_at=float("nan")), None, "created_at"),
    ("created_at not a date", status(3, created_at="2020-13-45T99:99:99Z"), None, "created_at"),
    ("edited_at 1e300", status(3, edited_at=1e300), None, "edited_at"),
    ("media size too large", status(3, media_attachments=_media(size="99999999999999999999x9")), None,
     "width"),
    ("media width 1e400", status(3, media_attachments=_media(width=7777777, height=9)),
     lambda text: text.replace("7777777", "1e400"), "not finite"),
    ("lone surrogate", status(3, content="<p>BAD #hiljadekamera</p>"),
     lambda text: text.replace("BAD", "\\ud800"), "surrogate"),
    ("NUL byte", status(3, content="<p>x</p>", spoiler_text="BAD"),
     lambda text: text.replace("BAD", "a\\u0000b"), "NUL"),
    ("uri too long", status(3, uri="https://m.example/" + "u" * 2100), None, "uri is"),
    ("language too long", status(3, language="x" * 17), None, "language"),
    ("reblog without an id", status(3, reblog={**status(99), "id": None}), None, "without an id"),
]


@pytest.mark.parametrize(("name", "bad", "patch", "reason"), BAD_STATUSES, ids=[b[0] for b in BAD_STATUSES])
def test_one_bad_status_is_skipped_counted_and_described(
    tmp_path: Path, db_url: str, name: str, bad: dict, patch: Callable[[str], str] | None, reason: str
) -> None:
    statuses = [status(n) for n in (1, 2, 4, 5)] + [bad]
    hostile = Feed(statuses, patch=patch or (lambda text: text))
    with serve(hostile) as first, serve(Feed([status(n) for n in (11, 12)])) as second:
        config = write_config(tmp_path, db_url, [first.url, second.url])
        assert cli(config, "init")[0] == 0
        code, _, err = cli(config, "harvest")
        assert code == 0, err  # a skipped status is a warning, not a failure
        assert "1 skipped" in err and "1 warning" in err and reason in err
        assert stored_ids(config) == {"1", "2", "4", "5", "11", "12"}  # the next server was asked too
        rows = {row.server: row for row in ledger(config)}
        assert rows[first.url].status == "ok" and rows[first.url].errors == 1
        said = rows[first.url].error_message
        assert "1 post was skipped" in said and reason in said
        assert rows[second.url].status == "ok" and rows[second.url].errors == 0
        code, out, err = cli(config, "status")
        assert "skipped" in out + err and reason in out + err
        # the cursor passed it with its ledger row: the next run neither reads it again nor reports it
        code, _, err = cli(config, "harvest")
        assert code == 0 and "skipped" not in err, err
    assert cursor_of(config, first.url) == "5"


def test_an_id_too_long_to_store_never_becomes_the_cursor(tmp_path: Path, sqlite_url: str) -> None:
    """It cannot be stored as a cursor either, so every run that is served it skips and reports it."""
    with serve(Feed([status(1), status(2), status(int("9" * 140))])) as server:
        config = write_config(tmp_path, sqlite_url, [server.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
        assert code == 0 and "skipped" in err, err
    assert stored_ids(config) == {"1", "2"} and cursor_of(config, server.url) == "2"
    assert "its id is 140 characters long" in ledger(config)[0].error_message


def test_ids_that_go_backwards_never_move_the_cursor_back(tmp_path: Path, db_url: str) -> None:
    feed = Feed([status(3), status(100)])
    with serve(feed) as server:
        config = write_config(tmp_path, db_url, [server.url], sources__mastodon__max_pages_per_run=20)
        cli(config, "init")
        assert cli(config, "harvest")[0] == 0
        assert cursor_of(config, server.url) == "100"
        feed.statuses, feed.ignore = [status(3)], ("min_id",)  # now asked for newer than 100, it answers 3
        code, _, err = cli(config, "harvest")
    assert cursor_of(config, server.url) == "100"
    last = ledger(config)[-1]
    assert code == 1 and last.status == "error" and last.cursor_after == "100"
    assert "no newer than 100" in last.error_message and "min_id" in err


@pytest.mark.parametrize("ignored", ["max_id", "min_id"])
def test_a_server_whose_pages_do_not_advance_is_stopped(tmp_path: Path, db_url: str, ignored: str) -> None:
    """Before: 910 requests in 60 s and the run lock held; now the second page that does not advance
    ends the run with status error (max_pages_per_run: 0, no cap, so only the detection stops it)."""
    feed = Feed([status(n) for n in range(1, 61)], ignore=("max_id",) if ignored == "max_id" else ())
    with serve(feed) as server:
        config = write_config(tmp_path, db_url, [server.url], sources__mastodon__max_pages_per_run=0,
                              sources__mastodon__page_limit=20)
        cli(config, "init")
        if ignored == "min_id":
            assert cli(config, "harvest")[0] == 0  # an honest backfill first
            feed.statuses += [status(n) for n in range(61, 71)]
            feed.ignore, feed.requests = ("min_id",), 0  # then it answers its newest page to every min_id
        code, _, err = cli(config, "harvest")
    last = ledger(config)[-1]
    assert code == 1 and last.status == "error", err
    assert f"ignores {ignored}" in last.error_message and f"ignores {ignored}" in err
    assert feed.requests <= 4  # a page or two, never the 60 the server allows before it gives up
    if ignored == "max_id":
        assert stored_ids(config) == {str(n) for n in range(41, 61)}  # the first page, nothing half-way
    else:
        assert cursor_of(config, server.url) == "70"  # the new page was stored once, then it stopped


def test_every_source_has_a_finite_page_cap_by_default(tmp_path: Path, sqlite_url: str) -> None:
    config = load_config(write_config(tmp_path, sqlite_url, []))
    for source in ("mastodon", "twitter", "bluesky"):
        assert 0 < config.get(f"sources.{source}.max_pages_per_run") <= 10_000


def test_json_nested_too_deeply_is_a_malformed_answer(tmp_path: Path, db_url: str) -> None:
    deep = Feed([], body=b"[" * 200_000 + b"]" * 200_000)
    with serve(deep) as first, serve(Feed([status(1), status(2)])) as second:
        config = write_config(tmp_path, db_url, [first.url, second.url], sources__mastodon__max_retries=0)
        cli(config, "init")
        code, _, err = cli(config, "harvest")
    assert code == 1 and "not valid JSON" in err, err
    rows = {row.server: row for row in ledger(config)}
    assert rows[first.url].status == "unavailable" and rows[second.url].status == "ok"
    assert stored_ids(config) == {"1", "2"}


def test_an_unexpected_error_ends_only_its_feed(tmp_path: Path, sqlite_url: str, monkeypatch) -> None:
    """A bug met on one server's answer is recorded (status error, the row finished), not a traceback
    that leaves the row running and the next server unasked."""
    with serve(Feed([status(1)])) as first, serve(Feed([status(11), status(12)])) as second:
        real = MastodonSource.tag_page

        def broken_on_first(self: MastodonSource, *args: Any, **kwargs: Any) -> Any:
            if self.base_url == first.url:
                raise ZeroDivisionError("injected")
            return real(self, *args, **kwargs)

        monkeypatch.setattr(MastodonSource, "tag_page", broken_on_first)
        config = write_config(tmp_path, sqlite_url, [first.url, second.url])
        cli(config, "init")
        code, _, err = cli(config, "harvest")
    assert code == 1 and "unexpected ZeroDivisionError" in err
    rows = {row.server: row for row in ledger(config)}
    assert rows[first.url].status == "error" and rows[first.url].finished_at is not None
    assert rows[second.url].status == "ok" and stored_ids(config) == {"11", "12"}


def test_the_limits_checked_are_the_column_sizes() -> None:
    posts, media = Post.__table__.c, Media.__table__.c
    for name in ("platform", "server", "native_id", "uri", "url", "language", "fetched_from"):
        assert FIELD_LIMITS[name] == posts[name].type.length, name
    assert FIELD_LIMITS["quote_of"] == posts.quote_of_uri.type.length
    assert FIELD_LIMITS["handle"] == Author.__table__.c.handle.type.length
    for name in ("type", "native_id", "url", "preview_url", "remote_url", "blurhash"):
        assert FIELD_LIMITS[f"media {name}"] == media[name].type.length, name
