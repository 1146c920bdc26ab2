"""Serbian text folding: scripts, diacritics, declension, ordinals, tokens with offsets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hiljade.pipeline.fuzzy import damerau1
from hiljade.pipeline.morphology import stem
from hiljade.pipeline.normalize import keys, shorter_names, tokenize
from hiljade.pipeline.numerals import housenumber_keys, ordinal_value
from hiljade.pipeline.scripts import fold, to_cyrillic, to_latin

SERBIAN_LATIN = "abcčćdđefghijklmnoprsštuvzž"


def test_transliteration_both_ways() -> None:
    assert (
        to_latin("Љубомира Ивковића-Шуце, Џорџа Вашингтона") == "Ljubomira Ivkovića-Šuce, Džordža Vašingtona"
    )
    assert to_cyrillic("Njegoševa, Džordža, LJUBIĆ") == "Његошева, Џорџа, ЉУБИЋ"
    assert to_latin("ЂУРА") == "ĐURA"


@given(st.text(alphabet=SERBIAN_LATIN + " ", max_size=40))
def test_lowercase_latin_survives_a_trip_through_cyrillic(text: str) -> None:
    assert to_latin(to_cyrillic(text)) == text
    assert fold(to_cyrillic(text)) == fold(text)


@pytest.mark.parametrize("spelling", ["Ђорђа", "Đorđa", "Djordja", "Dordja", "DJORDJA", "Dorda", "đorđa"])
def test_dj_and_d_fold_alike(spelling: str) -> None:
    assert fold(spelling) == "dorda"


def test_diacritics_and_case_fold() -> None:
    assert (
        fold("Čačak Ćuprija Šabac Žarkovo")
        == fold("cacak cuprija sabac zarkovo")
        == "cacak cuprija sabac zarkovo"
    )
    assert fold("Crédit") == "credit"


@pytest.mark.parametrize(
    ("forms", "same"),
    [
        (["Makedonska", "Makedonske", "Makedonskoj", "Makedonsku", "Makedonskom", "МАКЕДОНСКОЈ"], True),
        (["Terazije", "Terazija", "Terazijama", "Теразијама"], True),
        (["Bulevar", "Bulevara", "Bulevaru", "bul."], True),
        (["Trg", "Trga", "Trgu", "Trgom"], True),
        (["Kolarčeva", "Kolarcevoj", "Kolarčevom", "Kolarceve"], True),
        (["Staklenac", "Staklenca", "Staklencu"], True),
        (["Plato", "Platou", "Platoa"], True),
        (["Jagodinska", "Jagodina"], False),
        (["Kolarčeva", "Kolarac"], False),
    ],
)
def test_declined_forms_share_a_stem(forms: list[str], same: bool) -> None:
    stems = {keys(f)[0] for f in forms}
    assert (len(stems) == 1) is same, stems


def test_genitive_names_keep_their_words() -> None:
    assert keys("Kneza Mihaila") == keys("Кнеза Михаила") == ("knez", "mihail")
    assert keys("Knez Mihailovoj") == keys("Knez Mihailova") == ("knez", "mihailov")


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("sedamnaestog", 17),
        ("jedanaeste", 11),
        ("pete", 5),
        ("prve", 1),
        ("trećeg", 3),
        ("dvadesetog", 20),
        ("stotog", 100),
        ("pet", None),
        ("deset", None),
        ("sedam", None),
    ],
)
def test_ordinal_words(word: str, value: int | None) -> None:
    assert ordinal_value(fold(word)) == value


def test_ordinals_in_digits_and_words_meet() -> None:
    assert keys("17. oktobra") == keys("Седамнаестог октобра") == keys("17 oktobra") == ("#17", "oktobr")
    assert keys("dvadeset prvog maja") == keys("21. maja") == ("#21", "maj")
    assert keys("Trideset prve") == ("#31",)
    assert stem("1000") == "#1000"


def test_tokens_keep_offsets_and_skip_links() -> None:
    text = "RT @stari_grad: Нушићева/Dečanska, 17. oktobra! https://t.co/x #hiljadekamera Kraj."
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["RT", "Нушићева", "Dečanska", "17", "oktobra", "Kraj"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert tokens[3].dot and tokens[3].sentence == tokens[4].sentence  # "17." is an ordinal, not an ending
    assert tokens[5].sentence > tokens[4].sentence and tokens[5].first


@given(st.text(alphabet=SERBIAN_LATIN + "АБВГЂЖЉЊЋЏШабвгђжљњћџш .,/-0123456789", max_size=60))
def test_offsets_always_point_into_the_text(text: str) -> None:
    for t in tokenize(text):
        assert text[t.start : t.end].replace(" ", "") == t.text.replace(" ", "")


def test_one_edit() -> None:
    assert damerau1("ninkovic", "nikovic") and damerau1("makedonsk", "makedosnk") and damerau1("abc", "abd")
    assert not damerau1("jagodinsk", "jagodin") and not damerau1("abcd", "badc")


def test_housenumbers_and_shorter_names() -> None:
    assert housenumber_keys("8а") == ["8a", "~8"]
    assert housenumber_keys("6-8") == ["6-8", "6", "8", "~6"]
    assert housenumber_keys("22/IV") == ["22/iv", "~22"]
    assert shorter_names("Morn (The Black Turtle Pub)") == [
        "Morn",
        "The Black Turtle Pub",
        "Black Turtle Pub",
    ]
    assert shorter_names("ТЦ Стакленац") == ["Стакленац", "Тржни центар Стакленац"]  # the kind in full too
    assert shorter_names("Дом омладине Београда") == ["Дом омладине"]
    assert shorter_names("Plato dr Zorana Đinđića") == ["Plato Zorana Đinđića"]
    assert shorter_names("Palilula (Beograd)") == ["Palilula"]
    assert shorter_names("AIK Banka") == []
