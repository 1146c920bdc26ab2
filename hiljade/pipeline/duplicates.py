"""Duplicate reports: the same photo, a near-identical photo, the same author's repeated text, quotes.

A link says "this later post is the same report as that earlier one" (``find_links``, over plain
records); ``independent_groups`` counts what is left. ``image_phash`` is the DCT perceptual hash
(pHash: 32x32 grey, the 8x8 lowest frequencies against their median) with Pillow alone: for the
same 32x32 grey image it gives the bits and hex of ``imagehash.phash``; here JPEGs are decoded at
reduced scale, the EXIF orientation is applied and transparency counts as white. Hashes are
compared by Hamming distance; near pairs are found with multi-index hashing (four 16-bit blocks),
not by comparing every pair.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import operator
import statistics
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import combinations
from typing import Any

from PIL import Image, ImageOps

from hiljade.defaults import DEFAULTS
from hiljade.errors import MediaRefused
from hiljade.pipeline.groups import count_groups
from hiljade.pipeline.images import DEFAULT_FORMATS, ImageLimits, inspect_image
from hiljade.pipeline.normalize import tokenize

REASONS = ("sha256", "phash", "text", "quote")
TEXT_WINDOW = dt.timedelta(days=1)  # the same author's near-identical text counts within this time
MIN_TEXT_CHARS = 12  # shorter texts ("kamera", only hashtags) say too little to link two posts
MIN_CONTRAST = 2.0  # grey-level standard deviation below which an image is blank: no hash
_SIZE, _LOW = 32, 8  # pHash: DCT of a 32x32 grey image, keep the 8x8 lowest frequencies
_DRAFT = 128  # JPEGs are decoded at a reduced scale, no smaller than this
_BLOCKS, _BLOCK_BITS = 4, 16
_COS = [[math.cos(math.pi * (2 * x + 1) * u / (2 * _SIZE)) for x in range(_SIZE)] for u in range(_LOW)]


@dataclass(frozen=True)
class ImagePolicy:
    """Formats and pixel limit for hashing (the defaults of the media download policy)."""

    formats: tuple[str, ...] = DEFAULT_FORMATS
    max_pixels: int = 50_000_000


DEFAULT_POLICY = ImagePolicy()


def image_phash(data: bytes, policy: ImageLimits = DEFAULT_POLICY) -> str | None:
    """The 64-bit perceptual hash of an image as 16 hex digits; None for bytes that are not an
    allowed image under ``policy`` (checked by ``inspect_image`` before decoding) or a blank image."""
    try:
        inspect_image(data, policy)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[f.upper() for f in policy.formats]) as image:
                image.draft("L", (_DRAFT, _DRAFT))  # JPEG only: decode at 1/2 .. 1/8 scale
                grey = _grey(ImageOps.exif_transpose(image))
    except MediaRefused:
        return None
    except Exception:  # noqa: BLE001 - a file that passed verify() but fails to decode is "not an image"
        return None
    pixels = list(grey.tobytes())
    mean = sum(pixels) / len(pixels)
    if sum(x * x for x in pixels) / len(pixels) - mean * mean < MIN_CONTRAST**2:
        return None
    return _dct_hash(pixels)


def _grey(image: Image.Image) -> Image.Image:
    """The image as 32x32 grey levels; transparent parts count as white."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("L").resize((_SIZE, _SIZE), Image.Resampling.LANCZOS)


