"""Stored sites on SQLite and PostgreSQL: assign, recluster, refresh, reviewer decisions, the CLI."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, func, select, update

from hiljade.models.posts import AuthorPolicy, save_post
from hiljade.models.schema import Post, PostLink, ReviewLog, Sighting, Site
from hiljade.models.store import Store
from hiljade.pipeline.sites import M_PER_DEG, distance_m
from hiljade.records import MediaRecord, PostRecord
from hiljade.services.sites import assign_sites, recluster_sites, refresh_sites
from tests.support.cli import invoke
from tests.support.config import write_config

A = (44.8125, 20.4612)  # Terazije
B = (44.8040, 20.4780)  # ~1.7 km away
C = (44.8190, 20.4560)
NOW = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
POLICY = AuthorPolicy(secret=b"k" * 32)
SETTINGS = {"radius_m": 25.0, "verify_reports": 3}


def at(origin: tuple[float, float], east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    lat, lon = origin
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


def add_post(
    conn: Connection, n: int, text: str = "kamera", alts: tuple[str, ...] = (), *, deleted: bool = False
) -> int:
    created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n)
    media = tuple(
        MediaRecord(url=f"https://m.example/{n}/{i}.jpg", type="image", alt_text=a)
        for i, a in enumerate(alts)
    )
    record = PostRecord(
        platform="mastodon",
        server="https://m.example",
        native_id=str(n),
        uri=f"https://m.example/s/{n}",
        created_at=created,
        text=text,
        media=media,
    )
    save_post(conn, record, POLICY, NOW)
    post_id = conn.execute(select(Post.id).where(Post.uri == record.uri)).scalar_one()
    if deleted:
        conn.execute(update(Post.__table__).where(Post.id == post_id).values(deleted_at=NOW))
    return int(post_id)


def add_sighting(
    conn: Connection,
    post_id: int,
    point: tuple[float, float],
    *,
    method: str = "address",
    status: str = "auto",
    chosen: bool = True,
    precision: float = 15.0,
    evidence: dict[str, Any] | None = None,
) -> int:
    """A sighting row as `hiljade process` (or a reviewer) writes it."""
    return int(
        conn.execute(
            Sighting.__table__.insert()
            .values(
                post_id=post_id,
                chosen=chosen,
                method=method,
                lat=point[0],
                lon=point[1],
                precision_m=precision,
                confidence=0.8,
                status=status,
                matched="",
                source="test",
                evidence=evidence or {},
                pipeline_version="1",
                created_at=NOW,
            )
            .returning(Sighting.id)
        ).scalar_one()
    )


def site_of(conn: Connection, sighting_id: int) -> int | None:
    return conn.execute(select(Sighting.site_id).where(Sighting.id == sighting_id)).scalar_one()


def site(conn: Connection, site_id: int) -> Any:
    return conn.execute(select(Site.__table__).where(Site.id == site_id)).one()


def check_radius(conn: Connection, radius: float, skip: set[int] = frozenset()) -> None:
    """Every member within the radius of its site's centre."""
    query = select(Sighting.lat, Sighting.lon, Site.id, Site.lat.label("clat"), Site.lon.label("clon"))
    rows = conn.execute(query.join(Site.__table__, Site.id == Sighting.site_id)).all()
    for r in rows:
        if r.id not in skip:
            assert distance_m(r.lat, r.lon, r.clat, r.clon) <= radius + 1e-9


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(db_url)
    s.migrate()
    yield s
    s.close()


