"""Mastodon statuses for tests: the real recorded ones (shared data) and realistic synthetic ones.

``make_statuses`` builds statuses from ``TEMPLATE_STATUS``, a status recorded from a Mastodon 4.6
server (halcy/Mastodon.py test cassette ``test_hashtag_tl.yaml``) written out here so the core tests
need no ../shared.
"""

from __future__ import annotations

import copy
import html
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_STATUS: dict[str, Any] = {
    "id": "117020593741189701",
    "created_at": "2026-08-01T13:55:55.867Z",
    "in_reply_to_id": None,
    "in_reply_to_account_id": None,
    "sensitive": False,
    "spoiler_text": "",
    "visibility": "public",
    "language": "ja",
    "uri": "http://localhost:3000/ap/users/117020566092212359/statuses/117020593741189701",
    "url": "http://localhost:3000/@mastodonpy_test_2/117020593741189701",
    "replies_count": 0,
    "reblogs_count": 0,
    "favourites_count": 0,
    "quotes_count": 0,
    "edited_at": None,
    "favourited": False,
    "reblogged": False,
    "muted": False,
    "bookmarked": False,
    "pinned": False,
    "content": '<p><a href="http://localhost:3000/tags/hoot" class="mention hashtag" rel="tag">#<span>hoot'
               "</span></a> (hashtag toot)</p>",
    "filtered": [],
    "reblog": None,
    "application": {"name": "Mastodon.py test suite", "website": None},
    "account": {
        "id": "117020566092212359",
        "username": "mastodonpy_test_2",
        "acct": "mastodonpy_test_2",
        "display_name": "",
        "locked": False,
        "bot": False,
        "discoverable": True,
        "indexable": True,
        "group": False,
        "created_at": "2026-08-01T00:00:00.000Z",
        "note": "",
        "url": "http://localhost:3000/@mastodonpy_test_2",
        "uri": "http://localhost:3000/ap/users/117020566092212359",
        "avatar": "http://localhost:3000/avatars/original/missing.png",
        "avatar_static": "http://localhost:3000/avatars/original/missing.png",
        "avatar_description": "",
        "header": "http://localhost:3000/headers/original/missing.png",
        "header_static": "http://localhost:3000/headers/original/missing.png",
        "header_description": "",
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 3,
        "last_status_at": "2026-08-01",
        "hide_collections": None,
        "show_media": True,
        "show_media_replies": True,
        "show_featured": True,
        "noindex": False,
        "feature_approval": {"automatic": ["public"], "manual": [], "current_user": "automatic"},
        "emojis": [],
        "roles": [],
        "fields": [],
    },
    "media_attachments": [],
    "mentions": [],
    "tags": [{"name": "hoot", "url": "http://localhost:3000/tags/hoot"}],
    "emojis": [],
    "tagged_collections": [],
    "quote": None,
    "card": None,
    "poll": None,
    "quote_approval": {"automatic": ["public"], "manual": [], "current_user": "automatic"},
}

# An image attachment as Mastodon 4.6 serialises it (test_media_post_multiple.yaml).
TEMPLATE_MEDIA: dict[str, Any] = {
    "id": "117020576646493592",
    "type": "image",
    "url": "http://localhost:3000/system/media_attachments/files/117/020/576/646/493/592/original/963111bc1b0bd6b6.jpg",
    "preview_url": "http://localhost:3000/system/media_attachments/files/117/020/576/646/493/592/small/"
                   "963111bc1b0bd6b6.jpg",
    "remote_url": None,
    "preview_remote_url": None,
    "text_url": None,
    "meta": {
        "original": {"width": 600, "height": 600, "size": "600x600", "aspect": 1.0},
        "small": {"width": 480, "height": 480, "size": "480x480", "aspect": 1.0},
        "focus": {"x": -0.5, "y": 0.3},
    },
    "description": "John Lennon doing a funny walk",
    "blurhash": "UGC~-#M{0JfkNFofR%M{IURj%Mt7E0oM%MR*",
}

# username -> the reason hiljade must give for skipping it (independent of the code under test)
OPTED_OUT_USERS = {"tiha": "noindex", "skrivena": "indexable:false", "nada": "#nobot", "tajna": "#nosearch"}

