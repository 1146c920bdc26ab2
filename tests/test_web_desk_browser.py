"""The reviewers' desk in a real browser (Debian's Chromium through Playwright) against `hiljade serve`:
log in, accept a pending sighting with the keyboard, drag the point to move another, see the
accepted site on the public map; no stranger's script runs, no CSP violation, no request to any
host but hiljade's own and its photo source. Screenshots are kept as test artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hiljade.models.schema import Sighting
from tests.support.browser import browser, missing, recording_page, serving
from tests.support.desk import PASSWORD, Desk, make_desk, photo_server
from tests.support.http import LocalServer

pytestmark = pytest.mark.skipif(bool(missing()), reason=missing() or "browser available")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with photo_server() as running:
        yield running


@pytest.fixture
def desk(tmp_path: Path, sqlite_url: str, server: LocalServer) -> Iterator[Desk]:
    found = make_desk(tmp_path, sqlite_url, server)
    yield found
    found.store.close()


def test_review_in_a_real_browser(desk: Desk, server: LocalServer) -> None:
    first, second = desk.pending
    with serving(desk.config) as base, browser() as chromium, recording_page(chromium, base) as rec:
        page = rec.page
        page.goto(f"{base}/review?lang=en")
        assert "/login" in page.url
        page.fill("input[name=name]", "ana")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url(f"{base}/review*")
        rec.shot("desk-queue")
        page.click(f"a[href='/review/{first}']")
        page.wait_for_selector("#desk-map[data-ready='1']")
        page.wait_for_selector(f"img[src='/review/photos/{desk.media}']")
        rec.shot("desk-review")
        assert "<script>alert(1)</script>" in page.inner_text(".post-text")  # shown as text, not run

        page.keyboard.press("a")  # accept
        page.wait_for_selector(".flash")
        assert "confirmed" in page.inner_text(".flash")
        assert desk.sighting(first).status == "confirmed"

        page.goto(f"{base}/review/{second}")
        page.wait_for_selector("#desk-map[data-ready='1']")
        before = page.input_value("#move-lat"), page.input_value("#move-lon")
        box = page.locator("#desk-point").bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 40, y - 30, steps=8)
        page.mouse.up()
        after = page.input_value("#move-lat"), page.input_value("#move-lon")
        assert after != before and float(after[0]) > float(before[0]) and float(after[1]) > float(before[1])
        rec.shot("desk-move")
        page.click("#form-move button[type=submit]")
        page.wait_for_selector(".flash")
        with desk.store.connect() as conn:
            manual = conn.execute(select(Sighting.__table__).where(Sighting.method == "manual")).one()
        assert (round(manual.lat, 6), round(manual.lon, 6)) == (float(after[0]), float(after[1]))
        assert manual.reviewed_by == "ana"

        page.goto(f"{base}/?lang=en")
        page.wait_for_load_state("networkidle")
        rec.shot("desk-public-map")
        assert rec.dialogs == []
        assert not [e for e in rec.errors if "Content Security Policy" in e or "Refused" in e], rec.errors
        assert rec.foreign_hosts() == set()
