"""The Nominatim adapter against a local stand-in Nominatim (real geopy, real HTTP on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from time import monotonic
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from shapely.geometry import Polygon
from sqlalchemy import select

from hiljade.config import load_config
from hiljade.errors import ConfigError, GeocoderError
from hiljade.harvester.geocoder import (
    Geocoder,
    GeocoderSettings,
    MemoryGeocodeCache,
    bbox_precision,
    cache_key,
    normalise_query,
)
from hiljade.models.posts import save_post
from hiljade.models.schema import GeocodeAnswer, PostLocation, Sighting
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.store import author_policy, open_store
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.http import LocalServer, QuietHandler, TrickleHandler
from tests.support.places import AREA as PROCESS_AREA
from tests.support.places import STREETS

AGENT = "hiljade-tests/0.1 (tests@example.org)"
LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"
# Central Belgrade with the north-east corner cut out (inside the bbox, outside the polygon).
AREA = Polygon([(20.35, 44.75), (20.55, 44.75), (20.55, 44.82), (20.50, 44.82), (20.50, 44.85),
                (20.35, 44.85)])


def place(place_id: int, osm_type: str, osm_id: int, lat: str, lon: str, cls: str, typ: str, rank: int,
          name: str, display: str, bbox: list[str], importance: float) -> dict[str, Any]:
    """One Nominatim search result as the jsonv2 format writes it ("category" instead of "class")."""
    return {"place_id": place_id, "licence": LICENCE, "osm_type": osm_type, "osm_id": osm_id, "lat": lat,
            "lon": lon, "category": cls, "type": typ, "place_rank": rank, "importance": importance,
            "addresstype": typ, "name": name, "display_name": display, "boundingbox": bbox}


KNEZ = place(196873911, "way", 25004474, "44.8170154", "20.4573455", "highway", "pedestrian", 26,
             "Кнез Михаилова",
             "Кнез Михаилова, Стари град, Београд, Град Београд, Централна Србија, 11000, Србија",
             ["44.8148812", "44.8185406", "20.4553021", "20.4600834"], 0.3818)
TAKOVSKA = place(3170471, "way", 121340127, "44.8139057", "20.4719612", "building", "yes", 30,
                 "", "2, Таковска, Палилула, Београд, Град Београд, Централна Србија, 11103, Србија",
                 ["44.8137402", "44.8140513", "20.4716848", "20.4722471"], 0.00001)
SLAVIJA = place(2481077, "node", 1674325413, "44.8023956", "20.4663983", "place", "square", 25,
                "Славија", "Славија, Врачар, Београд, Град Београд, Централна Србија, 11000, Србија",
                ["44.8023456", "44.8024456", "20.4663483", "20.4664483"], 0.4012)
SLAVIJA_NOVI_SAD = place(7716321, "node", 3458827011, "45.2529116", "19.8440124", "amenity", "cafe", 30,
                         "Славија", "Славија, Булевар ослобођења, Нови Сад, Јужнобачки управни округ, "
                         "Војводина, 21000, Србија",
                         ["45.2528616", "45.2529616", "19.8439624", "19.8440624"], 0.00001)
DORCOL_NE = place(9100412, "node", 5122011, "44.8400000", "20.5300000", "amenity", "school", 30,
                  "Школа", "Школа, Вишњица, Палилула, Београд, Град Београд, Централна Србија, Србија",
                  ["44.8399500", "44.8400500", "20.5299500", "20.5300500"], 0.00001)
ANSWERS = {
    "knez mihailova": [KNEZ],
    "takovska 2": [TAKOVSKA],
    "slavija": [SLAVIJA, SLAVIJA_NOVI_SAD, DORCOL_NE],
}


def as_format(result: dict[str, Any], fmt: str) -> dict[str, Any]:
    """format=json names the OSM key "class"; jsonv2 names it "category" and adds place_rank."""
    if fmt == "jsonv2":
        return dict(result)
    out = {k: v for k, v in result.items() if k != "category"}
    out["class"] = result["category"]
    return out


class _Nominatim(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.seen.append((parts.path, params, dict(self.headers)))  # type: ignore[attr-defined]
        if getattr(self.server, "down", False):  # an outage: every request fails
            self._send(503, "text/html", b"<html><body>Service Unavailable</body></html>")
            return
        if not parts.path.endswith("/search"):
            self._send(404, "text/html", b"<html><body>Not found</body></html>")
            return
        q = params.get("q", "").casefold()
        if q.startswith("__"):
            self._refuse(q.strip("_"))
            return
        fmt = params.get("format", "xml")
        results = [as_format(r, fmt) for r in ANSWERS.get(" ".join(q.split()), [])]
        self._send(200, "application/json; charset=utf-8", json.dumps(results, ensure_ascii=False).encode())

    def _refuse(self, kind: str) -> None:
        if kind == "403":
            self._send(403, "text/html", b"<html><body><h1>Access blocked</h1>You have been blocked "
                       b"because you have violated the usage policy of OSM's Nominatim geocoding service."
                       b"</body></html>")
        elif kind == "429":
            page = b"<html><body>Too Many Requests</body></html>"
            self._send(429, "text/html", page, {"Retry-After": "30"})
        elif kind == "509":
            self._send(509, "text/html", b"<html><body>Bandwidth limit exceeded</body></html>")
        elif kind == "bandwidth":
            self._send(200, "text/plain", b"Bandwidth limit exceeded")
        else:
            self._send(500, "text/html", b"<html><body>Internal Server Error</body></html>")

    def _send(self, status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def nominatim() -> Iterator[LocalServer]:
    with LocalServer(_Nominatim, seen=[]) as server:
        yield server


class FakeTime:
    """clock and sleep seams: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make(server: LocalServer, time: FakeTime | None = None, *, area: Any = AREA,
         cache: MemoryGeocodeCache | None = None, **section: Any) -> Geocoder:
    time = time or FakeTime()
    config = {"url": f"http://127.0.0.1:{server.server_address[1]}", "user_agent": AGENT, **section}
    return Geocoder.from_config(config, cache=cache if cache is not None else MemoryGeocodeCache(), area=area,
                                sleep=time.sleep, clock=time.clock)


