"""The campaign report as a web page (`/report`) on SQLite and PostgreSQL: only for logged-in reviewers
unless `web.public.report` is set, the same numbers as `hiljade report`, nothing from another host,
nothing inline the app's policy forbids, and no person named."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from hiljade.config import load_config
from hiljade.services.accounts import add
from hiljade.services.store import open_store
from tests.support.browser import browser, missing, recording_page, serving
from tests.support.cli import cli
from tests.support.desk import PASSWORD, login
from tests.support.web import HANDLE, REVIEWER, TEXT, PublicDb, client, public_db

# one OSM surveillance node next to the first verified site, one the citizens did not find
OVERPASS = {"elements": [
    {"type": "node", "id": 101, "lat": 44.81502, "lon": 20.46202, "tags": {"man_made": "surveillance"}},
    {"type": "node", "id": 102, "lat": 44.81800, "lon": 20.46800, "tags": {"man_made": "surveillance"}},
]}


def report_db(tmp_path: Path, db_url: str, **settings: object) -> PublicDb:
    """The web tests' store with a reviewer account and a stored reconciliation with OpenStreetMap."""
    db = public_db(tmp_path, db_url, **settings)
    store = open_store(load_config(db.config))
    add(store, "ana", "reviewer", PASSWORD)
    store.close()
    nodes = tmp_path / "surveillance.json"
    nodes.write_text(json.dumps(OVERPASS), encoding="utf-8")
    for args in (("osm", "surveillance", "import", str(nodes)), ("reconcile", "--with", "osm")):
        code, _, err = cli(db.config, *args)
        assert code == 0, err
    return db


def tables(html: str) -> list[list[list[str]]]:
    """Every table of the page: rows of cell texts."""
    return [[re.findall(r"<t[dh]>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]
            for table in re.findall(r"<table>(.*?)</table>", html, re.S)]


def test_anonymous_is_sent_to_login_when_the_report_is_not_public(tmp_path: Path, db_url: str) -> None:
    web = client(report_db(tmp_path, db_url).config)
    answer = web.get("/report", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Freport"
    assert 'href="/report"' not in web.get("/").text  # no link for the public


def test_anonymous_reads_the_report_when_it_is_public(tmp_path: Path, db_url: str) -> None:
    web = client(report_db(tmp_path, db_url, web__public__report=True).config)
    page = web.get("/report", follow_redirects=False)
    assert page.status_code == 200 and "Camera sites reported by citizens" in page.text
    assert 'href="/report"' in web.get("/").text


def test_reviewer_sees_the_numbers_of_hiljade_report(tmp_path: Path, db_url: str) -> None:
    db = report_db(tmp_path, db_url)
    web = client(db.config)
    login(web, "ana")
    page = web.get("/report")
    assert page.status_code == 200
    assert 'href="/report"' in page.text and 'href="/static/report.css"' in page.text
    assert web.get("/static/report.css").status_code == 200
    target = tmp_path / "report.html"
    code, _, err = cli(db.config, "report", "-o", str(target))
    assert code == 0, err
    written = tables(target.read_text(encoding="utf-8"))
    shown = tables(page.text)
    assert shown == written and len(shown) >= 4
    assert ["verified sites", "3"] in shown[0]
    assert any(row[1:] == ["1", "2", "1"] for table in shown for row in table if len(row) == 4), shown


def test_page_keeps_the_policy_and_names_no_one(tmp_path: Path, db_url: str) -> None:
    db = report_db(tmp_path, db_url, web__public__report=True)
    web = client(db.config)
    answer = web.get("/report")
    html = answer.text
    assert "script-src 'self'; style-src 'self';" in answer.headers["content-security-policy"]
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "http://" not in html
    assert "https://" not in html
    assert "<script" not in html and "<style" not in html and "style=" not in html and "<svg" not in html
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(images) >= 3
    for data in images:
        svg = base64.b64decode(data).decode("utf-8")
        assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
        assert not re.search(r"(href|src)=\"(https?:)?//", svg)
    for value in [REVIEWER, HANDLE, "a.example", TEXT[:20], *(p["text"][:30] for p in db.posts)]:
        assert value not in html, value
    for value in [p.get("author_pseudonym") for p in db.posts]:
        assert not value or value not in html


@pytest.mark.parametrize("lang", ["sr", "en"])
def test_report_link_and_words_in_both_languages(tmp_path: Path, db_url: str, lang: str) -> None:
    db = report_db(tmp_path, db_url, web__public__report=True)
    page = client(db.config).get("/report", params={"lang": lang})
    assert page.status_code == 200
    assert ("Izveštaj" if lang == "sr" else "Report") in page.text


@pytest.mark.skipif(bool(missing()), reason=missing() or "browser present")
def test_report_page_in_a_real_browser(tmp_path: Path, sqlite_url: str) -> None:
    db = report_db(tmp_path, sqlite_url, web__public__report=True)
    with serving(db.config) as base, browser() as chromium, recording_page(chromium, base) as page:
        page.page.goto(base + "/report?lang=en")
        page.page.wait_for_selector(".report figure img")
        widths = [img.evaluate("i => i.complete && i.naturalWidth") for img in
                  page.page.locator(".report figure img").all()]
        assert len(widths) >= 3 and all(w and w > 0 for w in widths), widths  # every chart drawn
        aligned = page.page.locator(".report td:nth-child(2)").first.evaluate(
            "c => getComputedStyle(c).textAlign")
        assert aligned == "right"  # the report's styles came from /static/report.css
        page.shot("report")
        assert page.foreign_hosts() == set(), page.foreign_hosts()
        assert not [e for e in page.errors if "Content Security Policy" in e], page.errors
