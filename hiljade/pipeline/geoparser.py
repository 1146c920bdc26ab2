"""The Serbian street geoparser: a post's words -> candidate camera positions, best first.

Pure: ``parse(text, gazetteer)``. Names are matched on folded, stemmed keys (both scripts, no
diacritics, declined forms, ordinals in digits or words, one wrong letter in long names), longest
match first. Then: a house number after a street -> address; two streets of one sentence that meet
-> intersection; a landmark or square -> its point; a street alone -> a point on it, for review.
Directions ("okrenuta ka X"), noise ("živim u X"), named areas and places outside the city never
become positions; several different places in one post leave the choice to a reviewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hiljade.pipeline.gazetteer import Gazetteer, NameGroup
from hiljade.pipeline.normalize import (
    Token,
    agrees,
    damerau1,
    feminine_adjective,
    fold,
    folds,
    housenumber_keys,
    keys,
    tokenize,
)
from hiljade.records import Candidate

RANK = {"address": 5, "intersection": 4, "landmark": 3, "square": 3, "street": 1}
LARGE_M = 150.0  # a square or landmark reaching further than this is no position without review
NEAR_M = 80.0  # another named place closer than this to the best candidate does not contradict it


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string."""
    return frozenset(text.split())


DIRECTION_WORDS = _words("ka k prema pravcu smeru smer pravac pravca smera")
LOOK_WORDS = ("gled", "pogled", "okrenut", "usmeren", "uperen", "snima")
NOISE_WORDS = _words(
    "zivim zivi zivimo zive ziveo zivela stanujem stanuje stanujemo radim roden rodena dolazim "
    "odrastao odrasla"
)
TYPE_WORDS = frozenset(keys("bulevar trg skver plato kej obala venac sokak naselje autoput"))
STREET_WORDS = _words("ulica ulici ulicu ulice ul")
PLACE_WORDS = STREET_WORDS | {"u", "na", "kod", "iz", "duz", "niz", "uz"}
CORNER_WORDS = _words(
    "ugao uglu ugla cosak cosku coska raskrsnica raskrsnici raskrsnicu raskrsnice raskrsce "
    "raskrscu raskrsca presek preseku krizanje krizanju ukrstanje ukrstanju spoj spoju"
)
JOIN_WORDS = CORNER_WORDS | _words(
    "i kod x sa s skretanja skretanje skretanju za na ulice ulica ul od blizu pored kraj se ukrsta "
    "ukrstaju sece seku preseca spaja spajaju susrece sustice"
)
JOIN_MARKS = ("/", "-", "–", "—", "&", "+", "x", "×")
MONTHS = frozenset(
    keys(m)[0]
    for m in _words(
        "januara februara marta aprila maja juna jula avgusta septembra oktobra novembra decembra"
    )
)
COMMON_WORDS = frozenset(  # street names that are also plain words
    keys(w)[0]
    for w in _words(
        "okretnica stanica pijaca skola crkva bolnica livada suma potok dol brdo kratka glavna mala stara "
        "nova velika duga siroka uska lipa ruza breza jabuka tresnja topola sloga ideja vojna cvetna zitna "
        "prava strma tesna srednja gornja donja kruzna visoka stepenice kolonija poljane vinogradi roda "
        "dolasci polasci sunce jug sever istok zapad obala venac park most luka prolaz put staza vidikovac "
        "izvor bara kej"
    )
)
OUTSIDE_PLACES = tuple(  # other towns: a post naming one is not about Belgrade
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
_OUTSIDE = {keys(n.replace("_", " ")): n.replace("_", " ") for n in OUTSIDE_PLACES}
_OUTSIDE_FIRST = {k[0] for k in _OUTSIDE}
_NUMBER_AFTER = re.compile(  # "14", "br. 14", ", kod broja 14", "8a", "8/2", "22/IV", "6-8"
    r"\s*(?:,?\s*(?:(?:kod|ispred|pored|iza|na|код|испред|поред|иза|на)\s+)?"
    r"(?:br|broj[a-z]*|бр|број[а-ш]*)\.?\s*)?"
    r"(\d{1,3})([a-zA-Zа-шА-Ш])?(?!\w)(?:\s*/\s*(\d{1,3}|[IVXivx]{1,4})\b|-(\d{1,3})\b)?"
)
_NUMBER_ALONE = re.compile(r"(?i)(?<!\w)(?:broj[a-z]*|br\.?|бр\.?|број[а-ш]*)\s*(\d{1,3})([a-zа-ш])?(?!\w)")
_COUNT_AFTER = _words(  # "Dečanska 3 kamere", "200 metara", "2 dana": a count, not a house number
    "kamere komad komada metar metra metara m km min minuta sat sata sati dan dana nedelje nedelja meseca "
    "meseci godine godina put puta posto"
)


@dataclass
class Mention:
    """A run of tokens naming something in the gazetteer (or a town outside the area)."""

    i: int
    j: int
    group: NameGroup | None
    outside: str = ""
    typo: bool = False
    role: str = "place"  # place, weak (needs a corner or a number), direction, noise, blocked, area, outside
    doubts: list[str] = field(default_factory=list)
    kinds: dict[str, list[int]] = field(default_factory=dict)
    written: tuple[str, ...] = ()  # the folded words as the post wrote them
    cyrillic: bool = False


@dataclass
class _Cand:
    method: str
    lat: float
    lon: float
    precision: float
    span: tuple[int, int]
    source: str
    eids: list[int]
    evidence: dict[str, Any]
    confidence: float = 0.9

    @property
    def auto(self) -> bool:
        return self.method != "street" and not self.evidence["doubts"]


def parse(text: str, gazetteer: Gazetteer) -> list[Candidate]:
    """Candidate positions named in ``text``, best first (see the module docstring)."""
    tokens = tokenize(text)
    mentions = _find_mentions(tokens, gazetteer) if tokens else []
    _assign_roles(mentions, tokens, text, gazetteer)
    places = [m for m in mentions if m.role in ("place", "weak")]
    claimed = [(tokens[m.i].start, tokens[m.j - 1].end) for m in mentions]
    used: set[int] = set()
    cands = _addresses(places, tokens, text, gazetteer, used, claimed)
    cands += _intersections(places, tokens, text, gazetteer, used)
    cands += _points(places, tokens, gazetteer, used)
    cands += _streets(places, tokens, gazetteer, used)
    _judge(cands, mentions, tokens, gazetteer)
    outside = ", ".join(m.outside for m in mentions if m.role == "outside")
    out = []
    for c in cands:
        status = "auto" if c.auto else "pending_review"
        if outside:
            status, c.evidence["rejected"] = "rejected", f"the post names a place outside the area: {outside}"
        confidence = c.confidence * (0.6 if c.evidence["doubts"] else 1.0)
        out.append(
            Candidate(
                lat=c.lat,
                lon=c.lon,
                method=c.method,
                precision_m=round(c.precision, 1),
                confidence=round(confidence, 3),
                status=status,
                matched=text[c.span[0] : c.span[1]],
                span=c.span,
                source=c.source,
                evidence=c.evidence,
            )
        )
    return out


# ---- names in the text ------------------------------------------------------------------------


def _match(tokens: list[Token], i: int, group: NameGroup, typo_ok: bool) -> int | None:
    """Number of wrong letters (0 or 1) when ``group`` matches at token i, else None."""
    if i + len(group.keys) > len(tokens):
        return None
    typos = 0
    for k, alts in enumerate(group.alts):
        tok = tokens[i + k]
        if group.feminine[k] and not agrees(group.folds[k], tok.fold):
            return None  # "Avalskog tornja" is not Avalska
        if tok.key in alts:
            continue
        name_key = group.keys[k]
        if (
            not typo_ok
            or typos
            or len(name_key) < 7
            or name_key.startswith("#")
            or not damerau1(tok.key, name_key)
        ):
            return None
        typos = 1
    return typos


def _find_mentions(tokens: list[Token], gaz: Gazetteer) -> list[Mention]:
    found: list[tuple[int, int, Mention]] = []  # (words, typos, mention)
    all_caps = all(t.text.isupper() for t in tokens if not t.fold.isdigit())
    for i, tok in enumerate(tokens):
        for group in gaz.by_first.get(tok.key, ()):
            if _match(tokens, i, group, False) is not None:
                found.append((len(group.keys), 0, Mention(i, i + len(group.keys), group)))
        acronym = tok.text.isupper() and len(tok.text) > 1 and not all_caps  # "NIS pumpa" is not Niš
        if tok.key in _OUTSIDE_FIRST and (len(tok.key) > 4 or tok.upper) and not acronym:
            for n in (1, 2, 3):
                name = _OUTSIDE.get(tuple(t.key for t in tokens[i : i + n]))
                if name and i + n <= len(tokens):
                    found.append((n, 0, Mention(i, i + n, None, outside=name)))
    covered = {k for _, _, m in found for k in range(m.i, m.j)}
    for i, tok in enumerate(tokens):  # one wrong letter, only where nothing matched as written
        if i in covered or len(tok.key) < 6 or tok.key in gaz.name_keys:
            continue
        for near in gaz.fuzzy_keys(tok.key):
            for start in range(max(0, i - 3), i + 1):
                for group in gaz.by_first.get(tokens[start].key if start < i else near, ()):
                    if near in group.keys and _match(tokens, start, group, True) == 1:
                        found.append(
                            (len(group.keys), 1, Mention(start, start + len(group.keys), group, typo=True))
                        )
    found.sort(key=lambda f: (-f[0], f[1], f[2].i))
    taken: set[int] = set()
    chosen = []
    for _, _, m in found:
        if not taken.intersection(range(m.i, m.j)):
            taken.update(range(m.i, m.j))
            for eid in dict.fromkeys(e for e, _, _ in m.group.members) if m.group else ():
                m.kinds.setdefault(gaz.entries[eid].kind, []).append(eid)
            m.written = tuple(t.fold for t in tokens[m.i : m.j])
            m.cyrillic = any("\u0400" <= ch <= "\u04ff" for t in tokens[m.i : m.j] for ch in t.text)
            chosen.append(m)
    return sorted(chosen, key=lambda m: m.i)


def _assign_roles(mentions: list[Mention], tokens: list[Token], text: str, gaz: Gazetteer) -> None:
    """What each name is doing in the post: a place, or a direction, noise, a vague area ..."""
    lowercase_post = not any(t.upper for t in tokens)
    for m in mentions:
        before = [t.fold for t in tokens[max(0, m.i - 3) : m.i]]
        first, kinds, k = tokens[m.i], m.kinds, m.group.keys if m.group else ()
        looks_named = first.upper or lowercase_post
        street_word = bool(before) and before[-1] in STREET_WORDS
        if any(w in NOISE_WORDS for w in before):
            m.role = "noise"  # "živim u Gočkoj"
        elif m.outside:
            m.role = "outside"
        elif before and (
            before[-1] in DIRECTION_WORDS
            or (len(before) >= 2 and before[-1] in ("na", "u") and before[-2].startswith(LOOK_WORDS))
        ):
            m.role = "direction"  # "okrenuta ka Dečanskoj", "gleda na Terazije"
        elif m.i > 0 and tokens[m.i - 1].key in TYPE_WORDS and k[0] not in TYPE_WORDS:
            m.role = "blocked"  # "bulevaru Oslobođenja" is not the street Oslobođenja
        elif not (kinds.keys() - {"area", "known"}) and not gaz.addresses.get(k):
            m.role = "area"  # municipalities, neighbourhoods, streets we have no geometry for
        elif k[0].startswith("#") and len(k) == 2 and k[1] in MONTHS:
            if not (before and before[-1] in PLACE_WORDS):
                m.role = "weak"  # "19. aprila" is a date as often as a street
        elif len(k) == 1 and k[0] in COMMON_WORDS:
            if first.first or not first.upper or not (before and before[-1] in PLACE_WORDS):
                m.role = "weak"  # "okretnica" is a word before it is a street
        elif len(k) == 1 and not (feminine_adjective(m.group.folds[0]) or looks_named or street_word):
            m.role = "weak"  # "dan oslobođenja" is not the street Oslobođenja
        nxt = tokens[m.j] if m.j < len(tokens) else None
        if (
            len(k) == 1
            and feminine_adjective(first.fold)
            and nxt is not None
            and nxt.fold.endswith("a")
            and len(nxt.fold) > 3
            and not nxt.upper
            and text[tokens[m.j - 1].end : nxt.start].isspace()
            and nxt.fold not in STREET_WORDS
            and not nxt.fold.startswith("kamer")
        ):
            m.role = "weak"  # "Jagodinska policija": an adjective with its noun, not the street
        one_word_shop = len(k) == 1 and "landmark" in kinds and not kinds.keys() & {"street", "square"}
        if m.role == "place" and one_word_shop and (lowercase_post or not first.upper or first.first):
            m.role = "weak"  # "Sunce prži", "lilly": a one-word shop name must look like a name


# ---- candidates -------------------------------------------------------------------------------


def _span(tokens: list[Token], *ms: Mention) -> tuple[int, int]:
    return tokens[min(m.i for m in ms)].start, tokens[max(m.j for m in ms) - 1].end


def _evidence(m: Mention, gaz: Gazetteer, eid: int, **extra: Any) -> dict[str, Any]:
    """What matched: the entry, the variant of its name and the tag that variant came from."""
    variant, tag = max(  # the spelling of the name closest to the one in the post
        ((v, t) for e, v, t in m.group.members if e == eid),
        key=lambda vt: (
            sum(a == b for a, b in zip(m.written, folds(vt[0]), strict=False)),
            any("\u0400" <= ch <= "\u04ff" for ch in vt[0]) == m.cyrillic,
        ),
        default=("", ""),
    )
    entry = gaz.entries[eid]
    ev: dict[str, Any] = {
        "entry": entry.name,
        "kind": entry.kind,
        "variant": variant,
        "tag": tag,
        "doubts": list(m.doubts) + (["one wrong letter"] if m.typo else []),
    }
    ev.update(extra)
    return ev


def _addresses(
    places: list[Mention],
    tokens: list[Token],
    text: str,
    gaz: Gazetteer,
    used: set[int],
    claimed: list[tuple[int, int]],
) -> list[_Cand]:
    """A street with a house number after it, or a lone "broj N" paired with the nearest street."""
    streets = [m for m in places if gaz.addresses.get(m.group.keys) or "street" in m.kinds]
    numbers: dict[int, tuple[Mention, str, tuple[int, int]]] = {}
    for m in streets:
        hit = _NUMBER_AFTER.match(text, tokens[m.j - 1].end)
        if not hit or any(s <= hit.start(1) < e for s, e in claimed):
            continue  # "Boze Baucala 5. kozarske": the number starts the next name
        after = re.match(r"\s*(\w*)", text[hit.end() : hit.end() + 20])
        if not (hit.group(2) or hit.group(3)) and (
            fold(after.group(1)) in _COUNT_AFTER or text[hit.end() : hit.end() + 1] in ("-", ":", "%")
        ):
            continue  # "Dečanska 3 kamere", "na 200 metara", "u 7:30"
        number = (
            hit.group(1)
            + (hit.group(2) or "")
            + ("/" + hit.group(3) if hit.group(3) else "")
            + ("-" + hit.group(4) if hit.group(4) else "")
        )
        numbers[id(m)] = (m, number, (tokens[m.i].start, hit.end()))
    for hit in _NUMBER_ALONE.finditer(text):
        if any(s <= hit.start(1) < e for _, _, (s, e) in numbers.values()):
            continue
        free = [m for m in streets if id(m) not in numbers]
        sentence = next((t.sentence for t in tokens if t.end > hit.start()), tokens[-1].sentence)
        pool = [m for m in free if tokens[m.i].sentence == sentence]
        pool = pool or (free if len({m.group.keys for m in streets}) == 1 else [])
        if pool:
            m = min(
                pool,
                key=lambda x: min(abs(tokens[x.i].start - hit.end()), abs(hit.start() - tokens[x.j - 1].end)),
            )
            span = (min(tokens[m.i].start, hit.start()), max(tokens[m.j - 1].end, hit.end()))
            numbers[id(m)] = (m, hit.group(1) + (hit.group(2) or ""), span)
    out = []
    for m, number, span in numbers.values():
        street_keys = {m.group.keys} | {
            keys(v) for e, _, _ in m.group.members for v in gaz.entries[e].variants
        }
        wanted = housenumber_keys(number)
        for exact, hn in ((True, wanted[0]), (False, wanted[-1])):
            eids = sorted({e for k in street_keys for e in gaz.addresses.get(k, {}).get(hn, ())})
            if not eids:
                continue
            entry = gaz.entries[eids[0]]
            ev = {
                "entry": entry.name,
                "kind": "address",
                "housenumber": number,
                "variant": text[tokens[m.i].start : tokens[m.j - 1].end],
                "doubts": list(m.doubts)
                + (["one wrong letter"] if m.typo else [])
                + ([] if exact else [f"no house number {number}; {entry.properties['housenumber']} used"]),
            }
            out.append(
                _Cand(
                    "address",
                    *entry.point,
                    20.0 if exact else 40.0,
                    span,
                    f"address:{entry.name}",
                    eids[:1],
                    ev,
                    0.95,
                )
            )
            used.add(id(m))
            break
        else:
            m.doubts.append(f"house number {number} is not in the data")
    return out


def _intersections(
    places: list[Mention], tokens: list[Token], text: str, gaz: Gazetteer, used: set[int]
) -> list[_Cand]:
    """Two streets of one sentence that meet; a corner word between them makes it sure."""
    out: list[_Cand] = []
    streets = [m for m in places if "street" in m.kinds]
    for n, a in enumerate(streets):
        for b in streets[n + 1 :]:
            if tokens[a.i].sentence != tokens[b.i].sentence or a.group is b.group:
                continue
            pairs = [
                (x, y, gaz.intersections.get(frozenset((x, y))))
                for x in a.kinds["street"]
                for y in b.kinds["street"]
            ]
            pairs = [p for p in pairs if p[2] is not None]
            cue = _cue(tokens, text, a, b)
            if not pairs or cue is None or (not cue and "weak" in (a.role, b.role)):
                continue
            for x, y, eid in pairs:
                entry = gaz.entries[eid]
                pts = list(getattr(entry.geometry, "geoms", [entry.geometry]))
                centre = entry.geometry.centroid if len(pts) > 1 else pts[0]
                pt = min(pts, key=centre.distance)
                ev_a, ev_b = _evidence(a, gaz, x), _evidence(b, gaz, y)
                doubts = ev_a.pop("doubts") + ev_b.pop("doubts")
                doubts += [f"the streets meet at {len(pts)} places"] if len(pts) > 1 else []
                doubts += ["several streets carry these names"] if len(pairs) > 1 else []
                doubts += [] if cue else ["no corner word between the names"]
                ev = {
                    "entry": entry.name,
                    "kind": "intersection",
                    "cue": cue,
                    "streets": [ev_a, ev_b],
                    "doubts": doubts,
                }
                out.append(
                    _Cand(
                        "intersection",
                        pt.y,
                        pt.x,
                        30.0 if len(pts) == 1 else 60.0,
                        _span(tokens, a, b),
                        f"intersection:{entry.name}",
                        [eid],
                        ev,
                    )
                )
            used.update((id(a), id(b)))
    return out


def _cue(tokens: list[Token], text: str, a: Mention, b: Mention) -> str | None:
    """The corner word joining two street names; "" when they only share a sentence; None when
    they are not joined (far apart, or a list: "u X i u Y")."""
    gap_raw = text[tokens[a.j - 1].end : tokens[b.i].start].strip()
    gap = [t.fold for t in tokens[a.j : b.i]]
    if not gap and gap_raw in JOIN_MARKS:
        return gap_raw
    if len(gap) > 6 or ("i" in gap and gap[gap.index("i") + 1 : gap.index("i") + 2] in (["u"], ["na"])):
        return None
    around = [t.fold for t in tokens[max(0, a.i - 3) : a.i]] + gap + [t.fold for t in tokens[b.j : b.j + 2]]
    corner = next((w for w in around if w in CORNER_WORDS), None)
    if corner:
        return corner
    if gap == ["i"] and tokens[a.j - 1].fold.endswith("oj") and tokens[b.j - 1].fold.endswith("oj"):
        return ""  # "u Gočkoj i Tuzlanskoj": two streets, or their corner
    if gap and all(w in JOIN_WORDS for w in gap) and set(gap) - {"na", "od", "za", "ulice", "ulica", "ul"}:
        return " ".join(gap)
    return ""


def _points(places: list[Mention], tokens: list[Token], gaz: Gazetteer, used: set[int]) -> list[_Cand]:
    """Squares and landmarks named in the post; a one-word landmark name needs support."""
    out: list[_Cand] = []
    for m in places:
        if id(m) in used or m.role != "place" or not ({"square", "landmark"} & m.kinds.keys()):
            continue
        if "street" in m.kinds and any(d.startswith("house number") for d in m.doubts):
            continue  # "Terazije 34": a house we do not know is somewhere on the street
        if "square" in m.kinds:
            eids, method = m.kinds["square"], "square"
        elif "street" not in m.kinds:  # bus stops are named after the place they serve
            eids = [e for e in m.kinds["landmark"] if not gaz.entries[e].properties.get("stop")]
            eids, method = eids or m.kinds["landmark"], "landmark"
        else:
            continue
        clusters: list[list[int]] = []  # namesakes within 100 m are one place (two bars of one pub)
        for eid in eids:
            home = next(
                (c for c in clusters if gaz.distance_to(c[0], *gaz.entries[eid].point) <= 100.0), None
            )
            home.append(eid) if home is not None else clusters.append([eid])
        for cluster in clusters:
            entry = gaz.entries[cluster[0]]
            ev = _evidence(m, gaz, cluster[0], same_name_nearby=len(cluster))
            if method == "landmark" and (m.group.weak or ev["doubts"]):
                ev["support"] = _support(m, cluster[0], places, gaz)
                if not ev["support"]:
                    continue  # "Lilly", "Pizza": a shop name alone is not a place
            reach = float(entry.properties.get("reach_m", 0.0))
            ev["doubts"] += (
                [f"a large place, {reach:.0f} m from its centre to its edge"] if reach > LARGE_M else []
            )
            out.append(
                _Cand(
                    method,
                    *entry.point,
                    max(25.0, reach),
                    _span(tokens, m),
                    f"{method}:{entry.name}",
                    cluster,
                    ev,
                )
            )
        used.add(id(m))
    return out


def _support(m: Mention, eid: int, places: list[Mention], gaz: Gazetteer) -> str:
    """Why a one-word landmark name is believed: its street is named too, or a longer name of it."""
    entry = gaz.entries[eid]
    street = entry.properties.get("tags", {}).get("addr:street")
    for s in places:
        if s is m or s.role != "place":
            continue
        if eid in {e for e, _, _ in s.group.members} and not s.group.weak:
            return f"also named {s.group.members[0][1]}"
        if street and keys(street) in {keys(v) for _, v, _ in s.group.members}:
            return f"on {street}"
        near = [e for e in s.kinds.get("street", []) if gaz.distance_to(e, *entry.point) <= 60.0]
        if near:
            return f"next to {gaz.entries[near[0]].name}"
    return ""


def _streets(places: list[Mention], tokens: list[Token], gaz: Gazetteer, used: set[int]) -> list[_Cand]:
    """A street named alone: a point in the middle of it, never accepted without review."""
    out: list[_Cand] = []
    for m in places:
        if id(m) in used or m.role != "place" or "street" not in m.kinds:
            continue
        for eid in m.kinds["street"]:
            entry = gaz.entries[eid]
            ev = _evidence(m, gaz, eid)
            ev["doubts"] += (
                ["several streets carry this name"] if entry.properties.get("same_name", 1) > 1 else []
            )
            out.append(
                _Cand(
                    "street",
                    *entry.point,
                    max(25.0, float(entry.properties.get("length_m", 0.0)) / 2),
                    _span(tokens, m),
                    f"street:{entry.name}",
                    [eid],
                    ev,
                    0.5,
                )
            )
    return out


def _judge(cands: list[_Cand], mentions: list[Mention], tokens: list[Token], gaz: Gazetteer) -> None:
    """Sort best first; a post that also names a different place goes to review, and when that place
    is as specific as the best one nobody can tell which is meant (``ambiguous``)."""
    cands.sort(key=lambda c: (-RANK[c.method], -c.confidence, bool(c.evidence["doubts"]), c.precision))
    if not cands:
        return
    best = cands[0]

    def reach(c: _Cand) -> float:
        return float(gaz.entries[c.eids[0]].properties.get("reach_m", 0.0))

    for other in cands[1:]:
        if all(
            gaz.distance_to(e, best.lat, best.lon) > NEAR_M + reach(other) + reach(best) for e in other.eids
        ):
            best.evidence["doubts"].append(f"also names {other.source}")
            if RANK[other.method] == RANK[best.method]:
                best.evidence["ambiguous"] = True
    for m in (m for m in mentions if m.role == "area"):
        # "Takovske" or "Takovska ugao ...", not "preko" or a capitalised word opening a sentence
        corner_next = m.j < len(tokens) and tokens[m.j].fold in CORNER_WORDS
        named = tokens[m.i].upper and (not tokens[m.i].first or corner_next)
        if best.method == "street" and named and "known" in m.kinds and "area" not in m.kinds:
            # "na uglu Takovske i Dečanske" with no geometry for Takovska: the camera is at a place
            # we cannot draw, and the middle of Dečanska is not it.
            best.evidence["doubts"].append(f"also names {gaz.entries[m.kinds['known'][0]].name}, not mapped")
            best.evidence["ambiguous"] = True
        polys = [e for e in m.kinds.get("area", []) if gaz.entries[e].geometry.geom_type.endswith("Polygon")]
        if polys and all(gaz.distance_to(e, best.lat, best.lon) > 300.0 for e in polys):
            best.evidence["doubts"].append(f"not in {gaz.entries[polys[0]].name}")
