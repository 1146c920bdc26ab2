"""`hiljade import mail PATH`: emailed reports (a maildir, an mbox, or a folder of ``.eml`` files).

Each message becomes a post (platform ``mail``): its subject and plain-text body (HTML-only bodies
converted), and its attached photos, whose EXIF GPS is the strongest location evidence. Photos
go through the checks of media downloads (size cap `imports.max_attachment_bytes`, allow-listed
formats, pixel limit); their bytes are not kept, only their sha256 (media rows) and EXIF result
(``raw["media_exif"]``, read by `hiljade process`). Other attachments are refused and counted.

Privacy: the sender is stored only as the keyed pseudonym of the lower-cased address. The uri is
``mail:`` + sha256 of the Message-ID (of the raw message without one), ``raw`` holds only safe
fields (subject, date, attachment names, types and sizes), never the headers, and the text loses
quoted replies, the signature, forwarded header lines, e-mail addresses, international phone
numbers and the sender's display name.

Hostile mail is refused before it is parsed: a message over ``imports.max_message_bytes`` is not
read past that size, and one with a header field over ``imports.max_header_bytes`` (a megabyte
Subject of encoded words costs the email package gigabytes) is not parsed; both are counted as
refused messages. Only regular files inside the folder are read. Stored text has no NUL characters
and no undecodable bytes.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from hiljade.defaults import DEFAULTS
from hiljade.errors import MediaRefused, SourceError
from hiljade.harvester.photos import (
    ImageCheck,
    Original,
    Photo,
    examine_photo,
    file_time,
    hashtags_in,
    read_inside,
)
from hiljade.pipeline.html_text import html_to_text
from hiljade.records import AuthorRecord, PostRecord

PLATFORM = "mail"
MAX_MESSAGE_BYTES = int(DEFAULTS["imports"]["max_message_bytes"])
MAX_HEADER_BYTES = int(DEFAULTS["imports"]["max_header_bytes"])
MESSAGE_TOO_LARGE, HEADER_TOO_LONG = "message_too_large", "header_too_long"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])\+\d[\d \t/()-]{6,}\d")
_SIGNATURE = re.compile(r"^(--|__+|-- )\s*$")
_SENT_FROM = re.compile(r"^(sent from my|poslato sa|послато са|šalje se sa)\b", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r"(wrote|napisao|napisala|napisao/la|написао|написала|написао/ла|schrieb)\s*:\s*$", re.IGNORECASE
)
_ORIGINAL = re.compile(r"^-{2,}\s*(original message|izvorna poruka|оригинална порука)\s*-{2,}", re.IGNORECASE)
_HEADER_LINE = re.compile(
    r"^\s*(from|to|cc|bcc|reply-to|od|za|šalje|prima|kopija|шаље|прима|од|за)\s*:", re.IGNORECASE
)


@dataclass(frozen=True)
class Envelope:
    """One message as read from its container: the raw bytes and a fallback time."""

    data: bytes
    mtime: dt.datetime
    origin: str  # the file (or mbox) it came from
    refused: str | None = None  # why the message was not read (then ``data`` is empty)


# ---- containers ---------------------------------------------------------------------------------


def detect_container(path: Path) -> str:
    """``maildir`` (a folder with cur/ and new/), ``eml`` (another folder or a single message file)
    or ``mbox`` (a file starting with a ``From`` line)."""
    if path.is_dir():
        return "maildir" if (path / "cur").is_dir() and (path / "new").is_dir() else "eml"
    if not path.is_file():
        raise SourceError(f"{path} is neither a file nor a folder", kind="format")
    with path.open("rb") as fh:
        head = fh.read(5)
    return "mbox" if head == b"From " else "eml"


def envelopes(path: Path, container: str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[Envelope]:
    """The raw messages of a maildir (and its sub-folders), an mbox, or ``.eml`` files, in a stable order;
    a message over ``max_bytes`` (or not a regular file inside ``path``) is not read, only named."""
    if container == "mbox":
        box = mailbox.mbox(path, create=False)
        mtime = file_time(path)
        try:
            for key in box.iterkeys():
                with box.get_file(key) as fh:
                    data = fh.read(max_bytes + 1)
                yield Envelope(b"", mtime, str(path), MESSAGE_TOO_LARGE) if len(data) > max_bytes \
                    else Envelope(data, mtime, str(path))
        finally:
            box.close()
    elif container == "maildir":
        yield from _maildir(path, path, max_bytes)
    elif path.is_file():
        yield _read_file(path, path.resolve().parent, max_bytes)  # the file named: wherever it lives
    else:
        for file in sorted(p for p in path.rglob("*") if p.suffix.lower() == ".eml" and not p.is_dir()):
            yield _read_file(file, path, max_bytes)


def _read_file(file: Path, root: Path, max_bytes: int) -> Envelope:
    """One message file, read only when it is a regular file inside ``root`` and not over ``max_bytes``."""
    try:
        return Envelope(read_inside(file, root, max_bytes), file_time(file), str(file))
    except MediaRefused as exc:
        reason = MESSAGE_TOO_LARGE if exc.reason == "too_large" else exc.reason
        return Envelope(b"", dt.datetime.now(dt.UTC), str(file), reason)
    except OSError:
        return Envelope(b"", dt.datetime.now(dt.UTC), str(file), "unreadable")


def _maildir(folder: Path, root: Path, max_bytes: int) -> Iterator[Envelope]:
    """The messages of a maildir folder (``new`` and ``cur``, by key; the delivery time is the file's
    mtime), then of its sub-folders (``.name``)."""
    files = [f for sub in ("new", "cur") if (folder / sub).is_dir() for f in (folder / sub).iterdir()
             if not f.name.startswith(".")]
    for file in sorted(files, key=lambda f: (f.name.split(":")[0], f.name)):
        yield _read_file(file, root, max_bytes)
    for sub in sorted(folder.iterdir()):
        if sub.name.startswith(".") and sub.name not in (".", "..") and sub.is_dir() \
                and not sub.is_symlink():
            yield from _maildir(sub, root, max_bytes)


def header_too_long(data: bytes, max_bytes: int = MAX_HEADER_BYTES) -> bool:
    """True when a header field of the raw message (with its folded lines) is longer than ``max_bytes``."""
    end = min((i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0), default=len(data))
    field_length, start = 0, 0
    while start < end:
        stop = data.find(b"\n", start, end)
        stop = end if stop < 0 else stop + 1
        folded = data[start:start + 1] in (b" ", b"\t")
        field_length = field_length + stop - start if folded else stop - start
        if field_length > max_bytes:
            return True
        start = stop
    return False


def _part_header_too_long(message: EmailMessage, max_bytes: int) -> bool:
    """True when a header of any MIME part is longer than ``max_bytes`` (read raw, before decoding)."""
    return any(len(value) > max_bytes for part in message.walk() for _, value in part.raw_items())


def plain(text: str) -> str:
    """Text any store keeps: undecodable bytes decoded (or replaced), NUL characters dropped."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text.replace("\x00", "")


