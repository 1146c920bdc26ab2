"""`hiljade import photos DIR`: a partner's folder of original photos becomes posts with EXIF evidence.

Original photos are the only ones that still carry GPS. Each accepted photo (allow-listed format,
size-capped, checked by the same ``inspect_image`` as media downloads) is hashed and its EXIF read
at once; the bytes are never stored. What is kept: the media row with its sha256, and the EXIF
result in ``posts.raw["media_exif"]``, which `hiljade process` turns into an ``exif`` sighting
(``hiljade.services.process.stored_exif_candidates``). The mail importer shares ``examine_photo``
and ``Original``; ``hiljade.services.imports`` stores what both read.

One photo is one post: ``uri = "photos:" + sha256(bytes)``, so importing a folder again (or a copy
of a photo) adds nothing. Optional text, first found wins: ``photo.jpg.txt``, then ``photo.txt``
beside the photo, then the ``text`` column of a ``captions.csv`` (columns ``file,text``; ``file``
relative to the CSV's folder) in the photo's folder or any folder above it inside DIR.

Only regular files inside DIR are read (a link is followed only to a file inside DIR; a FIFO, a
device or a link out of the folder is refused unread), and each read is capped before it starts:
photos at ``imports.max_attachment_bytes``, sidecar captions at ``MAX_CAPTION_BYTES`` (the rest is
not read), ``captions.csv`` at ``imports.max_captions_bytes`` (a larger one is refused).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hiljade.config import Config
from hiljade.defaults import DEFAULTS
from hiljade.errors import MediaRefused, SourceError
from hiljade.harvester.media import MediaPolicy
from hiljade.pipeline.exif import ExifResult, read_exif
from hiljade.pipeline.images import inspect_image
from hiljade.records import AuthorRecord, MediaRecord, PostRecord

PLATFORM = "photos"
# File name endings tried as photos; anything else is refused as format_not_allowed unread.
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff"})
CAPTIONS_FILE = "captions.csv"
MAX_CAPTION_BYTES = 64 * 1024  # a sidecar caption is read up to here
MAX_CAPTIONS_BYTES = int(DEFAULTS["imports"]["max_captions_bytes"])
_HASHTAG = re.compile(r"(?<![\w#/&])#(\w[\w·]*)")


@dataclass(frozen=True)
class Photo:
    """An accepted original photo: its checked format, its hash and what its EXIF says."""

    name: str
    sha256: str
    format: str
    width: int
    height: int
    size: int
    exif: ExifResult

    def media(self, url: str) -> MediaRecord:
        """The media record of this photo (its sha256 is written by ``models.posts.save_original``)."""
        return MediaRecord(url=url, type="image", width=self.width, height=self.height)

    def exif_entry(self) -> dict[str, Any]:
        """The EXIF result as stored in ``raw["media_exif"]`` (read back by the process step)."""
        return {**dataclasses.asdict(self.exif), "sha256": self.sha256}


@dataclass(frozen=True)
class ImageCheck:
    """The image checks of an import: allowed formats, a pixel limit and a byte cap."""

    formats: tuple[str, ...]
    max_pixels: int
    max_bytes: int

    @classmethod
    def from_config(cls, config: Config) -> ImageCheck:
        """Formats and pixel limit of the media policy, the byte cap of `imports.max_attachment_bytes`."""
        section = {k: v for k, v in (config.get("media") or {}).items() if k != "download"}
        policy = MediaPolicy.from_config(section)
        return cls(policy.formats, policy.max_pixels, int(config.get("imports.max_attachment_bytes")))


def examine_photo(data: bytes, name: str, check: ImageCheck) -> Photo:
    """Check, hash and read the EXIF of one photo; MediaRefused (with ``reason``) when it is refused."""
    if len(data) > check.max_bytes:
        raise MediaRefused(f"too large: {len(data)} bytes > {check.max_bytes}", reason="too_large")
    fmt, width, height = inspect_image(data, check)
    digest = hashlib.sha256(data).hexdigest()
    return Photo(name, digest, fmt, width, height, len(data), read_exif(data, name=name))


@dataclass(frozen=True)
class Original:
    """One file or message read: a post of original photos, or why none was made."""

    post: PostRecord | None = None
    photos: tuple[tuple[str, Photo], ...] = ()  # (media url, photo)
    refused: Mapping[str, int] = field(default_factory=dict)  # refused files or attachments by reason
    known: bool = False  # already stored: not read further
    unreadable: bool = False  # a message that could not be parsed
    refused_message: str | None = None  # a message refused unparsed: message_too_large, header_too_long, ...

    @property
    def hashes(self) -> list[tuple[str, str]]:
        """``(media url, sha256)`` of the accepted photos."""
        return [(url, photo.sha256) for url, photo in self.photos]


def open_inside(path: Path, root: Path) -> IO[bytes]:
    """``path`` opened for reading when it is a regular file inside ``root`` (a link is followed only
    to a file inside ``root``); MediaRefused (``outside_folder``, ``not_a_file``, ``unreadable``)
    otherwise, without reading or waiting on anything."""
    try:
        target = path.resolve()
        inside = target.is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop
        raise MediaRefused(f"{path.name}: a broken link", reason="unreadable") from None
    if not inside:
        raise MediaRefused(f"{path.name}: a link out of the folder", reason="outside_folder")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a FIFO does not block
    except OSError as exc:
        raise MediaRefused(f"{path.name}: {exc.strerror or exc}", reason="unreadable") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise MediaRefused(f"{path.name}: not a regular file", reason="not_a_file")
    return os.fdopen(fd, "rb")


def read_inside(path: Path, root: Path, limit: int) -> bytes:
    """The bytes of a regular file inside ``root`` (see ``open_inside``); MediaRefused ``too_large`` when it
    holds more than ``limit`` bytes (checked before reading, and never more than ``limit + 1`` read)."""
    with open_inside(path, root) as fh:
        if os.fstat(fh.fileno()).st_size > limit:
            raise MediaRefused(f"{path.name}: more than {limit} bytes", reason="too_large")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise MediaRefused(f"{path.name}: more than {limit} bytes", reason="too_large")
    return data


def file_time(path: Path) -> dt.datetime:
    """A file's modification time in UTC."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