def _dct_hash(pixels: Sequence[int]) -> str:
    """pHash bits of 32x32 grey pixels: DCT-II rows then columns, low 8x8 against their median."""
    rows = [pixels[y * _SIZE : (y + 1) * _SIZE] for y in range(_SIZE)]
    by_row = [[sum(map(operator.mul, _COS[u], row)) for u in range(_LOW)] for row in rows]
    coefficients = [
        sum(_COS[v][y] * by_row[y][u] for y in range(_SIZE)) for v in range(_LOW) for u in range(_LOW)
    ]
    median = statistics.median(coefficients)
    bits = 0
    for c in coefficients:
        bits = (bits << 1) | (c > median)
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    """The number of differing bits of two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


@lru_cache(maxsize=50_000)
def text_key(text: str) -> str:
    """A text folded for comparison: one script, no case or diacritics, no links, mentions or hashtags."""
    return " ".join(t.fold for t in tokenize(text))


def text_similarity(a: str, b: str) -> float:
    """How alike two texts are, 0..1 (1 = the same words); 0 when either has no words."""
    return _similarity(text_key(a), text_key(b))


def _similarity(a: str, b: str, floor: float = 0.0) -> float:
    """SequenceMatcher ratio of two folded texts; 0 as soon as it cannot reach ``floor``."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


def near_pairs(hashes: Sequence[int], threshold: int) -> Iterator[tuple[int, int, int]]:
    """Index pairs ``(i, j, distance)``, i < j, of 64-bit hashes at most ``threshold`` bits apart.

    Multi-index hashing: split into four 16-bit blocks; two hashes within ``threshold`` bits agree
    within ``threshold // 4`` bits on at least one block, so only buckets that close are joined.
    A pair is reported from the first block where it is that close, so it comes once.
    """
    threshold = max(0, min(int(threshold), 64))
    radius = threshold // _BLOCKS
    mask = (1 << _BLOCK_BITS) - 1
    flips = [sum(1 << b for b in bits) for r in range(radius + 1)
             for bits in combinations(range(_BLOCK_BITS), r)]
    for block in range(_BLOCKS):
        shift = _BLOCK_BITS * block
        buckets: dict[int, list[int]] = defaultdict(list)
        for i, h in enumerate(hashes):
            buckets[(h >> shift) & mask].append(i)
        for key, members in buckets.items():
            for flip in flips:
                other = key ^ flip
                if other < key or (other == key and flip):
                    continue  # each pair of buckets once
                partners = members if flip == 0 else buckets.get(other)
                if not partners:
                    continue
                for n, i in enumerate(members):
                    for j in (partners[n + 1 :] if flip == 0 else partners):
                        difference = hashes[i] ^ hashes[j]
                        distance = difference.bit_count()
                        if distance <= threshold and not _found_before(difference, block, radius):
                            yield (i, j, distance) if i < j else (j, i, distance)


def _found_before(difference: int, block: int, radius: int) -> bool:
    """True when a pair with this xor was already close on an earlier block (and reported there)."""
    mask = (1 << _BLOCK_BITS) - 1
    return any(((difference >> (_BLOCK_BITS * b)) & mask).bit_count() <= radius for b in range(block))


def independent_groups(edges: Iterable[tuple[int, int]], post_ids: Iterable[int]) -> int:
    """How many independent reports are among ``post_ids``, given duplicate links ``(post, duplicate_of)``.

    Links through posts outside ``post_ids`` count too: two reposts of one photo are one report.
    """
    return count_groups(edges, post_ids)


@dataclass(frozen=True)
class LinkPost:
    """What duplicate detection reads of a post."""

    id: int
    created_at: dt.datetime
    author_id: int | None
    text: str
    uri: str
    url: str | None
    quote_of: str | None

    @property
    def order(self) -> tuple[dt.datetime, int]:
        return self.created_at, self.id


Edges = dict[tuple[int, int, str], float | None]


def _add(edges: Edges, later: LinkPost, earlier: LinkPost, reason: str, distance: float | None) -> None:
    """Record a link from ``later`` to ``earlier`` (swapped when needed), keeping the smallest distance."""
    if later.id == earlier.id:
        return
    if later.order < earlier.order:
        later, earlier = earlier, later
    key = (later.id, earlier.id, reason)
    old = edges.get(key)
    edges[key] = distance if old is None or (distance is not None and distance < old) else old