def test_candidates_are_pending_with_bbox_precision_and_evidence(nominatim: Any) -> None:
    found = make(nominatim).geocode("Knez Mihailova")
    assert len(found) == 1
    c = found[0]
    assert (c.lat, c.lon, c.method, c.status) == (44.8170154, 20.4573455, "geocoder", "pending_review")
    assert c.source == "geocoder:way/25004474" and c.matched == "Knez Mihailova"
    assert 0 < c.confidence < 0.9
    # The street's bounding box is about 407 m x 379 m: half its diagonal is roughly 278 m.
    dy = (44.8185406 - 44.8148812) * 111_195
    dx = (20.4600834 - 20.4553021) * 111_195 * math.cos(math.radians(44.8170154))
    assert c.precision_m == pytest.approx(math.hypot(dx, dy) / 2, rel=0.01)
    assert c.evidence["display_name"].startswith("Кнез Михаилова, Стари град")
    assert (c.evidence["osm_type"], c.evidence["osm_id"]) == ("way", 25004474)
    assert (c.evidence["class"], c.evidence["type"]) == ("highway", "pedestrian")


def test_request_is_bounded_identified_and_country_limited(nominatim: Any) -> None:
    make(nominatim, country_codes=["rs", "me"]).geocode("Takovska 2")
    path, params, headers = nominatim.seen[0]
    assert path == "/search" and params["q"] == "Takovska 2"
    assert headers["User-Agent"] == AGENT
    assert [float(v) for v in params["viewbox"].split(",")] == [20.35, 44.75, 20.55, 44.85]  # lon,lat,lon,lat
    assert params["bounded"] == "1" and params["countrycodes"] == "rs,me"
    assert params["format"] == "json"


def test_results_outside_the_area_polygon_are_dropped(nominatim: Any) -> None:
    found = make(nominatim).geocode("Slavija")
    # Novi Sad (outside the bbox) and the school in the cut-out corner (inside the bbox) are dropped.
    assert [c.source for c in found] == ["geocoder:node/1674325413"]
    assert found[0].precision_m < 15  # a node's tiny box, floored at 10 m
    everywhere = make(nominatim, area=None).geocode("Slavija")
    assert len(everywhere) == 3 and "viewbox" not in nominatim.seen[-1][1]
    assert everywhere[0].confidence > everywhere[1].confidence > everywhere[2].confidence


def test_at_most_one_request_per_min_delay(nominatim: Any) -> None:
    fake = FakeTime()
    geocoder = make(nominatim, fake, min_delay_seconds=1.0)
    geocoder.geocode("Knez Mihailova")
    fake.now += 0.3
    geocoder.geocode("Takovska 2")
    geocoder.geocode("Slavija")
    geocoder.geocode("knez   MIHAILOVA")  # cached: no request, no wait
    assert fake.sleeps == [pytest.approx(0.7), pytest.approx(1.0)]
    assert len(nominatim.seen) == 3 == geocoder.requests_made


