"""X/Twitter API v2 tweets to PostRecords: pure functions shared by the live harvest and twarc import.

A tweet arrives with its expansions either beside it (an API page's ``includes``) or inline (twarc2
``flatten``: ``author``, ``attachments.media``, places merged into ``geo``, referenced tweets
merged into ``referenced_tweets``); both become an :class:`Includes`. A retweet becomes its
original; an edited tweet keeps the uri of the first version, so every edit is the same post.
Only exact ``geo.coordinates`` become a position; a place (a bounding box) stays in ``raw``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hiljade.errors import SourceError
from hiljade.harvester.mastodon_status import parse_time
from hiljade.pipeline.geometry import valid_position
from hiljade.records import AuthorRecord, MediaRecord, PostRecord, unstorable

PLATFORM = "twitter"
DEFAULT_SERVER = "https://api.twitter.com"
TWITTER_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here
FIRST_SNOWFLAKE = 1 << 32  # ids below this predate snowflakes (2010) and carry no time
OPTED_OUT, ORIGINAL_UNAVAILABLE, MALFORMED = "opted_out", "original_unavailable", "malformed"
_MEDIA_TYPES = {"photo": "image", "video": "video", "animated_gif": "gifv"}
_OPT_OUT_TAGS = ("nobot", "noindex", "nosearch")
_OPT_OUT = re.compile(r"(?<![\w#/&])#(nobot|noindex|nosearch)(?!\w)", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w#/&])#(\w+)")
_MEDIA_LINK = re.compile(r"^(pic\.twitter\.com|pic\.x\.com)/", re.IGNORECASE)
_USER_KEYS = ("author", "in_reply_to_user", "pinned_tweet")  # inline user objects twarc adds
_ACCOUNT_IDS = ("author_id", "in_reply_to_user_id")  # name the author or the account a reply answers


def status_uri(tweet_id: str) -> str:
    """The stable address of a tweet (no handle in it, so a renamed account keeps it)."""
    return f"https://twitter.com/i/web/status/{tweet_id}"


def snowflake_time(tweet_id: Any) -> datetime | None:
    """When a snowflake id was made (whole seconds, as ``created_at``), or None for older ids."""
    try:
        number = int(str(tweet_id))
    except ValueError:
        return None
    if number < FIRST_SNOWFLAKE:
        return None
    return datetime.fromtimestamp(((number >> 22) + TWITTER_EPOCH_MS) // 1000, UTC)


@dataclass(frozen=True)
class Includes:
    """The expansions a tweet refers to, by id (users, tweets, places) and media key."""

    users: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    media: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    places: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tweets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_response(cls, includes: Any) -> Includes:
        """From an API page's ``includes`` object (missing or malformed parts are empty)."""
        includes = includes if isinstance(includes, Mapping) else {}

        def index(name: str, key: str) -> dict[str, Mapping[str, Any]]:
            items = includes.get(name)
            return {str(i[key]): i for i in items or () if isinstance(i, Mapping) and i.get(key)} \
                if isinstance(items, list) else {}

        return cls(index("users", "id"), index("media", "media_key"), index("places", "id"),
                   index("tweets", "id"))

    @classmethod
    def from_flattened(cls, tweet: Mapping[str, Any]) -> Includes:
        """From a twarc2-flattened tweet: its inline author, media, place and referenced tweets."""
        users: dict[str, Mapping[str, Any]] = {}
        media: dict[str, Mapping[str, Any]] = {}
        places: dict[str, Mapping[str, Any]] = {}
        tweets: dict[str, Mapping[str, Any]] = {}

        def gather(item: Mapping[str, Any], depth: int) -> None:
            author = item.get("author")
            if isinstance(author, Mapping) and author.get("id"):
                users[str(author["id"])] = author
            attachments = item.get("attachments") if isinstance(item.get("attachments"), Mapping) else {}
            for m in attachments.get("media") or ():
                if isinstance(m, Mapping) and m.get("media_key"):
                    media[str(m["media_key"])] = m
            geo = item.get("geo") if isinstance(item.get("geo"), Mapping) else {}
            if geo.get("place_id") and (geo.get("full_name") or geo.get("geo")):
                places[str(geo["place_id"])] = {k: v for k, v in geo.items() if k not in ("place_id",
                                                                                         "coordinates")}
            for ref in item.get("referenced_tweets") or ():
                if isinstance(ref, Mapping) and ref.get("id") and "text" in ref and depth < 2:
                    tweets[str(ref["id"])] = {k: v for k, v in ref.items() if k != "type"}
                    gather(ref, depth + 1)

        gather(tweet, 0)
        return cls(users, media, places, tweets)


@dataclass(frozen=True)
class Converted:
    """What one tweet became: a record, or the reason it was skipped."""

    record: PostRecord | None
    reason: str | None = None  # None, opted_out, original_unavailable, malformed
    detail: str = ""
    retweet: bool = False