def media_links(posts: Mapping[int, LinkPost], media: Iterable[tuple[int, str | None, str | None]],
                threshold: int) -> Edges:
    """Links for the same bytes (sha256) and near-identical photos (phash within ``threshold`` bits).

    Each later post points at the earliest with the same bytes; photos with the same hash point at
    the earliest such photo; distinct hashes within the threshold link their earliest posts.
    """
    edges: Edges = {}
    by_sha: dict[str, list[LinkPost]] = defaultdict(list)
    photos: dict[object, tuple[LinkPost, str]] = {}  # one entry per distinct file: earliest post, phash
    for post_id, sha256, phash in media:
        post = posts.get(post_id)
        if post is None:
            continue
        if sha256:
            by_sha[sha256].append(post)
        if phash:
            key: object = sha256 or (post_id, phash)
            known = photos.get(key)
            if known is None or post.order < known[0].order:
                photos[key] = (post, phash)
    for group in by_sha.values():
        first = min(group, key=lambda p: p.order)
        for post in group:
            _add(edges, post, first, "sha256", 0.0)
    by_hash: dict[str, list[LinkPost]] = defaultdict(list)
    for post, phash in photos.values():
        by_hash[phash.lower()].append(post)
    firsts = {h: min(group, key=lambda p: p.order) for h, group in by_hash.items()}
    for h, group in by_hash.items():
        for post in group:
            _add(edges, post, firsts[h], "phash", 0.0)
    values = sorted(firsts)
    for i, j, distance in near_pairs([int(h, 16) for h in values], threshold):
        _add(edges, firsts[values[i]], firsts[values[j]], "phash", float(distance))
    return edges


def text_links(posts: Iterable[LinkPost], min_similarity: float) -> Edges:
    """Links between the same author's posts with near-identical text within ``TEXT_WINDOW``."""
    edges: Edges = {}
    by_author: dict[int, list[LinkPost]] = defaultdict(list)
    for post in posts:
        if post.author_id is not None:
            by_author[post.author_id].append(post)
    for group in by_author.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda p: p.order)
        for i, post in enumerate(group):
            j = i - 1
            while j >= 0 and post.created_at - group[j].created_at <= TEXT_WINDOW:
                a, b = text_key(post.text), text_key(group[j].text)  # folded only when a pair is near
                if len(a) >= MIN_TEXT_CHARS and len(b) >= MIN_TEXT_CHARS:
                    similarity = _similarity(a, b, min_similarity)
                    if similarity >= min_similarity:
                        _add(edges, post, group[j], "text", round(1.0 - similarity, 4))
                j -= 1
    return edges


def quote_links(posts: Mapping[int, LinkPost]) -> Edges:
    """Links from a quote post to the stored post it quotes (matched by uri, else by url)."""
    by_uri = {p.uri: p for p in posts.values()}
    by_url = {p.url: p for p in posts.values() if p.url}
    edges: Edges = {}
    for post in posts.values():
        if post.quote_of:
            target = by_uri.get(post.quote_of) or by_url.get(post.quote_of)
            if target is not None and target.id != post.id:
                edges[(post.id, target.id, "quote")] = None  # the quote points at the quoted post
    return edges


def find_links(
    posts: Mapping[int, LinkPost],
    media: Iterable[tuple[int, str | None, str | None]],
    settings: Mapping[str, Any],
) -> Edges:
    """Every duplicate link among ``posts`` and their ``media`` rows ``(post id, sha256, phash)``:
    ``(post, duplicate_of, reason) -> distance``. ``settings`` is the ``sites`` config section
    (``phash_threshold``, ``text_similarity``)."""
    settings = {**DEFAULTS["sites"], **settings}
    edges = media_links(posts, media, int(settings["phash_threshold"]))
    edges.update(text_links(posts.values(), float(settings["text_similarity"])))
    edges.update(quote_links(posts))
    return edges
