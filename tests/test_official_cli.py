"""`hiljade official import` and `official list` end to end, on SQLite and PostgreSQL: counts,
importing again, new versions, bad input, one transaction per import."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from shapely.geometry import mapping

from hiljade.config import load_config
from hiljade.errors import StoreError
from hiljade.models.official import find_list, list_rows
from hiljade.services import official as official_service
from hiljade.services.store import open_store
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.official import AREA, EXPECTED, ROWS, street_features, write_csv


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    (tmp_path / "streets.geojson").write_text(json.dumps(street_features(), ensure_ascii=False), "utf-8")
    area = {"type": "Feature", "properties": {}, "geometry": mapping(AREA)}
    (tmp_path / "area.geojson").write_text(json.dumps(area), "utf-8")
    path = write_config(tmp_path, db_url, [], area__boundary=str(tmp_path / "area.geojson"))
    assert invoke(["init"], config=path).exit_code == 0
    built = invoke(["gazetteer", "build", str(tmp_path / "streets.geojson")], config=path)
    assert built.exit_code == 0, built.stderr
    return path


def stored(config: Path, name: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    with open_store(load_config(config)).connect() as conn:
        found = find_list(conn, name)
        return found, list_rows(conn, found["id"]) if found else []


def test_import_list_and_import_again(config: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", ROWS)
    args = [
        "official",
        "import",
        str(path),
        "--list",
        "MUP 2024",
        "--source",
        "MUP Srbije",
        "--date",
        "2024-03-01",
    ]
    result = invoke(args, config=config)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "official: list MUP 2024 imported: 9 rows read, 4 placed, 1 only as a street, 1 not placed "
        "(1 no place name found in the text), 1 outside the area, 2 duplicates, 1 empty row skipped"
    )
    assert "line 9: not placed: no place name found in the text" in result.stderr
    assert "line 12: duplicate: the same as line 4" in result.stderr
    found, rows = stored(config, "MUP 2024")
    assert {k: found["counts"][k] for k in EXPECTED} == EXPECTED and found["file_name"] == "list.csv"
    assert [(r["line"], r["status"], r["method"]) for r in rows] == [
        (3, "placed", "intersection"),
        (4, "placed", "intersection"),
        (5, "placed", "address"),
        (6, "placed", "coordinates"),
        (7, "street_only", "street"),
        (8, "outside_area", "coordinates"),
        (9, "not_placed", None),
        (10, "duplicate", None),
        (12, "duplicate", None),
    ]
    assert rows[0]["original"] == "1 | Булевар краља Александра / Рузвелтова" and rows[3]["lat"] == 44.81

    listed = invoke(["official", "list"], config=config)
    assert listed.stdout.startswith("MUP 2024: list.csv, dated 2024-03-01, from MUP Srbije, imported ")
    assert listed.stderr.strip() == "official: 1 list with 9 rows"

    again = invoke(args, config=config)
    assert again.exit_code == 0 and "already holds this file; nothing changed" in again.stderr
    assert stored(config, "MUP 2024") == (found, rows)

    write_csv(path, [*ROWS, ["10", "", "44,8125", "20,4685"]])
    refused = invoke(args, config=config)
    assert refused.exit_code == 1 and "list MUP 2024 already holds list.csv" in refused.stderr
    assert "--replace" in refused.stderr and stored(config, "MUP 2024") == (found, rows)
    replaced = invoke([*args, "--replace"], config=config)
    assert replaced.exit_code == 0 and "list MUP 2024 replaced: 10 rows read, 5 placed" in replaced.stderr
    assert len(stored(config, "MUP 2024")[1]) == 10
    other = invoke(["official", "import", str(path), "--list", "MUP 2025"], config=config)
    assert (
        other.exit_code == 0
        and "official: 2 lists with 20 rows" in invoke(["official", "list"], config=config).stderr
    )


def test_bad_input_says_what_and_imports_nothing(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "list.csv", ROWS)
    base = ["official", "import", str(path), "--list", "L"]
    wrong = invoke([*base, "--columns", "address=Lokacija"], config=config)
    assert wrong.exit_code == 1 and "no row in the first 30 lines has the columns Lokacija" in wrong.stderr
    assert "the first row's columns are: Списак локација видео надзора" in wrong.stderr
    unknown = invoke([*base, "--encoding", "klingon-8"], config=config)
    assert unknown.exit_code == 2 and "unknown encoding klingon-8" in unknown.stderr
    syntax = invoke([*base, "--columns", "Lokacija"], config=config)
    assert syntax.exit_code == 2 and "write KEY=COLUMN" in syntax.stderr
    missing = invoke(["official", "import", str(tmp_path / "nope.csv"), "--list", "L"], config=config)
    assert missing.exit_code == 1 and "cannot read the file" in missing.stderr
    assert "Traceback" not in wrong.stderr + unknown.stderr + missing.stderr

    real_save = official_service.save_list

    def save_then_fail(conn: Any, **kwargs: Any) -> int:
        real_save(conn, **kwargs)
        raise StoreError("the disk is full")

    monkeypatch.setattr(official_service, "save_list", save_then_fail)
    failed = invoke(base, config=config)
    assert failed.exit_code == 1 and "the disk is full" in failed.stderr
    assert stored(config, "L") == (None, [])  # one transaction: nothing half-imported


def test_xlsx_and_geojson_through_the_command_and_text_the_store_cannot_hold(
    config: Path, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    for row in [
        ["Lokacija", "GPS"],
        ["Takovska / Vlajkovićeva", None],
        [None, "44,8125; 20,4685"],
        ["Knez Mihailova 10", None],
    ]:
        book.active.append(row)
    book.save(tmp_path / "list.xlsx")
    result = invoke(
        [
            "official",
            "import",
            str(tmp_path / "list.xlsx"),
            "--list",
            "X",
            "--columns",
            "address=Lokacija,coordinates=GPS",
        ],
        config=config,
    )
    assert result.exit_code == 0, result.stderr
    assert "3 rows read, 3 placed" in result.stderr
    feats = [
        {
            "type": "Feature",
            "properties": {"opis": "kamera \ud800 \x00"},
            "geometry": {"type": "Point", "coordinates": [20.47, 44.81]},
        }
    ]
    path = tmp_path / "list.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    result = invoke(
        ["official", "import", str(path), "--list", "G", "--columns", "address=opis"], config=config
    )
    assert result.exit_code == 0 and "1 row read, 1 placed" in result.stderr, result.stderr
    rows = stored(config, "G")[1]
    assert rows[0]["method"] == "coordinates" and rows[0]["address"] == "kamera ?"


def test_the_researchers_copy_holds_the_lists(config: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", ROWS)
    assert invoke(["official", "import", str(path), "--list", "MUP"], config=config).exit_code == 0
    output = tmp_path / "copy.sqlite"
    assert invoke(["export", "database", "-o", str(output)], config=config).exit_code == 0
    with sqlite3.connect(output) as copy:
        assert copy.execute("SELECT name, file_name FROM official_lists").fetchall() == [("MUP", "list.csv")]
        assert copy.execute("SELECT count(*), min(line) FROM official_rows").fetchone() == (9, 3)