def test_cache_answers_and_not_found_without_http(nominatim: Any) -> None:
    cache = MemoryGeocodeCache()
    first = make(nominatim, cache=cache)
    assert first.geocode("Knez Mihailova") and first.geocode("Nepostojeća ulica 99") == []
    assert len(nominatim.seen) == 2
    second = make(nominatim, cache=cache)  # a later run with the same store
    again = second.geocode("  knez mihailova ")
    assert second.geocode("NEPOSTOJEĆA ulica 99") == []
    assert len(nominatim.seen) == 2 and second.requests_made == 0
    assert again[0].evidence["cached"] is True and again[0].lat == 44.8170154
    key = cache_key("Nepostojeća ulica 99", AREA.bounds, ("rs",))
    assert cache.get(key) == [] and cache.get("never stored") is None


def test_other_area_or_countries_do_not_reuse_answers(nominatim: Any) -> None:
    cache = MemoryGeocodeCache()
    make(nominatim, cache=cache).geocode("Slavija")
    make(nominatim, cache=cache, area=AREA.buffer(0.5)).geocode("Slavija")
    make(nominatim, cache=cache, country_codes=["me"]).geocode("Slavija")
    assert len(nominatim.seen) == 3 and len(cache.entries) == 3


@pytest.mark.parametrize(("query", "status"), [("__403__", 403), ("__429__", 429), ("__509__", 509),
                                               ("__bandwidth__", None)])
def test_refusals_are_translated_and_pause_requests(nominatim: Any, query: str, status: int | None) -> None:
    fake = FakeTime()
    cache = MemoryGeocodeCache()
    geocoder = make(nominatim, fake, cache=cache)
    geocoder.geocode("Knez Mihailova")
    with pytest.raises(GeocoderError) as err:
        geocoder.geocode(query)
    assert err.value.refused is True and err.value.status == status
    assert err.value.__cause__ is not None  # the geopy error is kept
    assert geocoder.refusal is err.value
    assert sum(params.get("q") == query for _, params, _ in nominatim.seen) == 1  # no hidden retry
    seen = len(nominatim.seen)
    assert geocoder.geocode("Knez Mihailova")  # cached answers still work while paused
    with pytest.raises(GeocoderError, match="paused") as paused:
        geocoder.geocode("Slavija")
    assert paused.value.refused and len(nominatim.seen) == seen  # no request while refused
    assert len(cache.entries) == 1  # refusals are not cached
    fake.now += 31
    if status == 429:  # Retry-After: 30 has passed
        assert err.value.retry_after == 30
        assert geocoder.geocode("Slavija")
    else:
        with pytest.raises(GeocoderError, match="paused"):
            geocoder.geocode("Slavija")


def test_server_errors_are_not_refusals_and_not_cached(nominatim: Any) -> None:
    cache = MemoryGeocodeCache()
    geocoder = make(nominatim, cache=cache)
    with pytest.raises(GeocoderError) as err:
        geocoder.geocode("__500__")
    assert err.value.refused is False and err.value.status == 500 and cache.entries == {}
    assert len(nominatim.seen) == 1  # no hidden retry
    assert geocoder.geocode("Slavija")  # not paused


def test_failures_in_a_row_stop_the_asking(nominatim: Any) -> None:
    geocoder = make(nominatim)
    nominatim.down = True
    for _ in range(2):
        with pytest.raises(GeocoderError):
            geocoder.geocode("Slavija")
    nominatim.down = False
    assert geocoder.geocode("Slavija") and geocoder.failures_in_a_row == 0  # an answer resets the count
    nominatim.down = True
    for query in ("Takovska 2", "Knez Mihailova", "Takovska 2"):
        with pytest.raises(GeocoderError) as err:
            geocoder.geocode(query)
        assert err.value.refused is False and err.value.status == 503
    asked = len(nominatim.seen)
    with pytest.raises(GeocoderError, match="stopped asking after 3 failures in a row"):
        geocoder.geocode("Knez Mihailova")
    assert len(nominatim.seen) == asked == 6 and geocoder.failure is not None and geocoder.refusal is None


