"""The reviewers' desk on SQLite and on the real PostgreSQL, through Starlette's test client: login
and roles, CSRF refusal, strangers' text escaped, decisions through the review services reaching the
audit log with the reviewer's name, bad input refused with nothing changed, agreement of several
reviewers (also in `hiljade review show`), and publishable photos re-encoded without metadata."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from starlette.testclient import TestClient

from hiljade.config import load_config
from hiljade.models.schema import Sighting
from hiljade.services.photos import published_photos
from hiljade.web.app import create_app
from hiljade.web.desk import highlighted
from tests.support.cli import invoke
from tests.support.desk import BREAKOUT, ENV, SCRIPT, Desk, csrf, login, make_desk, photo_server
from tests.support.http import LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with photo_server() as running:
        yield running


@pytest.fixture
def desk(tmp_path: Path, db_url: str, server: LocalServer) -> Iterator[Desk]:
    found = make_desk(tmp_path, db_url, server)
    yield found
    found.store.close()


def test_desk_needs_a_login(desk: Desk) -> None:
    client = desk.client()
    before = desk.counts()
    for path in ("/review", f"/review/{desk.pending[0]}", f"/review/photos/{desk.media}"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    answer = client.post(f"/review/{desk.pending[0]}/accept", data={"csrf": "x"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert client.get(f"/photos/{desk.media}").status_code == 404  # not publishable
    assert desk.counts() == before


def test_queue_and_review_page_escape_strangers_text(desk: Desk) -> None:
    client = desk.client()
    login(client, "ana")
    queue = client.get("/review")
    assert queue.status_code == 200
    assert "2 " in queue.text and f'href="/review/{desk.pending[0]}"' in queue.text
    only = client.get("/review", params={"method": "street"})
    assert f'href="/review/{desk.pending[0]}"' not in only.text
    page = client.get(f"/review/{desk.pending[0]}")
    assert page.status_code == 200
    for hostile in (SCRIPT, BREAKOUT, "<img src=x"):
        assert hostile not in page.text and hostile not in queue.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<mark>Dečanskoj</mark>" in page.text
    assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", page.text))  # no inline script
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert f'src="/review/photos/{desk.media}"' in page.text
    assert "would join this site" in page.text or "pridružila bi se" in page.text
    assert client.get("/review/999999").status_code == 404
    photo = client.get(f"/review/photos/{desk.media}")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(photo.content)).getexif()


def test_csrf_and_bad_input_change_nothing(desk: Desk) -> None:
    client = desk.client()
    login(client, "ana")
    first = desk.pending[0]
    before = desk.counts()
    assert client.post(f"/review/{first}/accept", data={}).status_code == 403
    assert client.post(f"/review/{first}/accept", data={"csrf": "wrong"}).status_code == 403
    token = csrf(client, f"/review/{first}")
    bad = [
        (f"/review/{first}/reject", {"reason": ""}),
        (f"/review/{first}/move", {"lat": "north", "lon": "20.46"}),
        (f"/review/{first}/move", {"lat": "nan", "lon": "20.46"}),
        (f"/review/{first}/move", {"lat": "95", "lon": "20.46"}),
        ("/review/999999/accept", {}),
        (f"/review/sites/{desk.site}/merge", {"other": "x"}),
        (f"/review/sites/{desk.site}/merge", {"other": str(desk.site)}),
        (f"/review/sites/{desk.site}/split", {"sightings": "1; DROP TABLE"}),
        (f"/review/photos/{desk.media}/publish", {"publishable": "yes"}),
    ]
    for path, data in bad:
        answer = client.post(path, data={**data, "csrf": token}, follow_redirects=False)
        assert 400 <= answer.status_code < 500, (path, data, answer.status_code)
        assert SCRIPT not in answer.text
    assert desk.counts() == before
    assert desk.sighting(first).status == "pending_review"


def test_decisions_reach_the_audit_log_with_the_reviewers_name(desk: Desk) -> None:
    client = desk.client()
    login(client, "ana")
    first, second = desk.pending
    token = csrf(client, f"/review/{first}")
    answer = client.post(f"/review/{first}/accept", data={"csrf": token, "back": "/review"},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/review"
    got = desk.sighting(first)
    assert (got.status, got.reviewed_by) == ("confirmed", "ana") and got.site_id == desk.site
    assert "confirmed" in client.get("/review").text  # the flash message
    assert client.post(f"/review/{second}/reject", data={"csrf": token, "reason": BREAKOUT},
                       follow_redirects=False).status_code == 303
    assert desk.sighting(second).status == "rejected"
    page = client.get(f"/review/{second}")
    assert BREAKOUT not in page.text and "&#34;&gt;&lt;img" in page.text  # the reason in the history
    assert client.post(f"/review/{second}/move", data={"csrf": token, "lat": "44.8152", "lon": "20,4622"},
                       follow_redirects=False).status_code == 303
    log = [(r.action, r.target, r.target_id, r.reviewer) for r in desk.log()]
    assert ("accept", "sighting", first, "ana") in log
    assert ("reject", "sighting", second, "ana") in log
    assert ("move", "sighting", second, "ana") in log
    with desk.store.connect() as conn:
        manual = conn.execute(select(Sighting.__table__).where(Sighting.method == "manual")).one()
    assert (manual.lat, manual.lon, manual.reviewed_by) == (44.8152, 20.4622, "ana")


def test_agreement_of_two_reviewers(tmp_path: Path, db_url: str, server: LocalServer) -> None:
    desk = make_desk(tmp_path, db_url, server, review__required_agreements=2)
    try:
        first = desk.pending[0]
        ana, boss = desk.client(), desk.client()
        login(ana, "ana")
        login(boss, "boss")
        token = csrf(ana, f"/review/{first}")
        for _ in range(2):  # one reviewer twice counts once
            assert ana.post(f"/review/{first}/accept", data={"csrf": token},
                            follow_redirects=False).status_code == 303
        assert desk.sighting(first).status == "pending_review"
        assert "1 of 2 reviewers agree" in ana.get(f"/review/{first}").text
        boss_token = csrf(boss, f"/review/{first}")
        boss.post(f"/review/{first}/reject", data={"csrf": boss_token, "reason": "not a camera"})
        assert desk.sighting(first).status == "pending_review"
        assert "Reviewers disagree" in boss.get(f"/review/{first}", params={"lang": "en"}).text
        shown = invoke(["review", "show", str(first)], config=desk.config)
        assert "reviewers disagree (accept: ana; reject: boss)" in shown.stdout
        # the CLI goes through the same agreement: boss changes his mind, now two agree
        answer = invoke(["review", "accept", str(first), "--reviewer", "boss"], config=desk.config)
        assert answer.exit_code == 0 and "agreed by ana and boss" in answer.stderr
        got = desk.sighting(first)
        assert got.status == "confirmed" and got.reviewed_by == "boss"
        accept = [r for r in desk.log() if r.action == "accept"][0]
        assert accept.reason == "agreed by ana and boss"
        assert [r.reviewer for r in desk.log() if r.action == "vote"] == ["ana", "ana", "boss", "boss"]
    finally:
        desk.store.close()


def test_photo_published_only_when_marked_and_without_metadata(desk: Desk) -> None:
    client = desk.client()
    login(client, "ana")
    first = desk.pending[0]
    token = csrf(client, f"/review/{first}")
    client.post(f"/review/{first}/accept", data={"csrf": token})
    assert published_photos(desk.store, desk.site) == []
    answer = client.post(f"/review/photos/{desk.media}/publish",
                         data={"csrf": token, "publishable": "1", "back": f"/review/{first}"},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/review/{first}"
    photos = published_photos(desk.store, desk.site)
    assert [(p.media_id, p.url) for p in photos] == [(desk.media, f"/photos/{desk.media}")]
    public = TestClient(create_app(load_config(desk.config), environ=ENV)).get(f"/photos/{desk.media}")
    assert public.status_code == 200 and public.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(public.content))
    assert not image.getexif() and "exif" not in image.info
    assert ("publish", "media", desk.media, "ana") in [(r.action, r.target, r.target_id, r.reviewer)
                                                        for r in desk.log()]
    client.post(f"/review/photos/{desk.media}/publish", data={"csrf": token, "publishable": "0"})
    assert published_photos(desk.store, desk.site) == []
    assert client.get(f"/photos/{desk.media}").status_code == 404


def test_highlighted_marks_spans_and_matched_words() -> None:
    text = "Kamera na uglu Takovske i Dečanske"
    pieces = highlighted(text, [
        {"span_start": 15, "span_end": 23, "matched": "Takovske"},
        {"span_start": 18, "span_end": 99, "matched": "dečanske"},  # a span outside the text: its words
        {"span_start": None, "span_end": None, "matched": ""},
    ])
    assert "".join(p for p, _ in pieces) == text
    assert [p for p, marked in pieces if marked] == ["Takovske", "Dečanske"]
