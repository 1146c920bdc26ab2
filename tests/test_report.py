"""`hiljade report`: the numbers (equal to what `hiljade reconcile` stored and printed), the HTML
that loads nothing from anywhere (checked in the real browser when there is one), and Markdown."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hiljade.config import load_config
from hiljade.export.report import section_words
from hiljade.models.places import replace_gazetteer
from hiljade.models.posts import save_post
from hiljade.models.reconcile import save_osm_nodes
from hiljade.models.schema import Post, Sighting, Site
from hiljade.models.schema_reconcile import OfficialList, OfficialRow
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.reconcile import Comparison, stored_reconciliation
from hiljade.services.report import build_report
from hiljade.services.store import author_policy, open_store
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.gazetteer import town_gazetteer

T0 = dt.datetime(2024, 5, 6, 12, tzinfo=dt.UTC)  # a Monday
NOW = dt.datetime(2024, 6, 3, 12, tzinfo=dt.UTC)
LIST = "Policija <script>alert(1)</script> $2^{24}$"  # markup and mathtext stay plain text
# verified sites: two in Stari grad, one in Rakovica, one in no named area; one unverified, one rejected
SITES = [
    ((44.8150, 20.4620), "verified", 3, T0),
    ((44.8165, 20.4610), "verified", 1, T0 + dt.timedelta(days=1)),
    ((44.8000, 20.4000), "verified", 2, T0 + dt.timedelta(days=15)),
    ((44.8300, 20.4300), "verified", 1, T0 + dt.timedelta(days=15)),
    ((44.8120, 20.4600), "unverified", 1, None),
    ((44.8130, 20.4640), "rejected", 1, None),
]
# official rows: (lat, lon, status): near the first site, near the Rakovica one, one the citizens
# did not find, one street only and one not placed
OFFICIAL = [
    (44.81505, 20.46205, "placed"),
    (44.80010, 20.40010, "placed"),
    (44.81700, 20.46600, "placed"),
    (None, None, "street_only"),
    (None, None, "not_placed"),
]
METHODS = ["exif", "intersection", "intersection", "manual"]


def _post(n: int) -> PostRecord:
    return PostRecord(
        platform="mastodon", server="https://a.example", native_id=str(n),
        uri=f"https://a.example/users/mila/statuses/{n}", url=f"https://a.example/@mila/{n}",
        created_at=T0 + dt.timedelta(days=n), text=f"Kamera {n}",
        author=AuthorRecord("mastodon", "https://a.example/users/mila"), fetched_from="test",
    )


def _site(lat: float, lon: float, status: str, reports: int, verified_at: dt.datetime | None
          ) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "status": status, "reports": reports, "independent_reports": reports,
            "first_seen": T0, "last_seen": T0, "created_at": T0, "updated_at": T0, "verified_at": verified_at}


def _sighting(post_id: int, site_id: int, method: str, status: str = "confirmed") -> dict[str, Any]:
    return {"post_id": post_id, "chosen": True, "method": method, "lat": 44.815, "lon": 20.462,
            "precision_m": 15.0, "confidence": 0.9, "status": status, "matched": "x", "span_start": None,
            "span_end": None, "source": method, "evidence": {}, "pipeline_version": "1", "created_at": T0,
            "site_id": site_id}


def campaign(tmp_path: Path, db_url: str) -> Path:
    """A store with posts, sightings, sites of every status, the town's gazetteer, an official list
    and one OSM node; returns the config file."""
    config = write_config(tmp_path, db_url, [])
    assert invoke(["init"], config=config).exit_code == 0
    cfg = load_config(config)
    store = open_store(cfg)
    with store.transaction() as conn:
        for n in range(5):
            save_post(conn, _post(n), author_policy(cfg), T0)
        post_ids = list(conn.execute(select(Post.id).order_by(Post.id)).scalars())
        conn.execute(Post.__table__.update().where(Post.id == post_ids[4]).values(deleted_at=T0))
        s = Site.__table__
        site_ids = [conn.execute(s.insert().values(**_site(*p, st, r, v)).returning(s.c.id)).scalar_one()
                    for p, st, r, v in SITES]
        rows = [_sighting(post_ids[i], site_ids[i], m) for i, m in enumerate(METHODS)]
        rows.append(_sighting(post_ids[4], site_ids[0], "street"))  # a deleted post: not counted
        conn.execute(Sighting.__table__.insert(), rows)
        replace_gazetteer(conn, town_gazetteer(str(tmp_path / "town")).to_rows(), [], T0)
        list_id = conn.execute(OfficialList.__table__.insert().values(
            name=LIST, source="MUP", file_name="list.csv", sha256="0" * 64, imported_at=T0, counts={},
        ).returning(OfficialList.id)).scalar_one()
        conn.execute(OfficialRow.__table__.insert(), [
            {"list_id": list_id, "line": i + 2, "original": f"row {i}", "address": None, "lat": lat,
             "lon": lon, "method": "coordinates" if lat else None, "precision_m": 5.0 if lat else None,
             "status": status, "reason": None if lat else "no such street"}
            for i, (lat, lon, status) in enumerate(OFFICIAL)
        ])
        save_osm_nodes(conn, [{"osm_type": "node", "osm_id": 7, "lat": 44.81652, "lon": 20.46102,
                               "tags": {"man_made": "surveillance"}}], T0)
    store.close()
    return config


def _reconcile(config: Path, target: str) -> str:
    result = invoke(["reconcile", "--with", target], config=config)
    assert result.exit_code == 0, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_numbers_equal_reconcile(tmp_path: Path, db_url: str) -> None:
    config = campaign(tmp_path, db_url)
    official_line = _reconcile(config, f"official:{LIST}")
    osm_line = _reconcile(config, "osm")
    cfg = load_config(config)
    store = open_store(cfg)
    report = build_report(cfg, store, now=NOW)
    assert dict(report.totals) == {
        "posts": 4, "located posts": 4, "camera sites (not rejected)": 5, "verified sites": 4,
        "independent reports on verified sites": 7,
    }
    assert dict(report.methods) == {"intersections": 2, "photo EXIF": 1, "reviewers": 1}
    assert sum(n for _, n in report.weeks) == 4
    assert report.weeks[0] == (T0.date(), 2) and report.weeks[-1][0] == dt.date(2024, 6, 3)
    assert dict(report.areas) == {"Stari grad": 2, "Rakovica": 1, "": 1}
    official, osm = report.reconciliations
    for section, line, comparison in ((official, official_line, Comparison("official", LIST)),
                                      (osm, osm_line, Comparison("osm"))):
        stored: Any = stored_reconciliation(store, comparison)
        counts = stored["counts"]
        assert (section.sites, section.others, section.both, section.only_citizens, section.only_other,
                section.not_placed) == tuple(counts[k] for k in
                                             ("sites", "others", "both", "only_citizens", "only_other",
                                              "not_placed"))
        named = {a.area: {"both": a.both, "only_citizens": a.only_citizens, "only_other": a.only_other}
                 for a in section.areas if a.area}
        assert named == counts["areas"]
        # the report says what reconcile printed, word for word
        assert line.removeprefix("reconcile: ") in section_words(section)
    assert (official.both, official.only_citizens, official.only_other, official.not_placed) == (2, 2, 1, 2)
    assert {(a.area, a.both, a.only_citizens, a.only_other) for a in official.areas} == {
        ("Stari grad", 1, 1, 1), ("Rakovica", 1, 0, 0), ("", 0, 1, 0)}
    assert len(official.points) == 5 and (osm.both, osm.only_citizens, osm.only_other) == (1, 3, 0)
    store.close()


# an attribute or CSS url() that names anything but a data: URI or a fragment of the page itself
RESOURCE = re.compile(
    r"""(?:src|href|action|poster|data)\s*=\s*["']?(?!data:|#)[a-z]+:|url\(\s*["']?(?!data:|#)""", re.I
)


