"""A store for the web tests: posts, sightings and sites of every status, the town's gazetteer; and
the app over it with Starlette's test client."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from hiljade.config import load_config
from hiljade.models.places import replace_gazetteer
from hiljade.models.posts import save_post
from hiljade.models.schema import Post, Sighting, Site
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.store import author_policy, open_store
from hiljade.web.app import create_app
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.gazetteer import town_gazetteer

T0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
SECRET = "a-test-session-key-that-is-long-enough-0123456789"
REVIEWER = "Ana Reviewerka"
HANDLE = "mila@a.example"
TEXT = "Kamera na uglu Dečanske i Makedonske <script>alert(1)</script>"
HOSTILE_MODEL = '"><img src=x onerror=alert(1)><script>alert(1)</script>'


@dataclass
class PublicDb:
    config: Path
    verified: list[int]
    unverified: int
    rejected: int
    posts: list[dict[str, Any]]


def _post(n: int, day: int, platform: str = "mastodon") -> PostRecord:
    return PostRecord(
        platform=platform, server="https://a.example", native_id=str(n),
        uri=f"https://a.example/users/mila/statuses/{n}", url=f"https://a.example/@mila/{n}",
        created_at=T0 + dt.timedelta(days=day), text=f"{TEXT} {n}",
        author=AuthorRecord(platform, "https://a.example/users/mila", handle=HANDLE), fetched_from="test",
    )


def _site(lat: float, lon: float, **extra: Any) -> dict[str, Any]:
    row = {"lat": lat, "lon": lon, "status": "verified", "reports": 1, "independent_reports": 1,
           "first_seen": T0, "last_seen": T0, "created_at": T0, "updated_at": T0}
    row.update(extra)
    return row


def _sighting(post_id: int, site: int, lat: float, lon: float) -> dict[str, Any]:
    return {"post_id": post_id, "chosen": True, "method": "intersection", "lat": lat, "lon": lon,
            "precision_m": 15.0, "confidence": 0.9, "status": "confirmed", "matched": "Dečanske i Makedonske",
            "span_start": 0, "span_end": 5, "source": "intersection:1", "evidence": {},
            "pipeline_version": "1", "created_at": T0, "site_id": site, "reviewed_by": REVIEWER,
            "reviewed_at": T0}


def public_db(
    tmp_path: Path, db_url: str, *, town: bool = True, extra_sites: int = 0, **settings: Any
) -> PublicDb:
    """Three verified sites (one with a hostile camera model), one unverified, one rejected; three
    posts on the first site (two platforms, two months); the town's gazetteer; ``extra_sites`` more
    verified sites spread over the town."""
    config = write_config(tmp_path, db_url, [], privacy__store_handles=True, web__dev=True, **settings)
    assert invoke(["init"], config=config).exit_code == 0
    cfg = load_config(config)
    store = open_store(cfg)
    now = dt.datetime.now(dt.UTC)
    with store.transaction() as conn:
        for n, (day, platform) in enumerate([(0, "mastodon"), (2, "mastodon"), (40, "bluesky")]):
            save_post(conn, _post(n, day, platform), author_policy(cfg), T0)
        post_ids = list(conn.execute(select(Post.id).order_by(Post.id)).scalars())
        s = Site.__table__
        rows = [
            _site(44.8150, 20.4620, independent_reports=3, reports=3, camera_count=2, camera_type="dome",
                  camera_mount="pole", camera_model="IPC6625-Z30", camera_direction=90.0,
                  last_seen=T0 + dt.timedelta(days=40), verified_by=REVIEWER, verified_at=now),
            _site(44.8165, 20.4610, camera_type="bullet", verified_by=REVIEWER, verified_at=now),
            _site(44.8150, 20.4650, camera_model=HOSTILE_MODEL, verified_by=REVIEWER,
                  verified_at=now - dt.timedelta(days=14)),
            _site(44.8120, 20.4600, status="unverified"),
            _site(44.8130, 20.4640, status="rejected", verified_by=REVIEWER),
        ]
        rows += [_site(44.80 + (i % 97) * 0.0004, 20.40 + (i // 97) * 0.0007, verified_at=now)
                 for i in range(extra_sites)]
        ids = [conn.execute(s.insert().values(**row).returning(s.c.id)).scalar_one() for row in rows[:5]]
        if extra_sites:
            conn.execute(s.insert(), rows[5:])
        conn.execute(Sighting.__table__.insert(), [_sighting(p, ids[0], 44.8150, 20.4620) for p in post_ids])
        if town:
            rows = town_gazetteer(str(tmp_path / "town")).to_rows()
            replace_gazetteer(conn, rows, [], T0)
        posts = [dict(r._mapping) for r in conn.execute(select(Post.__table__))]
    store.close()
    return PublicDb(config, ids[:3], ids[3], ids[4], posts)


def client(config: Path, environ: dict[str, str] | None = None) -> TestClient:
    """The app of ``config`` behind Starlette's test client."""
    return TestClient(create_app(load_config(config), environ=environ if environ is not None else {}))
