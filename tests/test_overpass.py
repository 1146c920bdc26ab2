"""``hiljade gazetteer fetch`` against a local stand-in Overpass server."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from hiljade.errors import ConfigError, RateLimited, SourceError, SourceUnavailable
from hiljade.harvester import overpass as overpass_module
from hiljade.harvester.overpass import check_overpass_file, fetch_overpass, overpass_query
from tests.support.http import LocalServer, QuietHandler, TrickleHandler

AGENT = "hiljade-tests/0.1 (tests@example.org)"
BBOX = (20.35, 44.75, 20.55, 44.85)  # min_lon, min_lat, max_lon, max_lat
OSM3S = {"timestamp_osm_base": "2026-05-01T10:00:00Z", "copyright": "The data included in this document is "
         "from www.openstreetmap.org. The data is made available under ODbL."}
ANSWER = {
    "version": 0.6,
    "generator": "Overpass API 0.7.62.1 084b4234",
    "osm3s": OSM3S,
    "elements": [
        {"type": "node", "id": 1674325413, "lat": 44.8023956, "lon": 20.4663983,
         "tags": {"name": "Славија", "name:sr-Latn": "Slavija", "place": "square"}},
        {"type": "way", "id": 25004474,
         "bounds": {"minlat": 44.8148812, "minlon": 20.4553021, "maxlat": 44.8185406, "maxlon": 20.4600834},
         "nodes": [273346061, 1832443123],
         "geometry": [{"lat": 44.8148812, "lon": 20.4600834}, {"lat": 44.8185406, "lon": 20.4553021}],
         "tags": {"highway": "pedestrian", "name": "Кнез Михаилова", "name:sr-Latn": "Knez Mihailova"}},
    ],
}
OVERPASS_400 = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en"><head>
  <meta http-equiv="content-type" content="text/html; charset=utf-8" lang="en"/>
  <title>OSM3S Response</title></head><body>
<p>The data included in this document is from www.openstreetmap.org.</p>
<p><strong style="color:#FF0000">Error</strong>: line 3: parse error: Key expected - &apos;;&apos; found. </p>
</body></html>"""


