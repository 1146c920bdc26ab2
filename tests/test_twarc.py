"""`hiljade import twarc`: twarc2 archives (raw API pages and flattened tweets), idempotent, merged with
the live X harvest; on recorded real twarc files and on archives the tests write."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hiljade.harvester.twitter import TwitterSource
from hiljade.models.erasure import erase_post
from hiljade.models.posts import AuthorPolicy
from hiljade.models.schema import Media, Post
from hiljade.models.store import Store
from hiljade.services.harvest import Feed, Harvester
from hiljade.services.imports import import_twarc
from hiljade.services.paging import TwitterPaging
from hiljade.services.process import geocoder_cache_prefix
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.limits import traced_peak, within_seconds
from tests.support.twitter import flatten, load_campaign
from tests.support.twitter_server import TwitterStandIn

POLICY = AuthorPolicy(secret=b"k" * 32)
FIELDS = {"expansions": "attachments.media_keys,geo.place_id,author_id,referenced_tweets.id,"
                        "referenced_tweets.id.author_id",
          "tweet.fields": "created_at,lang,geo,entities,author_id,referenced_tweets,attachments",
          "media.fields": "url,preview_image_url,variants,width,height,alt_text",
          "place.fields": "full_name,geo,place_type,country_code", "user.fields": "username,description"}
BAD_LINES = ['{"data": [{"id": "1", "text": "cut off', "42", '{"errors": [{"title": "Not Found Error"}]}',
             '{"hello": "world"}']


def open_store(url: str) -> Store:
    store = Store(url)
    store.migrate()
    return store


def archive_pages(server: TwitterStandIn, limit: int = 10) -> list[dict[str, Any]]:
    """The search pages twarc2 would have written for #hiljadekamera, with its envelope."""
    pages, token = [], None
    while True:
        params = {"query": "#hiljadekamera", "max_results": str(limit), **FIELDS}
        if token:
            params["next_token"] = token
        status, body = server.search(params)
        assert status == 200
        if not body.get("data"):
            return pages
        body["__twarc"] = {"url": "https://api.twitter.com/2/tweets/search/recent?query=%23hiljadekamera",
                           "version": "2.14.0", "retrieved_at": "2021-03-02T10:00:00+00:00"}
        pages.append(body)
        token = body["meta"].get("next_token")
        if not token:
            return pages


def write_lines(path: Path, items: list[Any], bad: list[str] = ()) -> Path:  # type: ignore[assignment]
    lines = [json.dumps(i, ensure_ascii=False) for i in items]
    for n, line in enumerate(bad):  # spread the bad lines through the file
        lines.insert(min(len(lines), 1 + 2 * n), line)
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def stored(store: Store) -> dict[str, tuple]:
    with store.connect() as conn:
        rows = conn.execute(select(Post.uri, Post.text, Post.geo_lat, Post.geo_lon, Post.quote_of_uri,
                                   Post.created_at)).all()
        media = conn.execute(select(Post.uri, Media.url).join(Post, Post.id == Media.post_id)).all()
    urls: dict[str, set[str]] = {}
    for uri, url in media:
        urls.setdefault(uri, set()).add(url)
    return {r.uri: (*r[1:], frozenset(urls.get(r.uri, ()))) for r in rows}


@pytest.fixture
def campaign_server():  # noqa: ANN201
    with TwitterStandIn() as server:
        camp = load_campaign(server, dt.datetime.now(dt.UTC), plain=12)
        yield server, camp