# ---- one message ---------------------------------------------------------------------------------


def message_uri(message: EmailMessage, data: bytes) -> str:
    """``mail:`` + sha256 of the Message-ID, or of the raw message when it has none."""
    message_id = "".join(str(message.get("Message-ID", "") or "").split())
    basis = message_id.encode("utf-8", "replace") if message_id else data
    return f"{PLATFORM}:{hashlib.sha256(basis).hexdigest()}"


def sender(message: EmailMessage) -> tuple[str | None, str | None]:
    """(lower-cased address, display name) of the From header, or Nones."""
    try:
        header = message.get("From")
        addresses = getattr(header, "addresses", ()) if header is not None else ()
    except (ValueError, TypeError, IndexError):
        return None, None
    for address in addresses:
        if address.addr_spec and "@" in address.addr_spec:
            return address.addr_spec.strip().lower(), (address.display_name or "").strip() or None
    return None, None


def sent_at(message: EmailMessage) -> dt.datetime | None:
    """The Date header as an aware datetime (a date without zone is read as UTC), or None."""
    try:
        header = message.get("Date")
        moment = getattr(header, "datetime", None)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if not isinstance(moment, dt.datetime):
        return None
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError, UnicodeError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def body_text(message: EmailMessage) -> tuple[str, EmailMessage | None]:
    """The plain text of the message body (HTML converted when there is no plain part), and that part."""
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, ValueError):
        body = None
    if body is None:
        return "", None
    content = _content(body)
    text = html_to_text(content) if body.get_content_subtype() == "html" else content
    return text.replace("\r\n", "\n"), body


def clean_text(text: str, address: str | None, name: str | None) -> str:
    """The report without quoted replies, signature, header lines or the sender's contact details."""
    kept: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if _SIGNATURE.match(line) or _ATTRIBUTION.search(stripped) or _ORIGINAL.match(stripped):
            break
        if stripped.startswith(">") or _SENT_FROM.match(stripped) or _HEADER_LINE.match(stripped):
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", redact("\n".join(kept), address, name)).strip()


def redact(text: str, address: str | None, name: str | None) -> str:
    """``text`` without the sender's address and display name, other addresses and phone numbers."""
    if address:
        text = re.sub(re.escape(address), "[sender]", text, flags=re.IGNORECASE)
    if name and len(name) >= 3 and any(ch.isalpha() for ch in name):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[sender]", text, flags=re.IGNORECASE)
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


def _estimated_size(part: EmailMessage) -> int:
    """The decoded size of a part, estimated from its encoded payload without decoding it."""
    payload = part.get_payload(decode=False)
    length = len(payload) if isinstance(payload, str | bytes) else 0
    return length * 3 // 4 if part.get("Content-Transfer-Encoding", "").lower() == "base64" else length