class _Overpass(QuietHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        self.server.seen.append((self.path, form, dict(self.headers)))  # type: ignore[attr-defined]
        status, ctype, body = self.server.reply  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def overpass() -> Iterator[LocalServer]:
    reply = (200, "application/json", json.dumps(ANSWER).encode())
    with LocalServer(_Overpass, seen=[], reply=reply) as server:
        yield server


def url(server: LocalServer) -> str:
    return f"{server.url}/api/interpreter"


def test_fetch_posts_the_area_query_and_writes_the_answer(overpass: Any, tmp_path: Path) -> None:
    out = tmp_path / "gazetteer" / "belgrade.overpass.json"
    assert fetch_overpass(BBOX, url=url(overpass), user_agent=AGENT, out=out, timeout=90) == out
    assert json.loads(out.read_text()) == ANSWER
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left behind
    path, form, headers = overpass.seen[0]
    assert path == "/api/interpreter" and headers["User-Agent"] == AGENT
    assert list(form) == ["data"]
    query = form["data"][0]
    assert query.startswith("[out:json][timeout:90][bbox:44.75,20.35,44.85,20.55];")  # south,west,north,east
    assert query.rstrip().endswith("out geom qt;")


def test_query_asks_for_every_kind_of_name(overpass: Any) -> None:
    query = overpass_query(BBOX)
    statements = set(re.findall(r"^\s+(\S.*;)$", query, flags=re.M))
    expected = {
        'way["highway"]["name"];',
        'node["place"="square"];', 'way["place"="square"];', 'relation["place"="square"];',
        'relation["highway"="pedestrian"]["name"];',
        'node["addr:housenumber"];', 'way["addr:housenumber"];',
        'relation["boundary"="administrative"]["admin_level"~"^(9|10)$"];',
        'node["place"~"^(suburb|neighbourhood|quarter)$"];',
        'way["place"~"^(suburb|neighbourhood|quarter)$"];',
        'relation["place"~"^(suburb|neighbourhood|quarter)$"];',
    }
    for key in ("amenity", "tourism", "historic", "shop", "public_transport"):
        expected |= {f'node["{key}"]["name"];', f'way["{key}"]["name"];'}
    assert statements == expected
    assert query.count("\n(\n") == 1 and query.count("\n);\n") == 1  # one union, one output


@pytest.mark.parametrize(
    ("reply", "error", "fragment"),
    [
        ((429, "text/html", b"<html><body>Too Many Requests</body></html>"), RateLimited, "429"),
        ((504, "text/html", b"<html><body>Gateway Timeout</body></html>"), SourceUnavailable, "HTTP 504"),
        ((400, "text/html", OVERPASS_400.encode()), SourceError, "parse error: Key expected - ';' found"),
        ((200, "text/html", b"<html><body>maintenance</body></html>"), SourceUnavailable, "not JSON"),
        ((200, "application/json", b'{"version": 0.6}'), SourceUnavailable, "without an 'elements'"),
        ((200, "application/json", json.dumps({**ANSWER, "remark": "runtime error: Query timed out in "
                                                "\"query\" at line 3 after 181 seconds."}).encode()),
         SourceUnavailable, "runtime error"),
        ((200, "application/json", json.dumps(ANSWER).encode()[:-40]), SourceUnavailable, "not JSON"),
    ],
)
def test_errors_leave_the_previous_file_untouched(
    overpass: Any, tmp_path: Path, reply: tuple[int, str, bytes], error: type[Exception], fragment: str
) -> None:
    out = tmp_path / "area.json"
    out.write_text('{"elements": ["previous good download"]}')
    overpass.reply = reply
    with pytest.raises(error, match=re.escape(fragment)):
        fetch_overpass(BBOX, url=url(overpass), user_agent=AGENT, out=out)
    assert out.read_text() == '{"elements": ["previous good download"]}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["area.json"]


def test_unreachable_server(tmp_path: Path) -> None:
    server = LocalServer(_Overpass)
    gone = url(server)
    server.server_close()
    with pytest.raises(SourceUnavailable):
        fetch_overpass(BBOX, url=gone, user_agent=AGENT, out=tmp_path / "a.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ["headers", "body_no_length"])
def test_a_trickling_overpass_fails_at_the_total_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(overpass_module, "READ_GRACE", 0.0)
    monkeypatch.setattr(overpass_module, "DOWNLOAD_GRACE", 0.5)  # deadline: timeout 1 + 0 + 0.5 s
    out = tmp_path / "a.json"
    with LocalServer(TrickleHandler, trickle=mode, interval=0.3) as server:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match=r"no complete answer from 127\.0\.0\.1 within 1\.5 s"):
            fetch_overpass(BBOX, url=server.url + "/api/interpreter", user_agent=AGENT, out=out, timeout=1)
        assert time.monotonic() - started < 4.0  # the stand-in would trickle for 12 s
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("bbox", [(44.75, 20.35, 44.85), (20.55, 44.75, 20.35, 44.85),
                                  (20.3, 95.0, 20.5, 96.0), ("west", 44.75, 20.55, 44.85)])
def test_bad_bbox_or_agent_refused_before_any_request(overpass: Any, tmp_path: Path, bbox: Any) -> None:
    with pytest.raises(ConfigError):
        fetch_overpass(bbox, url=url(overpass), user_agent=AGENT, out=tmp_path / "a.json")
    with pytest.raises(ConfigError, match="user_agent"):
        fetch_overpass(BBOX, url=url(overpass), user_agent=" ", out=tmp_path / "a.json")
    assert overpass.seen == [] and list(tmp_path.iterdir()) == []


def test_check_overpass_file_counts_elements(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(ANSWER))
    assert check_overpass_file(path) == 2
