"""Bluesky post views (``app.bsky.feed.defs#postView`` from searchPosts) to PostRecords.

Pure functions over the JSON the AppView returns: the at:// uri is the post's identity, the
bsky.app link its url, the author's DID its account key (stored as a pseudonym). Link facets
whose visible text Bluesky shortened ("drive.google.com/file/d/1rpor...") are written out in
full, so map links in a post reach the location pipeline. Images come from the embed views
(``app.bsky.embed.images#view`` and the media of ``recordWithMedia#view``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hiljade.errors import SourceError
from hiljade.records import AuthorRecord, MediaRecord, PostRecord, text_problem

PLATFORM = "bluesky"
OPT_OUT_LABELS = ("!no-unauthenticated",)  # the author asked apps not to show them to logged-out users
_HASHTAG = re.compile(r"(?<![\w#/&])#(\w[\w·]*)")
_AT_URI = re.compile(r"^at://(did:[a-z]+:[^/]+)/app\.bsky\.feed\.post/([^/?#]+)$")


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string (``Z`` and any fraction digits); None if invalid."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("z", "Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def sort_at(view: Mapping[str, Any]) -> datetime | None:
    """The time search sorts and filters by (``since``): the earlier of createdAt and indexedAt."""
    record = view.get("record") if isinstance(view.get("record"), Mapping) else {}
    times = [t for t in (parse_time(record.get("createdAt")), parse_time(view.get("indexedAt"))) if t]
    return min(times) if times else None


def web_url(uri: str) -> str | None:
    """``https://bsky.app/profile/DID/post/RKEY`` for an at:// post uri."""
    match = _AT_URI.match(uri)
    return f"https://bsky.app/profile/{match.group(1)}/post/{match.group(2)}" if match else None


def opt_out_reason(author: Mapping[str, Any]) -> str | None:
    """The opt-out label on the author's account (``!no-unauthenticated``), or None."""
    for label in author.get("labels") or ():
        if isinstance(label, Mapping) and label.get("val") in OPT_OUT_LABELS and not label.get("neg"):
            return str(label["val"])
    return None


def short_uri(uri: str, limit: int = 80) -> str:
    """A post uri for a message: cut to ``limit`` characters (a hostile one can be any length)."""
    return uri if len(uri) <= limit else uri[: limit - 1] + "…"


def full_text(record: Mapping[str, Any]) -> str:
    """The post text with shortened link texts replaced by their full URI (facet byte ranges)."""
    text = record.get("text") if isinstance(record.get("text"), str) else ""
    data = text.encode("utf-8")
    links = []
    for facet in record.get("facets") or ():
        index = facet.get("index") if isinstance(facet, Mapping) else None
        if not isinstance(index, Mapping):
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data)):
            continue
        for feature in facet.get("features") or ():
            if isinstance(feature, Mapping) and feature.get("$type") == "app.bsky.richtext.facet#link":
                links.append((start, end, str(feature.get("uri") or "")))
    for start, end, uri in sorted(links, reverse=True):
        shown = data[start:end].decode("utf-8", "replace")
        if uri.startswith(("http://", "https://")) and shown.rstrip().endswith(("...", "…")):
            data = data[:start] + uri.encode("utf-8") + data[end:]
    return data.decode("utf-8", "replace")


def hashtags(record: Mapping[str, Any], text: str) -> tuple[str, ...]:
    """Tags from the tag facets and the text, lower-cased, once each."""
    found = [
        str(feature.get("tag"))
        for facet in record.get("facets") or ()
        if isinstance(facet, Mapping)
        for feature in facet.get("features") or ()
        if isinstance(feature, Mapping) and feature.get("$type") == "app.bsky.richtext.facet#tag"
    ]
    found += _HASHTAG.findall(text)
    return tuple(dict.fromkeys(t.strip().lstrip("#").lower() for t in found if t and t.strip()))