def attachments(message: EmailMessage, body: EmailMessage | None) -> Iterator[EmailMessage]:
    """Every leaf part that is an attachment or an inline image (not the body, not alternative texts)."""
    for part in message.walk():
        if part.is_multipart() or part is body:
            continue
        named = part.get_filename() is not None or part.get_content_disposition() == "attachment"
        if named or part.get_content_maintype() == "image":
            yield part


def message_to_item(
    message: EmailMessage, envelope: Envelope, check: ImageCheck, *, container: str, now: dt.datetime
) -> Original:
    """A parsed message as a post with its checked photos (pure apart from reading the parts)."""
    uri = message_uri(message, envelope.data)
    address, name = sender(message)
    address, name = plain(address) if address else None, plain(name) if name else None
    text, body = body_text(message)
    subject = clean_text(plain(str(message.get("Subject", "") or "")).strip(), address, name)
    full_text = "\n\n".join(t for t in (subject, clean_text(plain(text), address, name)) if t)
    photos: list[tuple[str, Photo]] = []
    listed: list[dict[str, Any]] = []
    refused: dict[str, int] = {}
    for position, part in enumerate(attachments(message, body), 1):
        filename = redact(
            plain(Path(str(part.get_filename() or f"attachment-{position}")).name[:200]), address, name
        )
        entry: dict[str, Any] = {"name": filename, "type": plain(part.get_content_type())[:200]}
        listed.append(entry)
        photo, reason = _check_attachment(part, filename, check, entry)
        if photo is not None:
            photos.append((f"{uri}/{position}", photo))
        elif reason:
            entry["refused"] = reason
            refused[reason] = refused.get(reason, 0) + 1
    raw = {
        "subject": subject,
        "date": plain(str(message.get("Date", "") or ""))[:200] or None,
        "container": container,
        "attachments": listed,
        "media_exif": [photo.exif_entry() for _, photo in photos],
    }
    post = PostRecord(
        platform=PLATFORM,
        server=PLATFORM,
        native_id=uri.removeprefix(f"{PLATFORM}:"),
        uri=uri,
        created_at=sent_at(message) or envelope.mtime,
        text=full_text,
        hashtags=hashtags_in(full_text),
        author=AuthorRecord(PLATFORM, address) if address else None,
        media=tuple(photo.media(url) for url, photo in photos),
        raw=raw,
        fetched_from=envelope.origin,
        fetched_at=now,
    )
    return Original(post, tuple(photos), refused)


def _check_attachment(
    part: EmailMessage, filename: str, check: ImageCheck, entry: dict[str, Any]
) -> tuple[Photo | None, str | None]:
    """(the accepted photo, None) or (None, why it was refused); records size and sha256 in ``entry``."""
    estimated = _estimated_size(part)
    if estimated > check.max_bytes + 4096:  # refused before decoding a huge payload
        entry["bytes"] = estimated
        return None, "too_large"
    data = part.get_payload(decode=True)
    data = data if isinstance(data, bytes) else b""
    entry["bytes"] = len(data)
    try:
        photo = examine_photo(data, filename, check)
    except MediaRefused as exc:
        return None, exc.reason
    entry["sha256"] = photo.sha256
    return photo, None


def parse_message(data: bytes) -> EmailMessage:
    """The message with the modern policy (headers as objects, ``get_body``, ``get_content``)."""
    message = email.message_from_bytes(data, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    return message


def read_mail(
    path: Path,
    container: str,
    check: ImageCheck,
    *,
    known: Callable[[str], bool],
    clock: Callable[[], dt.datetime],
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    max_header_bytes: int = MAX_HEADER_BYTES,
) -> Iterator[Original]:
    """One ``Original`` per message under ``path``; ``known(uri)`` says which are stored already, so
    they are not converted again. A message that cannot be parsed is counted ``unreadable``; one too
    large, with a header field too long, or not a regular file is refused unparsed."""
    for envelope in envelopes(path, container, max_bytes=max_message_bytes):
        if envelope.refused or header_too_long(envelope.data, max_header_bytes):
            yield Original(refused_message=envelope.refused or HEADER_TOO_LONG)
            continue
        try:
            message = parse_message(envelope.data)
            if not message.keys():  # not a message at all (no header line)
                raise ValueError("no headers")
            if _part_header_too_long(message, max_header_bytes):
                yield Original(refused_message=HEADER_TOO_LONG)
                continue
            uri = message_uri(message, envelope.data)
        except Exception:  # noqa: BLE001 - a message the email package cannot parse is counted
            yield Original(unreadable=True)
            continue
        if known(uri):
            yield Original(known=True)
            continue
        now = clock()
        try:
            item = message_to_item(message, envelope, check, container=container, now=now)
        except Exception:  # noqa: BLE001 - broken MIME structure: counted, the run goes on
            item = Original(unreadable=True)
        yield item