def test_pages_and_flattened_tweets_import_the_same_posts_and_bad_lines_are_counted(
    tmp_path: Path, db_url: str, sqlite_url: str, campaign_server: tuple
) -> None:
    server, camp = campaign_server
    pages = archive_pages(server)
    raw = write_lines(tmp_path / "pages.jsonl", pages, BAD_LINES)
    flattened = [t for p in pages for t in flatten(json.loads(json.dumps(p)))]
    flat = write_lines(tmp_path / "flat.jsonl", flattened)
    by_pages, by_flat = open_store(db_url), open_store(sqlite_url.replace("hiljade.db", "flat.db"))

    report = import_twarc(by_pages, POLICY, raw)
    assert (report.tweets, report.bad_lines, report.lines) == (camp.searchable, len(BAD_LINES),
                                                               len(pages) + len(BAD_LINES) + 1)
    bad_numbers = [n for n, line in enumerate(raw.read_text("utf-8").splitlines(), 1) if line in BAD_LINES]
    assert [p.split(":")[0] for p in report.problems] == [f"line {n}" for n in bad_numbers]
    assert "not JSON" in report.problems[0] and "error response" in report.problems[2]
    assert report.new_posts == len(camp.expected) and report.opted_out == 1 and report.retweets == 5
    counted = report.new_posts + report.duplicates + report.opted_out + report.original_unavailable
    assert counted == report.tweets
    assert set(stored(by_pages)) == set(camp.expected)

    flat_report = import_twarc(by_flat, POLICY, flat)
    assert flat_report.bad_lines == 0 and flat_report.new_posts == report.new_posts
    assert stored(by_flat) == stored(by_pages)
    with by_flat.connect() as conn:
        raws = [r for (r,) in conn.execute(select(Post.raw))]
    assert raws and not any("author" in r or "__twarc" in r for r in raws)  # no profiles kept

    again = import_twarc(by_pages, POLICY, raw)
    assert again.new_posts == 0 and again.duplicates == report.new_posts + report.duplicates
    mixed = import_twarc(by_pages, POLICY, flat)
    assert mixed.new_posts == 0 and set(stored(by_pages)) == set(camp.expected)


def test_an_archive_merges_with_the_harvested_tweets(
    tmp_path: Path, db_url: str, campaign_server: tuple
) -> None:
    server, camp = campaign_server
    store = open_store(db_url)
    client = TwitterSource(server.bearer_token, api_url=server.url)
    result = Harvester(store, POLICY, TwitterPaging(monthly_cap=1000)).harvest_feed(
        Feed("twitter", client.server, "hiljadekamera", client))
    assert result.status == "ok"
    before = stored(store)
    report = import_twarc(store, POLICY, write_lines(tmp_path / "a.jsonl", archive_pages(server, 100)))
    assert report.new_posts == 0 and report.tweets == camp.searchable
    assert report.duplicates == report.tweets - report.opted_out - report.original_unavailable
    assert stored(store) == before
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Post)).scalar_one() == len(camp.expected)


def test_a_tweet_erased_after_deletion_is_not_imported_again(
    tmp_path: Path, sqlite_url: str, campaign_server: tuple
) -> None:
    server, camp = campaign_server
    store = open_store(sqlite_url)
    archive = write_lines(tmp_path / "a.jsonl", archive_pages(server))
    import_twarc(store, POLICY, archive)
    victim = sorted(camp.expected)[0]
    with store.transaction() as conn:
        post_id = conn.execute(select(Post.id).where(Post.uri == victim)).scalar_one()
        assert erase_post(conn, post_id, POLICY.secret, dt.datetime.now(dt.UTC), reason="deleted",
                          cache_prefix=geocoder_cache_prefix) is not None
    again = import_twarc(store, POLICY, archive)
    assert again.new_posts == 0 and again.erased >= 1 and victim not in stored(store)