_ACCOUNTS: list[dict[str, Any]] = [  # username, remote host (None = local), profile fields
    {"username": "mila", "host": None, "note": "<p>Mapiram kamere po Beogradu.</p>"},
    {"username": "dragan", "host": "kolektiv.example", "note": "<p>Biciklista, Zvezdara.</p>",
     "noindex": None},
    {"username": "jelena", "host": None, "note": "<p>Arhitektica. Grad je naš.</p>"},
    {"username": "stefan", "host": "mastodon.example", "note": "", "indexable": None},
    {"username": "ana", "host": None, "note": "<p>Hiljade kamera, hiljade pitanja.</p>"},
]
_OPTED_ACCOUNTS: list[dict[str, Any]] = [
    {"username": "tiha", "host": None, "note": "<p>Fotografkinja.</p>", "noindex": True},
    {"username": "skrivena", "host": "zatvoreno.example", "note": "", "indexable": False},
    {"username": "nada", "host": None,
     "note": '<p>Ne skupljajte moje objave. <a href="{server}/tags/nobot" class="mention hashtag" '
             'rel="tag">#<span>NoBot</span></a></p>'},
    {"username": "tajna", "host": "drugi.example",
     "note": "<p>Privatni nalog, molim bez arhiviranja #NoSearch</p>"},
]
_STREET_PAIRS = [("Dečanske", "Makedonske"), ("Takovske", "Vlajkovićeve"), ("Kneza Miloša", "Nemanjine"),
                 ("Bulevara kralja Aleksandra", "Ruzveltove"), ("Cara Dušana", "Dubrovačke"),
                 ("Njegoševe", "Kursulinine")]
_PLACES = ["Славији", "Тргу републике", "Зеленом венцу", "Вуковом споменику", "Аутокоманди"]
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def recorded_statuses(shared_data_dir: Path) -> list[dict[str, Any]]:
    """Every status (or list of statuses) answered in the recorded Mastodon cassettes, deduped by uri."""
    folder = shared_data_dir / "api_payloads" / "mastodon"
    if not folder.is_dir():
        folder = shared_data_dir
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.yaml")):
        cassette = yaml.safe_load(path.read_text(encoding="utf-8"))
        for interaction in cassette.get("interactions") or []:
            body = (interaction.get("response") or {}).get("body") or {}
            text = body.get("string") if isinstance(body, dict) else body
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            try:
                payload = json.loads(text or "")
            except ValueError:
                continue
            for item in payload if isinstance(payload, list) else [payload]:
                if _is_status(item):
                    found.setdefault(item["uri"], item)
    return list(found.values())


def _is_status(item: Any) -> bool:
    keys = ("id", "uri", "created_at", "account", "content")
    return isinstance(item, dict) and all(k in item for k in keys)


def make_statuses(n: int, *, hashtag: str = "hiljadekamera",
                  start: datetime = datetime(2024, 3, 1, 8, 0, tzinfo=UTC), server: str = "http://127.0.0.1",
                  seed: int = 0, id_style: str = "snowflake",
                  opt_outs: bool = True, extras: bool = True) -> list[dict[str, Any]]:
    """``n`` realistic statuses tagged ``#hashtag``, newest first, deterministic for ``seed``.

    Every 20 statuses hold one of each opted-out account (``OPTED_OUT_USERS``) when ``opt_outs``;
    with ``extras``: media on every third, an edited one, a content warning and a boost (every 25).
    ``id_style`` is "snowflake" (Mastodon) or "ulid" (GoToSocial).
    """
    rng = random.Random(seed)
    made: list[dict[str, Any]] = []
    moment = start
    for i in range(n):
        moment += timedelta(minutes=rng.randint(1, 90), seconds=rng.randint(0, 59),
                            milliseconds=rng.randint(0, 999))
        ids = _new_id(moment, i, rng, id_style)
        if extras and i % 25 == 11 and made:
            made.append(_boost(made, ids, moment, server, rng))
            continue
        account = _opted_account(i) if opt_outs else None
        account = _account(account or rng.choice(_ACCOUNTS), server)
        made.append(_status(i, ids, moment, account, hashtag, server, rng, id_style, extras))
    return made[::-1]