def test_html_is_self_contained(tmp_path: Path, sqlite_url: str) -> None:
    config = campaign(tmp_path, sqlite_url)
    line = _reconcile(config, f"official:{LIST}")
    out = tmp_path / "report.html"
    result = invoke(["report", "-o", str(out)], config=config)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"report: 4 posts, 4 verified sites, 1 comparison as html to {out}"
    )
    page = out.read_text("utf-8")
    assert "http://" not in page and "https://" not in page  # not even an SVG namespace
    assert not RESOURCE.search(page) and "<script" not in page and "@import" not in page
    assert page.count("<svg") == 4  # weeks, areas, the comparison's map, methods
    assert "Policija &lt;script&gt;alert(1)&lt;/script&gt; $2^{24}$" in page
    assert line.removeprefix("reconcile: ") in page
    assert "<td>Stari grad</td><td>1</td><td>1</td><td>1</td>" in page


def test_markdown(tmp_path: Path, sqlite_url: str) -> None:
    config = campaign(tmp_path, sqlite_url)
    _reconcile(config, "osm")
    result = invoke(["report", "--format", "md"], config=config)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("# Camera sites reported by citizens")
    assert text.count("](data:image/png;base64,") == 4
    assert "| Stari grad | 2 |" in text and "| photo EXIF | 1 |" in text
    assert "### Compared with OpenStreetMap" in text
    assert "http://" not in text and "https://" not in text


def test_empty_store(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url, [])
    assert invoke(["init"], config=config).exit_code == 0
    result = invoke(["report"], config=config)
    assert result.exit_code == 0, result.stderr
    assert "No site has been verified yet." in result.stdout
    assert "No comparison has been stored yet" in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last == "report: 0 posts, 0 verified sites, 0 comparisons as html to stdout"


CHROMIUM = Path("/usr/bin/chromium")


def test_opens_offline_in_the_browser(tmp_path: Path, sqlite_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("no Chromium at /usr/bin/chromium")
    config = campaign(tmp_path, sqlite_url)
    _reconcile(config, f"official:{LIST}")
    out = tmp_path / "report.html"
    assert invoke(["report", "-o", str(out)], config=config).exit_code == 0
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(out.as_uri())
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == "Camera sites reported by citizens"
        assert page.locator("svg").count() == 4
        assert page.locator("figure svg").first.bounding_box()["width"] > 100
        browser.close()
    assert requests and all(url.startswith(("file://", "data:")) for url in requests), requests