def taken_time(exif: ExifResult) -> dt.datetime | None:
    """When the photo was taken, from EXIF; a time without offset is read as UTC."""
    if not exif.taken_at:
        return None
    try:
        moment = dt.datetime.fromisoformat(exif.taken_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def hashtags_in(text: str) -> tuple[str, ...]:
    """Hashtags written in a caption or message, lower-cased, in order, once each."""
    return tuple(dict.fromkeys(t.lower() for t in _HASHTAG.findall(text)))


# ---- the folder walk ---------------------------------------------------------------------------


def photo_files(root: Path) -> Iterator[Path]:
    """Every non-hidden file under ``root``, sorted, without following directory links."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def is_sidecar(path: Path, siblings: set[str]) -> bool:
    """True for caption files: ``captions.csv`` and a ``.txt`` whose photo lies beside it."""
    if path.name.lower() == CAPTIONS_FILE:
        return True
    if path.suffix.lower() != ".txt":
        return False
    stem = path.name[: -len(path.suffix)]
    if Path(stem).suffix.lower() in PHOTO_SUFFIXES:
        return stem in siblings
    return any(f"{stem}{suffix}".lower() in {s.lower() for s in siblings} for suffix in PHOTO_SUFFIXES)


def _read_text(path: Path, root: Path) -> str:
    with open_inside(path, root) as fh:
        data = fh.read(MAX_CAPTION_BYTES)
    return data.decode("utf-8-sig", "replace").strip()


def load_captions(root: Path, *, max_bytes: int = MAX_CAPTIONS_BYTES,
                  refused: Counter[str] | None = None) -> dict[Path, str]:
    """Captions from every ``captions.csv`` under ``root``: resolved photo path -> text. A captions file
    that is not a regular file inside ``root``, or larger than ``max_bytes``, is counted in ``refused``
    (as ``captions_`` + the reason) and not read."""
    captions: dict[Path, str] = {}
    for path in photo_files(root):
        if path.name.lower() != CAPTIONS_FILE:
            continue
        try:
            data = read_inside(path, root, max_bytes)
        except MediaRefused as exc:
            if refused is not None:
                refused[f"captions_{exc.reason}"] += 1
            continue
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", "replace"), newline="")))
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "text"]:
            rows = rows[1:]
        for row in rows:
            if len(row) >= 2 and row[0].strip():
                target = (path.parent / row[0].strip()).resolve()
                captions.setdefault(target, row[1].strip())
    return captions


def caption_for(path: Path, captions: dict[Path, str], root: Path | None = None) -> tuple[str, str | None]:
    """(text, where it came from) for a photo: ``name.ext.txt``, ``name.txt``, then captions.csv. A
    sidecar that is not a regular file inside ``root`` (default: the photo's folder) is not read."""
    for sidecar in (path.with_name(path.name + ".txt"), path.with_suffix(".txt")):
        if os.path.lexists(sidecar):
            try:
                return _read_text(sidecar, root or path.parent), sidecar.name
            except MediaRefused:
                continue
    text = captions.get(path.resolve())
    return (text, CAPTIONS_FILE) if text is not None else ("", None)


def photo_post(
    photo: Photo,
    relative: str,
    text: str,
    caption_source: str | None,
    *,
    mtime: dt.datetime,
    author: AuthorRecord | None,
    fetched_from: str,
    now: dt.datetime,
) -> PostRecord:
    """The post of one photo from a folder (pure)."""
    uri = f"{PLATFORM}:{photo.sha256}"
    raw = {
        "file": relative,
        "format": photo.format,
        "width": photo.width,
        "height": photo.height,
        "bytes": photo.size,
        "caption_source": caption_source,
        "media_exif": [photo.exif_entry()],
    }
    return PostRecord(
        platform=PLATFORM,
        server=PLATFORM,
        native_id=photo.sha256,
        uri=uri,
        created_at=taken_time(photo.exif) or mtime,
        text=text,
        hashtags=hashtags_in(text),
        author=author,
        media=(photo.media(uri),),
        raw=raw,
        fetched_from=fetched_from,
        fetched_at=now,
    )


def read_photos(
    config: Config,
    root: Path,
    *,
    author: str | None,
    known: Callable[[str], bool],
    clock: Callable[[], dt.datetime],
) -> Iterator[Original]:
    """One ``Original`` per photo file under ``root`` (sidecars skipped); ``known(uri)`` says which
    photos are stored already, so they are not examined again. SourceError when ``root`` is no folder."""
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder; give the folder that holds the photos", kind="format")
    check = ImageCheck.from_config(config)
    contributor = AuthorRecord(PLATFORM, author.strip().lower()) if author and author.strip() else None
    return _read_photos(root, check, contributor, known, clock, int(config.get("imports.max_captions_bytes")))


def _read_photos(
    root: Path,
    check: ImageCheck,
    author: AuthorRecord | None,
    known: Callable[[str], bool],
    clock: Callable[[], dt.datetime],
    max_captions_bytes: int = MAX_CAPTIONS_BYTES,
) -> Iterator[Original]:
    refused: Counter[str] = Counter()
    captions = load_captions(root, max_bytes=max_captions_bytes, refused=refused)
    for reason, count in refused.items():
        yield from (Original(refused={reason: 1}) for _ in range(count))
    siblings_of: dict[Path, set[str]] = {}
    for path in photo_files(root):
        siblings = siblings_of.setdefault(path.parent, {p.name for p in path.parent.iterdir()})
        if is_sidecar(path, siblings):
            continue
        if path.suffix.lower() not in PHOTO_SUFFIXES:
            yield Original(refused={"format_not_allowed": 1})
            continue
        yield _read_one(path, root, check, author, captions, known, clock)


def _read_one(
    path: Path,
    root: Path,
    check: ImageCheck,
    author: AuthorRecord | None,
    captions: dict[Path, str],
    known: Callable[[str], bool],
    clock: Callable[[], dt.datetime],
) -> Original:
    relative = path.relative_to(root).as_posix()
    try:
        data = read_inside(path, root, check.max_bytes)
        mtime = file_time(path)
    except MediaRefused as exc:
        return Original(refused={exc.reason: 1})
    except OSError:
        return Original(refused={"unreadable": 1})
    if known(f"{PLATFORM}:{hashlib.sha256(data).hexdigest()}"):
        return Original(known=True)
    try:
        photo = examine_photo(data, relative, check)
    except MediaRefused as exc:
        return Original(refused={exc.reason: 1})
    text, source = caption_for(path, captions, root)
    post = photo_post(
        photo, relative, text, source, mtime=mtime, author=author, fetched_from=str(path), now=clock()
    )
    return Original(post, ((post.uri, photo),))
