"""Camera attributes read from report texts and alt texts: count, type, mount, model, manufacturer."""

from __future__ import annotations

import pytest

from hiljade.pipeline.attributes import KEYS, camera_attributes, merge_attributes


def count(text: str) -> int | None:
    return camera_attributes(text)["count"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dve kamere na banderi", 2),
        ("Dvije kamere na stubu", 2),
        ("3 kamere", 3),
        ("tri kamere kod Slavije", 3),
        ("Две камере на семафору", 2),
        ("ЧЕТИРИ КАМЕРЕ", 4),
        ("Cetiri nove kamere na raskrsnici", 4),
        ("jedna kamera", 1),
        ("Još jedna kamera u Takovskoj", 1),
        ("pet kamera na zgradi", 5),
        ("Ima 5 kamera na raskrsnici", 5),
        ("na uglu 2 kamere", 2),
        ("Evo 2 nove nadzorne kamere", 2),
        ("obe kamere gledaju na park", 2),
        ("sa tri Huawei kamere", 3),
        ("21 kamera na Slaviji? Ne, ovde je 21 kamera", 21),
        ("Slavija: 4 kamere", 4),
        ("two cameras on a pole", 2),
        ("2 CCTV cameras", 2),
        ("3 kamere: dve bullet i jedna PTZ kamera", 3),  # the total, then its parts
        ("dve kamere ... i dve kamere na drugoj strani", 2),
        ("#hiljadekamera: 2 kamere", 2),
    ],
)
def test_count(text: str, expected: int) -> None:
    assert count(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "kamera na banderi",  # a camera, but the text does not count them
        "kamere na stubu",
        "par kamera",  # vague
        "nekoliko kamera u ulici",
        "ima mnogo kamera",
        "više kamera",
        "several cameras",
        "#hiljadekamera",
        "kameraman snima #hiljadekamera",
        "#3kamere",
        "Dečanska 3 kamera",  # a house number: "3 kamera" is no Serbian count
        "Dečanska 3 kamere",  # a house number, perhaps: better none than a wrong one
        "u Takovskoj 5 kamera",
        "Kneza Miloša 7 kamere",
        "br. 3 kamere",
        "3. kamera s leva",  # an ordinal
        "1000 kamera u Beogradu",  # rhetoric, not a count
        "hiljade kamera",
        "jedna od kamera je pokvarena",
        "two of the cameras",
        "jedna kamera gleda ka ulici, dve kamere ka parkingu",  # 1 and 2: inconsistent
        "dve kamere, a ima i par kamera dalje",
        "5 kamere",  # does not agree
        "2 kamera",
    ],
)
def test_no_count(text: str) -> None:
    assert count(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kupolasta kamera na fasadi", "dome"),
        ("kupola kamera", "dome"),
        ("Kamera tipa kupola", "dome"),
        ("КУПОЛАСТА КАМЕРА", "dome"),
        ("dome camera on the wall", "dome"),
        ("bullet kamera", "fixed"),
        ("fiksna kamera na stubu", "fixed"),
        ("fixed camera", "fixed"),
        ("PTZ", "panning"),
        ("ptz kamera na banderi", "panning"),
        ("Rotirajuća kamera", "panning"),
        ("rotirajuca kamera", "panning"),
        ("Ротирајућа камера на стубу", "panning"),
        ("okretna kamera", "panning"),
        ("speed dome camera", "panning"),
        ("panning camera", "panning"),
    ],
)
def test_type(text: str, expected: str) -> None:
    assert camera_attributes(text)["type"] == expected