def mastodon_link(url: str) -> str:
    """A URL as Mastodon renders it in content: scheme hidden, the tail after 30 characters hidden."""
    prefix = next(p for p in ("https://www.", "http://www.", "https://", "http://", "") if url.startswith(p))
    rest = url[len(prefix):]
    shown, hidden = rest[:30], rest[30:]
    return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{html.escape(prefix)}</span>'
            f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>')


def _opted_account(i: int) -> dict[str, Any] | None:
    slot = {3: 0, 8: 1, 13: 2, 18: 3}.get(i % 20)
    return None if slot is None else _OPTED_ACCOUNTS[slot]


def _account(spec: dict[str, Any], server: str) -> dict[str, Any]:
    account = copy.deepcopy(TEMPLATE_STATUS["account"])
    name, host = spec["username"], spec["host"]
    home = f"https://{host}" if host else server
    account.update(id=_stable_number(name),
                   username=name, acct=f"{name}@{host}" if host else name, display_name=name.title(),
                   note=spec["note"].format(server=home), url=f"{home}/@{name}", uri=f"{home}/users/{name}",
                   created_at="2023-01-15T00:00:00.000Z", statuses_count=42, followers_count=17)
    for key in ("noindex", "indexable"):
        if key in spec:
            if spec[key] is None:
                account.pop(key, None)  # an older or non-Mastodon server that does not send it
            else:
                account[key] = spec[key]
    return account


def _stable_number(text: str) -> str:
    return str(10**17 + sum(ord(c) * 7919**k for k, c in enumerate(text)) % 10**17)


def _status(i: int, status_id: str, moment: datetime, account: dict[str, Any], hashtag: str, server: str,
            rng: random.Random, id_style: str, extras: bool) -> dict[str, Any]:
    status = copy.deepcopy(TEMPLATE_STATUS)
    home = account["url"].rsplit("/@", 1)[0]
    shown_tag = rng.choice([hashtag, hashtag, hashtag.title().replace("kamera", "Kamera")])
    tag_link = _tag_link(home, hashtag, shown_tag)
    street, cross = rng.choice(_STREET_PAIRS)
    number = rng.randint(1, 120)
    lat, lon = 44.80 + rng.random() / 20, 20.44 + rng.random() / 20
    map_link = mastodon_link(f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}")
    bodies = [
        f"<p>Kamera na uglu {street} i {cross} {tag_link}</p>",
        f"<p>Nova kamera u {street} br. {number}, kod pošte.<br />Gleda ka raskrsnici sa {cross}.</p>"
        f"<p>{tag_link}</p>",
        f"<p>Камера на {rng.choice(_PLACES)} {tag_link}</p>",
        f"<p>Još jedna &quot;pametna&quot; kamera &amp; stub: {map_link} {tag_link}</p>",
    ]
    tags = [{"name": hashtag, "url": f"{home}/tags/{hashtag}"}]
    content = bodies[i % len(bodies)]
    if i % 7 == 2:
        content += f"<p>{_tag_link(home, 'beograd', 'Beograd')}</p>"
        tags.append({"name": "beograd", "url": f"{home}/tags/beograd"})
    local_url = f"{home}/@{account['username']}/{status_id}"
    status.update(id=status_id, created_at=_iso(moment), language=rng.choice(["sr", "sr", "hr", None]),
                  uri=f"{home}/users/{account['username']}/statuses/{status_id}", url=local_url,
                  content=content, account=account, tags=tags, application=None,
                  replies_count=rng.randint(0, 3), favourites_count=rng.randint(0, 30))
    if extras and i % 3 == 0:
        status["media_attachments"] = [_media(status_id, k, home, server, account, rng, id_style, moment)
                                       for k in range(2 if i % 12 == 0 else 1)]
    if extras and i % 25 == 6:
        status["edited_at"] = _iso(moment + timedelta(minutes=15))
        status["content"] += "<p>(ispravka: kamera je na drugoj strani ulice)</p>"
    if extras and i % 25 == 17:
        status["spoiler_text"], status["sensitive"] = "kamera, lokacija", True
    return status


