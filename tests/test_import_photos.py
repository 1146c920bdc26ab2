"""`hiljade import photos DIR` end to end on SQLite and PostgreSQL: photos with GPS EXIF made here with
Pillow, sidecar captions, refusals by reason, idempotence, and `hiljade process` turning the stored
EXIF into exif sightings; plus the real GPS photos of ../shared when present."""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from hiljade.config import load_config
from hiljade.harvester.photos import caption_for, is_sidecar, load_captions
from hiljade.models.schema import Media, Post, Sighting
from hiljade.services.process import stored_exif_candidates
from hiljade.services.store import open_store
from tests.support.cli import cli, invoke
from tests.support.config import write_config
from tests.support.imports import prepared
from tests.support.limits import traced_peak, within_seconds
from tests.support.photos import jpeg_with_gps, plain_image
from tests.support.places import TAKOVSKA, distance_m

SLAVIJA = (44.8023, 20.4668)


def partner_folder(root: Path) -> dict[str, bytes]:
    """Photos with sidecars and a captions.csv, a copy, and files that must be refused."""
    photos = {
        "2019/cam1.jpg": jpeg_with_gps(*TAKOVSKA, direction=135.0),
        "2019/cam2.JPG": jpeg_with_gps(*SLAVIJA, shade="black"),
        "2020/sub/cam3.png": plain_image(),
        "2020/copy-of-cam1.jpg": jpeg_with_gps(*TAKOVSKA, direction=135.0),
    }
    for name, data in photos.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "2019/cam1.jpg.txt").write_text("Kamera u Takovskoj, okrenuta ka parku #hiljadekamera", "utf-8")
    (root / "2019/cam2.txt").write_text("\ufeffKamera kod Slavije", "utf-8")
    with (root / "2020/captions.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["file", "text"], ["sub/cam3.png", "Kamera na zgradi, bez GPS"]])
    (root / "2020/notes.pdf").write_bytes(b"%PDF-1.4\n%fake\n")
    (root / "2020/big.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 300_000)
    (root / "2020/fake.jpg").write_bytes(b"this is not a photo at all, just text")
    (root / "2020/.DS_Store").write_bytes(b"\x00\x01")
    return photos


def stored(config: Path) -> dict[str, object]:
    store = open_store(load_config(config))
    with store.connect() as conn:
        posts = {r.uri: r for r in conn.execute(select(Post.__table__)).all()}
        media = conn.execute(select(Media.post_id, Media.sha256, Media.url, Media.width)).all()
        chosen = conn.execute(select(Sighting.__table__).where(Sighting.chosen.is_(True))).all()
    store.close()
    return {"posts": posts, "media": media, "chosen": chosen}


def test_import_photos_with_sidecars_is_idempotent_and_process_finds_exif(
    tmp_path: Path, db_url: str
) -> None:
    config = prepared(tmp_path, db_url)
    folder = tmp_path / "partner"
    photos = partner_folder(folder)
    code, _, err = cli(config, "import", "photos", str(folder), "--author", "Partner NGO")
    assert code == 0, err
    assert (
        "import photos: 7 files: 3 imported (1 without GPS), 1 already known; "
        "refused 3: 1 format not allowed, 1 not an image, 1 too large"
    ) in err
    got = stored(config)
    sha1 = hashlib.sha256(photos["2019/cam1.jpg"]).hexdigest()
    cam1 = got["posts"][f"photos:{sha1}"]
    assert cam1.text == "Kamera u Takovskoj, okrenuta ka parku #hiljadekamera"
    assert cam1.hashtags == ["hiljadekamera"] and cam1.platform == "photos" and cam1.native_id == sha1
    assert cam1.raw["file"] == "2019/cam1.jpg" and cam1.raw["caption_source"] == "cam1.jpg.txt"
    assert cam1.author_id is not None
    texts = sorted(p.text for p in got["posts"].values())
    assert texts == ["Kamera kod Slavije", "Kamera na zgradi, bez GPS", cam1.text]
    assert sorted(m.sha256 for m in got["media"]) == sorted(
        hashlib.sha256(photos[n]).hexdigest() for n in ("2019/cam1.jpg", "2019/cam2.JPG", "2020/sub/cam3.png")
    )

    again = cli(config, "import", "photos", str(folder))
    assert "3 imported" not in again[2] and "0 imported (0 without GPS), 4 already known" in again[2]
    assert len(stored(config)["posts"]) == 3

    code, _, err = cli(config, "process")
    assert code == 0, err
    chosen = {row.post_id: row for row in stored(config)["chosen"]}
    by_uri = {uri: post.id for uri, post in got["posts"].items()}
    exif1 = chosen[by_uri[f"photos:{sha1}"]]
    assert (
        exif1.method == "exif" and exif1.status == "auto" and distance_m((exif1.lat, exif1.lon), TAKOVSKA) < 2
    )
    assert exif1.evidence["direction"] == 135.0 and exif1.evidence["sha256"] == sha1
    sha2 = hashlib.sha256(photos["2019/cam2.JPG"]).hexdigest()
    exif2 = chosen[by_uri[f"photos:{sha2}"]]
    assert exif2.method == "exif" and distance_m((exif2.lat, exif2.lon), SLAVIJA) < 2
    assert all(
        row.method != "exif" for row in chosen.values() if row.post_id not in (exif1.post_id, exif2.post_id)
    )

    # Reprocessing keeps the EXIF evidence: it comes from the stored result, not from a download.
    cli(config, "process", "--reprocess")
    assert {r.method for r in stored(config)["chosen"] if r.post_id == exif1.post_id} == {"exif"}


def test_captions_precedence_and_sidecar_detection(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "a.jpg.txt").write_text("first", "utf-8")
    (tmp_path / "a.txt").write_text("second", "utf-8")
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "b.txt").write_text("only stem", "utf-8")
    (tmp_path / "c.jpg").write_bytes(b"x")
    (tmp_path / "captions.csv").write_text("c.jpg,from csv\nb.jpg,loses to b.txt\n", "utf-8")
    (tmp_path / "readme.txt").write_text("not a sidecar", "utf-8")
    captions = load_captions(tmp_path)
    assert caption_for(tmp_path / "a.jpg", captions) == ("first", "a.jpg.txt")
    assert caption_for(tmp_path / "b.jpg", captions) == ("only stem", "b.txt")
    assert caption_for(tmp_path / "c.jpg", captions) == ("from csv", "captions.csv")
    names = {p.name for p in tmp_path.iterdir()}
    assert is_sidecar(tmp_path / "a.jpg.txt", names) and is_sidecar(tmp_path / "b.txt", names)
    assert is_sidecar(tmp_path / "captions.csv", names) and not is_sidecar(tmp_path / "readme.txt", names)


def test_stored_exif_candidates_skip_malformed_entries() -> None:
    good = {
        "file": "x.jpg",
        "lat": 44.81,
        "lon": 20.47,
        "direction": "bad",
        "gps_source": "exif",
        "sha256": "ab",
    }
    found = stored_exif_candidates([good, {"lat": "44", "lon": 20}, {"lat": True, "lon": 1.0}, "junk", None])
    assert len(found) == 1 and found[0].method == "exif" and found[0].evidence["sha256"] == "ab"
    assert found[0].evidence["direction"] is None and found[0].matched == "x.jpg"
    assert stored_exif_candidates(None) == [] and stored_exif_candidates({"lat": 1}) == []


def test_not_a_folder_is_a_usage_error(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url, [])
    cli(config, "init")
    (tmp_path / "file.jpg").write_bytes(b"x")
    result = invoke(["import", "photos", str(tmp_path / "file.jpg")], config=config, catch_exceptions=True)
    assert result.exit_code == 2


def test_real_gps_photos_from_shared_data(tmp_path: Path, shared_data: Path) -> None:
    """The real camera/phone photos with GPS: every expected position ends up as an exif sighting."""
    folder = shared_data / "exif_images"
    config = prepared(tmp_path, f"sqlite:///{tmp_path / 'real.db'}", cap=20 * 1024 * 1024, area=False)
    code, _, err = cli(config, "import", "photos", str(folder))
    assert code == 0, err
    with (folder / "expected_gps.csv").open(encoding="utf-8") as fh:
        expected = {row["file"]: row for row in csv.DictReader(fh)}
    with_gps = {f: (float(r["lat"]), float(r["lon"])) for f, r in expected.items() if r["category"] == "gps"}
    assert len(with_gps) >= 20
    code, _, err = cli(config, "process", "--no-media")
    assert code == 0, err
    got = stored(config)
    file_of = {post.id: post.raw["file"] for post in got["posts"].values()}
    exif = {file_of[r.post_id]: (r.lat, r.lon) for r in got["chosen"] if r.method == "exif"}
    missing = sorted(set(with_gps) - set(exif))
    assert not missing, f"no exif sighting for {missing}; {err}"
    for name, position in with_gps.items():
        assert distance_m(exif[name], position) < 1.0, name
    zero = [f for f, r in expected.items() if r["category"] == "gps_zero"]
    assert zero and not set(zero) & set(exif)


def test_only_regular_files_inside_the_folder_are_read(tmp_path: Path, db_url: str) -> None:
    config = prepared(tmp_path, db_url)
    folder = tmp_path / "partner"
    folder.mkdir()
    os.mkfifo(folder / "camera.jpg")  # reading it would wait forever
    (folder / "zero.jpg").symlink_to("/dev/zero")  # endless bytes through a link out of the folder
    (folder / "good.jpg").write_bytes(jpeg_with_gps(*TAKOVSKA))
    (folder / "good.jpg.txt").symlink_to("/etc/passwd")  # a caption that is someone else's file
    (folder / "inside.jpg").symlink_to("good.jpg")  # a link inside the folder is followed
    (folder / "captions.csv").symlink_to("/etc/passwd")
    with within_seconds(30), traced_peak() as peak:
        code, _, err = cli(config, "import", "photos", str(folder))
    assert code == 0, err
    assert peak.bytes < 64 << 20, f"peak {peak.bytes:,} bytes"
    assert (
        "import photos: 5 files: 1 imported (0 without GPS), 1 already known; "
        "refused 3: 1 captions outside folder, 1 not a file, 1 outside folder"
    ) in err
    posts = list(stored(config)["posts"].values())
    assert len(posts) == 1 and posts[0].text == "" and posts[0].raw["caption_source"] is None
    assert "root:" not in repr(posts[0].raw)


def test_a_caption_is_read_only_up_to_its_cap(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "captions.csv").write_text("a.jpg," + "x" * 2000 + "\n", "utf-8")
    refused: Counter[str] = Counter()
    assert load_captions(tmp_path, max_bytes=1000, refused=refused) == {}
    assert refused == {"captions_too_large": 1}