@pytest.mark.parametrize(
    "text",
    [
        "kamera ispod kupole crkve",  # a church's dome
        "camera under the dome of the church",
        "Kupola",  # without a camera word nearby
        "fiksna cena parkinga",
        "kamera kod okretnice 26",  # a bus loop, not a rotating camera
        "bullet i PTZ kamera",  # a tie
        "#ptz #hiljadekamera",  # hashtags are not read
    ],
)
def test_no_type(text: str) -> None:
    assert camera_attributes(text)["type"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kamera na banderi", "pole"),
        ("Kamera na Banderi", "pole"),
        ("na stubu javne rasvete", "pole"),
        ("postavljena na stub", "pole"),
        ("Две камере на бандери", "pole"),
        ("na visokom stubu", "pole"),
        ("kamera na semaforu", "traffic_signals"),
        ("na semaforu kod zgrade Beograđanke", "traffic_signals"),
        ("camera on a traffic light", "traffic_signals"),
        ("kamera na zgradi", "wall"),
        ("na fasadi", "wall"),
        ("kamera na zidu", "wall"),
        ("Nova kamera na zgradi preko puta semafora", "wall"),
        ("mounted on the wall", "wall"),
        ("kamera na plafonu", "ceiling"),
        ("kamera na tavanici pothodnika", "ceiling"),
        ("ceiling camera", "ceiling"),
        ("PTZ kamera kod semafora, na banderi", "pole"),
        ("bandera", "pole"),
    ],
)
def test_mount(text: str, expected: str) -> None:
    assert camera_attributes(text)["mount"] == expected


@pytest.mark.parametrize(
    "text",
    [
        "kamera kod semafora",  # near a traffic light, not on it
        "kamera ispred zgrade",
        "Zgrada Vlade, kamera",  # a landmark's name
        "kamera u stubištu",  # a stairwell is no pole
        "na banderi i na zgradi",  # a tie
        "#semafor",
    ],
)
def test_no_mount(text: str) -> None:
    assert camera_attributes(text)["mount"] is None


def test_model_and_manufacturer() -> None:
    a = camera_attributes("Huawei IPC6625-Z30 na banderi")
    assert a["model"] == "IPC6625-Z30" and a["manufacturer"] == "Huawei"
    assert camera_attributes("model ipc6225-vrz-es.")["model"] == "IPC6225-VRZ-ES"
    assert camera_attributes("IPC 6625-Z30")["model"] == "IPC6625-Z30"
    both = camera_attributes("IPC6625-Z30 i IPC6225-VRZ-ES, pa opet IPC6625-Z30")
    assert both["model"] == "IPC6625-Z30;IPC6225-VRZ-ES"  # OSM's separator for several values
    assert both["manufacturer"] == "Huawei"  # the IPC code is Huawei's
    assert camera_attributes("Хуавеј камера")["manufacturer"] == "Huawei"
    assert camera_attributes("Huawei-jeva kamera")["manufacturer"] == "Huawei"
    assert camera_attributes("Dahua IPC-HFW2431S")["model"] is None  # not a Huawei code
    assert camera_attributes("Dahua IPC-HFW2431S")["manufacturer"] == "Dahua"
    assert camera_attributes("XIPC6625-Z30")["model"] is None
    assert camera_attributes("#huawei #hiljadekamera")["manufacturer"] is None  # campaign hashtags


def test_everything_at_once_and_alt_text() -> None:
    text = "Dve kupolaste kamere na banderi kod Slavije #hiljadekamera\nAlt: Huawei IPC6625-Z30"
    assert camera_attributes(text) == {"count": 2, "type": "dome", "mount": "pole",
                                       "model": "IPC6625-Z30", "manufacturer": "Huawei"}
    assert camera_attributes("") == dict.fromkeys(KEYS)


def test_merge_attributes() -> None:
    reports = [
        {"count": 2, "type": "dome", "mount": "pole", "model": None, "manufacturer": "Huawei"},
        {"count": 2, "type": "panning", "mount": "pole", "model": "IPC6625-Z30", "manufacturer": None},
        {"count": 3, "type": None, "mount": None, "model": None, "manufacturer": None},
        dict.fromkeys(KEYS),
    ]
    assert merge_attributes(reports) == {"count": 2, "type": None, "mount": "pole",
                                         "model": "IPC6625-Z30", "manufacturer": "Huawei"}
    assert merge_attributes([{"count": 2}, {"count": 3}])["count"] == 3  # a tie: the larger count
    assert merge_attributes([{"mount": "pole"}, {"mount": "wall"}])["mount"] is None
    assert merge_attributes([]) == dict.fromkeys(KEYS)