def _tag_link(home: str, name: str, shown: str) -> str:
    return f'<a href="{home}/tags/{name}" class="mention hashtag" rel="tag">#<span>{shown}</span></a>'


def _media(status_id: str, k: int, home: str, server: str, account: dict[str, Any], rng: random.Random,
           id_style: str, moment: datetime) -> dict[str, Any]:
    media = copy.deepcopy(TEMPLATE_MEDIA)
    media_id = _new_id(moment - timedelta(seconds=30), k, rng, id_style)
    width, height = rng.choice([(1600, 1200), (1200, 1600), (4032, 3024)])
    path = f"media_attachments/files/{media_id}/original/kamera{k}.jpg"
    remote = "@" in account["acct"]
    local = f"{server}/system/{'cache/' if remote else ''}{path}"
    media.update(id=media_id, url=local, preview_url=local.replace("/original/", "/small/"),
                 remote_url=f"{home}/system/{path}" if remote else None,
                 description=rng.choice(["Kamera na stubu iznad raskrsnice", None, "Bela kupolasta kamera"]),
                 blurhash="UGC~-#M{0JfkNFofR%M{IURj%Mt7E0oM%MR*")
    media["meta"]["original"].update(width=width, height=height, size=f"{width}x{height}",
                                     aspect=round(width / height, 4))
    return media


def _boost(made: list[dict[str, Any]], status_id: str, moment: datetime, server: str,
           rng: random.Random) -> dict[str, Any]:
    originals = [s for s in made if s["reblog"] is None and s["account"]["username"] not in OPTED_OUT_USERS]
    original = copy.deepcopy(originals[-1] if originals else made[-1])
    booster = _account(_ACCOUNTS[0], server)
    wrapper = copy.deepcopy(TEMPLATE_STATUS)
    wrapper.update(id=status_id, created_at=_iso(moment), url=None,
                   uri=f"{server}/users/mila/statuses/{status_id}/activity", content="", language=None,
                   account=booster, reblog=original, tags=[],
                   application=None, spoiler_text="", media_attachments=[])
    return wrapper


def _new_id(moment: datetime, i: int, rng: random.Random, id_style: str) -> str:
    millis = int(moment.timestamp() * 1000)
    if id_style == "snowflake":
        return str((millis << 16) | ((i * 97 + rng.randint(0, 96)) & 0xFFFF))
    if id_style == "ulid":
        value = (millis << 80) | rng.getrandbits(80)
        return "".join(_CROCKFORD[(value >> (5 * k)) & 31] for k in range(25, -1, -1))
    raise ValueError(f"id_style must be snowflake or ulid, not {id_style!r}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def homed_statuses(home: str, n: int = 6, *, seed: int = 41) -> list[dict[str, Any]]:
    """``n`` statuses by local accounts of the server at ``home``: their uris name that server."""
    made = make_statuses(n * 3, seed=seed, server=home, opt_outs=False, extras=False)
    return [s for s in made if s["uri"].startswith(home + "/")][:n]


def hostile_copy(status: dict[str, Any], server: str, status_id: str = "770001") -> dict[str, Any]:
    """What a hostile ``server`` serves under another server's ``status`` uri: other text, an extra
    hashtag, an attachment of its own and a later ``edited_at``."""
    fake = copy.deepcopy(status)
    fake.update(id=status_id, content="<p>Lažna vest: kamera je uklonjena #hiljadekamera #prevara</p>",
                edited_at="2031-05-05T00:00:00.000Z",
                tags=[{"name": "hiljadekamera", "url": f"{server}/tags/hiljadekamera"},
                      {"name": "prevara", "url": f"{server}/tags/prevara"}])
    media = copy.deepcopy(TEMPLATE_MEDIA)
    media.update(id="880001", url=f"{server}/system/lazna.jpg", preview_url=f"{server}/system/lazna-s.jpg",
                 remote_url=None, description="lažna slika")
    fake["media_attachments"] = [media]
    return fake