def media(embed: Any) -> tuple[MediaRecord, ...]:
    """Images (and a video) of an embed view; ``recordWithMedia`` views give their media part."""
    if not isinstance(embed, Mapping):
        return ()
    kind = embed.get("$type")
    if kind == "app.bsky.embed.recordWithMedia#view":
        return media(embed.get("media"))
    if kind == "app.bsky.embed.video#view" and isinstance(embed.get("playlist"), str):
        return (
            MediaRecord(
                url=embed["playlist"],
                type="video",
                native_id=_str(embed.get("cid")),
                preview_url=_str(embed.get("thumbnail")),
                alt_text=_str(embed.get("alt")),
                **_size(embed.get("aspectRatio")),
            ),
        )
    if kind != "app.bsky.embed.images#view":
        return ()
    out = []
    for image in embed.get("images") or ():
        if not isinstance(image, Mapping):
            continue
        url = _str(image.get("fullsize")) or _str(image.get("thumb"))
        if url:
            out.append(
                MediaRecord(
                    url=url,
                    type="image",
                    preview_url=_str(image.get("thumb")),
                    alt_text=_str(image.get("alt")),
                    **_size(image.get("aspectRatio")),
                )
            )
    return tuple(out)


def quoted_uri(embed: Any) -> str | None:
    """The at:// uri of the post a record (or recordWithMedia) embed quotes."""
    if not isinstance(embed, Mapping):
        return None
    if embed.get("$type") == "app.bsky.embed.recordWithMedia#view":
        embed = embed.get("record") if isinstance(embed.get("record"), Mapping) else {}
    if embed.get("$type") == "app.bsky.embed.record#view":
        record = embed.get("record")
        return _str(record.get("uri")) if isinstance(record, Mapping) else None
    return None


def scrub(value: Any) -> Any:
    """The payload with every account in it (the author, a quoted post's author) reduced to its
    labels and opt-out reason: no DID, handle, display name or avatar (the store adds the pseudonym)."""
    if isinstance(value, Mapping):
        if "did" in value and "handle" in value:
            labels = [
                {k: label[k] for k in ("val", "neg") if k in label}
                for label in value.get("labels") or ()
                if isinstance(label, Mapping)
            ]  # a self-label's src and uri name the account
            return {"labels": labels, "opt_out": opt_out_reason(value)}
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def view_to_record(
    view: Mapping[str, Any], *, server: str, fetched_from: str, fetched_at: datetime
) -> PostRecord:
    """One post view as a PostRecord; ``SourceError(kind="malformed")`` without a uri, author or time."""
    uri = _str(view.get("uri"))
    record = view.get("record")
    author = view.get("author")
    if not uri or not isinstance(record, Mapping) or not isinstance(author, Mapping):
        raise SourceError("a post view without uri, record or author", kind="malformed")
    did = _str(author.get("did"))
    created = parse_time(record.get("createdAt")) or parse_time(view.get("indexedAt"))
    if not did or created is None:
        raise SourceError(f"post {uri} has no author DID or no valid createdAt", kind="malformed")
    problem = text_problem("its text", record.get("text")) if isinstance(record.get("text"), str) else None
    if problem:  # facets index the UTF-8 bytes of the text: a lone surrogate has none
        raise SourceError(f"post {short_uri(uri)}: {problem}", kind="malformed")
    text = full_text(record)
    langs = record.get("langs")
    return PostRecord(
        platform=PLATFORM,
        server=server.rstrip("/"),
        native_id=uri,
        uri=uri,
        created_at=created,
        text=text,
        url=web_url(uri),
        language=_str(langs[0]) if isinstance(langs, list) and langs else None,
        hashtags=hashtags(record, text),
        author=AuthorRecord(PLATFORM, did, handle=_str(author.get("handle")), opt_out=opt_out_reason(author)),
        media=media(view.get("embed")),
        quote_of=quoted_uri(view.get("embed")),
        raw=scrub(view),
        fetched_from=fetched_from,
        fetched_at=fetched_at,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _size(ratio: Any) -> dict[str, int | None]:
    if not isinstance(ratio, Mapping):
        return {"width": None, "height": None}
    width, height = ratio.get("width"), ratio.get("height")
    return {
        "width": width if isinstance(width, int) else None,
        "height": height if isinstance(height, int) else None,
    }
