"""Mastodon statuses (plain JSON or Mastodon.py objects) to PostRecords, and account opt-outs.

Pure functions: tolerant of servers that omit fields (GoToSocial, Akkoma, Pleroma, Takahē ...),
ids kept as opaque strings, dates as aware datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from hiljade.errors import SourceError
from hiljade.pipeline.html_text import html_to_text
from hiljade.records import AuthorRecord, MediaRecord, PostRecord

PLATFORM = "mastodon"
_HASHTAG = re.compile(r"(?<![\w#/&])#(\w[\w·]*)")
_OPT_OUT_TAGS = ("nobot", "noindex", "nosearch")
_OPT_OUT = re.compile(r"(?<![\w#/&])#(nobot|noindex|nosearch)(?!\w)", re.IGNORECASE)
_ACCOUNT_FLAGS = ("noindex", "indexable")  # what a stored account keeps (see stored_payload)
# name the account a reply answers (often the author) and the accounts mentioned (shown in the text)
_ACCOUNT_IDS = ("in_reply_to_account_id", "mentions")
_LEAVES = frozenset((str, int, float, bool, type(None)))  # exact types of JSON scalars


def status_to_record(status: Mapping[str, Any], *, server: str, fetched_from: str,
                     fetched_at: datetime) -> PostRecord:
    """A Mastodon status (plain dict or Mastodon.py object) as a PostRecord; a boost becomes its original.

    Raises ``SourceError(kind="malformed")`` when the status has no id or no valid ``created_at``.
    """
    data = to_json(status)
    if not isinstance(data, dict):
        raise SourceError("a status must be a JSON object", kind="malformed")
    post = data["reblog"] if isinstance(data.get("reblog"), dict) else data
    native_id = status_id(post.get("id"))
    if native_id is None:
        raise SourceError("status without an id", kind="malformed")
    created_at = parse_time(post.get("created_at"))
    if created_at is None:
        raise SourceError(f"status {native_id} has no valid created_at", kind="malformed")
    edited_at = parse_time(post.get("edited_at"))
    if edited_at is None and post.get("edited_at") not in (None, ""):
        raise SourceError(f"status {native_id} has an edited_at that is not a valid time", kind="malformed")
    server = server.rstrip("/")
    text = _post_text(post)
    account = post.get("account")
    return PostRecord(
        platform=PLATFORM, server=server, native_id=native_id,
        uri=_str(post.get("uri")) or _str(post.get("url")) or f"{server}/api/v1/statuses/{native_id}",
        created_at=created_at, text=text, url=_str(post.get("url")), language=_str(post.get("language")),
        hashtags=_hashtags(post.get("tags"), text), edited_at=edited_at,
        author=_author(account, server) if isinstance(account, dict) else None,
        media=_media(post.get("media_attachments")), geo=None, quote_of=quoted_uri(post),
        raw=stored_payload(post),
        fetched_from=fetched_from,
        fetched_at=fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC),
    )


def stored_payload(post: Mapping[str, Any]) -> dict[str, Any]:
    """The status as it is stored: every account in it (the author's, a quoted post's) reduced to its
    opt-out flags, the account a reply answers and the mentioned accounts left out (the text still
    shows the mentions); the store adds the author's pseudonym."""
    return dict(_without_accounts(post))


def _without_accounts(value: Any) -> Any:
    if type(value) in _LEAVES:  # most of a payload: settled without the slower checks below
        return value
    if isinstance(value, Mapping):
        return {
            str(k): reduced_account(v) if k == "account" and isinstance(v, Mapping) else _without_accounts(v)
            for k, v in value.items()
            if k not in _ACCOUNT_IDS
        }
    if isinstance(value, list):
        return [_without_accounts(v) for v in value]
    return value


def reduced_account(account: Mapping[str, Any]) -> dict[str, Any]:
    """What a stored payload keeps of an account: its opt-out flags and the reason, no identity."""
    kept = {key: account[key] for key in _ACCOUNT_FLAGS if key in account}
    return {**kept, "opt_out": opt_out_reason(account)}


def quoted_uri(post: Mapping[str, Any]) -> str | None:
    """The uri of the post a status quotes, or None.

    Mastodon 4.5+: ``quote`` = {"state", "quoted_status"} (a ShallowQuote carries only a local id,
    which names no uri); Fedibird, Akkoma and older forks: ``quote`` is the quoted status itself;
    Pleroma: ``pleroma.quote`` (a status) or ``pleroma.quote_url`` (its ActivityPub id).
    """
    quote = post.get("quote")
    if isinstance(quote, Mapping):
        found = _status_uri(quote.get("quoted_status") if "state" in quote else quote)
        if found:
            return found
    pleroma = post.get("pleroma")
    if isinstance(pleroma, Mapping):
        return _status_uri(pleroma.get("quote")) or _str(pleroma.get("quote_url"))
    return None


