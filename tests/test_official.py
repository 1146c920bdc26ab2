"""Official lists: rows placed by coordinates or words (Cyrillic, Latin, without diacritics;
intersections, house numbers, decimal commas, junk), and every file format and encoding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from shapely.geometry import box, mapping

from hiljade.errors import ListFileError
from hiljade.harvester.official_files import decode, parse_columns, read_list, sniff_delimiter
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.official import ListRow, coordinates, normalise_address, number, place_row, place_rows
from hiljade.pipeline.scripts import to_cyrillic
from tests.support.official import (
    BULEVAR_RUZVELTOVA,
    KNEZ_10,
    ROWS,
    TAKOVSKA_VLAJKOVICEVA,
    streets_gazetteer,
    write_csv,
)


@pytest.fixture(scope="module")
def gazetteer(tmp_path_factory: pytest.TempPathFactory) -> Gazetteer:
    return streets_gazetteer(tmp_path_factory.mktemp("official"))


def near(row: Any, lat: float, lon: float) -> bool:
    return abs(row.lat - lat) < 0.0003 and abs(row.lon - lon) < 0.0003


# --- the pure rows ---------------------------------------------------------------------------------


def test_numbers_and_coordinates_with_a_decimal_comma() -> None:
    assert number("44,8150") == 44.815 and number(" 20.4620 ") == 20.462 and number("−1,5") == -1.5
    assert number("abc") is None and number("") is None and number("nan") is None
    assert coordinates(ListRow(1, "", lat="44,8150", lon="20,4620")) == (44.815, 20.462, 11.1)
    assert coordinates(ListRow(1, "", coordinates="44,815000 20,462000"))[:2] == (44.815, 20.462)
    assert coordinates(ListRow(1, "", coordinates="44.815, 20.462"))[:2] == (44.815, 20.462)
    assert coordinates(ListRow(1, "", coordinates="44°48'54\"N 20°27'43\"E"))[0] == pytest.approx(
        44.815, abs=1e-3
    )
    assert coordinates(ListRow(1, "", lat="144,1", lon="20,1")) == "coordinates that cannot be read"
    assert coordinates(ListRow(1, "", address="Takovska")) is None


def test_police_style_addresses_are_made_plain() -> None:
    assert normalise_address('"Knez Mihailova bb (Stari grad), Beograd"') == "Knez Mihailova"
    assert normalise_address("Таковска \\ Влајковићева") == "Таковска / Влајковићева"
    assert normalise_address("  Кнез   Михаилова  б.б. ") == "Кнез Михаилова"
    assert normalise_address("Takovska | Vlajkovićeva;") == "Takovska / Vlajkovićeva"


@pytest.mark.parametrize(
    ("text", "method", "where"),
    [
        ("Булевар краља Александра / Рузвелтова", "intersection", BULEVAR_RUZVELTOVA),
        ("БУЛЕВАР КРАЉА АЛЕКСАНДРА - РУЗВЕЛТОВА", "intersection", BULEVAR_RUZVELTOVA),
        ("Bul. kralja Aleksandra / Ruzveltova", "intersection", BULEVAR_RUZVELTOVA),
        ("Ugao Takovske i Vlajkovićeve", "intersection", TAKOVSKA_VLAJKOVICEVA),
        ("ugao takovske i vlajkoviceve", "intersection", TAKOVSKA_VLAJKOVICEVA),
        ("Угао Таковске и Влајковићеве", "intersection", TAKOVSKA_VLAJKOVICEVA),
        ("Таковска \\ Влајковићева", "intersection", TAKOVSKA_VLAJKOVICEVA),
        ("Knez Mihailova 10", "address", KNEZ_10),
        ("KNEZ MIHAILOVA BR. 10, Beograd", "address", KNEZ_10),
        ("Кнез Михаилова 10", "address", KNEZ_10),
    ],
)
def test_words_are_placed_like_posts(gazetteer: Gazetteer, text: str, method: str, where: tuple) -> None:
    row = place_row(ListRow(1, text, address=text), gazetteer)
    assert (row.status, row.method) == ("placed", method), row
    assert near(row, *where) and row.precision_m and row.address == text


def test_a_street_alone_is_kept_as_street_only_and_junk_with_its_reason(gazetteer: Gazetteer) -> None:
    street = place_row(ListRow(1, "x", address="Knez Mihailova 99"), gazetteer)
    assert (street.status, street.method) == ("street_only", "street") and street.lat is not None
    junk = place_row(ListRow(2, "x", address="xx qq"), gazetteer)
    assert junk.status == "not_placed" and junk.reason == "no place name found in the text"
    unknown = place_row(ListRow(2, "x", address="Ulica Nepoznata 5"), gazetteer)
    assert unknown.reason == "a place name was found (Ulica Nepoznata) but it is not in the gazetteer"
    empty = place_row(ListRow(3, "7 |"), gazetteer)
    assert empty.status == "not_placed" and empty.reason == "neither an address nor coordinates"
    outside = place_row(ListRow(4, "x", lat="45,5", lon="21,5"), gazetteer)
    assert outside.status == "outside_area" and "outside the area" in outside.reason
    swapped = place_row(ListRow(4, "x", lat="20,4700", lon="44,8100"), gazetteer)
    assert (swapped.status, swapped.lat, swapped.lon) == (
        "placed",
        44.81,
        20.47,
    ) and "swapped" in swapped.reason
    # unreadable coordinates fall back to the words
    both = place_row(ListRow(5, "x", address="Knez Mihailova 10", lat="abc", lon="def"), gazetteer)
    assert both.status == "placed" and both.method == "address"


def test_the_same_row_twice_is_a_duplicate(gazetteer: Gazetteer) -> None:
    rows = [
        ListRow(1, "a", address="Ugao Takovske i Vlajkovićeve"),
        ListRow(2, "b", lat="44,81", lon="20,47"),
        ListRow(3, "c", address="ugao  takovske i vlajkoviceve"),
        ListRow(4, "d", lat="44.81", lon="20.47"),
    ]
    placed = place_rows(rows, gazetteer)
    assert [r.status for r in placed] == ["placed", "placed", "duplicate", "duplicate"]
    assert placed[2].reason == "the same as line 1" and placed[3].reason == "the same as line 2"


# --- the files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1251"])
def test_cyrillic_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    rows = [[to_cyrillic(c) for c in r] for r in ROWS] if encoding == "cp1251" else ROWS  # no Latin ć in 1251
    path = write_csv(tmp_path / "list.csv", rows, encoding=encoding)
    read = read_list(path)
    assert read.header_line == 2 and read.columns == {
        "address": ["Адреса"],
        "lat": ["Ширина"],
        "lon": ["Дужина"],
    }
    assert read.rows[0] == ListRow(
        3,
        "1 | Булевар краља Александра / Рузвелтова",
        address="Булевар краља Александра / Рузвелтова",
        lat="",
        lon="",
    )
    assert read.empty == 1 and len(read.rows) == 9 and read.rows[-1].line == 12


def test_windows_1250_latin_is_told_from_windows_1251() -> None:
    latin = "adresa\nUgao Takovske i Vlajkovićeve\nŠabačka, Đure Đakovića, Čačanska, Žička\n"
    assert decode(latin.encode("cp1250")) == (latin, "windows-1250")
    cyrillic = "адреса\nУгао Таковске и Влајковићеве\n"
    assert decode(cyrillic.encode("cp1251")) == (cyrillic, "windows-1251")
    assert decode("a\nb".encode("cp1250"), "windows-1250")[1] == "cp1250"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_any_delimiter(tmp_path: Path, delimiter: str) -> None:
    rows = [["lokacija", "lat", "lon"], ["Knez Mihailova 10", "44.817", "20.4571"], ["Takovska", "", ""]]
    if delimiter != ",":
        rows[1][1:] = ["44,817", "20,4571"]  # a decimal comma beside a semicolon, tab or bar
    path = write_csv(tmp_path / "list.csv", rows, delimiter=delimiter)
    assert sniff_delimiter(path.read_text("utf-8")) == delimiter
    read = read_list(path)
    assert read.delimiter == delimiter and read.rows[0].lat.replace(",", ".") == "44.817"


def test_columns_choose_the_header_and_join_street_and_number(tmp_path: Path) -> None:
    rows = [
        ["MUP", "", ""],
        ["Napomena", "", ""],
        ["Ulica", "Kućni broj", "Opis"],
        ["Knez Mihailova", "10", "kamera"],
    ]
    path = write_csv(tmp_path / "list.csv", rows)
    read = read_list(path, columns=parse_columns(["address=Ulica+Kućni broj"]))
    assert read.header_line == 3 and read.rows == [
        ListRow(4, "Knez Mihailova | 10 | kamera", address="Knez Mihailova 10")
    ]
    with pytest.raises(
        ListFileError, match="no row in the first 30 lines has the columns Adresa; the first row"
    ):
        read_list(path, columns=parse_columns(["address=Adresa"]))
    with pytest.raises(ListFileError, match="KEY one of address, lat, lon, coordinates"):
        parse_columns(["street=Ulica"])


def test_xlsx(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    for row in [
        ["Lista kamera"],
        ["Lokacija", "Latitude", "Longitude"],
        ["Takovska / Vlajkovićeva", None, None],
        [None, 44.81, 20.47],
        [None, None, None],
        ["Кнез Михаилова 10", None, None],
    ]:
        book.active.append(row)
    book.save(tmp_path / "list.xlsx")
    read = read_list(tmp_path / "list.xlsx")
    assert read.format == "xlsx" and read.header_line == 2 and read.empty == 1
    assert [(r.line, r.address, r.lat, r.lon) for r in read.rows] == [
        (3, "Takovska / Vlajkovićeva", "", ""),
        (4, "", "44.81", "20.47"),
        (6, "Кнез Михаилова 10", "", ""),
    ]


def test_geojson(tmp_path: Path) -> None:
    feats = [
        {"type": "Feature", "properties": {"lokacija": "Knez Mihailova 10"}, "geometry": None},
        {
            "type": "Feature",
            "properties": {"lokacija": "kamera"},
            "geometry": {"type": "Point", "coordinates": [20.47, 44.81]},
        },
        {"type": "Feature", "properties": {}, "geometry": mapping(box(20.46, 44.80, 20.47, 44.81))},
    ]
    path = tmp_path / "list.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    read = read_list(path)
    assert read.format == "geojson" and [r.line for r in read.rows] == [1, 2, 3]
    assert read.rows[0].address == "Knez Mihailova 10" and read.rows[0].point is None
    assert read.rows[1].point == (44.81, 20.47) and read.rows[2].point is not None
    assert json.loads(read.rows[1].original)["properties"] == {"lokacija": "kamera"}


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(ListFileError, match="cannot read the file"):
        read_list(tmp_path / "missing.csv")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ListFileError, match="not a readable XLSX workbook"):
        read_list(tmp_path / "bad.xlsx")
    (tmp_path / "bad.geojson").write_text("{ nope", "utf-8")
    with pytest.raises(ListFileError, match="not readable JSON"):
        read_list(tmp_path / "bad.geojson")
    (tmp_path / "words.csv").write_text("foo,bar\n1,2\n", "utf-8")
    with pytest.raises(ListFileError, match="no column reads as an address"):
        read_list(tmp_path / "words.csv")
    with pytest.raises(ListFileError, match="not utf-8 text"):
        read_list(write_csv(tmp_path / "l.csv", ROWS[:3], encoding="cp1251"), encoding="utf-8")
