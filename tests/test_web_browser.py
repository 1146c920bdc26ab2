"""The public map in a real browser: Debian's Chromium, driven by Playwright, against `hiljade serve`
started on 127.0.0.1. The map loads with the sites clustered over hiljade's own basemap, a marker's
popup, the place search, a site page, the language switch, and no request to any other host."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.support.browser import Recorded, browser, missing, recording_page, serving
from tests.support.web import PublicDb, public_db

pytestmark = pytest.mark.skipif(bool(missing()), reason=missing() or "browser present")
EXTRA = 200


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PublicDb, str]]:
    folder = tmp_path_factory.mktemp("browser")
    db = public_db(folder, f"sqlite:///{folder / 'hiljade.db'}", extra_sites=EXTRA,
                   web__center=[44.815, 20.44, 13])
    with serving(db.config) as base:
        yield db, base


@pytest.fixture
def page(site: tuple[PublicDb, str]) -> Iterator[Recorded]:
    with browser() as chromium, recording_page(chromium, site[1]) as recorded:
        yield recorded


def test_public_map_clusters_sites_over_its_own_basemap(page: Recorded) -> None:
    page.page.goto(page.base + "/?lang=sr")
    page.page.wait_for_selector("#map[data-sites]", timeout=15000)
    assert page.page.get_attribute("#map", "data-sites") == str(3 + EXTRA)
    page.page.wait_for_selector(".marker-cluster", timeout=10000)
    clusters = page.page.locator(".marker-cluster").count()
    markers = page.page.locator(".site-marker").count()
    assert clusters >= 1 and clusters + markers < 3 + EXTRA  # clustered, not one marker each
    page.page.wait_for_selector("#map[data-basemap]", timeout=10000)
    assert int(page.page.get_attribute("#map", "data-basemap")) > 0
    assert page.page.locator("path.bm-area").count() >= 1
    page.shot("public-map")
    assert page.foreign_hosts() == set(), page.foreign_hosts()
    assert not [e for e in page.errors if "Content Security Policy" in e], page.errors
    assert page.dialogs == []


def test_street_view_popup_search_and_site_page(page: Recorded, site: tuple[PublicDb, str]) -> None:
    db = site[0]
    page.page.goto(page.base + "/?lang=en")
    page.page.wait_for_selector("#map[data-sites]", timeout=15000)
    page.page.fill("#search", "Dečanska 5")
    page.page.click("#tools button[type=submit]")
    for _ in range(100):  # wait_for_function would evaluate a string: the CSP forbids that, rightly
        if page.page.evaluate("window.hiljadeMap.map.getZoom()") == 17:
            break
        page.page.wait_for_timeout(100)
    assert page.page.evaluate("window.hiljadeMap.map.getZoom()") == 17
    # the street lines at street level, and the camera's direction
    page.page.wait_for_selector("path.bm-street", state="attached", timeout=10000)
    page.page.wait_for_selector("path.wedge", state="attached", timeout=10000)
    page.page.evaluate("window.hiljadeMap.map.setView([44.8150, 20.4650], 19)")
    page.page.wait_for_selector(".site-marker", timeout=10000)
    page.page.locator(".site-marker").first.click()
    popup = page.page.wait_for_selector(".leaflet-popup-content", timeout=10000)
    assert "Independent reports" in popup.inner_text()
    page.shot("street-view-popup")
    assert page.dialogs == []  # the hostile camera model stayed text
    page.page.goto(f"{page.base}/sites/{db.verified[0]}")
    page.page.wait_for_selector("#site-map .site-marker", timeout=10000)
    assert "IPC6625-Z30" in page.page.inner_text("dl.facts")
    page.shot("site-page")
    assert page.foreign_hosts() == set(), page.foreign_hosts()
    assert page.errors == [], page.errors


def test_language_switch(page: Recorded) -> None:
    page.page.set_extra_http_headers({"accept-language": "sr-RS,sr;q=0.9"})
    page.page.goto(page.base + "/stats")
    assert page.page.inner_text("h1") == "Statistika"
    page.page.click("#lang-switch")
    page.page.wait_for_load_state()
    assert page.page.inner_text("h1") == "Statistics"
    assert page.page.get_attribute("html", "lang") == "en"
    page.page.click("header nav a[href='/']")
    page.page.wait_for_selector("#map[data-sites]", timeout=15000)
    assert re.search(r"\bMap\b", page.page.inner_text("header nav"))
    page.shot("map-english")
    assert page.foreign_hosts() == set(), page.foreign_hosts()


def test_a_full_city_comes_as_grid_clusters_that_zoom_in(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("grid")
    db = public_db(folder, f"sqlite:///{folder / 'hiljade.db'}", extra_sites=EXTRA,
                   web__center=[44.815, 20.44, 13], web__public__max_sites=50)
    with serving(db.config) as base, browser() as chromium, recording_page(chromium, base) as page:
        page.page.goto(base + "/?lang=en")
        page.page.wait_for_selector("#map[data-sites]", timeout=15000)
        assert page.page.get_attribute("#map", "data-sites") == str(3 + EXTRA)  # every site, none cut
        assert page.page.locator(".site-marker").count() == 0
        counts = [int(n) for n in page.page.locator(".marker-cluster span").all_inner_texts()]
        assert sum(counts) == 3 + EXTRA and 1 < len(counts) < 3 + EXTRA
        page.shot("grid-clusters")
        page.page.locator(".marker-cluster").first.click()
        for _ in range(100):
            if page.page.evaluate("window.hiljadeMap.map.getZoom()") > 13:
                break
            page.page.wait_for_timeout(100)
        assert page.page.evaluate("window.hiljadeMap.map.getZoom()") > 13
        assert page.foreign_hosts() == set(), page.foreign_hosts()
        assert page.errors == [], page.errors