def test_recorded_twarc_files_import_and_reimport_as_nothing_new(shared_data: Path, sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    folder = shared_data / "api_payloads/twitter"
    reports = {p.name.removeprefix("twarc-csv_"): import_twarc(store, POLICY, p)
               for p in sorted(folder.glob("twarc-csv_*.jsonl"))}
    stream = reports["streaming_output_with_error.jsonl"]
    assert (stream.tweets, stream.new_posts, stream.bad_lines) == (7, 7, 1)
    assert stream.problems[0].startswith("line 8: not JSON")
    kpop = reports["kpop.jsonl"]
    assert (kpop.tweets, kpop.retweets, kpop.original_unavailable) == (100, 78, 0)
    withheld = reports["withheld.jsonl"]
    assert withheld.original_unavailable == 38 and withheld.bad_lines == 0
    posts = stored(store)
    exact = {uri.rsplit("/", 1)[1]: (lat, lon) for uri, (_, lat, lon, *_) in posts.items() if lat is not None}
    assert exact["1377650277642338305"] == (34.75192228, -86.58216981)  # Huntsville: [lon, lat] in the file
    assert exact["1256638945653391361"] == (39.9527, -75.1651)  # Philadelphia
    assert "1377650387579248643" not in exact and "1501963039859363843" not in exact  # places only
    video = posts["https://twitter.com/i/web/status/1558553189766631429"][-1]
    assert {u.rsplit("/", 2)[-2] for u in video} == {"1280x720"}  # the best mp4 variant
    for name in reports:
        again = import_twarc(store, POLICY, folder / f"twarc-csv_{name}")
        assert again.new_posts == 0 and again.updated_posts == 0, name
    assert stored(store) == posts


def test_a_recorded_page_and_its_flattened_form_give_the_same_posts(
    tmp_path: Path, shared_data: Path, sqlite_url: str
) -> None:
    page = json.loads((shared_data / "api_payloads/twitter/twarc-csv_kpop.jsonl").read_text("utf-8"))
    flat = write_lines(tmp_path / "kpop-flat.jsonl", flatten(json.loads(json.dumps(page))))
    a, b = open_store(sqlite_url), open_store(sqlite_url.replace("hiljade.db", "b.db"))
    import_twarc(a, POLICY, shared_data / "api_payloads/twitter/twarc-csv_kpop.jsonl")
    import_twarc(b, POLICY, flat)
    assert stored(a) == stored(b) and len(stored(a)) == 22 + len({t["referenced_tweets"][0]["id"]
                                                                  for t in page["data"]
                                                                  if t.get("referenced_tweets")})


def test_cli_import_twarc_reads_files_gzip_and_stdin(tmp_path: Path, sqlite_url: str, campaign_server: tuple
                                                     ) -> None:
    server, camp = campaign_server
    config = write_config(tmp_path, sqlite_url, [])
    assert invoke(["init"], config=config, catch_exceptions=True).exit_code == 0
    pages = archive_pages(server)
    packed = tmp_path / "archive.jsonl.gz"
    packed.write_bytes(gzip.compress(write_lines(tmp_path / "x.jsonl", pages, BAD_LINES[:1]).read_bytes()))
    result = invoke(["import", "twarc", str(packed)], config=config)
    assert result.exit_code == 0, result.stderr
    assert "bad line: line 2: not JSON" in result.stderr
    assert f"{len(camp.expected)} new posts" in result.stderr.splitlines()[-1]
    piped = invoke(["import", "twarc", "-"], config=config, input=(tmp_path / "x.jsonl").read_text("utf-8"))
    assert piped.exit_code == 0 and " 0 new posts" in piped.stderr.splitlines()[-1]
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n[1, 2]\n", encoding="utf-8")
    failed = invoke(["import", "twarc", str(junk)], config=config)
    assert failed.exit_code == 1 and "2 bad lines" in failed.stderr


def tweet(tweet_id: str, text: str, **fields: Any) -> dict[str, Any]:
    """A twarc2-flattened tweet."""
    return {"id": tweet_id, "text": text, "created_at": "2022-03-01T10:00:00.000Z", "author_id": "12",
            "lang": "sr", **fields}


TAGGED, OTHER = "1498600000000000001", "1498600000000000002"


def test_cli_import_twarc_takes_several_files_keeps_only_the_hashtags_and_names_a_missing_file(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = write_config(tmp_path, sqlite_url, [])
    assert invoke(["init"], config=config).exit_code == 0
    ours = write_lines(tmp_path / "ours.jsonl", [tweet(TAGGED, "Kamera u Takovskoj #HiljadeKamera")])
    theirs = write_lines(tmp_path / "theirs.jsonl", [tweet(OTHER, "nothing to do with cameras #kpop")])
    store = Store(sqlite_url)

    missing = invoke(["import", "twarc", str(ours), str(tmp_path / "nope.jsonl")], config=config,
                     catch_exceptions=True)
    assert missing.exit_code == 2 and "nope.jsonl" in missing.stderr and "does not exist" in missing.stderr
    assert missing.exception is None or isinstance(missing.exception, SystemExit)
    assert stored(store) == {}  # nothing imported before the usage error

    result = invoke(["import", "twarc", str(ours), str(theirs)], config=config)
    assert result.exit_code == 0, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("import twarc: 2 files: ") and "2 tweets, 1 new post," in last
    assert "1 without the hashtags" in last
    assert set(stored(store)) == {f"https://twitter.com/i/web/status/{TAGGED}"}

    everything = invoke(["import", "twarc", "--all-tweets", str(theirs)], config=config)
    assert everything.exit_code == 0 and "1 new post," in everything.stderr.splitlines()[-1]
    assert f"https://twitter.com/i/web/status/{OTHER}" in stored(store)
    store.close()


def test_counts_of_one_read_in_the_singular(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url, [])
    assert invoke(["init"], config=config).exit_code == 0
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(tweet(TAGGED, "Kamera u Takovskoj #HiljadeKamera")) + "\n", encoding="utf-8")
    last = invoke(["import", "twarc", str(one)], config=config).stderr.splitlines()[-1]
    assert ": 1 line, 1 tweet, 1 new post, 0 edited, 0 duplicates, " in last, last
    one.write_text("{\n", encoding="utf-8")
    last = invoke(["import", "twarc", str(one)], config=config).stderr.splitlines()[-1]
    assert ": 1 line, 0 tweets, " in last and last.endswith(", 1 bad line"), last


def test_hostile_lines_are_counted_and_never_lose_the_batch(tmp_path: Path, db_url: str) -> None:
    good = [tweet(str(1498600000000000100 + n), f"Kamera {n} #hiljadekamera") for n in range(3)]
    hostile = [
        "[" * 200_000 + "]" * 200_000,  # nested too deeply for any parser
        '{"id": "1498600000000000200", "text": "half a pair \\ud800 #hiljadekamera"}',  # a lone surrogate
        json.dumps(tweet("12345", "in the year 1e20 #hiljadekamera", created_at=1e20)),
        json.dumps(tweet("12346", "not a number #hiljadekamera", created_at=float("nan"))),
        json.dumps(tweet("1498600000000000300", "with a NUL\u0000 #hiljadekamera")),
    ]
    archive = write_lines(tmp_path / "hostile.jsonl", good[:2], hostile)
    with archive.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(good[2]) + "\n")
    store = open_store(db_url)
    report = import_twarc(store, POLICY, archive)  # one batch: everything good is committed together
    assert report.bad_lines == 2 and report.malformed == 2
    assert "nested too deeply" in " ".join(report.problems) and "lone surrogate" in " ".join(report.problems)
    posts = stored(store)
    assert {f"https://twitter.com/i/web/status/{t['id']}" for t in good} < set(posts)
    assert posts["https://twitter.com/i/web/status/1498600000000000300"][0] == "with a NUL #hiljadekamera"
    assert report.new_posts == 4 and report.tweets == 6


def test_an_overlong_line_is_skipped_in_bounded_memory(tmp_path: Path, sqlite_url: str) -> None:
    archive = tmp_path / "bomb.jsonl.gz"
    with gzip.open(archive, "wb", compresslevel=1) as fh:  # 64 MiB in one line, written in pieces
        fh.write(b'{"id": "1498600000000000400", "text": "')
        chunk = b"a" * (1 << 20)
        for _ in range(64):
            fh.write(chunk)
        fh.write(b'"}\n' + json.dumps(tweet(TAGGED, "after the bomb #hiljadekamera")).encode() + b"\n")
    store = open_store(sqlite_url)
    with within_seconds(60), traced_peak() as peak:
        report = import_twarc(store, POLICY, archive, max_line_bytes=1 << 20)
    assert peak.bytes < 16 << 20, f"peak {peak.bytes:,} bytes"
    assert (report.lines, report.bad_lines, report.new_posts) == (2, 1, 1)
    assert "longer than imports.max_line_bytes" in report.problems[0]
    assert set(stored(store)) == {f"https://twitter.com/i/web/status/{TAGGED}"}
