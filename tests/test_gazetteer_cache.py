"""The gazetteer cache: a cached index locates as one built from the stored rows, a new build or a bad
file is never used, a cache that cannot be kept changes nothing; and the cheap schema check. SQLite
and PostgreSQL."""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path

import pytest
from sqlalchemy import delete

from hiljade.config import Config, load_config
from hiljade.models.places import gazetteer_rows, newest_build
from hiljade.models.schema import GazetteerEntry
from hiljade.models.store import Store
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.services import gazetteer_cache
from hiljade.services.gazetteer import build_gazetteer, newest_gazetteer, stored_gazetteer
from hiljade.services.gazetteer_cache import FORMAT, PROTOCOL, cache_file, code_key, read_cached
from hiljade.services.locating import locate_text
from hiljade.services.store import init
from tests.support.cli import cli, invoke
from tests.support.config import write_config
from tests.support.gazetteer import write_town

DATA_SUFFIXES = (".geojson", ".osm", ".osm.pbf", ".pbf", ".csv", ".txt")  # as bench/geoparse_eval.py
TOWN_TEXTS = [
    "Kamera na uglu Dečanske i Makedonske",
    "Камера у Дечанској 5",
    "kamera kod Doma omladine",
    "Kamera na Trgu republike, kod Knez Mihailove",
    "nova kamera u Gočkoj",
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own cache folder (not made yet: the cache makes it)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("HILJADE_CACHE_DIR", str(folder))
    return folder


def _setup(tmp_path: Path, db_url: str) -> tuple[Path, Config, Store]:
    config_path = write_config(tmp_path, db_url, [])
    config = load_config(config_path)
    store = init(config)[0]
    return config_path, config, store


def _fresh(store: Store) -> Gazetteer:
    """The slow path: the index built from the stored rows."""
    with store.connect() as conn:
        return Gazetteer.from_rows(gazetteer_rows(conn))


def _newest(store: Store) -> tuple[int, str]:
    with store.connect() as conn:
        found = newest_build(conn)
    assert found is not None
    return found


def _same_answers(texts: list[str], *gazetteers: Gazetteer) -> None:
    for text in texts:
        first, *others = (locate_text(text, g) for g in gazetteers)
        assert all(other == first for other in others), text


def _town(tmp_path: Path, config: Config, store: Store) -> Path:
    files = write_town(tmp_path / "town")
    build_gazetteer(config, store, files)
    return cache_file(_newest(store)[1], store.dialect)


def test_a_cached_belgrade_gazetteer_locates_the_dev_texts_as_a_fresh_one(
    tmp_path: Path, db_url: str, cache: Path, shared_data: Path, shared_eval: Path
) -> None:
    config_path, config, store = _setup(tmp_path, db_url)
    geo = shared_data / "belgrade_geo"
    paths = sorted(p for p in geo.iterdir() if p.name.endswith(DATA_SUFFIXES))
    boundary = next(p for p in paths if "boundary" in p.name)
    build_id, _ = build_gazetteer(config, store, [p for p in paths if p != boundary], area_path=boundary)
    build, fingerprint = _newest(store)
    assert build == build_id and cache_file(fingerprint, store.dialect).is_file()  # written by the build

    cached = read_cached(fingerprint, store.dialect)
    assert cached is not None
    assert stored_gazetteer(store)[0] == build_id
    dev = (shared_eval / "geoparse-dev.jsonl").read_text("utf-8")
    posts = [json.loads(line) for line in dev.splitlines() if line.strip()]
    texts = [p["text"] for p in posts if p.get("text")]
    assert len(texts) > 100
    newest = newest_gazetteer(config, store)[1]
    assert newest is not None
    _same_answers(texts, _fresh(store), cached, stored_gazetteer(store)[1], newest)

    lines = "".join(json.dumps({"id": p["id"], "text": p["text"]}) + "\n" for p in posts)
    with_cache = _locate_lines(config_path, lines)
    for old in cache.iterdir():
        old.unlink()
    without_cache = _locate_lines(config_path, lines)
    assert with_cache == without_cache and with_cache.count("\n") == len(posts)
    assert cache_file(fingerprint, store.dialect).is_file()  # the miss wrote it again


def _locate_lines(config_path: Path, lines: str) -> str:
    result = invoke(["locate"], config=config_path, input=lines)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_a_hit_reads_the_index_from_the_cache_not_the_rows(tmp_path: Path, db_url: str, cache: Path) -> None:
    _, config, store = _setup(tmp_path, db_url)
    _town(tmp_path, config, store)
    expected = [locate_text(t, _fresh(store)) for t in TOWN_TEXTS]
    with store.transaction() as conn:  # the rows go, the build row stays: only the cache has the index
        conn.execute(delete(GazetteerEntry.__table__))
    places = stored_gazetteer(store)[1]
    assert [locate_text(t, places) for t in TOWN_TEXTS] == expected
    assert expected[0].chosen is not None and expected[0].chosen.method == "intersection"


def test_a_new_build_is_never_answered_from_the_old_builds_cache(
    tmp_path: Path, db_url: str, cache: Path
) -> None:
    config_path, config, store = _setup(tmp_path, db_url)
    files = write_town(tmp_path / "town")
    assert cli(config_path, "gazetteer", "build", *map(str, files))[0] == 0
    first = cache_file(_newest(store)[1], store.dialect)
    assert first.is_file()  # `gazetteer build` wrote it
    code, before, _ = cli(config_path, "locate", "--text", TOWN_TEXTS[0])
    assert code == 0 and json.loads(before)["method"] == "intersection"

    town = json.loads(files[0].read_text("utf-8"))
    town["features"] = [f for f in town["features"] if f["properties"].get("name") != "Македонска"]
    files[0].write_text(json.dumps(town, ensure_ascii=False), "utf-8")
    assert cli(config_path, "gazetteer", "build", *map(str, files))[0] == 0
    second = cache_file(_newest(store)[1], store.dialect)
    assert second != first and second.is_file()
    code, after, _ = cli(config_path, "locate", "--text", TOWN_TEXTS[0])
    assert code == 0 and json.loads(after)["method"] != "intersection"
    assert after != before
    _same_answers(TOWN_TEXTS, _fresh(store), stored_gazetteer(store)[1])


def _planted(path: Path, fingerprint: str, dialect: str, what: str) -> bytes:
    """A cache file spoiled in one way."""
    whole = path.read_bytes()
    if what == "garbage":
        return b"\x80\x05not a pickle at all"
    if what == "truncated":
        return whole[: len(whole) // 2]
    if what == "empty":
        return b""
    if what == "another build":  # a whole, valid file that names another gazetteer
        return pickle.dumps((FORMAT, "0" * 64, dialect, code_key()), PROTOCOL) + pickle.dumps(
            Gazetteer([]), PROTOCOL
        )
    assert what == "not a gazetteer"
    return pickle.dumps((FORMAT, fingerprint, dialect, code_key()), PROTOCOL) + pickle.dumps([1, 2], PROTOCOL)


@pytest.mark.parametrize("what", ["garbage", "truncated", "empty", "another build", "not a gazetteer"])
def test_a_corrupt_cache_file_is_ignored_and_written_again(
    tmp_path: Path, db_url: str, cache: Path, what: str
) -> None:
    _, config, store = _setup(tmp_path, db_url)
    path = _town(tmp_path, config, store)
    fingerprint = _newest(store)[1]
    spoiled = _planted(path, fingerprint, store.dialect, what)
    path.write_bytes(spoiled)
    assert read_cached(fingerprint, store.dialect) is None
    _same_answers(TOWN_TEXTS, _fresh(store), stored_gazetteer(store)[1])
    assert path.read_bytes() != spoiled and read_cached(fingerprint, store.dialect) is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_cache_file_others_may_write_is_not_loaded(tmp_path: Path, db_url: str, cache: Path) -> None:
    _, config, store = _setup(tmp_path, db_url)
    path = _town(tmp_path, config, store)
    fingerprint = _newest(store)[1]
    path.write_bytes(  # the right name and header, an empty gazetteer: loading it would lose every place
        pickle.dumps((FORMAT, fingerprint, store.dialect, code_key()), PROTOCOL)
        + pickle.dumps(Gazetteer([]), PROTOCOL)
    )
    os.chmod(path, 0o666)
    assert read_cached(fingerprint, store.dialect) is None
    places = stored_gazetteer(store)[1]
    assert places.entries and locate_text(TOWN_TEXTS[0], places).chosen is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # replaced by a private one


def test_the_cache_folder_and_files_are_private(tmp_path: Path, db_url: str, cache: Path) -> None:
    _, config, store = _setup(tmp_path, db_url)
    path = _town(tmp_path, config, store)
    assert path.parent == cache
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in cache.iterdir() if p != path]  # no temporary file left behind


def _unusable(tmp_path: Path, how: str) -> Path:
    if how == "a file in the way":
        blocker = tmp_path / "blocker"
        blocker.write_text("not a folder", "utf-8")
        return blocker / "cache"
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    if how == "others may write":
        os.chmod(folder, 0o777)
    else:
        assert how == "read-only"
        os.chmod(folder, 0o500)
    return folder


@pytest.mark.parametrize("how", ["a file in the way", "others may write", "read-only"])
def test_a_cache_that_cannot_be_kept_changes_nothing(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    config_path, config, store = _setup(tmp_path, db_url)
    folder = _unusable(tmp_path, how)
    if how == "read-only" and os.access(folder, os.W_OK):  # root writes anyway: inject the failure

        def refuse(*_: object, **__: object) -> None:
            raise PermissionError(13, "Permission denied", str(folder))

        monkeypatch.setattr(gazetteer_cache.tempfile, "mkstemp", refuse)
    monkeypatch.setenv("HILJADE_CACHE_DIR", str(folder))
    files = write_town(tmp_path / "town")
    code, _, err = cli(config_path, "gazetteer", "build", *map(str, files))
    assert code == 0 and "cache" not in err
    answers = []
    for _ in range(2):
        code, out, err = cli(config_path, "locate", "--text", TOWN_TEXTS[0])
        assert code == 0 and "cache" not in err
        answers.append(out)
    assert answers[0] == answers[1] and json.loads(answers[0])["method"] == "intersection"
    assert not cache_file(_newest(store)[1], store.dialect).exists()
    _same_answers(TOWN_TEXTS, _fresh(store), stored_gazetteer(store)[1])