def test_assign_refresh_and_recluster(store: Store) -> None:
    attributes = pytest.importorskip("hiljade.pipeline.attributes")
    with store.transaction() as conn:
        p1 = add_post(conn, 1, "Dve kamere na banderi kod Terazija")
        p2 = add_post(conn, 2, "Još jedna", alts=("kamera kupola na stubu",))
        p3 = add_post(conn, 3, "isto kao gore")
        s1 = add_sighting(conn, p1, A, method="exif", precision=5.0, evidence={"direction": 350.0})
        s2 = add_sighting(conn, p2, at(A, 8), method="exif", precision=5.0, evidence={"direction": 10.0})
        s3 = add_sighting(conn, p3, at(A, -6, 5))
        add_sighting(conn, p3, at(A, 300), chosen=False, status="auto")  # an unchosen candidate
        conn.execute(
            PostLink.__table__.insert().values(post_id=p3, duplicate_of=p2, reason="sha256", created_at=NOW)
        )
        street = add_sighting(
            conn, add_post(conn, 4), at(A, 3), method="street", status="pending_review", precision=400.0
        )
        rejected = add_sighting(conn, add_post(conn, 5), at(A, 2), status="rejected")
        gone = add_sighting(conn, add_post(conn, 6, deleted=True), at(A, 1))
        s7 = add_sighting(conn, add_post(conn, 7), B)
        p8 = add_post(conn, 8)
        auto8 = add_sighting(conn, p8, at(B, 5))
        manual8 = add_sighting(conn, p8, C, method="manual", status="confirmed", chosen=False, precision=5.0)
        counts = assign_sites(conn, SETTINGS, NOW)
    assert (counts.sites_before, counts.sites_after, counts.assigned, counts.created) == (0, 3, 5, 3)
    assert counts.summary().startswith("sites update: 0 -> 3 sites; 5 sightings assigned, 0 detached;")
    with store.connect() as conn:
        a_site = site_of(conn, s1)
        assert site_of(conn, s2) == site_of(conn, s3) == a_site
        for never in (street, rejected, gone, auto8):
            assert site_of(conn, never) is None
        assert site_of(conn, manual8) not in (None, a_site, site_of(conn, s7))
        row = site(conn, a_site)
        assert (row.reports, row.independent_reports, row.status) == (3, 2, "unverified")
        assert (row.first_seen, row.last_seen) == (
            dt.datetime(2024, 1, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2024, 1, 1, 3, tzinfo=dt.UTC),
        )
        assert row.camera_direction == 180.0
        expected = attributes.merge_attributes(
            [
                attributes.camera_attributes(t)
                for t in (
                    "Dve kamere na banderi kod Terazija",
                    "Još jedna\nkamera kupola na stubu",
                    "isto kao gore",
                )
            ]
        )
        assert (row.camera_count, row.camera_type, row.camera_mount) == (
            expected["count"],
            expected["type"],
            expected["mount"],
        )
        assert row.camera_count == 2 and row.camera_mount == "pole"
        check_radius(conn, 25.0)
    # incremental: a new report joins by id; a third independent report verifies the site
    with store.transaction() as conn:
        s9 = add_sighting(conn, add_post(conn, 9), at(A, 4, -4))
        far = add_sighting(conn, add_post(conn, 10), at(A, 0, 200))
        counts = assign_sites(conn, SETTINGS, NOW)
        assert (counts.sites_before, counts.sites_after, counts.assigned, counts.created) == (3, 4, 2, 1)
        assert site_of(conn, s9) == a_site and site_of(conn, far) not in (None, a_site)
        row = site(conn, a_site)
        assert (row.reports, row.independent_reports, row.status) == (4, 3, "verified")
        assert row.verified_at == NOW and row.verified_by is None
        again = assign_sites(conn, SETTINGS, NOW)
        assert (again.assigned, again.created, again.removed, again.sites_after) == (0, 0, 0, 4)
    # recluster: the same grouping, the same ids
    members = select(Sighting.id, Sighting.site_id).where(Sighting.site_id.is_not(None))
    with store.connect() as conn:
        before = sorted(conn.execute(members))
        centres = sorted(conn.execute(select(Site.id, Site.lat, Site.lon)))
    with store.transaction() as conn:
        counts = recluster_sites(conn, SETTINGS, NOW)
        assert (counts.assigned, counts.created, counts.removed, counts.sites_after) == (0, 0, 0, 4)
        assert counts.summary("recluster") == (
            "sites recluster: 4 -> 4 sites; 0 sightings moved, 0 detached; 0 sites new, 0 removed, "
            "0 kept as reviewed (radius 25 m)"
        )
        assert sorted(conn.execute(members)) == before
        after = sorted(conn.execute(select(Site.id, Site.lat, Site.lon)))
        for (i, lat, lon), (j, lat2, lon2) in zip(centres, after, strict=True):
            assert i == j and math.isclose(lat, lat2, abs_tol=1e-12)
            assert math.isclose(lon, lon2, abs_tol=1e-12)