def convert_tweet(tweet: Any, includes: Includes, *, server: str, fetched_from: str,
                  fetched_at: datetime) -> Converted:
    """One tweet as a record; a retweet as its original; skipped ones say why (never raises)."""
    if not isinstance(tweet, Mapping) or not tweet.get("id"):
        return Converted(None, MALFORMED, "a tweet without an id")
    retweeted = _referenced(tweet, "retweeted")
    if retweeted is not None:
        original = includes.tweets.get(retweeted)
        if not original or "text" not in original:
            return Converted(None, ORIGINAL_UNAVAILABLE, f"retweet {tweet['id']} of {retweeted}", True)
        tweet = original
    user = includes.users.get(str(tweet.get("author_id") or ""))
    reason = opt_out_reason(user) if user else None
    if reason:
        return Converted(None, OPTED_OUT, f"{tweet['id']}: {reason}", retweeted is not None)
    try:
        record = tweet_to_record(tweet, includes, server=server, fetched_from=fetched_from,
                                 fetched_at=fetched_at)
    except SourceError as exc:
        return Converted(None, MALFORMED, str(exc), retweeted is not None)
    except RecursionError:
        return Converted(None, MALFORMED, f"{tweet['id']}: nested too deeply to read", retweeted is not None)
    problem = unstorable(record)
    if problem:
        return Converted(None, MALFORMED, f"{tweet['id']} cannot be stored: {problem}", retweeted is not None)
    return Converted(record, retweet=retweeted is not None)


def tweet_to_record(tweet: Mapping[str, Any], includes: Includes, *, server: str, fetched_from: str,
                    fetched_at: datetime) -> PostRecord:
    """A (non-retweet) tweet as a PostRecord; SourceError(kind="malformed") without id or time."""
    native_id = str(tweet.get("id") or "")
    if not native_id.isdigit():
        raise SourceError(f"tweet id {native_id!r} is not a number", kind="malformed")
    history = [str(i) for i in tweet.get("edit_history_tweet_ids") or () if str(i).isdigit()]
    root = history[0] if history else native_id
    stamped = parse_time(tweet.get("created_at")) or snowflake_time(native_id)
    created_at = stamped if root == native_id else snowflake_time(root) or stamped
    if created_at is None:
        raise SourceError(f"tweet {native_id} has no created_at", kind="malformed")
    text = _text(tweet)
    user = includes.users.get(str(tweet.get("author_id") or ""))
    quoted = _referenced(tweet, "quoted")
    quoted_tweet = includes.tweets.get(quoted) if quoted else None
    place_id = (tweet.get("geo") or {}).get("place_id") if isinstance(tweet.get("geo"), Mapping) else None
    raw = _raw(tweet, includes, place_id)
    return PostRecord(
        platform=PLATFORM, server=server.rstrip("/"), native_id=native_id, uri=status_uri(root),
        created_at=created_at, text=text, url=status_uri(root), language=_language(tweet.get("lang")),
        hashtags=_hashtags(tweet, text), edited_at=stamped if root != native_id else None,
        author=_author(tweet, user), media=_media(tweet, includes), geo=exact_position(tweet),
        quote_of=status_uri(_root_id(quoted_tweet) or quoted) if quoted else None, raw=raw,
        fetched_from=fetched_from,
        fetched_at=fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC),
    )


def exact_position(tweet: Mapping[str, Any]) -> tuple[float, float] | None:
    """(lat, lon) from ``geo.coordinates`` (a GeoJSON Point, [lon, lat]); a place never counts."""
    geo = tweet.get("geo") if isinstance(tweet.get("geo"), Mapping) else {}
    point = geo.get("coordinates") if isinstance(geo.get("coordinates"), Mapping) else {}
    coords = point.get("coordinates")
    if point.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
        return None
    try:
        lon, lat = float(coords[0]), float(coords[1])
    except (TypeError, ValueError):
        return None
    if not valid_position(lat, lon):
        return None
    return lat, lon


def opt_out_reason(user: Mapping[str, Any]) -> str | None:
    """``#nobot``, ``#noindex`` or ``#nosearch`` when the account's bio asks not to be collected."""
    texts = [str(user.get(key) or "") for key in ("description", "name")]
    found = {tag.lower() for text in texts for tag in _OPT_OUT.findall(text)}
    return next((f"#{tag}" for tag in _OPT_OUT_TAGS if tag in found), None)


def _referenced(tweet: Mapping[str, Any], kind: str) -> str | None:
    for ref in tweet.get("referenced_tweets") or ():
        if isinstance(ref, Mapping) and ref.get("type") == kind and ref.get("id"):
            return str(ref["id"])
    return None


def _root_id(tweet: Mapping[str, Any] | None) -> str | None:
    history = (tweet or {}).get("edit_history_tweet_ids") or ()
    return str(history[0]) if history else None


