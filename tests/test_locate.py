"""Choosing a post's position: order of evidence, the area check, the geocoder as a last resort."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import Located, locate
from hiljade.records import Candidate
from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.gazetteer import DECANSKA_MAKEDONSKA, belgrade_gazetteer, town_gazetteer
from tests.support.places import STREETS

EXIF = Candidate(lat=44.8160, lon=20.4610, method="exif", precision_m=5.0, confidence=1.0, status="auto")
NOVI_SAD = Candidate(lat=45.2551, lon=19.8452, method="exif", precision_m=5.0, confidence=1.0, status="auto")


@pytest.fixture
def town(tmp_path_factory: pytest.TempPathFactory) -> Gazetteer:
    return town_gazetteer(str(tmp_path_factory.getbasetemp() / "town"))


class Geocoder:
    """A stand-in for the online geocoder that records what it was asked."""

    def __init__(self, answer: list[Candidate]) -> None:
        self.answer, self.asked = answer, []

    def __call__(self, text: str) -> list[Candidate]:
        self.asked.append(text)
        return list(self.answer)


def test_a_corner_in_the_text_is_located(town: Gazetteer) -> None:
    res = locate("Nova kamera na uglu Dečanske i Makedonske", town)
    assert isinstance(res, Located) and res.outcome == "located"
    assert (res.chosen.method, res.chosen.status) == ("intersection", "auto")
    assert (round(res.chosen.lat, 4), round(res.chosen.lon, 4)) == DECANSKA_MAKEDONSKA


def test_extra_evidence_comes_first(town: Gazetteer) -> None:
    res = locate("Kamera na uglu Dečanske i Makedonske", town, extra=[EXIF])
    assert res.chosen is EXIF and res.outcome == "located" and len(res.candidates) == 2


def test_outside_candidates_are_kept_rejected_and_never_chosen(town: Gazetteer) -> None:
    res = locate("Kamera na uglu Dečanske i Makedonske", town, extra=[NOVI_SAD])
    assert res.chosen.method == "intersection"
    assert (
        res.candidates[0].status == "rejected"
        and res.candidates[0].evidence["rejected"] == "outside the area"
    )
    res = locate("kamera", town, extra=[NOVI_SAD])
    assert res.chosen is None and res.outcome == "outside_area"


def test_a_street_alone_waits_for_review(town: Gazetteer) -> None:
    res = locate("Kamera u Makedonskoj", town)
    assert res.outcome == "pending_review" and res.chosen.method == "street"


def test_an_automatic_candidate_beats_one_that_needs_review(town: Gazetteer) -> None:
    rough = Candidate(
        lat=44.8150,
        lon=20.4600,
        method="platform_geo",
        precision_m=500.0,
        confidence=0.3,
        status="pending_review",
    )
    res = locate("Kamera na uglu Dečanske i Makedonske", town, extra=[rough])
    assert res.chosen.method == "intersection"


def test_ambiguous_posts_choose_nothing(town: Gazetteer) -> None:
    res = locate("Kamera u Gočkoj", town)  # two streets of that name
    assert res.chosen is None and res.outcome == "pending_review" and len(res.candidates) == 2


def test_the_geocoder_is_asked_only_when_the_gazetteer_found_nothing(town: Gazetteer) -> None:
    answer = Candidate(
        lat=44.8100, lon=20.4600, method="geocoder", precision_m=50.0, confidence=0.5, status="pending_review"
    )
    geocoder = Geocoder([answer])
    assert (
        locate("Kamera na uglu Dečanske i Makedonske", town, geocode=geocoder).chosen.method == "intersection"
    )
    assert locate("Kamera u Novom Sadu, u Dečanskoj", town, geocode=geocoder).outcome == "outside_area"
    assert geocoder.asked == []
    res = locate("Kamera kod Narodnog pozorišta", town, geocode=geocoder)
    assert geocoder.asked == ["Kamera kod Narodnog pozorišta"] and res.chosen == answer
    far = Geocoder(
        [
            Candidate(
                lat=43.32,
                lon=21.90,
                method="geocoder",
                precision_m=50.0,
                confidence=0.5,
                status="pending_review",
            )
        ]
    )
    assert locate("Kamera kod tvrđave", town, geocode=far).outcome == "outside_area"


def test_nothing(town: Gazetteer) -> None:
    res = locate("Kamere su svuda, ne možeš da mrdneš", town)
    assert (res.chosen, res.candidates, res.outcome) == (None, (), "nothing")
    assert locate("", None).outcome == "nothing"
    assert locate("Kamera u Dečanskoj", None, extra=[EXIF]).chosen is EXIF  # no gazetteer, no area check


def test_map_links_from_textgeo(town: Gazetteer) -> None:
    pytest.importorskip("hiljade.pipeline.textgeo")
    text = (
        "Kamera u Gočkoj https://www.openstreetmap.org/?mlat=44.81554&mlon=20.46231#map=19/44.81554/20.46231"
    )
    res = locate(text, town)
    assert res.chosen.method == "map_link" and res.outcome == "located"
    assert {c.method for c in res.candidates} == {"map_link", "street"}


def test_real_short_plus_code_is_recovered_near_belgrade(shared_data: Path) -> None:
    pytest.importorskip("hiljade.pipeline.textgeo")
    gaz, _ = belgrade_gazetteer(shared_data)
    res = locate("PCGG+CP Beograd, kamera", gaz)
    assert (
        res.chosen is not None
        and res.chosen.method == "plus_code"
        and gaz.contains(res.chosen.lat, res.chosen.lon)
    )


def test_nothing_found_says_why(town: Gazetteer) -> None:
    assert locate("Kamere su svuda, ne možeš da mrdneš", town).reason == "no place name found in the text"
    unknown = locate("Kamera kod bioskopa Zvezda", town)
    assert unknown.outcome == "nothing" and unknown.reason == (
        "a place name was found (Zvezda) but it is not in the gazetteer; the online geocoder is off"
    )
    asked = locate("Kamera kod bioskopa Zvezda", town, geocode=Geocoder([]))
    assert asked.reason.endswith("the online geocoder found nothing either")
    ambiguous = locate("Kamera u Gočkoj", town)
    assert ambiguous.reason.startswith("ambiguous: the text fits several places (Gočkoj")
    outside = locate("kamera", town, extra=[NOVI_SAD])
    assert outside.reason == "outside the area: outside the area"
    named = locate("Kamera u Novom Sadu, u Dečanskoj", town)
    assert named.outcome == "outside_area" and "Novi Sad" in named.reason
    assert "no gazetteer" in locate("Kamera u Takovskoj", None).reason
    assert locate("Kamera na uglu Dečanske i Makedonske", town).reason == ""


def test_locate_command_prints_the_reason(tmp_path: Path) -> None:
    (tmp_path / "streets.geojson").write_text(json.dumps(STREETS), encoding="utf-8")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", [])
    streets = str(tmp_path / "streets.geojson")
    code, out, err = cli(config, "locate", "--gazetteer", streets, "--text", "Kamera kod bioskopa Zvezda")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["status"] == "nothing" and "(Zvezda) but it is not in the gazetteer" in answer["reason"]


@pytest.mark.parametrize(
    "text",
    [
        "#br5",  # every word a hashtag or inside a link, and a digit: the lone-number rule had no word
        "http://x.com/br5",
        "https://www.openstreetmap.org/?mlat=44.8157&mlon=20.4623skoj",  # a marker that is not a number
    ],
)
def test_texts_without_words_or_with_broken_map_links_are_answers(town: Gazetteer, text: str) -> None:
    res = locate(text, town)
    assert res.outcome == "nothing" and not res.candidates


def test_a_map_link_whose_marker_is_not_a_number_is_read_by_its_view(town: Gazetteer) -> None:
    res = locate("https://www.openstreetmap.org/?mlat=abc&mlon=20.4623#map=17/44.8150/20.4620", town)
    found = [(c.method, c.source, c.lat, c.lon) for c in res.candidates]
    assert found == [("map_link", "osm:view", 44.815, 20.462)]


_SEED_PROBE = """
import json
from shapely.geometry import LineString
from hiljade.pipeline.gazetteer import Entry, Gazetteer
from hiljade.pipeline.locate import locate
names = ["Takovska", "Tamovska", "Tabovska"]
entries = [Entry("street", n, (n,), LineString([(20.40 + i * 0.01, 44.80), (20.40 + i * 0.01, 44.81)]), {})
           for i, n in enumerate(names)]
res = locate("Kamera u Tarovskoj ulici", Gazetteer(entries))
print(json.dumps([(c.status, c.lat, c.lon, c.evidence.get("entry")) for c in res.candidates]))
"""


def test_a_misspelt_name_one_letter_from_several_names_is_read_the_same_whatever_the_hash_seed() -> None:
    answers = set()
    for seed in range(6):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        done = subprocess.run([sys.executable, "-c", _SEED_PROBE], env=env, capture_output=True, text=True,
                              check=True)
        answers.add(done.stdout)
    assert len(answers) == 1
    [(status, _, _, entry)] = json.loads(answers.pop())
    assert status == "pending_review" and entry == "Tabovska"  # the first of the near names, sorted
