"""Realistic X API v2 objects for tests (shapes as in the recorded twarc/tweepy payloads), a campaign
scenario for the stand-in server, and twarc2's ``flatten`` (its documented semantics) for archives."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.twitter_server import TwitterStandIn, snowflake


def user(uid: str, username: str, description: str = "") -> dict[str, Any]:
    return {"id": uid, "name": username.title(), "username": username, "description": description,
            "created_at": "2019-03-01T10:00:00.000Z", "protected": False}


def photo(key: str, width: int = 1200, height: int = 900, alt: str | None = None) -> dict[str, Any]:
    item = {"media_key": key, "type": "photo", "url": f"https://pbs.twimg.com/media/{key}.jpg",
            "width": width, "height": height}
    if alt:
        item["alt_text"] = alt
    return item


def video(key: str) -> dict[str, Any]:
    base = f"https://video.twimg.com/ext_tw_video/{key}/pu"
    return {"media_key": key, "type": "video", "width": 1280, "height": 720,
            "preview_image_url": f"https://pbs.twimg.com/ext_tw_video_thumb/{key}/pu/img/thumb.jpg",
            "variants": [
                {"bit_rate": 256000, "content_type": "video/mp4", "url": f"{base}/vid/480x270/a.mp4"},
                {"content_type": "application/x-mpegURL", "url": f"{base}/pl/b.m3u8"},
                {"bit_rate": 2176000, "content_type": "video/mp4", "url": f"{base}/vid/1280x720/c.mp4"},
            ]}


def place(pid: str, full_name: str, bbox: list[float]) -> dict[str, Any]:
    return {"id": pid, "full_name": full_name, "name": full_name.split(",")[0], "country": "Serbia",
            "country_code": "RS", "place_type": "city",
            "geo": {"type": "Feature", "bbox": bbox, "properties": {}}}


def tweet(tweet_id: str, text: str, author: dict[str, Any], *, media: Iterable[dict[str, Any]] = (),
          point: tuple[float, float] | None = None, place_id: str | None = None,
          refs: Iterable[tuple[str, str]] = (), lang: str = "sr", links: Iterable[tuple[str, str]] = (),
          history: list[str] | None = None) -> dict[str, Any]:
    """A v2 tweet; ``point`` is (lat, lon) and is written as X writes it: [lon, lat]."""
    tags = []
    for word in text.split():
        if word.startswith("#"):
            start = text.index(word)
            tags.append({"start": start, "end": start + len(word), "tag": word[1:].rstrip(".,!")})
    entities: dict[str, Any] = {"hashtags": tags}
    urls = []
    for short, expanded in links:
        text += f" {short}"
        urls.append({"start": text.index(short), "end": text.index(short) + len(short), "url": short,
                     "expanded_url": expanded, "display_url": expanded.split("//")[-1][:24]})
    if urls:
        entities["urls"] = urls
    created = datetime.fromtimestamp(((int(tweet_id) >> 22) + 1288834974657) / 1000, UTC)
    item: dict[str, Any] = {
        "id": tweet_id, "text": text, "author_id": author["id"], "lang": lang, "conversation_id": tweet_id,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "edit_history_tweet_ids": history or [tweet_id], "entities": entities,
    }
    keys = [m["media_key"] for m in media]
    if keys:
        item["attachments"] = {"media_keys": keys}
    if point or place_id:
        item["geo"] = {}
        if point:
            item["geo"]["coordinates"] = {"type": "Point", "coordinates": [point[1], point[0]]}
        if place_id:
            item["geo"]["place_id"] = place_id
    if refs:
        item["referenced_tweets"] = [{"type": kind, "id": ref} for kind, ref in refs]
    return item


def retweet(tweet_id: str, original: dict[str, Any], by: dict[str, Any], original_author: dict[str, Any]
            ) -> dict[str, Any]:
    """A retweet as X sends it: "RT @user: " + the (truncated) text, the original's media keys."""
    text = f"RT @{original_author['username']}: {original['text']}"[:140]
    item = tweet(tweet_id, text, by, refs=[("retweeted", original["id"])], lang=original.get("lang", "sr"))
    item["entities"]["mentions"] = [{"start": 3, "end": 4 + len(original_author["username"]),
                                     "username": original_author["username"], "id": original_author["id"]}]
    if "attachments" in original:
        item["attachments"] = copy.deepcopy(original["attachments"])
    return item


@dataclass
class Campaign:
    """A #hiljadekamera week on X, loaded into a stand-in; ``expected`` is what must be stored."""

    now: datetime
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # post uri -> facts
    searchable: int = 0  # tweets the search returns (what the budget is charged)

    def uri(self, tweet_id: str) -> str:
        return f"https://twitter.com/i/web/status/{tweet_id}"


ANA = user("1001", "ana_bg")
MARKO = user("1002", "marko")
SHY = user("1003", "shy", "photos of Belgrade #nobot")
FANS = [user(str(2000 + n), f"fan{n}") for n in range(5)]
USERS = {u["id"]: u for u in [ANA, MARKO, SHY, *FANS]}