def test_unreachable_server_is_a_geocoder_error() -> None:
    server = LocalServer(_Nominatim)
    port = server.port
    server.server_close()
    section = {"url": f"http://127.0.0.1:{port}", "user_agent": AGENT, "timeout_seconds": 2}
    geocoder = Geocoder.from_config(section, cache=MemoryGeocodeCache(), area=AREA, sleep=FakeTime().sleep)
    with pytest.raises(GeocoderError) as err:
        geocoder.geocode("Slavija")
    assert err.value.refused is False


@pytest.mark.parametrize("mode", ["headers", "body"])
def test_a_trickling_geocoder_fails_at_the_total_timeout(mode: str) -> None:
    """One byte each 0.3 s never trips the per-read timeout; the total timeout ends the request."""
    with LocalServer(TrickleHandler, trickle=mode, interval=0.3) as server:
        geocoder = make(server, timeout_seconds=1, total_timeout_seconds=1.5)
        started = monotonic()
        with pytest.raises(GeocoderError, match=r"no complete answer from 127\.0\.0\.1 within 1\.5 s") as err:
            geocoder.geocode("Slavija")
        assert monotonic() - started < 4.0  # the stand-in would trickle for 12 s
    assert err.value.refused is False


def test_url_with_path_prefix(nominatim: Any) -> None:
    url = f"http://127.0.0.1:{nominatim.server_address[1]}/nominatim/"
    found = make(nominatim, url=url).geocode("Takovska 2")
    assert found[0].source == "geocoder:way/121340127"
    assert nominatim.seen[0][0] == "/nominatim/search"


def test_disabled_geocoder_makes_no_requests(nominatim: Any) -> None:
    geocoder = Geocoder.from_config({"enabled": False, "url": f"http://127.0.0.1:{nominatim.server_address[1]}"},
                                    cache=MemoryGeocodeCache())
    assert geocoder.enabled is False and geocoder.geocode("Slavija") == [] and nominatim.seen == []


