"""The review commands end to end through the CLI, on SQLite and PostgreSQL: a small gazetteer, posts,
`hiljade process`, sites from the real sites module, then list/show/accept/reject/move/merge/split,
checking the tables and the audit rows, and the clear refusals."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import shape
from sqlalchemy import func, select

from hiljade.config import load_config
from hiljade.errors import ReviewError
from hiljade.models.posts import save_post
from hiljade.models.schema import Post, PostLocation, ReviewLog, Sighting, Site
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.review import check_point, reviewer_name
from hiljade.services.sites import assign_sites
from hiljade.services.store import author_policy, open_store
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.places import AREA, STREETS

TEXTS = {
    1: ("Nova kamera na uglu Dečanske i Makedonske #hiljadekamera", None),
    2: ("Камера у Македонској улици", None),
    3: ("tacno ovde", (44.8140, 20.4600)),
    4: ("Još jedna kamera na uglu Dečanske i Makedonske", None),
    5: ("kamera negde u gradu", None),
    6: ("i ovde, preko puta", (44.8141, 20.4602)),
}


def _post(n: int, text: str, geo: tuple[float, float] | None) -> PostRecord:
    return PostRecord(
        platform="mastodon", server="https://a.example", native_id=str(n), uri=f"https://a.example/s/{n}",
        created_at=dt.datetime(2024, 5, n, tzinfo=dt.UTC), text=text, geo=geo,
        author=AuthorRecord("mastodon", f"https://a.example/users/u{n}"), fetched_from="test",
    )


def cli(config: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
    result = invoke(args, config=config, env=env)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


class World:
    """The test database behind the CLI, with helpers to read it."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.cfg = load_config(config)
        self.store = open_store(self.cfg)

    def cli(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        return cli(self.config, *args, code=code, env=env)

    def review(self, *args: str, code: int = 0, reviewer: str | None = "ana") -> Any:
        extra = ["--reviewer", reviewer] if reviewer and args[0] not in ("list", "show") else []
        return self.cli("review", *args, *extra, code=code)

    def sighting(self, sighting_id: int) -> Any:
        with self.store.connect() as conn:
            return conn.execute(select(Sighting.__table__).where(Sighting.id == sighting_id)).one()

    def chosen(self, post: int) -> Any:
        with self.store.connect() as conn:
            return conn.execute(
                select(Sighting.__table__).where(Sighting.post_id == post, Sighting.chosen.is_(True))
            ).one()

    def site(self, site_id: int) -> Any:
        with self.store.connect() as conn:
            return conn.execute(select(Site.__table__).where(Site.id == site_id)).one()

    def members(self, site_id: int) -> list[int]:
        with self.store.connect() as conn:
            return list(conn.execute(
                select(Sighting.id).where(Sighting.site_id == site_id).order_by(Sighting.id)).scalars())

    def log(self) -> list[Any]:
        with self.store.connect() as conn:
            return conn.execute(select(ReviewLog.__table__).order_by(ReviewLog.id)).all()

    def counts(self) -> tuple[int, int]:
        with self.store.connect() as conn:
            return (conn.execute(select(func.count()).select_from(Sighting.__table__)).scalar_one(),
                    conn.execute(select(func.count()).select_from(Site.__table__)).scalar_one())


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    (tmp_path / "streets.geojson").write_text(json.dumps(STREETS), encoding="utf-8")
    (tmp_path / "area.geojson").write_text(json.dumps(AREA), encoding="utf-8")
    config = write_config(tmp_path, db_url, [], area__boundary=str(tmp_path / "area.geojson"))
    cli(config, "init")
    cli(config, "gazetteer", "build", str(tmp_path / "streets.geojson"))
    w = World(config)
    with w.store.transaction() as conn:
        for n, (text, geo) in TEXTS.items():
            save_post(conn, _post(n, text, geo), author_policy(w.cfg), dt.datetime.now(dt.UTC))
    w.cli("process", "--no-media")
    with w.store.transaction() as conn:
        assign_sites(conn, w.cfg.get("sites"), dt.datetime.now(dt.UTC))
    yield w
    w.store.close()


def test_review_workflow_end_to_end(world: World) -> None:
    w = world
    street, cross1, geo3, cross4, geo6 = (w.chosen(p) for p in (2, 1, 3, 4, 6))
    assert street.method == "street" and street.status == "pending_review" and street.site_id is None
    assert cross1.site_id == cross4.site_id and geo3.site_id == geo6.site_id != cross1.site_id
    start = w.counts()

    # list and show
    listed = w.review("list")
    assert [int(line.split()[0]) for line in listed.stdout.splitlines()] == [street.id]
    assert "street" in listed.stdout and "Македонској" in listed.stdout
    assert "review list: 1 sighting pending review" in listed.stderr
    assert len(w.review("list", "--status", "auto").stdout.splitlines()) == 4
    assert len(w.review("list", "--status", "auto", "--limit", "2").stdout.splitlines()) == 2
    shown = w.review("show", str(street.id)).stdout
    assert "Камера у Македонској улици" in shown and "candidates" in shown and "site: none" in shown
    assert f"https://www.openstreetmap.org/?mlat={street.lat:.6f}&mlon={street.lon:.6f}#map=19/" in shown
    data = json.loads(w.review("show", str(cross1.id), "--json").stdout)
    assert data["sighting"]["id"] == cross1.id and data["site"]["id"] == cross1.site_id
    assert data["candidates"][0]["evidence"] is not None and "openstreetmap.org" in data["site"]["osm"]

    # a street is a line: accept refuses, move gives the point
    refused = w.review("accept", str(street.id), code=2)
    assert "street-only" in refused.stderr and "review move" in refused.stderr
    moved = w.review("move", str(street.id), "--lat", "44.8170", "--lon", "20.4626", "--reason", "photo")
    assert "moved" in moved.stderr and "(by ana)" in moved.stderr
    old, new = w.sighting(street.id), w.chosen(2)
    assert not old.chosen and old.status == "pending_review" and old.site_id is None
    assert (new.method, new.status, new.precision_m, new.reviewed_by) == ("manual", "confirmed", 5.0, "ana")
    assert new.evidence["moved_from"]["sighting_id"] == street.id and new.site_id is not None
    moved_site = w.site(new.site_id)
    assert moved_site.status == "verified" and moved_site.verified_by == "ana"
    assert w.review("list").stdout == ""
    log = w.log()
    move = next(r for r in log if r.action == "move")
    assert (move.target, move.target_id, move.reviewer) == ("sighting", street.id, "ana")
    assert move.reason == "photo"
    assert move.details["before"]["chosen"] is True and move.details["after"]["chosen"] is False
    assert move.details["new_sighting"]["id"] == new.id
    assert any(r.action == "verify" and r.target == "site" and r.target_id == new.site_id for r in log)

    # accept: confirmed, the site verified; the reviewer from the environment
    w.cli("review", "accept", str(cross1.id), env={"HILJADE_REVIEWER": "boris"})
    got = w.sighting(cross1.id)
    assert (got.status, got.reviewed_by, got.chosen) == ("confirmed", "boris", True)
    site_a = w.site(cross1.site_id)
    assert site_a.status == "verified" and site_a.verified_by == "boris" and site_a.verified_at is not None
    assert w.log()[-1].reviewer == "boris"

    # reject: kept as rejected, leaves its site, which is recomputed
    before_reports = w.site(cross1.site_id).reports
    w.review("reject", str(cross4.id), "--reason", "the same camera, posted twice")
    got = w.sighting(cross4.id)
    assert (got.status, got.site_id, got.reviewed_by) == ("rejected", None, "ana")
    assert w.site(cross1.site_id).reports == before_reports - 1
    reject = [r for r in w.log() if r.action == "reject"][0]
    assert reject.reason == "the same camera, posted twice"
    assert reject.details["before"]["site_id"] == cross1.site_id

    # merge: the second site's sightings join the first; the second stays, status merged
    site_b = geo3.site_id
    w.review("merge", str(cross1.site_id), str(site_b))
    assert w.members(cross1.site_id) == sorted([cross1.id, geo3.id, geo6.id])
    merged = w.site(site_b)
    assert merged.status == "merged" and merged.reports == 0 and w.members(site_b) == []
    actions = [(r.action, r.target_id) for r in w.log()[-2:]]
    assert actions == [("merge", cross1.site_id), ("merged_into", site_b)]
    assert "was merged" in w.review("merge", str(cross1.site_id), str(site_b), code=2).stderr
    assert "itself" in w.review("merge", "1", "1", code=2).stderr

    # split: named sightings to a new site; then a regroup by radius
    split = w.review("split", str(cross1.site_id), "--sighting", str(geo3.id), "--sighting", str(geo6.id))
    assert f"(sightings {geo3.id} and {geo6.id} to a new site): new site " in split.stderr
    assert "[" not in split.stderr  # plain words, not a Python list
    new_site = w.sighting(geo3.id).site_id
    assert new_site not in (cross1.site_id, site_b) and w.members(new_site) == [geo3.id, geo6.id]
    assert w.members(cross1.site_id) == [cross1.id]
    assert w.review("split", str(new_site), "--radius", "5").exit_code == 0  # 14 m apart
    assert w.members(new_site) == [geo3.id] and w.sighting(geo6.id).site_id not in (None, new_site)
    splits = [r for r in w.log() if r.action == "split"]
    assert splits[0].details["after"] == {str(cross1.site_id): [cross1.id], str(new_site): [geo3.id, geo6.id]}
    assert "nothing to split" in w.review("split", str(cross1.site_id), code=2).stderr

    # a rebuild keeps what reviewers decided
    kept = {sid: w.members(sid) for sid in (cross1.site_id, new_site, site_b, w.sighting(geo6.id).site_id)}
    w.cli("sites", "recluster")
    assert {sid: w.members(sid) for sid in kept} == kept and w.site(site_b).status == "merged"

    # nothing was deleted on the way
    sightings, sites = w.counts()
    assert sightings == start[0] + 1 and sites >= start[1]
    every = {"move", "verify", "accept", "reject", "merge", "merged_into", "split", "split_from"}
    assert {r.action for r in w.log()} >= every


def test_bad_ids_and_bad_points_are_refused_clearly(world: World) -> None:
    w = world
    cross = w.chosen(1)
    log_before = len(w.log())
    assert "no sighting 99999" in w.review("accept", "99999", code=2).stderr
    assert "no sighting 99999" in w.review("show", "99999", code=2).stderr
    assert "no site 4242" in w.review("merge", "4242", str(cross.site_id), code=2).stderr
    assert "no site 4242" in w.review("split", "4242", code=2).stderr
    assert "not in site" in w.review("split", str(cross.site_id), "--sighting", "99999", code=2).stderr
    assert w.review("move", str(cross.id), "--lat", "95", "--lon", "20.4", code=2).stderr
    assert w.review("move", str(cross.id), "--lat", "abc", "--lon", "20.4", code=2).stderr
    outside = w.review("move", str(cross.id), "--lat", "45.2671", "--lon", "19.8335", code=2)
    assert "outside the configured area" in outside.stderr
    swapped = w.review("move", str(cross.id), "--lat", "20.4626", "--lon", "44.8170", code=2)
    assert "outside the configured area" in swapped.stderr
    assert "Missing option '--reason'" in w.review("reject", str(cross.id), code=2).stderr
    assert "needs a reason" in w.review("reject", str(cross.id), "--reason", "  ", code=2).stderr
    assert "invalid" in w.cli("review", "list", "--status", "bogus", code=2).stderr.lower()
    assert len(w.log()) == log_before and w.chosen(1).status == "auto"  # refused means untouched


def test_review_messages_are_plain_words(world: World) -> None:
    """`review list --limit` says how many wait in all; `review show` prints no Python reprs."""
    w = world
    one = w.review("list", "--status", "auto", "--limit", "1")
    assert len(one.stdout.splitlines()) == 1
    assert one.stderr.strip().splitlines()[-1] == "review list: 1 of 4 sightings auto shown (--limit 1)"
    assert w.review("list", "--status", "auto", "--limit", "4").stderr.strip().endswith(": 4 sightings auto")
    assert "'" not in one.stdout.split("m  ", 1)[1][:3]  # the matched words in quotes, not a repr
    shown = w.review("show", str(w.chosen(1).id))
    text = shown.stdout
    assert "evidence: " in text and "{" not in text and "[" not in text and "'" not in text, text
    assert "matched: “" in text and shown.stderr.strip().endswith(tuple("0123456789"))
    assert "1 candidates" not in shown.stderr


def test_ids_too_large_for_the_store_are_usage_errors(world: World) -> None:
    huge = "9" * 30
    for args in (("show", huge), ("accept", huge), ("reject", huge, "--reason", "x"), ("merge", huge, "1"),
                 ("split", "1", "--sighting", huge), ("move", huge, "--lat", "44.8", "--lon", "20.4")):
        assert "is not in the range" in world.review(*args, code=2).stderr, args  # no OverflowError
    assert world.review("show", str(2**31), code=2).stderr
    assert world.cli("review", "list", "--limit", huge, code=2).stderr


def test_reviewer_name_and_point_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert reviewer_name("ana", {"HILJADE_REVIEWER": "boris"}) == "ana"
    assert reviewer_name(None, {"HILJADE_REVIEWER": "boris"}) == "boris"
    assert reviewer_name(None, {}) == getpass.getuser()
    with pytest.raises(ReviewError):
        reviewer_name("x" * 129, {})
    check_point(44.8, 20.4)
    for lat, lon in ((91, 0), (0, 181), (float("nan"), 0), (0, float("inf"))):
        with pytest.raises(ReviewError):
            check_point(lat, lon)
    with pytest.raises(ReviewError, match="outside"):
        check_point(45.2671, 19.8335, shape(AREA))


def test_ambiguous_posts_list_their_candidates(world: World) -> None:
    """A post the pipeline could not decide (no chosen sighting, outcome pending_review) shows every
    candidate; accepting one makes it the chosen one."""
    w = world
    with w.store.transaction() as conn:
        post_id = conn.execute(select(Post.id).where(Post.native_id == "5")).scalar_one()
        conn.execute(PostLocation.__table__.update().where(PostLocation.post_id == post_id)
                     .values(outcome="pending_review"))
        base = {"post_id": post_id, "chosen": False, "method": "landmark", "precision_m": 30.0,
                "confidence": 0.5, "status": "pending_review", "matched": "kod Doma", "source": "landmark:x",
                "evidence": {"ambiguous": True}, "pipeline_version": "1",
                "created_at": dt.datetime.now(dt.UTC)}
        ids = [conn.execute(Sighting.__table__.insert().values(**base, lat=lat, lon=lon)
                            .returning(Sighting.id)).scalar_one() for lat, lon in ((44.8150, 20.4630),
                                                                                   (44.8060, 20.4700))]
    listed = w.review("list").stdout.splitlines()
    assert [line.split()[0] for line in listed[-2:]] == [f"{ids[0]}?", f"{ids[1]}?"]
    w.review("accept", str(ids[1]))
    assert w.chosen(5).id == ids[1] and w.sighting(ids[1]).site_id is not None
    assert f"{ids[0]}?" not in w.review("list").stdout.split()


def test_a_reviewers_point_keeps_the_post_out_of_the_queue(world: World) -> None:
    """`process --reprocess` makes the pipeline's candidates again; a post a reviewer placed stays settled."""
    w = world
    street = w.chosen(2)
    w.review("move", str(street.id), "--lat", "44.8170", "--lon", "20.4626")
    w.cli("process", "--reprocess", "--no-media")
    assert w.review("list").stdout == ""
    assert w.log()[0].action == "move"


def test_reprocess_keeps_every_reviewer_decision(world: World) -> None:
    """`process --reprocess` replaces the pipeline's sightings, never a reviewer's word."""
    w = world
    rejected, moved = w.chosen(1), w.chosen(2)
    w.review("reject", str(rejected.id), "--reason", "wrong corner")
    w.review("move", str(moved.id), "--lat", "44.8160", "--lon", "20.4625")
    placed = w.chosen(2)
    assert placed.method == "manual"
    w.cli("process", "--reprocess", "--no-media")
    assert w.sighting(rejected.id).status == "rejected"
    with w.store.connect() as conn:
        back = conn.execute(
            select(Sighting.__table__).where(Sighting.post_id == 1, Sighting.chosen.is_(True))
        ).all()
    assert all(row.status != "auto" for row in back), "a rejected place must not come back accepted"
    after = w.chosen(2)
    assert after.id == placed.id and after.method == "manual" and after.site_id is not None
    with w.store.connect() as conn:
        chosen_per_post = conn.execute(
            select(Sighting.post_id, func.count()).where(Sighting.chosen.is_(True)).group_by(Sighting.post_id)
        ).all()
    assert all(n == 1 for _, n in chosen_per_post)