def test_recluster_keeps_reviewer_decisions_and_follows_the_radius(store: Store) -> None:
    with store.transaction() as conn:
        street = [add_sighting(conn, add_post(conn, n), at(A, 10 * n)) for n in range(8)]  # every 10 m
        near_b = [add_sighting(conn, add_post(conn, 20 + n), at(B, 12 * n)) for n in range(3)]
        assign_sites(conn, SETTINGS, NOW)
        b_site = site_of(conn, near_b[0])
        first = site_of(conn, street[0])
        conn.execute(
            update(Site.__table__)
            .where(Site.id == b_site)
            .values(verified_by="ana", verified_at=NOW, status="verified")
        )
        check_radius(conn, 25.0)
        groups = {site_of(conn, s) for s in street}
        assert len(groups) >= 2  # 70 m of street: never one site
    with store.transaction() as conn:
        counts = recluster_sites(conn, {"radius_m": 8.0, "verify_reports": 3}, NOW)
        assert counts.pinned == 1
        assert [site_of(conn, s) for s in near_b] == [b_site] * 3  # the verified site stays whole
        assert site(conn, b_site).verified_by == "ana" and site(conn, b_site).status == "verified"
        assert len({site_of(conn, s) for s in street}) == 8  # 10 m apart, radius 8 m: one site each
        assert site_of(conn, street[0]) == first  # the old id went to the group holding its sightings
        check_radius(conn, 8.0, skip={b_site})
    with store.transaction() as conn:  # a rejected site keeps its status, joins and all
        conn.execute(update(Site.__table__).where(Site.id == first).values(status="rejected"))
        conn.execute(
            ReviewLog.__table__.insert().values(
                at=NOW, reviewer="ana", action="reject", target="site", target_id=first, details={}
            )
        )
        s = add_sighting(conn, add_post(conn, 40), at(A, 1))
        assign_sites(conn, {"radius_m": 8.0}, NOW)
        assert site_of(conn, s) == first and site(conn, first).status == "rejected"
        recluster_sites(conn, SETTINGS, NOW)
        assert site(conn, first).status == "rejected"
        members = set(conn.execute(select(Sighting.id).where(Sighting.site_id == first)).scalars())
        assert {street[0], s} < members  # the reviewer's site keeps its own and takes its neighbours
        check_radius(conn, 25.0)


def test_recluster_is_deterministic_whatever_the_storage_order(store: Store) -> None:
    rng = random.Random(7)
    spots = [at(A, rng.uniform(-150, 150), rng.uniform(-150, 150)) for _ in range(12)]
    reports = [(n, at(rng.choice(spots), rng.uniform(-15, 15), rng.uniform(-15, 15))) for n in range(60)]
    with store.transaction() as conn:
        post_ids = {n: add_post(conn, n) for n, _ in reports}

    def build(order: list) -> set[tuple]:
        with store.transaction() as conn:
            conn.execute(delete(Sighting.__table__))
            conn.execute(delete(Site.__table__))
            for n, point in order:
                add_sighting(conn, post_ids[n], point)
            recluster_sites(conn, SETTINGS, NOW)
            check_radius(conn, 25.0)
            rows = conn.execute(select(Sighting.post_id, Sighting.site_id)).all()
            centres = {
                i: (round(lat, 10), round(lon, 10))
                for i, lat, lon in conn.execute(select(Site.id, Site.lat, Site.lon))
            }
        groups: dict[int, set[int]] = {}
        for post_id, site_id in rows:
            groups.setdefault(site_id, set()).add(post_id)
        return {(frozenset(g), centres[i]) for i, g in groups.items()}

    first = build(reports)
    shuffled = list(reports)
    rng.shuffle(shuffled)
    assert build(shuffled) == first
    assert build(list(reversed(reports))) == first
    assert 1 < len(first) < 60