def test_blank_query_makes_no_request(nominatim: Any) -> None:
    assert make(nominatim).geocode("  \n ") == [] and nominatim.seen == []


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ({}, "user_agent: required"),
        ({"user_agent": "geopy/2.5.0"}, "library default"),
        ({"user_agent": "my-application"}, "library default"),
        ({"user_agent": AGENT, "min_delay_seconds": 0.5}, "min_delay_seconds"),
        ({"user_agent": AGENT, "url": "ftp://nominatim.example.org"}, "geocoder.url"),
        ({"user_agent": AGENT, "country_codes": ["srb"]}, "country_codes"),
        ({"user_agent": AGENT, "timeout_seconds": 0}, "timeout_seconds"),
        ({"user_agent": AGENT, "rate": 1}, "unknown key"),
    ],
)
def test_config_problems(section: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        GeocoderSettings.from_config(section)


def test_config_defaults_and_own_server() -> None:
    public = GeocoderSettings.from_config({"user_agent": AGENT})
    assert (public.url, public.min_delay_seconds, public.country_codes) == (
        "https://nominatim.openstreetmap.org", 1.0, ("rs",))
    own = GeocoderSettings.from_config({"user_agent": AGENT, "url": "http://127.0.0.1:8080/",
                                        "min_delay_seconds": 0, "country_codes": "RS,ba"})
    assert (own.url, own.min_delay_seconds, own.country_codes) == ("http://127.0.0.1:8080", 0.0, ("rs", "ba"))


def test_query_normalisation_and_precision_helpers() -> None:
    assert normalise_query("  Knez\tMIHAILOVA  ") == "knez mihailova"
    assert normalise_query("Đakovačka") != normalise_query("Djakovacka")  # diacritics are kept
    assert normalise_query("Cafe\u0301") == normalise_query("Caf\u00e9")  # NFC
    assert bbox_precision(None, 44.8) == 1000.0
    assert bbox_precision(["44.8", "44.8", "20.4", "20.4"], 44.8) == 10.0


def test_cached_jsonv2_answers_are_read_too(nominatim: Any) -> None:
    cache = MemoryGeocodeCache()
    cache.put(cache_key("Slavija", AREA.bounds, ("rs",)), [SLAVIJA])  # stored in jsonv2 shape
    found = make(nominatim, cache=cache).geocode("slavija")
    assert (found[0].evidence["class"], found[0].evidence["type"]) == ("place", "square")
    assert nominatim.seen == []


# -- `hiljade process` with the geocoder on, on SQLite and PostgreSQL --------------------------------


CREATED = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def process_config(tmp_path: Path, db_url: str, server: LocalServer, texts: list[str]) -> Path:
    """An initialised store with the small gazetteer and one post per text, the geocoder on."""
    (tmp_path / "streets.geojson").write_text(json.dumps(STREETS), encoding="utf-8")
    (tmp_path / "area.geojson").write_text(json.dumps(PROCESS_AREA), encoding="utf-8")
    config = write_config(tmp_path, db_url, [], area__boundary=str(tmp_path / "area.geojson"),
                          media__download=False, geocoder__enabled=True, geocoder__url=server.url,
                          geocoder__user_agent=AGENT)
    assert cli(config, "init")[0] == 0
    assert cli(config, "gazetteer", "build", str(tmp_path / "streets.geojson"))[0] == 0
    cfg = load_config(config)
    store = open_store(cfg)
    with store.transaction() as conn:
        for n, text in enumerate(texts, 1):
            record = PostRecord(platform="mastodon", server="https://a.example", native_id=str(n),
                                uri=f"https://a.example/s/{n}", created_at=CREATED, text=text,
                                author=AuthorRecord("mastodon", "https://a.example/u/x"), fetched_from="test")
            save_post(conn, record, author_policy(cfg), dt.datetime.now(dt.UTC))
    store.close()
    return config


def stored(config: Path) -> tuple[dict[int, str], dict[int, str], int]:
    """Outcomes by post id, chosen methods by post id, and the number of cached geocoder answers."""
    store = open_store(load_config(config))
    with store.connect() as conn:
        outcomes = dict(conn.execute(select(PostLocation.post_id, PostLocation.outcome)).all())
        chosen = dict(conn.execute(select(Sighting.post_id, Sighting.method).where(Sighting.chosen)).all())
        cached = len(conn.execute(select(GeocodeAnswer.key)).all())
    store.close()
    return outcomes, chosen, cached


def test_process_with_the_geocoder_caches_answers_in_its_own_transaction(
    tmp_path: Path, db_url: str, nominatim: Any
) -> None:
    config = process_config(tmp_path, db_url, nominatim, ["Slavija", "Knez Mihailova", "Nepostojeće mesto"])
    code, _, err = cli(config, "process")
    assert code == 0, err
    assert "3 posts" in err and "2 pending review" in err and "1 nothing found" in err
    outcomes, chosen, cached = stored(config)
    assert outcomes == {1: "pending_review", 2: "pending_review", 3: "nothing"}
    assert chosen == {1: "geocoder", 2: "geocoder"} and cached == 3
    asked = len(nominatim.seen)
    code, _, err = cli(config, "process", "--reprocess")
    assert code == 0 and "3 posts" in err and len(nominatim.seen) == asked  # answered from the cache


def test_a_database_error_is_a_message_not_a_traceback(
    tmp_path: Path, sqlite_url: str, nominatim: Any
) -> None:
    config = process_config(tmp_path, sqlite_url, nominatim, ["Slavija"])
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["database"]["busy_timeout_seconds"] = 0
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        code, _, err = cli(config, "process")
    finally:
        holder.rollback()
        holder.close()
    assert code == 1 and "database is locked" in err and "Traceback" not in err
    assert err.startswith("error: ")


def test_an_outage_leaves_posts_waiting_stops_asking_and_warns(tmp_path: Path, db_url: str) -> None:
    with LocalServer(_Nominatim, seen=[], down=True) as server:
        texts = ["Slavija", "Knez Mihailova", "Takovska 2", "Nepostojeće mesto", "Još jedno mesto"]
        config = process_config(tmp_path, db_url, server, texts)
        code, _, err = cli(config, "process")
        assert code == 0, err
        assert "5 posts wait for the geocoder" in err
        assert len(server.seen) == 3  # stopped asking after 3 failures in a row
        outcomes, chosen, cached = stored(config)
        assert set(outcomes.values()) == {"waiting_geocoder"} and chosen == {} and cached == 0
        code, out, err = cli(config, "status")
        assert code == 1 and "5 posts wait for the geocoder" in err
        server.down = False
        code, _, err = cli(config, "process")  # a plain run asks again
        assert code == 0 and "process: 5 posts" in err and "wait for the geocoder" not in err
        outcomes, chosen, cached = stored(config)
        assert outcomes == {1: "pending_review", 2: "pending_review", 3: "pending_review", 4: "nothing",
                            5: "nothing"}
        assert chosen == {1: "geocoder", 2: "geocoder", 3: "geocoder"} and cached == 5
        code, out, err = cli(config, "status")
        assert "wait for the geocoder" not in err and "did not answer" not in err
