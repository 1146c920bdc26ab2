"""The public face of `hiljade serve` through Starlette's test client, on SQLite and PostgreSQL: the
map page and its local assets, the headers, the bounded JSON endpoints and their refusals, a site's
page, the statistics, the downloads, both languages, and that nothing public names a person."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hiljade.config import load_config
from hiljade.errors import ConfigError
from hiljade.models.schema import Media
from hiljade.services import accounts
from hiljade.services.store import open_store
from hiljade.web import public_words
from hiljade.web.app import content_policy, create_app
from tests.support.browser import serving
from tests.support.cli import cli
from tests.support.web import HANDLE, HOSTILE_MODEL, REVIEWER, SECRET, TEXT, PublicDb, client, public_db

BOX = "20.39,44.79,20.48,44.84"


@pytest.fixture
def db(tmp_path: Path, db_url: str) -> PublicDb:
    return public_db(tmp_path, db_url)


@pytest.fixture
def web(db: PublicDb) -> TestClient:
    return client(db.config)


def private_values(db: PublicDb) -> list[str]:
    """What must never appear on a public page or in public JSON."""
    values = [REVIEWER, HANDLE, "a.example/users/mila", "a.example/@mila", TEXT[:20], "Kamera na uglu"]
    for post in db.posts:
        values += [post["uri"], post["url"], post["text"][:30]]
        values += [v for v in (post.get("author_pseudonym"), post.get("author_handle")) if v]
    return values


def assert_private(text: str, db: PublicDb) -> None:
    for value in private_values(db):
        assert value not in text, value


def test_map_page_uses_only_local_scripts_and_styles(web: TestClient) -> None:
    page = web.get("/")
    assert page.status_code == 200
    html = page.text
    for asset in ("/static/leaflet/leaflet.js", "/static/leaflet/leaflet.css",
                  "/static/markercluster/leaflet.markercluster.js", "/static/map.js", "/static/basemap.js"):
        assert asset in html
        assert web.get(asset).status_code == 200, asset
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from another host
    assert "<script>" not in html and "style=" not in html and " on" + "click=" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    settings = json.loads(re.search(r"data-settings='([^']*)'", html).group(1))
    assert settings["tiles"] == "" and len(settings["center"]) == 3


def test_security_headers(web: TestClient) -> None:
    headers = web.get("/").headers
    assert headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    policy = content_policy("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy
    assert "https://*.tile.example.org" in content_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png")


def test_sites_endpoint_shows_verified_sites_and_no_person(web: TestClient, db: PublicDb) -> None:
    answer = web.get(f"/api/sites?bbox={BOX}")
    assert answer.status_code == 200
    body = answer.json()
    assert sorted(s["id"] for s in body["sites"]) == sorted(db.verified)
    assert body["truncated"] is False
    first = next(s for s in body["sites"] if s["id"] == db.verified[0])
    assert first["reports"] == 3 and first["camera_count"] == 2 and first["camera_direction"] == 90.0
    assert first["camera_type"] == "dome" and first["last_seen"] == "2024-06-10"
    assert "verified_by" not in first
    assert_private(answer.text, db)
    assert web.get(f"/api/sites?bbox={BOX}&type=bullet").json()["sites"][0]["id"] == db.verified[1]
    late = web.get(f"/api/sites?bbox={BOX}&since=2024-06-01").json()["sites"]
    assert [s["id"] for s in late] == [db.verified[0]]
    assert web.get("/api/sites?bbox=0,0,1,1").json()["sites"] == []


def test_sites_endpoint_is_bounded(tmp_path: Path, sqlite_url: str) -> None:
    db = public_db(tmp_path, sqlite_url, town=False, extra_sites=30, web__public__max_sites=20)
    web = client(db.config)
    body = web.get(f"/api/sites?bbox={BOX}").json()
    assert len(body["sites"]) == 20 and body["truncated"] is True
    body = web.get(f"/api/sites?bbox={BOX}&limit=5").json()
    assert len(body["sites"]) == 5 and body["truncated"] is True
    assert len(web.get(f"/api/sites?bbox={BOX}&limit=999999").json()["sites"]) == 20


def test_a_full_box_comes_as_grid_clusters_counting_every_site(tmp_path: Path, db_url: str) -> None:
    db = public_db(tmp_path, db_url, town=False, extra_sites=30, web__public__max_sites=20)
    web = client(db.config)
    answer = web.get(f"/api/sites?bbox={BOX}&clusters=1")
    assert answer.status_code == 200
    body = answer.json()
    assert body["sites"] == [] and body["truncated"] is False
    assert body["total"] == 33 == sum(c["count"] for c in body["clusters"])  # every site, none cut
    assert 1 < len(body["clusters"]) < 33
    minlon, minlat, maxlon, maxlat = (float(v) for v in BOX.split(","))
    for group in body["clusters"]:
        assert set(group) == {"count", "lat", "lon", "bbox"}  # a count and a place: no site, no person
        west, south, east, north = group["bbox"]
        assert minlon <= west <= group["lon"] <= east <= maxlon
        assert minlat <= south <= group["lat"] <= north <= maxlat
    assert_private(answer.text, db)
    # a box with at most max_sites sites comes site by site, with the same fields as without clusters
    street = "20.455,44.814,20.47,44.818"
    near = web.get(f"/api/sites?bbox={street}&clusters=1").json()
    assert near["clusters"] == [] and near["total"] == len(near["sites"]) == 3
    assert near["sites"] == web.get(f"/api/sites?bbox={street}").json()["sites"]
    # a smaller limit clusters sooner; the filters count too
    assert web.get(f"/api/sites?bbox={street}&clusters=1&limit=2").json()["total"] == 3
    assert web.get(f"/api/sites?bbox={street}&clusters=1&limit=2").json()["sites"] == []
    assert web.get(f"/api/sites?bbox={BOX}&clusters=1&type=bullet").json()["total"] == 1
    assert web.get(f"/api/sites?bbox={BOX}&clusters=yes").status_code == 400


@pytest.mark.parametrize("query", [
    "", "bbox=", "bbox=1,2,3", "bbox=a,b,c,d", "bbox=nan,44,21,45", "bbox=20,44,inf,45",
    "bbox=21,44,20,45", "bbox=20,-91,21,45", "bbox=200,44,210,45", f"bbox={BOX}&limit=0",
    f"bbox={BOX}&limit=-3", f"bbox={BOX}&limit=lots", f"bbox={BOX}&since=yesterday",
    f"bbox={BOX}&status=unverified", f"bbox={BOX}&type=" + "x" * 40,
])
def test_bad_site_queries_get_a_clear_400(web: TestClient, query: str) -> None:
    answer = web.get("/api/sites?" + query)
    assert answer.status_code == 400
    assert answer.json()["error"] and "Traceback" not in answer.text


def test_site_page_counts_reports_and_names_no_one(web: TestClient, db: PublicDb) -> None:
    page = web.get(f"/sites/{db.verified[0]}", headers={"accept-language": "en"})
    assert page.status_code == 200
    html = page.text
    assert "IPC6625-Z30" in html and "dome" in html and "pole" in html and "90°" in html
    rows = re.findall(r"<tr><td>(\w+)</td><td>([\d-]+)</td><td>(\d+)</td></tr>", html)
    assert rows == [("bluesky", "2024-06", "1"), ("mastodon", "2024-05", "2")]
    assert "https://www.openstreetmap.org/?mlat=44.815000&amp;mlon=20.462000" in html
    assert_private(html, db)


def test_hostile_text_is_escaped(web: TestClient, db: PublicDb) -> None:
    html = web.get(f"/sites/{db.verified[2]}").text
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\u003cscript\\u003e" in html or "\\u003c" in html  # in the map's JSON, escaped too
    assert HOSTILE_MODEL in {s["camera_model"] for s in web.get(f"/api/sites?bbox={BOX}").json()["sites"]}


@pytest.mark.parametrize("path", ["/sites/999999", "/sites/abc", "/sites/-1", "/sites/99999999999999999999"])
def test_unknown_sites_are_404(web: TestClient, path: str) -> None:
    assert web.get(path).status_code == 404


def test_sites_not_public_are_404(web: TestClient, db: PublicDb) -> None:
    assert web.get(f"/sites/{db.unverified}").status_code == 404
    assert web.get(f"/sites/{db.rejected}").status_code == 404


def test_stats_page(web: TestClient) -> None:
    page = web.get("/stats", headers={"accept-language": "en-GB,en;q=0.8"})
    assert page.status_code == 200
    html = page.text
    assert "Sites per named area" in html and "New verified sites per week" in html
    assert re.search(r'<strong id="total">3</strong>', html)
    assert "Stari grad" in html
    assert "<svg" in html and html.count('class="bar"') >= 2


def test_downloads_are_the_public_export(web: TestClient, db: PublicDb) -> None:
    answer = web.get("/data/sites.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(int(r["id"]) for r in rows) == sorted(db.verified)
    assert "verified_by" not in rows[0]
    assert_private(answer.text, db)
    geo = web.get("/data/sites.geojson").json()
    assert len(geo["features"]) == 3
    assert web.get("/data/sites.osm").status_code == 404
    assert "/data/sites.csv" in web.get("/data").text


def test_basemap_draws_streets_and_areas_of_the_box(web: TestClient) -> None:
    near = web.get("/api/basemap?bbox=20.455,44.810,20.470,44.822").json()
    kinds = {f["properties"]["kind"] for f in near["features"]}
    names = {f["properties"]["name"] for f in near["features"]}
    assert "street" in kinds and "area" in kinds
    assert "Дечанска" in names and "Stari grad" in names and "Rakovica" not in names
    street = next(f for f in near["features"] if f["properties"]["name"] == "Дечанска")
    assert street["geometry"]["type"] in ("LineString", "MultiLineString")
    wide = web.get("/api/basemap?bbox=20.2,44.6,20.7,45.0").json()
    assert {f["properties"]["kind"] for f in wide["features"]} == {"area"}  # a city view: areas only
    assert web.get("/api/basemap?bbox=10,40,20,50").status_code == 400
    assert web.get("/api/basemap?bbox=x").status_code == 400
    assert web.get("/api/basemap").status_code == 400


def test_basemap_is_limited(tmp_path: Path, sqlite_url: str) -> None:
    db = public_db(tmp_path, sqlite_url, web__public__max_basemap_features=2)
    body = client(db.config).get("/api/basemap?bbox=20.455,44.810,20.470,44.822").json()
    assert len(body["features"]) == 2 and body["truncated"] is True


def test_search_places_a_street(web: TestClient) -> None:
    places = web.get("/api/search", params={"q": "Dečanska 5"}).json()["places"]
    assert places
    assert abs(places[0]["lat"] - 44.815) < 0.002 and 20.459 < places[0]["lon"] < 20.467
    assert web.get("/api/search?q=").status_code == 400
    assert web.get("/api/search", params={"q": "x" * 201}).status_code == 400
    assert web.get("/api/search", params={"q": "Nepostojeća ulica"}).json() == {"places": []}


def test_languages(web: TestClient) -> None:
    assert "Mapa" in web.get("/").text  # Serbian by default
    assert ">Map<" in web.get("/", headers={"accept-language": "en-US,en;q=0.9"}).text
    assert ">Mapa<" in web.get("/", headers={"accept-language": "sr-Latn-RS,sr;q=0.9,en;q=0.5"}).text
    switched = web.get("/stats?lang=en")
    assert "Statistics" in switched.text and switched.cookies.get("lang") == "en"
    assert "Statistics" in web.get("/data").text  # the switch is remembered
    assert "Podaci za preuzimanje" in web.get("/data?lang=sr").text
    assert 'lang="sr"' in web.get("/data").text


def test_no_session_key_no_app(db: PublicDb) -> None:
    config = load_config(db.config, overrides={"web.dev": False})
    with pytest.raises(ConfigError, match="HILJADE_WEB_SECRET"):
        create_app(config, environ={})
    with pytest.raises(ConfigError, match="too short"):
        create_app(config, environ={"HILJADE_WEB_SECRET": "short"})
    assert create_app(config, environ={"HILJADE_WEB_SECRET": SECRET}) is not None


def test_serve_refuses_to_start_without_a_key(tmp_path: Path, sqlite_url: str, monkeypatch) -> None:
    db = public_db(tmp_path, sqlite_url, town=False)
    text = db.config.read_text().replace("dev: true", "dev: false")
    db.config.write_text(text)
    monkeypatch.delenv("HILJADE_WEB_SECRET", raising=False)
    code, _, err = cli(db.config, "serve", "--port", "1")
    assert code == 2 and "HILJADE_WEB_SECRET" in err


def test_site_page_shows_only_published_photos(db: PublicDb) -> None:
    store = open_store(load_config(db.config))
    post = db.posts[0]["id"]
    with store.transaction() as conn:
        media = Media.__table__
        shown, hidden = (
            conn.execute(media.insert().values(**row).returning(media.c.id)).scalar_one()
            for row in (
                {"post_id": post, "position": 0, "type": "image", "url": "https://a.example/m/1.jpg",
                 "width": 640, "height": 480, "publishable": True, "published": b"\xff\xd8clean",
                 "published_type": "image/jpeg", "published_by": REVIEWER},
                {"post_id": post, "position": 1, "type": "image", "url": "https://a.example/m/2.jpg"},
            )
        )
    store.close()
    html = client(db.config).get(f"/sites/{db.verified[0]}").text
    assert f'src="/photos/{shown}"' in html and f"/photos/{hidden}" not in html
    assert "a.example/m/" not in html and REVIEWER not in html


def test_a_reviewer_may_choose_the_status(db: PublicDb, web: TestClient) -> None:
    store = open_store(load_config(db.config))
    accounts.add(store, "ana", "reviewer", "a-long-enough-password-42")
    store.close()
    assert "filter-status" not in web.get("/").text
    form = web.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = web.post("/login", data={"csrf": token, "name": "ana", "password": "a-long-enough-password-42",
                                      "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303
    assert "filter-status" in web.get("/").text
    sites = web.get(f"/api/sites?bbox={BOX}&status=unverified").json()["sites"]
    assert [s["id"] for s in sites] == [db.unverified]
    both = web.get(f"/api/sites?bbox={BOX}&status=verified,rejected").json()["sites"]
    assert sorted(s["id"] for s in both) == sorted([*db.verified, db.rejected])
    assert web.get(f"/api/sites?bbox={BOX}&status=merged").status_code == 400
    assert REVIEWER not in web.get(f"/api/sites?bbox={BOX}&status=rejected").text


def test_every_public_word_is_in_both_languages() -> None:
    templates = Path(public_words.__file__).parent / "templates"
    used = set()
    for name in ("base.html", "map.html", "site.html", "stats.html", "data.html", "missing.html"):
        used |= set(re.findall(r"""t\(["']([\w.]+)["']\)""", (templates / name).read_text("utf-8")))
    used |= {f"status.{s}" for s in ("verified", "unverified", "rejected")}
    for key in used | set(public_words.WORDS):
        words = public_words.WORDS.get(key)
        assert words and words.get("sr") and words.get("en"), key


def test_serve_runs_several_workers_over_one_postgresql(tmp_path: Path, pg_url: str) -> None:
    db = public_db(tmp_path, pg_url, town=False)
    pids: list[int] = []
    with serving(db.config, workers=2, pids=pids) as base:
        for _ in range(6):
            with urllib.request.urlopen(f"{base}/api/sites?bbox={BOX}", timeout=10) as answer:
                assert sorted(s["id"] for s in json.load(answer)["sites"]) == sorted(db.verified)
        children = Path(f"/proc/{pids[0]}/task/{pids[0]}/children").read_text().split()
        assert len(children) >= 2  # uvicorn's workers, each with its own app from the same settings


def test_without_a_gazetteer_the_map_still_works(tmp_path: Path, sqlite_url: str) -> None:
    web = client(public_db(tmp_path, sqlite_url, town=False).config)
    assert web.get("/api/basemap?bbox=20.4,44.8,20.5,44.9").json()["features"] == []
    assert web.get("/api/search?q=Dečanska").json() == {"places": []}
    assert web.get("/stats").status_code == 200 and web.get("/").status_code == 200