def test_reprocessed_sightings_rejoin_their_sites(store: Store) -> None:
    """`process --reprocess` deletes and rewrites sightings: sites keep their ids, stale counts are fixed."""
    with store.transaction() as conn:
        p1, p2, p3 = (add_post(conn, n) for n in (1, 2, 3))
        add_sighting(conn, p1, A)
        add_sighting(conn, p2, at(A, 5))
        add_sighting(conn, p3, B)
        assign_sites(conn, SETTINGS, NOW)
        a_site = conn.execute(select(Sighting.site_id).where(Sighting.post_id == p1)).scalar_one()
        b_site = conn.execute(select(Sighting.site_id).where(Sighting.post_id == p3)).scalar_one()
        conn.execute(delete(Sighting.__table__))  # what a reprocess does to automatic sightings
        new1 = add_sighting(conn, p1, at(A, 1))
        add_sighting(conn, p2, C)  # the new gazetteer puts post 2 elsewhere
        new3 = add_sighting(conn, p3, at(B, 2))
        counts = assign_sites(conn, SETTINGS, NOW)
        assert site_of(conn, new1) == a_site and site_of(conn, new3) == b_site
        assert site(conn, a_site).reports == 1 and counts.created == 1 and counts.sites_after == 3
        conn.execute(delete(Sighting.__table__).where(Sighting.post_id == p3))
        counts = assign_sites(conn, SETTINGS, NOW)
        assert counts.removed == 1 and conn.execute(select(Site.id).where(Site.id == b_site)).first() is None


def test_detach_and_refresh_after_review_changes(store: Store) -> None:
    with store.transaction() as conn:
        ids = [add_sighting(conn, add_post(conn, n), at(A, n)) for n in range(4)]
        assign_sites(conn, SETTINGS, NOW)
        site_id = site_of(conn, ids[0])
        assert site(conn, site_id).status == "verified"  # 4 independent reports >= 3
        conn.execute(update(Sighting.__table__).where(Sighting.id.in_(ids[:2])).values(status="rejected"))
        counts = assign_sites(conn, SETTINGS, NOW)
        assert counts.detached == 2 and site_of(conn, ids[0]) is None
        row = site(conn, site_id)
        assert (row.reports, row.status, row.verified_at) == (2, "unverified", None)
        conn.execute(update(Site.__table__).where(Site.id == site_id).values(verified_by="ana"))
        assert refresh_sites(conn, [site_id, None, 999999], SETTINGS, NOW) == 1
        assert site(conn, site_id).status == "verified"
        merged = conn.execute(
            Site.__table__.insert()
            .values(
                lat=A[0],
                lon=A[1],
                status="merged",
                reports=0,
                independent_reports=0,
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(Site.id)
        ).scalar_one()
        s = add_sighting(conn, add_post(conn, 10), A)
        assign_sites(conn, SETTINGS, NOW)
        assert site_of(conn, s) == site_id  # a merged site takes no sightings, and stays
        assert site(conn, merged).status == "merged"
        recluster_sites(conn, SETTINGS, NOW)
        assert site(conn, merged).status == "merged" and site_of(conn, s) == site_id


def test_sites_commands(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, [])
    assert invoke(["init"], config=config).exit_code == 0
    store = Store(db_url)
    with store.transaction() as conn:
        for n in range(5):
            add_sighting(conn, add_post(conn, n), at(A, 40 * n))
    result = invoke(["sites", "update"], config=config)
    assert result.exit_code == 0
    assert result.stderr.strip().splitlines()[-1] == (
        "sites update: 0 -> 5 sites; 5 sightings assigned, 0 detached; 5 sites new, 0 removed (radius 25 m)"
    )
    config = write_config(tmp_path, db_url, [], sites__radius_m=50.0)
    result = invoke(["sites", "recluster"], config=config)
    assert result.exit_code == 0
    assert result.stderr.strip().splitlines()[-1].startswith("sites recluster: 5 -> 3 sites; ")
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Site.__table__)).scalar_one() == 3
    store.close()
