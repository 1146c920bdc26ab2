"""A store for the reviewers' desk tests: two pending sightings whose post text is hostile, a verified
site near the first, a downloaded photo served by a local server; two accounts; login helpers."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from hiljade.config import load_config
from hiljade.models.posts import save_post
from hiljade.models.schema import Media, Post, ReviewLog, Sighting, Site
from hiljade.models.store import Store
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.accounts import add
from hiljade.services.store import author_policy, open_store
from hiljade.web.app import create_app
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.http import LocalServer, QuietHandler
from tests.support.photos import jpeg_with_gps

PASSWORD = "correct horse battery"
ENV = {"HILJADE_WEB_SECRET": "s" * 40}
T0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
TEXTS = (
    f"Kamera u Dečanskoj {SCRIPT} pa {BREAKOUT} #hiljadekamera",
    "Druga kamera kod Slavije",
)


@dataclass
class Desk:
    """The desk's config and store, and the ids the tests act on."""

    config: Path
    store: Store
    pending: list[int]  # the pending sightings, one per post
    site: int  # a verified site near the first sighting
    media: int  # a downloaded photo of the first post

    def client(self) -> TestClient:
        return TestClient(create_app(load_config(self.config), environ=ENV))

    def sighting(self, sighting_id: int) -> Any:
        with self.store.connect() as conn:
            return conn.execute(select(Sighting.__table__).where(Sighting.id == sighting_id)).one()

    def log(self) -> list[Any]:
        with self.store.connect() as conn:
            return conn.execute(select(ReviewLog.__table__).order_by(ReviewLog.id)).all()

    def counts(self) -> tuple[int, int, int]:
        with self.store.connect() as conn:
            return tuple(  # type: ignore[return-value]
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (Sighting.__table__, Site.__table__, ReviewLog.__table__)
            )


class PhotoHandler(QuietHandler):
    """Serves the server's ``photo`` bytes as a JPEG on every path."""

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        data = self.server.photo  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_desk(tmp_path: Path, db_url: str, server: LocalServer, **settings: Any) -> Desk:
    """The desk's store (``settings`` as for ``write_config``); the photo's address is on ``server``."""
    hosts = [f"127.0.0.1:{server.port}"]
    config = write_config(tmp_path, db_url, [], web__dev=True, media__allow_hosts=hosts, **settings)
    assert invoke(["init"], config=config).exit_code == 0
    cfg = load_config(config)
    store = open_store(cfg)
    add(store, "ana", "reviewer", PASSWORD)
    add(store, "boss", "admin", PASSWORD)
    with store.transaction() as conn:
        for n, text in enumerate(TEXTS):
            record = PostRecord(
                platform="mastodon", server="https://a.example", native_id=str(n),
                uri=f"https://a.example/s/{n}", url=f"https://a.example/@mila/{n}",
                created_at=T0 + dt.timedelta(hours=n), text=text,
                author=AuthorRecord("mastodon", "https://a.example/users/mila"), fetched_from="test",
            )
            save_post(conn, record, author_policy(cfg), T0)
        posts = list(conn.execute(select(Post.id).order_by(Post.id)).scalars())
        site = conn.execute(Site.__table__.insert().values(
            lat=44.8150, lon=20.4620, status="verified", reports=1, independent_reports=1, created_at=T0,
            updated_at=T0).returning(Site.id)).scalar_one()
        pending = []
        for post_id, (lat, lon, matched) in zip(posts, [(44.8151, 20.4621, "Dečanskoj"),
                                                         (44.8030, 20.4670, "Slavije")], strict=True):
            start = TEXTS[len(pending)].index(matched)
            pending.append(conn.execute(Sighting.__table__.insert().values(
                post_id=post_id, chosen=True, method="address", lat=lat, lon=lon, precision_m=30.0,
                confidence=0.6, status="pending_review", matched=matched, span_start=start,
                span_end=start + len(matched), source="address:1", evidence={"street": matched},
                pipeline_version="1", created_at=T0).returning(Sighting.id)).scalar_one())
        media = conn.execute(Media.__table__.insert().values(
            post_id=posts[0], position=0, type="image", url=f"{server.url}/photo.jpg", alt_text=BREAKOUT,
            sha256="0" * 64, downloaded_at=T0).returning(Media.id)).scalar_one()
    return Desk(config, store, pending, site, media)


def login(client: TestClient, name: str) -> None:
    """Log ``name`` in through the login form."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


def csrf(client: TestClient, page: str) -> str:
    """The CSRF token in the forms of ``page``."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(page).text)
    assert found, page
    return found.group(1)


def photo_server() -> LocalServer:
    """A local server of a photo whose EXIF holds a GPS position (not started)."""
    return LocalServer(PhotoHandler, photo=jpeg_with_gps(44.8151, 20.4621, direction=90.0))
