"""Coordinates, map links and plus codes in post text."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openlocationcode import openlocationcode as olc
from shapely.geometry import box, shape

from hiljade.pipeline.textgeo import cell_precision, find_coordinates

BELGRADE_BOX = box(20.20, 44.60, 20.70, 45.00)  # lon/lat, roughly the city
REFERENCE = (44.8125, 20.4612)
LAT, LON = 44.8157, 20.4623


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, (lat2 - lat1) * 111_320)


def one(text: str, **kwargs: object) -> object:
    found = find_coordinates(text, **kwargs)  # type: ignore[arg-type]
    assert len(found) == 1, found
    return found[0]


# --- what must be found -------------------------------------------------------------------------------

POSITIVE = [
    # map links
    ("https://www.google.com/maps/@44.8157,20.4623,17z", "map_link", "google:view"),
    ("https://www.google.com/maps?q=44.8157,20.4623&z=17", "map_link", "google:q"),
    ("https://maps.google.com/?q=44.8157,20.4623", "map_link", "google:q"),
    ("https://maps.google.com/maps?ll=44.8157,20.4623&z=18", "map_link", "google:ll"),
    ("https://www.google.com/maps/place/Teraz/@44.81,20.46,17z/data=!3m1!4b1!4m5!3m4!8m2"
     "!3d44.8157!4d20.4623", "map_link", "google:pin"),
    ("https://www.google.com/maps/embed?pb=!1m18!1m12!1m3!1d500!2d20.4623!3d44.8157!2m3", "map_link",
     "google:pin"),
    ("https://www.google.com/maps/search/44.8157,+20.4623?entry=tts", "map_link", "google:path"),
    ("https://www.google.rs/maps/place/44%C2%B048'56.5%22N+20%C2%B027'44.3%22E/@44.81,20.46,17z",
     "map_link", "google:path"),
    ("google.com/maps/@44.8157,20.4623,18z", "map_link", "google:view"),
    ("https://www.openstreetmap.org/?mlat=44.8157&mlon=20.4623#map=19/44.8157/20.4623", "map_link",
     "osm:marker"),
    ("https://www.openstreetmap.org/#map=18/44.8157/20.4623", "map_link", "osm:view"),
    ("https://www.openstreetmap.org/#map=18/44.8157/20.4623&layers=N", "map_link", "osm:view"),
    ("https://www.openstreetmap.org/?lat=44.8157&lon=20.4623&zoom=18", "map_link", "osm:view"),
    ("https://maps.apple.com/?ll=44.8157,20.4623&q=Kamera", "map_link", "apple:ll"),
    ("https://maps.apple.com/?q=44.8157,20.4623", "map_link", "apple:q"),
    ("https://maps.apple.com/?coordinate=44.8157,20.4623", "map_link", "apple:coordinate"),
    ("geo:44.8157,20.4623", "map_link", "geo:uri"),
    ("geo:44.8157,20.4623,117;crs=wgs84", "map_link", "geo:uri"),
    ("geo:0,0?q=44.8157,20.4623(Kamera)", "map_link", "geo:uri"),
    # decimal coordinates
    ("44.8157, 20.4623", "coordinates", "text:decimal"),
    ("44.8157 20.4623", "coordinates", "text:decimal"),
    ("44.8157,20.4623", "coordinates", "text:decimal"),
    ("44.8157; 20.4623", "coordinates", "text:decimal"),
    ("(44.8157, 20.4623).", "coordinates", "text:decimal"),
    ("N 44.8157 E 20.4623", "coordinates", "text:decimal"),
    ("N44.8157, E20.4623", "coordinates", "text:decimal"),
    ("44.8157N 20.4623E", "coordinates", "text:decimal"),
    ("44,8157 N 20,4623 E", "coordinates", "text:decimal"),
    ("44,8157 N, 20,4623 E", "coordinates", "text:decimal"),
    ("44,8157; 20,4623", "coordinates", "text:decimal"),
    ("44,8157, 20,4623", "coordinates", "text:decimal"),
    ("44.8157 S 20.4623 I", "coordinates", "text:decimal"),  # Serbian letters: S = sever (north), I = istok
    ("С 44,8157 И 20,4623", "coordinates", "text:decimal"),
    ("E 20.4623 N 44.8157", "coordinates", "text:decimal"),
    # degrees, minutes, seconds
    ("44°48'56.5\"N 20°27'44.3\"E", "coordinates", "text:dms"),
    ("44° 48′ 56.5″ N, 20° 27′ 44.3″ E", "coordinates", "text:dms"),
    ("44º48'56.5''N 20º27'44.3''E", "coordinates", "text:dms"),
    ("N 44°48'56.5\" E 20°27'44.3\"", "coordinates", "text:dms"),
    ("44°48.942'N 20°27.738'E", "coordinates", "text:dms"),
    ("44.8157° N, 20.4623° E", "coordinates", "text:dms"),
    ("44.8157°, 20.4623°", "coordinates", "text:dms"),
]


@pytest.mark.parametrize(("text", "method", "source"), POSITIVE, ids=[p[0][:50] for p in POSITIVE])
def test_positive(text: str, method: str, source: str) -> None:
    post = f"Nova kamera 📷 {text} #hiljadekamera"
    candidate = one(post, area=BELGRADE_BOX)
    assert candidate.method == method
    assert candidate.source == source
    assert metres(candidate.lat, candidate.lon, LAT, LON) < 5
    assert candidate.status == "auto"
    assert 10 <= candidate.precision_m <= 17
    assert candidate.span is not None and post[candidate.span[0] : candidate.span[1]] == candidate.matched
    assert candidate.matched.strip("(). ") in text
    assert candidate.evidence["in_area"] is True


def test_sign_and_hemispheres() -> None:
    assert (one("-33.8688, -70.6693").lat, one("-33.8688, -70.6693").lon) == (-33.8688, -70.6693)
    south = one("S 33.8688 W 70.6693")
    assert (south.lat, south.lon) == (-33.8688, -70.6693)
    jug = one("Ј 33,8688 З 70,6693")  # Cyrillic Serbian: jug (south), zapad (west)
    assert (jug.lat, jug.lon) == (-33.8688, -70.6693)
    dms = one("33°52'7.7\"S 151°12'33.5\"E")
    assert dms.lat < 0 < dms.lon


def test_several_in_one_post_come_in_text_order() -> None:
    text = "Prva 44.8157, 20.4623 a druga geo:44.8000,20.4700 i treća 8GP2RF86+6W"
    found = find_coordinates(text)
    assert [c.method for c in found] == ["coordinates", "map_link", "plus_code"]
    assert [text[c.span[0] : c.span[1]] for c in found if c.span] == [c.matched for c in found]


# --- precision and status ----------------------------------------------------------------------------


def test_precision_follows_the_decimals() -> None:
    fine, medium = one("44.81570, 20.46230"), one("44.815, 20.462", area=BELGRADE_BOX)
    coarse = one("koordinate: 44.81, 20.46")
    assert fine.precision_m == 10.0
    assert 50 < medium.precision_m < 100 and medium.status == "auto"
    assert coarse.precision_m > 500 and coarse.status == "pending_review"


def test_map_zoom_and_geo_uncertainty_set_precision() -> None:
    near = one("https://www.google.com/maps/@44.8157,20.4623,19z")
    far = one("google.com/maps/@44.8157,20.4623,11z")
    assert near.precision_m == 10.0 and near.evidence["zoom"] == 19
    assert far.precision_m > 500 and far.status == "pending_review"
    geo = one("geo:44.8157,20.4623;u=35")
    assert geo.precision_m == 35.0 and geo.evidence["uncertainty_m"] == 35.0


def test_cell_precision_is_half_the_diagonal() -> None:
    dy, dx = 100.0 / 111_320, 100.0 / (111_320 * math.cos(math.radians(45)))
    assert cell_precision(45, dy, dx, floor=0) == pytest.approx(math.hypot(100, 100) / 2)
    assert cell_precision(45, 1e-7, 1e-7) == 10.0


# --- plus codes -------------------------------------------------------------------------------------------


def test_full_plus_code() -> None:
    candidate = one("Plus kod: 8GP2RF86+6W, kamera iznad ulaza")
    area = olc.decode("8GP2RF86+6W")
    assert (candidate.lat, candidate.lon) == (round(area.latitudeCenter, 7), round(area.longitudeCenter, 7))
    height = (area.latitudeHi - area.latitudeLo) * 111_320
    width = (area.longitudeHi - area.longitudeLo) * 111_320 * math.cos(math.radians(area.latitudeCenter))
    assert candidate.precision_m == pytest.approx(math.hypot(height, width) / 2, abs=0.1)
    assert candidate.method == "plus_code" and candidate.matched == "8GP2RF86+6W"
    assert one("8gp2rf86+6w").lat == candidate.lat
    assert one("https://plus.codes/8GP2RF86+6W").lat == candidate.lat


def test_short_plus_code_needs_a_reference() -> None:
    text = "RF86+6W Beograd, kamera"
    assert find_coordinates(text) == []
    candidate = one(text, reference=REFERENCE)
    assert candidate.evidence["full_code"] == "8GP2RF86+6W" and candidate.evidence["short"] is True
    assert metres(candidate.lat, candidate.lon, 44.8155625, 20.4623125) < 1


def test_padded_plus_code_is_coarse() -> None:
    candidate = one("8GP20000+")
    assert candidate.precision_m > 10_000 and candidate.status == "pending_review"


# --- order of lat/lon ---------------------------------------------------------------------------------------


def test_swapped_pair_is_fixed_by_the_area() -> None:
    candidate = one("20.4623, 44.8157", area=BELGRADE_BOX)
    assert (candidate.lat, candidate.lon) == (LAT, LON)
    assert "area" in candidate.evidence["swapped"]
    assert candidate.evidence["in_area"] is True
    unswapped = one("20.4623, 44.8157")  # without an area both orders are possible: keep the text's order
    assert (unswapped.lat, unswapped.lon) == (20.4623, 44.8157) and "swapped" not in unswapped.evidence


def test_out_of_range_pair_is_swapped() -> None:
    candidate = one("151.2093, -33.8688")
    assert (candidate.lat, candidate.lon) == (-33.8688, 151.2093)
    assert candidate.evidence["swapped"] == "latitude out of range"


def test_outside_the_area_is_kept_and_marked() -> None:
    candidate = one("https://www.google.com/maps/@45.25512,19.84521,18z", area=BELGRADE_BOX)
    assert candidate.evidence["in_area"] is False
    assert "swapped" not in candidate.evidence


def test_three_decimals_need_the_area_or_a_label() -> None:
    assert find_coordinates("44.815 20.462") == []
    assert len(find_coordinates("44.815 20.462", area=BELGRADE_BOX)) == 1
    assert len(find_coordinates("GPS: 44.815 20.462")) == 1


# --- what must not be found -----------------------------------------------------------------------------

NEGATIVE = [
    "Pozovite 064 123 4567 ili +381 64 1234567",
    "tel: 011/3234-567, faks 011.3234.568",
    "064.123.45.67",
    "Cena 1.200,00 din",
    "Košta 12.500, a ova 15.000 dinara",
    "12.500,00 RSD 15.000,00 RSD",
    "100.000 200.000",
    "Datum: 12.05.2020",
    "12.05.2020. 14.06.2021.",
    "od 12.30 do 14.45",
    "12.30 14.45",
    "u 12:30 i 14:45",
    "Makedonska 30, 11000 Beograd",
    "Terazije 8/2, stan 4",
    "#44.8157 #20.4623",
    "#hiljadekamera 44",
    "v1.2.3 i 2.3.4",
    "192.168.1.1",
    "3,5 miliona i 4,2 miliona",
    "1.5 2.5",
    "2.5 km, 3.25 km",
    "temperatura 24.5 26.5",
    "Rezultat 3:1, 2:2",
    "44,8157,20,4623",
    "44.8157",
    "0.0000, 0.0000",
    "lat 95.1234, lon 200.5678",
    "11. krajiške divizije kod 19. aprila",
    "C++ i C#",
    "Pera+Mika",
    "#RF86+6W",
    "https://t.co/Xb21LqPz7k",
    "https://maps.app.goo.gl/abcDEF1234",
    "https://goo.gl/maps/xyz123",
    "https://www.openstreetmap.org/node/123456",
    "https://www.google.com/maps/place/Terazije,+Beograd",
    "https://example.com/?q=44.8157,20.4623",
    "www.example.com/44.8157,20.4623",
    "https://www.google.com/maps/@95.1,20.4,17z",
    "geo:95.0,20.5",  # every reader refuses a position out of range (issue 10, item 18)
    "geo:44.8,999.5",
    "https://www.openstreetmap.org/?mlat=95&mlon=20#map=17/95/20",
    "https://maps.apple.com/?ll=95.1,20.4",
    "https://www.google.com/maps/place/x/data=!3d95.8!4d20.46",
    "-95.123456, -200.123456",
    "N 44.8157 N 20.4623",
    "44°75'00\"N 20°27'44\"E",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative(text: str) -> None:
    assert find_coordinates(text, area=BELGRADE_BOX, reference=REFERENCE) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,;:/ -+°'\"NSEWgeo@#?=&zČ")), max_size=60))
def test_arbitrary_text_never_raises_and_spans_match(text: str) -> None:
    for candidate in find_coordinates(text, area=BELGRADE_BOX, reference=REFERENCE):
        assert -90 <= candidate.lat <= 90 and -180 <= candidate.lon <= 180
        assert candidate.span is not None and text[candidate.span[0] : candidate.span[1]] == candidate.matched


# --- the development evaluation set -----------------------------------------------------------------------

TEXT_KINDS = ("map_link", "coordinates", "plus_code")


def _eval_rows(shared_eval: Path) -> list[dict]:
    with (shared_eval / "geoparse-dev.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_eval_rows_with_text_positions(shared_eval: Path) -> None:
    rows = [r for r in _eval_rows(shared_eval) if r["tags"][0] in TEXT_KINDS]
    assert len(rows) >= 13
    misses = []
    for row in rows:
        expect = row["expect"]
        found = find_coordinates(row["text"], reference=REFERENCE)
        if not any(metres(c.lat, c.lon, expect["lat"], expect["lon"]) <= expect["tol_m"] for c in found):
            misses.append((row["id"], [(c.lat, c.lon) for c in found]))
    assert misses == []


def test_eval_rows_without_text_positions_give_nothing(shared_eval: Path) -> None:
    rows = [r for r in _eval_rows(shared_eval) if not set(r["tags"]) & set(TEXT_KINDS)]
    assert len(rows) > 100
    found = {r["id"]: find_coordinates(r["text"], reference=REFERENCE) for r in rows}
    assert {key: value for key, value in found.items() if value} == {}


def test_eval_outside_area_link_is_marked(shared_eval: Path, shared_data: Path) -> None:
    boundary = shape(json.loads((shared_data / "belgrade_geo" / "esn_belgrade_boundary.geojson").read_text()))
    rows = [r for r in _eval_rows(shared_eval) if r["tags"][0] == "none" and set(r["tags"]) & set(TEXT_KINDS)]
    assert rows
    for row in rows:
        for candidate in find_coordinates(row["text"], area=boundary, reference=REFERENCE):
            assert candidate.evidence["in_area"] is False, row["id"]