def _status_uri(status: Any) -> str | None:
    return (_str(status.get("uri")) or _str(status.get("url"))) if isinstance(status, Mapping) else None


def opt_out_reason(account: Mapping[str, Any]) -> str | None:
    """Why this account opted out of being collected (noindex, indexable:false, #nobot ...), or None."""
    if not isinstance(account, Mapping):
        return None
    if _flag(account.get("noindex")) is True:
        return "noindex"
    if "indexable" in account and _flag(account.get("indexable")) is False:
        return "indexable:false"
    texts = [html_to_text(account.get("note")) if isinstance(account.get("note"), str) else ""]
    for entry in account.get("fields") or ():
        if isinstance(entry, Mapping):
            texts += [html_to_text(str(entry.get(key) or "")) for key in ("name", "value")]
    found = {tag.lower() for text in texts for tag in _OPT_OUT.findall(text)}
    return next((f"#{tag}" for tag in _OPT_OUT_TAGS if tag in found), None)


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string, a datetime or epoch seconds; None if invalid."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.strip()))
        except ValueError:
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError):  # NaN, infinity, 1e20: no moment
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_json(value: Any) -> Any:
    """Plain JSON data from Mastodon.py objects: str ids, ISO date strings, dicts and lists."""
    if type(value) in _LEAVES:  # plain JSON scalars (not subclasses) stay as they are
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _post_text(post: Mapping[str, Any]) -> str:
    content = post.get("content")
    body = html_to_text(content) if isinstance(content, str) else ""
    if not body and isinstance(post.get("text"), str):  # some servers send the plain source only
        body = html_to_text(post["text"])
    spoiler = (_str(post.get("spoiler_text")) or "").strip()
    return f"{spoiler}\n\n{body}".strip() if spoiler else body


def _hashtags(tags: Any, text: str) -> tuple[str, ...]:
    if isinstance(tags, list):
        names = [t.get("name") if isinstance(t, Mapping) else t for t in tags]
    else:  # the server sent no tags list: read them from the text
        names = _HASHTAG.findall(text)
    clean = (str(n).strip().lstrip("#").lower() for n in names if isinstance(n, str))
    return tuple(dict.fromkeys(n for n in clean if n))


def _author(account: Mapping[str, Any], server: str) -> AuthorRecord | None:
    acct = (_str(account.get("acct")) or _str(account.get("username")) or "").lstrip("@")
    host = urlsplit(server).hostname or ""
    handle = (acct if "@" in acct else f"{acct}@{host}") if acct else None
    key = _str(account.get("uri")) or _str(account.get("url")) or (f"acct:{handle}" if handle else None)
    if key is None:
        return None
    return AuthorRecord(platform=PLATFORM, account_key=key, handle=handle, opt_out=opt_out_reason(account))


def _media(items: Any) -> tuple[MediaRecord, ...]:
    out = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping):
            continue
        url = _str(item.get("url")) or _str(item.get("remote_url")) or _str(item.get("preview_url"))
        if url is None:
            continue
        meta = item.get("meta") if isinstance(item.get("meta"), Mapping) else {}
        original = meta.get("original") if isinstance(meta.get("original"), Mapping) else {}
        width, height = as_int(original.get("width")), as_int(original.get("height"))
        size = re.fullmatch(r"(\d+)x(\d+)", str(original.get("size") or ""))
        if (width is None or height is None) and size:
            width, height = int(size.group(1)), int(size.group(2))
        out.append(MediaRecord(
            url=url, type=_str(item.get("type")) or "unknown", native_id=status_id(item.get("id")),
            preview_url=_str(item.get("preview_url")), remote_url=_str(item.get("remote_url")),
            alt_text=_str(item.get("description")), blurhash=_str(item.get("blurhash")),
            width=width, height=height))
    return tuple(out)


def status_id(value: Any) -> str | None:
    """An id as the opaque string the server gave, or None when missing."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    return str(value)


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def as_int(value: Any) -> int | None:
    """An int from a JSON number or numeric string, or None."""
    try:
        return int(float(value)) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: infinity (1e400 in JSON)
        return None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None
