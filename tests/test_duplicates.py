"""Duplicate reports: the perceptual hash, text similarity, near-pair search, independent groups,
``link_duplicates`` on SQLite and PostgreSQL, and quote posts read from Mastodon statuses."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import func, select, update

from hiljade.harvester.mastodon_status import status_to_record
from hiljade.models.links import post_links
from hiljade.models.posts import AuthorPolicy, save_post
from hiljade.models.schema import Media, Post, PostLink
from hiljade.models.store import Store
from hiljade.pipeline.duplicates import (
    ImagePolicy,
    hamming,
    image_phash,
    independent_groups,
    near_pairs,
    text_similarity,
)
from hiljade.records import AuthorRecord, MediaRecord, PostRecord
from hiljade.services.duplicates import link_duplicates
from tests.support.mastodon import TEMPLATE_STATUS

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
SITES = {"phash_threshold": 6, "text_similarity": 0.9}


def photo(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A made-up street photo: a sky-like gradient, random shapes, a little sensor noise."""
    rng = random.Random(seed)
    top, bottom = (Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3))) for _ in range(2))
    image = Image.composite(top, bottom, Image.linear_gradient("L").resize(size))
    draw = ImageDraw.Draw(image)
    w, h = size
    for _ in range(25):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (x0, y0, x0 + rng.randrange(20, w // 2), y0 + rng.randrange(20, h // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(("ellipse", "rectangle", "line"))
        if shape == "line":
            draw.line(box, fill=colour, width=rng.randrange(3, 25))
        else:
            getattr(draw, shape)(box, fill=colour)
    noise = Image.effect_noise(size, 20).convert("RGB")
    return Image.blend(image.filter(ImageFilter.GaussianBlur(1)), noise, 0.08)


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def crop(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * share), int(h * share)
    return image.crop((dx, dy, w - dx, h - dy))


PHOTOS = [photo(seed) for seed in range(6)]
HASHES = [image_phash(encode(p, quality=90)) for p in PHOTOS]


# --- the perceptual hash ---------------------------------------------------------------------------


def test_phash_is_16_hex_digits_and_deterministic() -> None:
    data = encode(PHOTOS[0], quality=90)
    assert HASHES[0] is not None and len(HASHES[0]) == 16
    int(HASHES[0], 16)
    assert image_phash(data) == HASHES[0]


@pytest.mark.parametrize(
    ("name", "change", "limit"),
    [
        ("jpeg quality 40", lambda p: encode(p, quality=40), 4),
        ("jpeg quality 97", lambda p: encode(p, quality=97), 4),
        ("webp", lambda p: encode(p, "WEBP", quality=75), 4),
        ("png", lambda p: encode(p, "PNG", compress_level=1), 4),
        ("half size", lambda p: encode(p.resize((400, 300)), quality=85), 4),
        ("thumbnail 320 px", lambda p: encode(p.resize((320, 240)), quality=70), 4),
        ("crop 1% each side", lambda p: encode(crop(p, 0.01), quality=85), 8),
        ("crop 2% each side", lambda p: encode(crop(p, 0.02), quality=85), 12),
    ],
)
def test_phash_survives_reencoding_resizing_and_light_crops(name: str, change, limit: int) -> None:  # noqa: ANN001
    distances = [hamming(h, image_phash(change(p))) for h, p in zip(HASHES, PHOTOS, strict=True)]
    assert max(distances) <= limit, (name, distances)


def test_different_photos_are_far_apart() -> None:
    distances = [hamming(a, b) for a, b in itertools.combinations(HASHES, 2)]
    assert min(distances) >= 16, distances
    pairs = zip(HASHES, PHOTOS, strict=True)
    cropped = [hamming(h, image_phash(encode(crop(p, 0.02), quality=85))) for h, p in pairs]
    assert max(cropped) < min(distances)


def test_phash_follows_exif_orientation() -> None:
    upright = PHOTOS[1]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the stored pixels lie on their side
    sideways = encode(upright.transpose(Image.Transpose.ROTATE_90), quality=90, exif=exif)
    assert hamming(image_phash(sideways), HASHES[1]) <= 4


def test_transparent_png_is_hashed_on_white() -> None:
    rgba = PHOTOS[2].convert("RGBA")
    assert hamming(image_phash(encode(rgba, "PNG", compress_level=1)), HASHES[2]) <= 4
    clear = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(clear).ellipse((40, 40, 160, 160), fill=(200, 0, 0, 255))
    assert image_phash(encode(clear, "PNG")) is not None


def test_no_hash_for_what_is_no_allowed_image() -> None:
    assert image_phash(b"") is None
    assert image_phash(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert image_phash(encode(PHOTOS[0], quality=90)[:200]) is None  # truncated
    assert image_phash(encode(PHOTOS[0].convert("P"), "GIF")) is None  # GIF is not on the allow-list
    assert image_phash(encode(PHOTOS[0], "BMP")) is None
    assert image_phash(encode(Image.new("RGB", (300, 200), (137, 137, 137)), quality=90)) is None  # blank


def test_pixel_limit_is_checked_before_decoding() -> None:
    data = encode(PHOTOS[0], quality=90)
    assert image_phash(data, ImagePolicy(max_pixels=800 * 600 - 1)) is None
    assert image_phash(data, ImagePolicy(max_pixels=800 * 600)) == HASHES[0]
    assert image_phash(data, ImagePolicy(formats=("PNG",))) is None


def test_real_photos(shared_data: Path) -> None:
    """Real camera photos: a re-encoded, resized copy stays within the default threshold."""
    photos = sorted((shared_data / "exif_images" / "exif-samples" / "jpg" / "gps").glob("*.jpg"))[:6]
    assert photos, "no photos in shared data"
    hashes = []
    for path in photos:
        data = path.read_bytes()
        original = image_phash(data)
        assert original is not None, path
        with Image.open(io.BytesIO(data)) as image:
            copy_ = image.convert("RGB")
        small = copy_.resize((copy_.width // 3, copy_.height // 3))
        assert hamming(original, image_phash(encode(small, quality=60))) <= SITES["phash_threshold"], path
        hashes.append(original)
    assert min(hamming(a, b) for a, b in itertools.combinations(hashes, 2)) > 2 * SITES["phash_threshold"]


def test_hamming() -> None:
    assert hamming("0000000000000000", "0000000000000000") == 0
    assert hamming("ffffffffffffffff", "0000000000000000") == 64
    assert hamming("8000000000000001", "0000000000000000") == 2
    assert hamming("ABCDEF0000000000", "abcdef0000000000") == 0


# --- near pairs (multi-index hashing) --------------------------------------------------------------


def _brute(hashes: list[int], threshold: int) -> set[tuple[int, int, int]]:
    return {(i, j, (a ^ b).bit_count()) for (i, a), (j, b) in itertools.combinations(enumerate(hashes), 2)
            if (a ^ b).bit_count() <= threshold}


@settings(max_examples=60, deadline=None)
@given(
    seeds=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=25),
    flips=st.lists(st.lists(st.integers(0, 63), max_size=12), max_size=40),
    threshold=st.integers(0, 13),
)
def test_near_pairs_equals_brute_force(seeds: list[int], flips: list[list[int]], threshold: int) -> None:
    hashes = list(seeds)
    for k, bits in enumerate(flips):  # near copies of the seeds, a few bits flipped
        h = seeds[k % len(seeds)]
        for b in bits:
            h ^= 1 << b
        hashes.append(h)
    assert set(near_pairs(hashes, threshold)) == _brute(hashes, threshold)


# --- text similarity ------------------------------------------------------------------------------


def test_text_similarity_folds_scripts_case_diacritics_links_and_tags() -> None:
    latin = "Nova kamera na uglu Takovske i Vlajkovićeve #hiljadekamera"
    assert text_similarity(latin, "nova kamera na uglu takovske i vlajkoviceve") == 1.0
    assert text_similarity(latin, "Нова камера на углу Таковске и Влајковићеве https://x.example/p/1") == 1.0
    assert text_similarity(latin, "@drug NOVA KAMERA NA UGLU TAKOVSKE I VLAJKOVIĆEVE #beograd") == 1.0


def test_text_similarity_scores() -> None:
    a = "Nova kamera na uglu Takovske i Vlajkovićeve, gleda na park"
    assert text_similarity(a, "Nova kamera na uglu Takovske i Vlajkovićeve, gleda ka parku") >= 0.9
    assert text_similarity(a, "Dve kamere na semaforu kod Slavije") < 0.6
    assert text_similarity("", a) == 0.0
    assert text_similarity("#hiljadekamera", "#hiljadekamera") == 0.0  # no words: nothing to compare
    assert 0.0 <= text_similarity("abc", "abd") <= 1.0


# --- independent groups ----------------------------------------------------------------------------


def test_independent_groups() -> None:
    assert independent_groups([], [1, 2, 3]) == 3
    assert independent_groups([(2, 1)], [1, 2, 3]) == 2
    assert independent_groups([(2, 1), (3, 2)], [1, 3]) == 1  # chained
    assert independent_groups([(2, 9), (3, 9)], [2, 3, 4]) == 2  # both repost 9, which is elsewhere
    assert independent_groups([(5, 6)], []) == 0
    assert independent_groups([(2, 1)], [1, 1, 2]) == 1


# --- link_duplicates on a real store ---------------------------------------------------------------


def _record(uri: str, created: dt.datetime, text: str, author: str, media: list[str] = (),
            quote_of: str | None = None) -> PostRecord:
    return PostRecord(
        platform="mastodon", server="https://example.social", native_id=uri.rsplit("/", 1)[-1], uri=uri,
        created_at=created, text=text, url=uri.replace("/statuses/", "/@x/"),
        author=AuthorRecord("mastodon", f"https://example.social/users/{author}"),
        media=tuple(MediaRecord(url=u, type="image") for u in media), quote_of=quote_of,
    )


def _store(db_url: str) -> Store:
    store = Store(db_url)
    store.migrate()
    return store


def _ids(conn, uris: list[str]) -> dict[str, int]:  # noqa: ANN001
    p = Post.__table__
    return {u: i for u, i in conn.execute(select(p.c.uri, p.c.id).where(p.c.uri.in_(uris)))}


def _links(conn, ids: dict[str, int]) -> set[tuple[str, str, str]]:  # noqa: ANN001
    names = {v: k.rsplit("/", 1)[-1] for k, v in ids.items()}
    pl = PostLink.__table__
    rows = conn.execute(select(pl.c.post_id, pl.c.duplicate_of, pl.c.reason))
    return {(names[a], names[b], r) for a, b, r in rows}


def test_link_duplicates(db_url: str) -> None:
    store = _store(db_url)
    policy = AuthorPolicy(secret=b"test-key")
    base = "https://example.social/statuses/"
    photo_a, photo_d = encode(PHOTOS[0], quality=90), encode(PHOTOS[3], quality=90)
    recompressed = encode(crop(PHOTOS[0], 0.01).resize((400, 300)), quality=60)  # 2 bits off
    text = "Kamera na banderi na uglu Takovske i Vlajkovićeve"
    posts = [  # saved out of time order on purpose (a backfill finds older posts later)
        ("b", T0 + dt.timedelta(hours=1), "isto", "bojana", [("b.jpg", photo_a)]),
        ("a", T0, "prva", "ana", [("a.jpg", photo_a)]),
        ("c", T0 + dt.timedelta(hours=2), "druga platforma", "ceca", [("c.jpg", recompressed)]),
        ("d", T0 + dt.timedelta(hours=3), "druga kamera", "dule", [("d.jpg", photo_d)]),
        ("e", T0 + dt.timedelta(hours=4), text + " #hiljadekamera", "eva", []),
        ("f", T0 + dt.timedelta(hours=9), text.upper() + " https://osm.org/x", "eva", []),
        ("g", T0 + dt.timedelta(days=3), text, "eva", []),  # the same text, days later: a new report
        ("h", T0 + dt.timedelta(hours=5), text, "hana", []),  # the same text by someone else
        ("q", T0 + dt.timedelta(hours=6), "pogledajte ovo", "kosta", []),
        ("x", T0 + dt.timedelta(hours=7), "obrisano", "bojana", [("x.jpg", photo_a)]),
    ]
    with store.transaction() as conn:
        for name, created, body, author, media in posts:
            quote = base + "a" if name == "q" else None
            save_post(conn, _record(base + name, created, body, author, [base + u for u, _ in media], quote),
                      policy, T0)
        m = Media.__table__
        for _name, _created, _body, _author, media in posts:
            for url, data in media:
                conn.execute(update(m).where(m.c.url == base + url).values(
                    sha256=hashlib.sha256(data).hexdigest(), phash=image_phash(data)))
        conn.execute(update(Post.__table__).where(Post.__table__.c.uri == base + "x")
                     .values(deleted_at=T0 + dt.timedelta(days=1)))

    with store.transaction() as conn:
        added = link_duplicates(conn, SITES, T0 + dt.timedelta(days=4))
        ids = _ids(conn, [base + name for name, *_ in posts])
        links = _links(conn, ids)
    assert links == {("b", "a", "sha256"), ("c", "a", "phash"), ("f", "e", "text"), ("q", "a", "quote")}
    assert added == {"sha256": 1, "phash": 1, "text": 1, "quote": 1}

    with store.transaction() as conn:
        pl = PostLink.__table__
        row = conn.execute(select(pl.c.distance, pl.c.created_at).where(pl.c.reason == "phash")).one()
        assert 0 < row.distance <= SITES["phash_threshold"]
        assert row.created_at == T0 + dt.timedelta(days=4)
        assert conn.execute(select(pl.c.distance).where(pl.c.reason == "text")).scalar_one() <= 0.1
        edges = post_links(conn)
    group = [ids[base + n] for n in "abcd"]
    assert independent_groups(edges, group) == 2  # a, b, c are one photo; d is another
    assert independent_groups(edges, [ids[base + n] for n in "efgh"]) == 3

    with store.transaction() as conn:  # idempotent
        assert link_duplicates(conn, SITES, T0 + dt.timedelta(days=5)) == {}
        assert conn.execute(select(func.count()).select_from(PostLink.__table__)).scalar_one() == 4

    with store.transaction() as conn:  # a stricter threshold finds no near photo; nothing is removed
        assert link_duplicates(conn, {"phash_threshold": 0, "text_similarity": 1.0}, T0) == {}


def test_link_duplicates_identical_hashes_link_to_the_earliest(sqlite_url: str) -> None:
    store = _store(sqlite_url)
    policy = AuthorPolicy(secret=b"test-key")
    base = "https://example.social/statuses/"
    with store.transaction() as conn:
        for k in range(5):
            save_post(conn, _record(f"{base}p{k}", T0 + dt.timedelta(minutes=k), f"post {k}", f"u{k}",
                                    [f"{base}p{k}.jpg"]), policy, T0)
            conn.execute(update(Media.__table__).where(Media.__table__.c.url == f"{base}p{k}.jpg")
                         .values(sha256=f"{k:064x}", phash=HASHES[4]))  # other bytes, the same picture
        added = link_duplicates(conn, SITES, T0)
        ids = _ids(conn, [f"{base}p{k}" for k in range(5)])
        links = _links(conn, ids)
    assert added == {"phash": 4}
    assert links == {(f"p{k}", "p0", "phash") for k in range(1, 5)}


# --- quote posts from Mastodon statuses ------------------------------------------------------------


def _status(**fields: object) -> dict:
    status = copy.deepcopy(TEMPLATE_STATUS)
    status.update(fields)
    return status


def _quote_of(status: dict) -> str | None:
    return status_to_record(status, server="http://localhost:3000", fetched_from="test",
                            fetched_at=T0).quote_of


QUOTED = {"id": "1", "uri": "https://other.example/users/a/statuses/1", "url": "https://other.example/@a/1",
          "created_at": "2026-02-01T10:00:00Z", "content": "<p>kamera</p>"}


def test_mastodon_quote_of() -> None:
    assert _quote_of(_status(quote={"state": "accepted", "quoted_status": QUOTED})) == QUOTED["uri"]
    assert _quote_of(_status(quote={"state": "accepted", "quoted_status": {**QUOTED, "uri": None}})) \
        == QUOTED["url"]
    assert _quote_of(_status(quote={"state": "deleted", "quoted_status": None})) is None
    assert _quote_of(_status(quote={"state": "accepted", "quoted_status_id": "1"})) is None  # shallow
    assert _quote_of(_status(quote=None)) is None
    assert _quote_of(_status()) is None
    assert _quote_of(_status(quote=QUOTED)) == QUOTED["uri"]  # Fedibird, Akkoma: the status itself
    assert _quote_of(_status(pleroma={"quote": QUOTED, "quote_url": "ignored"})) == QUOTED["uri"]
    assert _quote_of(_status(pleroma={"quote": None, "quote_url": QUOTED["uri"]})) == QUOTED["uri"]
    assert _quote_of(_status(pleroma={"local": True})) is None
    assert _quote_of(_status(quote="garbage")) is None


def test_boost_of_a_quote_keeps_the_quote() -> None:
    original = _status(id="2", uri="https://other.example/users/b/statuses/2",
                       quote={"state": "accepted", "quoted_status": QUOTED})
    assert _quote_of(_status(id="3", reblog=original)) == QUOTED["uri"]
