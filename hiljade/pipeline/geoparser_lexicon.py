"""The geoparser's lexicon: Serbian words that give a name its role, and the towns outside the area.

All words are folded (``normalize.keys``/``fold``): direction and noise words, street type words,
corner words joining two streets, street names that are also plain words, the towns that show a
post is about another place, and the patterns of house numbers and counts after a name.
"""

from __future__ import annotations

import re
from typing import Final

from hiljade.pipeline.normalize import keys


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string."""
    return frozenset(text.split())


DIRECTION_WORDS: Final = _words("ka k prema pravcu smeru smer pravac pravca smera")
LOOK_WORDS: Final = ("gled", "pogled", "okrenut", "usmeren", "uperen", "snima")
NOISE_WORDS: Final = _words(
    "zivim zivi zivimo zive ziveo zivela stanujem stanuje stanujemo radim roden rodena dolazim "
    "odrastao odrasla"
)
TYPE_WORDS: Final = frozenset(keys("bulevar trg skver plato kej obala venac sokak naselje autoput"))
STREET_WORDS: Final = _words("ulica ulici ulicu ulice ul")
PLACE_WORDS: Final = STREET_WORDS | {"u", "na", "kod", "iz", "duz", "niz", "uz"}
CORNER_WORDS: Final = _words(
    "ugao uglu ugla cosak cosku coska raskrsnica raskrsnici raskrsnicu raskrsnice raskrsce "
    "raskrscu raskrsca presek preseku krizanje krizanju ukrstanje ukrstanju spoj spoju"
)
JOIN_WORDS: Final = CORNER_WORDS | _words(
    "i kod x sa s skretanja skretanje skretanju za na ulice ulica ul od blizu pored kraj se ukrsta "
    "ukrstaju sece seku preseca spaja spajaju susrece sustice"
)
JOIN_MARKS: Final = ("/", "-", "–", "—", "&", "+", "x", "×")
MONTHS: Final = frozenset(
    keys(m)[0]
    for m in _words(
        "januara februara marta aprila maja juna jula avgusta septembra oktobra novembra decembra"
    )
)
COMMON_WORDS: Final = frozenset(  # street names that are also plain words
    keys(w)[0]
    for w in _words(
        "okretnica stanica pijaca skola crkva bolnica livada suma potok dol brdo kratka glavna mala stara "
        "nova velika duga siroka uska lipa ruza breza jabuka tresnja topola sloga ideja vojna cvetna zitna "
        "prava strma tesna srednja gornja donja kruzna visoka stepenice kolonija poljane vinogradi roda "
        "dolasci polasci sunce jug sever istok zapad obala venac park most luka prolaz put staza vidikovac "
        "izvor bara kej"
    )
)
OUTSIDE_PLACES: Final = tuple(  # other towns: a post naming one is not about Belgrade
    _words(
        "Novi_Sad Niš Kragujevac Subotica Zrenjanin Pančevo Čačak Kraljevo Novi_Pazar Smederevo Leskovac "
        "Užice Vranje Šabac Valjevo Kruševac Sombor Požarevac Pirot Zaječar Kikinda Sremska_Mitrovica "
        "Jagodina Vršac "
        "Prokuplje Loznica Inđija Ruma Stara_Pazova Paraćin Ćuprija Negotin Aranđelovac Gornji_Milanovac "
        "Smederevska_Palanka Bečej Senta Vrbas Apatin Bačka_Palanka Knjaževac Aleksinac Trstenik Ivanjica "
        "Vrnjačka_Banja Prijepolje Priboj Zlatibor Kosovska_Mitrovica Priština Petrovaradin Sremski_Karlovci "
        "Zagreb Sarajevo Podgorica Skoplje Ljubljana Banja_Luka Budimpešta Beč Rijeka Osijek Mostar Temišvar "
        "Sofija Solun Atina"
    )
)
OUTSIDE_NAMES: Final = {keys(n.replace("_", " ")): n.replace("_", " ") for n in OUTSIDE_PLACES}
OUTSIDE_FIRST: Final = {k[0] for k in OUTSIDE_NAMES}
NUMBER_AFTER: Final = re.compile(  # "14", "br. 14", ", kod broja 14", "8a", "8/2", "22/IV", "6-8"
    r"\s*(?:,?\s*(?:(?:kod|ispred|pored|iza|na|код|испред|поред|иза|на)\s+)?"
    r"(?:br|broj[a-z]*|бр|број[а-ш]*)\.?\s*)?"
    r"(\d{1,3})([a-zA-Zа-шА-Ш])?(?!\w)(?:\s*/\s*(\d{1,3}|[IVXivx]{1,4})\b|-(\d{1,3})\b)?"
)
NUMBER_ALONE: Final = re.compile(
    r"(?i)(?<!\w)(?:broj[a-z]*|br\.?|бр\.?|број[а-ш]*)\s*(\d{1,3})([a-zа-ш])?(?!\w)"
)
COUNT_AFTER: Final = _words(  # "Dečanska 3 kamere", "200 metara", "2 dana": a count, not a house number
    "kamere komad komada metar metra metara m km min minuta sat sata sati dan dana nedelje nedelja meseca "
    "meseci godine godina put puta posto"
)
