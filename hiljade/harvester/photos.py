"""`hiljade import photos DIR`: a partner's folder of original photos becomes posts with EXIF evidence.

Original photos are the only ones that still carry GPS. Each accepted photo (allow-listed format,
size-capped, checked by the same ``inspect_image`` as media downloads) is hashed and its EXIF read
at once; the bytes are never stored. What is kept: the media row with its sha256, and the EXIF
result in ``posts.raw["media_exif"]``, which `hiljade process` turns into an ``exif`` sighting
(``hiljade.services.process.stored_exif_candidates``). The mail importer shares ``examine_photo``
and ``save_original``.

One photo is one post: ``uri = "photos:" + sha256(bytes)``, so importing a folder again (or a copy
of a photo) adds nothing. Optional text, first found wins: ``photo.jpg.txt``, then ``photo.txt``
beside the photo, then the ``text`` column of a ``captions.csv`` (columns ``file,text``; ``file``
relative to the CSV's folder) in the photo's folder or any folder above it inside DIR.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from hiljade.config import Config
from hiljade.errors import MediaRefused, SourceError
from hiljade.models.posts import NEW, AuthorPolicy, save_post
from hiljade.models.schema import Media, Post
from hiljade.models.store import Store
from hiljade.pipeline.exif import ExifResult, read_exif
from hiljade.pipeline.images import inspect_image
from hiljade.records import AuthorRecord, MediaRecord, PostRecord

PLATFORM = "photos"
# File name endings tried as photos; anything else is refused as format_not_allowed unread.
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff"})
CAPTIONS_FILE = "captions.csv"
MAX_CAPTION_BYTES = 64 * 1024
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
        """The media record of this photo (its sha256 is written by ``save_original``)."""
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
        from hiljade.harvester.media import MediaPolicy

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


@dataclass
class ImportReport:
    """What an import did; ``refused`` counts refused files or attachments by reason."""

    kind: str
    items: int = 0  # messages or photo files looked at
    imported: int = 0
    known: int = 0
    photos: int = 0  # photos accepted
    located: int = 0  # accepted photos with a GPS position
    refused: Counter[str] = field(default_factory=Counter)
    unreadable: int = 0  # messages that could not be parsed
    container: str = ""

    def summary(self) -> str:
        refused = sum(self.refused.values())
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.refused.items()))
        refused_text = f"; refused {refused}: {reasons}" if refused else "; refused 0"
        if self.kind == "mail":
            return (
                f"import mail: {self.items} messages ({self.container or 'none'}): {self.imported} imported, "
                f"{self.known} already known, {self.unreadable} unreadable; {self.photos} photos accepted, "
                f"{self.located} with GPS{refused_text.replace('refused', 'refused attachments', 1)}"
            )
        return (
            f"import photos: {self.items} files: {self.imported} imported "
            f"({self.imported - self.located} without GPS), {self.known} already known{refused_text}"
        )


def is_known(conn: Connection, platform: str, uri: str) -> bool:
    """True when a post with this (platform, uri) is already stored."""
    p = Post.__table__
    return conn.execute(select(p.c.id).where(p.c.platform == platform, p.c.uri == uri)).first() is not None


def save_original(
    conn: Connection,
    post: PostRecord,
    photos: list[tuple[str, Photo]],
    policy: AuthorPolicy,
    now: dt.datetime,
) -> str:
    """Store a post of original photos (``(media url, photo)`` pairs) and their sha256; the outcome."""
    outcome = save_post(conn, post, policy, now)
    if outcome != NEW or not photos:
        return outcome
    p, m = Post.__table__, Media.__table__
    post_id = conn.execute(
        select(p.c.id).where(p.c.platform == post.platform, p.c.uri == post.uri)
    ).scalar_one()
    for url, photo in photos:
        conn.execute(
            update(m)
            .where(m.c.post_id == post_id, m.c.url == url)
            .values(sha256=photo.sha256, downloaded_at=now)
        )
    return outcome


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


def _read_text(path: Path) -> str:
    with path.open("rb") as fh:
        data = fh.read(MAX_CAPTION_BYTES)
    return data.decode("utf-8-sig", "replace").strip()


def load_captions(root: Path) -> dict[Path, str]:
    """Captions from every ``captions.csv`` under ``root``: resolved photo path -> text."""
    captions: dict[Path, str] = {}
    for path in photo_files(root):
        if path.name.lower() != CAPTIONS_FILE:
            continue
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            rows = list(csv.reader(fh))
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "text"]:
            rows = rows[1:]
        for row in rows:
            if len(row) >= 2 and row[0].strip():
                target = (path.parent / row[0].strip()).resolve()
                captions.setdefault(target, row[1].strip())
    return captions


def caption_for(path: Path, captions: dict[Path, str]) -> tuple[str, str | None]:
    """(text, where it came from) for a photo: ``name.ext.txt``, ``name.txt``, then captions.csv."""
    for sidecar in (path.with_name(path.name + ".txt"), path.with_suffix(".txt")):
        if sidecar.is_file():
            return _read_text(sidecar), sidecar.name
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


def import_photos(
    config: Config,
    store: Store,
    root: Path,
    *,
    author: str | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> ImportReport:
    """Import every photo under ``root`` (one transaction per photo); see the module docstring."""
    from hiljade.services.store import author_policy

    if not root.is_dir():
        raise SourceError(f"{root} is not a folder; give the folder that holds the photos", kind="format")
    check = ImageCheck.from_config(config)
    policy = author_policy(config)
    contributor = AuthorRecord(PLATFORM, author.strip().lower()) if author and author.strip() else None
    captions = load_captions(root)
    report = ImportReport("photos")
    siblings_of: dict[Path, set[str]] = {}
    for path in photo_files(root):
        siblings = siblings_of.setdefault(path.parent, {p.name for p in path.parent.iterdir()})
        if is_sidecar(path, siblings):
            continue
        report.items += 1
        if path.suffix.lower() not in PHOTO_SUFFIXES:
            report.refused["format_not_allowed"] += 1
            continue
        _import_one(store, path, root, check, policy, contributor, captions, report, clock)
    return report


def _import_one(
    store: Store,
    path: Path,
    root: Path,
    check: ImageCheck,
    policy: AuthorPolicy,
    author: AuthorRecord | None,
    captions: dict[Path, str],
    report: ImportReport,
    clock: Callable[[], dt.datetime],
) -> None:
    relative = path.relative_to(root).as_posix()
    try:
        if path.stat().st_size > check.max_bytes:
            report.refused["too_large"] += 1
            return
        data = path.read_bytes()
        mtime = file_time(path)
    except OSError:
        report.refused["unreadable"] += 1
        return
    uri = f"{PLATFORM}:{hashlib.sha256(data).hexdigest()}"
    with store.connect() as conn:
        if is_known(conn, PLATFORM, uri):
            report.known += 1
            return
    try:
        photo = examine_photo(data, relative, check)
    except MediaRefused as exc:
        report.refused[exc.reason] += 1
        return
    text, source = caption_for(path, captions)
    now = clock()
    post = photo_post(
        photo, relative, text, source, mtime=mtime, author=author, fetched_from=str(path), now=now
    )
    with store.transaction() as conn:
        outcome = save_original(conn, post, [(post.uri, photo)], policy, now)
    if outcome == NEW:
        report.imported += 1
        report.photos += 1
        report.located += photo.exif.lat is not None
    else:
        report.known += 1