def _text(tweet: Mapping[str, Any]) -> str:
    """The full text (a long post's ``note_tweet``), entities decoded, t.co links expanded."""
    note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), Mapping) else {}
    source = note if isinstance(note.get("text"), str) else tweet
    text = str(source.get("text") or "")
    entities = source.get("entities") if isinstance(source.get("entities"), Mapping) else {}
    for link in entities.get("urls") or ():
        if not isinstance(link, Mapping) or not isinstance(link.get("url"), str):
            continue
        shown = str(link.get("display_url") or "")
        if link.get("media_key") or _MEDIA_LINK.match(shown):
            replacement = ""  # the attached photo itself; its URL is in media
        else:
            replacement = str(link.get("unwound_url") or link.get("expanded_url") or link["url"])
        text = text.replace(link["url"], replacement)
    return html.unescape(text).strip()


def _hashtags(tweet: Mapping[str, Any], text: str) -> tuple[str, ...]:
    entities = tweet.get("entities") if isinstance(tweet.get("entities"), Mapping) else {}
    tags = entities.get("hashtags")
    if isinstance(tags, list):
        names: Iterable[Any] = (t.get("tag") for t in tags if isinstance(t, Mapping))
    else:
        names = _HASHTAG.findall(text)
    clean = (str(n).strip().lstrip("#").lower() for n in names if n)
    return tuple(dict.fromkeys(n for n in clean if n))


def _language(lang: Any) -> str | None:
    return lang if isinstance(lang, str) and lang and lang not in ("und", "zxx", "qme", "qst") else None


def _author(tweet: Mapping[str, Any], user: Mapping[str, Any] | None) -> AuthorRecord | None:
    author_id = tweet.get("author_id") or (user or {}).get("id")
    if not author_id:
        return None
    handle = str(user["username"]) if user and user.get("username") else None
    return AuthorRecord(platform=PLATFORM, account_key=str(author_id), handle=handle,
                        opt_out=opt_out_reason(user) if user else None)


def _media(tweet: Mapping[str, Any], includes: Includes) -> tuple[MediaRecord, ...]:
    attachments = tweet.get("attachments") if isinstance(tweet.get("attachments"), Mapping) else {}
    out = []
    for key in attachments.get("media_keys") or ():
        item = includes.media.get(str(key))
        if not item:
            continue
        kind = _MEDIA_TYPES.get(str(item.get("type")), "unknown")
        preview = item.get("preview_image_url") if isinstance(item.get("preview_image_url"), str) else None
        url = item.get("url") if isinstance(item.get("url"), str) else None
        if kind != "image":
            url = _best_variant(item.get("variants")) or url or preview
        if not url:
            continue
        out.append(MediaRecord(
            url=url, type=kind, native_id=str(key), preview_url=preview,
            alt_text=item.get("alt_text") if isinstance(item.get("alt_text"), str) else None,
            width=_int(item.get("width")), height=_int(item.get("height"))))
    return tuple(out)


def _best_variant(variants: Any) -> str | None:
    """The mp4 variant with the highest bit rate (the HLS playlist only when nothing else)."""
    usable = [v for v in variants or () if isinstance(v, Mapping) and isinstance(v.get("url"), str)]
    mp4 = [v for v in usable if v.get("content_type") == "video/mp4"]
    if mp4:
        return str(max(mp4, key=lambda v: _int(v.get("bit_rate")) or 0)["url"])
    return str(usable[0]["url"]) if usable else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: infinity
        return None


def _raw(tweet: Mapping[str, Any], includes: Includes, place_id: Any) -> dict[str, Any]:
    """The tweet as the API gave it, with the media and place it refers to; no user profiles or ids."""
    raw = _without_users(tweet)
    keys = (tweet.get("attachments") or {}).get("media_keys") or () \
        if isinstance(tweet.get("attachments"), Mapping) else ()
    extra: dict[str, Any] = {}
    media = [dict(includes.media[str(k)]) for k in keys if str(k) in includes.media]
    if media:
        extra["media"] = media
    if place_id and str(place_id) in includes.places:
        extra["places"] = [dict(includes.places[str(place_id)])]
    if extra:
        raw["includes"] = extra
    return raw


def _without_users(value: Any) -> Any:
    """A copy without twarc's inline user profiles and envelope, and without the account ids of the
    author and of a reply's addressee (the store adds the author's pseudonym)."""
    if isinstance(value, Mapping):
        return {str(k): _mentions(v) if k == "mentions" else _without_users(v) for k, v in value.items()
                if k not in _USER_KEYS and k not in _ACCOUNT_IDS and k != "__twarc"}
    if isinstance(value, list):
        return [_without_users(v) for v in value]
    return value


def _mentions(value: Any) -> Any:
    """Where the text mentions accounts, without naming them (twarc merges whole profiles into them;
    the text still shows the @name)."""
    if not isinstance(value, list):
        return _without_users(value)
    keep = ("start", "end")
    return [{k: m[k] for k in keep if k in m} if isinstance(m, Mapping) else m for m in value]