def load_campaign(server: TwitterStandIn, now: datetime, plain: int = 30) -> Campaign:
    """Plain reports, a photo, a video, exact geo, a place-only tweet, a quote, retweets (of a recent
    original, of an original older than the search window, of a deleted one), an opted-out author."""
    camp = Campaign(now)
    slavija = place("5a110d312052166f", "Belgrade, Serbia", [20.2, 44.7, 20.6, 44.9])
    seq = iter(range(1, 10_000))

    def at(minutes_ago: float) -> str:
        return snowflake(now - timedelta(minutes=minutes_ago), next(seq))

    def post(item: dict[str, Any], attached: Iterable[dict[str, Any]] = (), **facts: Any) -> dict[str, Any]:
        has_place = bool(item.get("geo", {}).get("place_id"))
        server.add(item, user=USERS[item["author_id"]], media=list(attached),
                   place=slavija if has_place else None)
        camp.searchable += 1
        camp.expected[camp.uri(item["id"])] = {"id": item["id"], **facts}
        return item

    for n in range(plain):
        post(tweet(at(3000 - n * 90), f"Kamera {n} kod Slavije #hiljadekamera", [ANA, MARKO][n % 2]))
    ph = photo("3_900001", alt="kamera na stubu")
    post(tweet(at(200), "Nova kamera u Takovskoj #hiljadekamera", ANA, media=[ph]), [ph], media=1)
    vi = video("7_900002")
    post(tweet(at(190), "Snimak kamere #hiljadekamera", MARKO, media=[vi]), [vi], media=1)
    exact = post(tweet(at(180), "Kamera ovde #hiljadekamera", ANA, point=(44.80231, 20.46612),
                       place_id=slavija["id"]), geo=(44.80231, 20.46612))
    post(tweet(at(170), "Kamera negde u gradu #hiljadekamera", MARKO, place_id=slavija["id"]), geo=None)
    post(tweet(at(160), "Vidi ovo #hiljadekamera", ANA, refs=[("quoted", exact["id"])],
               links=[("https://t.co/q1", f"https://twitter.com/ana_bg/status/{exact['id']}")]),
         quote_of=camp.uri(exact["id"]))
    post(tweet(at(150), "Mapa #hiljadekamera", MARKO,
               links=[("https://t.co/m1", "https://www.openstreetmap.org/?mlat=44.8&mlon=20.46")]),
         text_has="openstreetmap.org/?mlat=44.8")
    # An opted-out author: read (and charged) but never stored.
    server.add(tweet(at(140), "Kamera #hiljadekamera", SHY), user=SHY)
    camp.searchable += 1
    # A recent original retweeted three times: stored once.
    original = post(tweet(at(130), "Dve kamere na uglu #hiljadekamera", MARKO, media=[photo("3_900003")]),
                    [photo("3_900003")], media=1)
    for n in range(3):
        server.add(retweet(at(120 - n), original, FANS[n], MARKO), user=FANS[n])
        camp.searchable += 1
    # An original older than the 7-day window: only its retweet finds it (through includes).
    old = tweet(snowflake(now - timedelta(days=9), next(seq)), "Stara kamera #hiljadekamera", ANA)
    server.add(old, user=ANA)
    server.add(retweet(at(100), old, FANS[3], ANA), user=FANS[3])
    camp.searchable += 1
    camp.expected[camp.uri(old["id"])] = {"id": old["id"]}
    # A retweet of a deleted original: skipped.
    gone = tweet(at(99), "Obrisano #hiljadekamera", MARKO)
    server.add(gone, user=MARKO)
    server.add(retweet(at(98), gone, FANS[4], MARKO), user=FANS[4])
    server.delete(gone["id"])
    camp.searchable += 1
    return camp


def flatten(response: dict[str, Any]) -> list[dict[str, Any]]:
    """twarc2 ``flatten``: every tweet of a page with its expansions inline and the ``__twarc`` envelope."""
    includes = response.get("includes") or {}
    people = includes.get("users", [])
    users = {u["id"]: u for u in people} | {u["username"]: u for u in people}
    media = {m["media_key"]: m for m in includes.get("media", [])}
    places = {p["id"]: p for p in includes.get("places", [])}
    tweets = {t["id"]: t for t in includes.get("tweets", [])}

    def expand(payload: Any) -> Any:
        if isinstance(payload, list):
            return [expand(p) for p in payload]
        if not isinstance(payload, dict):
            return payload
        payload = {k: expand(v) for k, v in payload.items()}
        if "author_id" in payload:
            payload["author"] = users.get(payload["author_id"], {})
        if "media_keys" in payload:
            payload["media"] = [media.get(k, {}) for k in payload["media_keys"]]
        if "geo" in payload and "place_id" in payload["geo"]:
            payload["geo"] = {**payload["geo"], **places.get(payload["geo"]["place_id"], {})}
        if "mentions" in payload:
            payload["mentions"] = [{**m, **users.get(m.get("username"), {})} for m in payload["mentions"]]
        if "referenced_tweets" in payload:
            payload["referenced_tweets"] = [{**r, **tweets.get(r["id"], {})}
                                            for r in payload["referenced_tweets"]]
        return payload

    for key in list(tweets):
        tweets[key] = expand(tweets[key])
    data = response["data"] if isinstance(response["data"], list) else [response["data"]]
    out = [expand(copy.deepcopy(t)) for t in data]
    if "__twarc" in response:
        for t in out:
            t["__twarc"] = response["__twarc"]
    return out
