"""The fast EXIF reader (``exif_tiff``) pinned to the exifread/Pillow path it stands in for.

On every shared photo ``read_exif`` gives the same result with the fast reader as without it, and
where the fast reader answers, its tags equal exifread's, value types included. Truncated and
corrupted real JPEG and TIFF files never make it raise, and wherever both paths find a fix it is
the same fix. Corrupted WebP and HEIF files that the fast reader still reads give the slow path's
result, field by field.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from hiljade.pipeline.exif import ExifResult, read_exif
from hiljade.pipeline.exif_container import container_check, heif_exif_span, webp_exif_span
from hiljade.pipeline.exif_readers import DATE_TAGS, GPS_TAGS, exifread_tags
from hiljade.pipeline.exif_tiff import fast_tags, jpeg_exif_span
from hiljade.pipeline.exif_xmp import xmp_fields
from tests.support.paths import SHARED_DATA

FOLDER = SHARED_DATA / "exif_images"
CSV = FOLDER / "expected_gps.csv"
ROWS = list(csv.DictReader(CSV.open(encoding="utf-8"))) if CSV.is_file() else []
FIX = ("lat", "lon", "altitude", "direction", "direction_ref", "h_error_m")
FIELDS = (*FIX, "taken_at", "gps_source", "error")
KEYS = {*GPS_TAGS.values(), *DATE_TAGS.values(), "GPSInfo"}
# Pillow warns about the broken EXIF data these tests feed it
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")

# small real files of both byte orders, with altitude, bearing, horizontal error and capture dates
REAL = [
    "metadata-extractor-images/jpg/Issue 508.jpg",  # big-endian, every GPS field
    "exif-samples/jpg/Kodak_CX7530.jpg",  # little-endian, JFIF before the EXIF segment
    "exif-samples/jpg/tests/67-0_length_string.jpg",
    "metadata-extractor-images/jpg/Issue 173 (dotnet).jpg",  # below sea level
    "exif-samples/tiff/Arbitro.tiff",
]


def _made(fmt: str) -> bytes:
    """A tiny JPEG or TIFF with a full GPS IFD and capture dates, made here with Pillow."""
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({
        1: "N", 2: (IFDRational(44, 1), IFDRational(48, 1), IFDRational(562, 10)),
        3: "E", 4: (IFDRational(20, 1), IFDRational(27, 1), IFDRational(44, 1)),
        5: b"\x00", 6: IFDRational(1175, 10), 16: "M", 17: IFDRational(2455, 10), 31: IFDRational(5, 1),
    })
    dates = {0x9003: "2019:05:04 12:30:01", 0x9011: "+02:00", 0x9004: "2019:05:04 12:30:02"}
    exif.get_ifd(0x8769).update(dates)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


SAMPLES = {"made.jpg": _made("JPEG"), "made.tif": _made("TIFF")}
SAMPLES.update({name: (FOLDER / name).read_bytes() for name in REAL if (FOLDER / name).is_file()})


def _metadata_end(data: bytes) -> int:
    """Where the metadata of a sample ends: the EXIF segment of a JPEG, the whole of a small TIFF."""
    span = jpeg_exif_span(data) if data[:2] == b"\xff\xd8" else None
    return span[1] if span else len(data)


def _fields(result: ExifResult, names: tuple[str, ...] = FIELDS) -> dict[str, Any]:
    return {name: getattr(result, name) for name in names}


def _raw_pinned(data: bytes) -> None:
    """The fast reader never raises; where it and exifread both read the tags, they are equal."""
    kind, _ = container_check(data)
    fast = fast_tags(data, kind)
    if fast is None:
        return
    slow, _ = exifread_tags(data)
    if slow is not None:
        assert fast == {key: value for key, value in slow.items() if key in KEYS}
        assert {key: type(value) for key, value in fast.items()} == {key: type(slow[key]) for key in fast}


def _results_pinned(data: bytes) -> None:
    """read_exif never raises; where both paths find a fix, it is the same fix."""
    fast, slow = read_exif(data, fast=True), read_exif(data, fast=False)
    assert isinstance(fast, ExifResult) and isinstance(slow, ExifResult)
    if fast.lat is not None and slow.lat is not None:
        assert _fields(fast, FIX) == _fields(slow, FIX)


# --- the shared photos ---------------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS or [None], ids=[r["file"] for r in ROWS] or ["absent"])
def test_fast_path_gives_the_slow_paths_result(shared_data: Path, row: dict[str, str] | None) -> None:
    assert row is not None
    data = (shared_data / "exif_images" / row["file"]).read_bytes()
    fast, slow = read_exif(data, name=row["file"]), read_exif(data, name=row["file"], fast=False)
    assert _fields(fast) == _fields(slow)
    assert fast == slow
    _raw_pinned(data)


def test_fast_path_reads_the_shared_jpeg_and_tiff_photos(shared_data: Path) -> None:
    """The fast reader answers for every JPEG and TIFF photo with a GPS fix (else the pin proves nothing)."""
    read = []
    for row in ROWS:
        data = (shared_data / "exif_images" / row["file"]).read_bytes()
        kind, _ = container_check(data)
        if row["category"] == "gps" and kind in ("jpeg", "tiff"):
            raw = fast_tags(data, kind)
            assert raw is not None and raw["GPSInfo"], row["file"]
            assert {"GPSLatitude", "GPSLongitude", "GPSLatitudeRef", "GPSLongitudeRef"} <= set(raw)
            read.append(row["file"])
    assert len(read) >= 28


def test_fast_path_leaves_other_formats_and_odd_files_to_exifread(shared_data: Path) -> None:
    folder = shared_data / "exif_images"
    for name in ("exif-samples/jpg/tests/45-gps_ifd.jpg", "exif-samples/jpg/tests/30-type_error.jpg",
                 "exif-samples/jpg/invalid/image01137.jpg", "metadata-extractor-images/webp/HTC Desire.webp"):
        data = (folder / name).read_bytes()
        assert fast_tags(data, container_check(data)[0]) is None, name
    pointer = read_exif((folder / "exif-samples/jpg/tests/45-gps_ifd.jpg").read_bytes())
    assert pointer.error and "GPS IFD" in pointer.error


# --- made-here files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["made.jpg", "made.tif"])
def test_made_files_read_fast_with_every_field(name: str) -> None:
    data = SAMPLES[name]
    raw = fast_tags(data, container_check(data)[0])
    assert raw is not None and raw["GPSLatitudeRef"] == "N" and raw["OffsetTimeOriginal"] == "+02:00"
    result = read_exif(data)
    assert result == read_exif(data, fast=False)
    extras = {"altitude": 117.5, "direction": 245.5, "direction_ref": "M", "h_error_m": 5.0}
    assert _fields(result, FIX[2:]) == extras
    assert result.taken_at == "2019-05-04T12:30:01+02:00"
    _raw_pinned(data)


def test_fast_path_steps_aside_when_unsure() -> None:
    data = SAMPLES["made.jpg"]
    span = jpeg_exif_span(data)
    assert span is not None and fast_tags(data, "jpeg") is not None
    start, end = span
    assert data[start : start + 2] == b"MM"  # Pillow writes big-endian EXIF into a JPEG
    assert fast_tags(data[:start] + b"XX" + data[start + 2 :], "jpeg") is None  # no TIFF header
    pointer = data.index(b"\x88\x25\x00\x04\x00\x00\x00\x01", start) + 8  # GPSInfo: one LONG
    for offset in (end - start + 100, 4):  # outside the EXIF segment; inside the TIFF header
        moved = data[:pointer] + offset.to_bytes(4, "big") + data[pointer + 4 :]
        assert fast_tags(moved, "jpeg") is None, offset
        assert read_exif(moved) == read_exif(moved, fast=False)
    assert fast_tags(data, "png") is None and fast_tags(b"\xff\xd8\xff", "jpeg") is None
    no_exif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(no_exif, "JPEG")
    assert fast_tags(no_exif.getvalue(), "jpeg") is None  # Pillow decides whether such a file opens


def test_every_truncation_of_the_metadata_is_pinned() -> None:
    for data in SAMPLES.values():
        for cut in range(0, _metadata_end(data) + 2):
            _raw_pinned(data[:cut])
            _results_pinned(data[:cut])


# --- truncated and corrupted real files ---------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SAMPLES)), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1,
                                                   max_size=6))
def test_corrupted_files_never_raise_and_agree(name: str, changes: list[tuple[float, int]]) -> None:
    data = bytearray(SAMPLES[name])
    end = _metadata_end(bytes(data))
    for where, value in changes:
        data[min(int(where * end), end - 1)] = value
    _raw_pinned(bytes(data))
    _results_pinned(bytes(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SAMPLES)), st.floats(0, 1), st.integers(0, 255))
def test_truncated_and_corrupted_files_never_raise_and_agree(name: str, where: float, value: int) -> None:
    data = bytearray(SAMPLES[name])
    end = _metadata_end(bytes(data))
    data[min(int(where * end), end - 1)] = value
    cut = bytes(data[: int(where * end) + 40])  # cut just after the corrupted byte
    _raw_pinned(cut)
    _results_pinned(cut)


def test_result_fields_are_the_ones_pinned() -> None:
    """The pin compares every field of ExifResult but the file name."""
    assert set(FIELDS) | {"file"} == {field.name for field in dataclasses.fields(ExifResult)}


def test_xmp_packet_found_in_one_pass_keeps_its_precedence() -> None:
    """A new-style ``x:xmpmeta`` packet wins over an old-style ``x:xapmeta`` one wherever they stand."""
    def packet(tag: str, lat: str) -> bytes:
        return (f'<x:{tag} xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="{lat}" '
                f'exif:GPSLongitude="20,27.6E"/></x:{tag}>').encode()

    old, new = packet("xapmeta", "10,0N"), packet("xmpmeta", "44,48.5N")
    assert xmp_fields(b"\x00" * 50 + old + b"\x00" * 50 + new)["lat"] == pytest.approx(44 + 48.5 / 60)
    assert xmp_fields(new + old)["lat"] == pytest.approx(44 + 48.5 / 60)
    assert xmp_fields(b"junk" + old)["lat"] == 10.0
    assert xmp_fields(b"<x:xmp <x:xap no packet here") == {}


# --- WebP and HEIF: the EXIF chunk and the Exif item -------------------------------------------------

BOXED = {name: (FOLDER / name).read_bytes() for name in (
    "metadata-extractor-images/webp/Issue 473 (Java).webp",  # an Exif-prefixed EXIF chunk after VP8
    "metadata-extractor-images/heic/exif-at-eof.heic",  # iloc version 1, the Exif item at the end
    "exif-samples/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif",  # an Exif item with a zero header offset
) if (FOLDER / name).is_file()}


def _span(data: bytes) -> tuple[int, int] | None:
    return webp_exif_span(data) if data[:4] == b"RIFF" else heif_exif_span(data)


def _regions(data: bytes) -> list[tuple[int, int]]:
    """Where a WebP or HEIF sample's metadata stands: its headers (chunks or meta box), then its EXIF."""
    span = _span(data)
    assert span is not None
    if data[:4] == b"RIFF":  # the RIFF and VP8X headers with the next chunk's, then the EXIF chunk
        return [(0, 38), (span[0] - 14, span[1])]
    meta = data.index(b"meta") - 4
    return [(0, meta + int.from_bytes(data[meta : meta + 4], "big")), (span[0] - 16, span[1])]


def _riff(data: bytes) -> bytes:
    """``data`` with its RIFF size made to fit its length."""
    return data[:4] + (len(data) - 8).to_bytes(4, "little") + data[8:]


def _same_when_fast(data: bytes) -> None:
    """Where the fast reader answers for a WebP or HEIF file, read_exif gives the slow path's result."""
    kind, problem = container_check(data)
    if problem is None and fast_tags(data, kind) is not None:
        assert read_exif(data) == read_exif(data, fast=False)
    _raw_pinned(data)
    _results_pinned(data)


@pytest.mark.skipif(len(BOXED) < 3, reason="the shared WebP and HEIF photos are absent")
def test_webp_and_heif_photos_read_fast() -> None:
    for name, data in BOXED.items():
        raw = fast_tags(data, container_check(data)[0])
        assert raw is not None and raw["GPSInfo"], name
        assert read_exif(data) == read_exif(data, fast=False)
        _raw_pinned(data)


@pytest.mark.skipif(len(BOXED) < 3, reason="the shared WebP and HEIF photos are absent")
def test_webp_and_heif_layouts_the_fast_reader_leaves_to_exifread() -> None:
    webp, heif = BOXED["metadata-extractor-images/webp/Issue 473 (Java).webp"], BOXED[
        "metadata-extractor-images/heic/exif-at-eof.heic"]
    chunk = webp.index(b"EXIF")
    variants = {
        "no Exif prefix": webp[: chunk + 8] + b"Diff" + webp[chunk + 12 :],
        "VP8X of another size": webp[:16] + b"\x0b" + webp[17:],
        "odd chunk size before EXIF": webp[:34] + (webp[34] ^ 1).to_bytes(1, "big") + webp[35:],
        "padded odd chunk before EXIF": _riff(webp[:chunk] + b"JUNK\x01\x00\x00\x00x\x00" + webp[chunk:]),
        "other brand": heif[:8] + b"heix" + heif[12:],
        "minor version": heif[:15] + b"\x01" + heif[16:],
        "iinf version 1": heif.replace(b"iinf\x00", b"iinf\x01", 1),
        "iloc version 3": heif.replace(b"iloc\x01", b"iloc\x03", 1),
        "nested meta": heif.replace(b"pitm", b"meta", 1),
        "second hdlr": heif.replace(b"pitm", b"hdlr", 1),
    }
    for what, data in variants.items():
        assert _span(data) is None, what
        assert fast_tags(data, container_check(data)[0]) is None, what
        assert read_exif(data) == read_exif(data, fast=False), what


@pytest.mark.skipif(len(BOXED) < 3, reason="the shared WebP and HEIF photos are absent")
def test_every_truncation_of_a_webp_header_is_pinned() -> None:
    """Cut anywhere up to the end of the EXIF chunk, with the RIFF size left or made to fit."""
    data = BOXED["metadata-extractor-images/webp/Issue 473 (Java).webp"]
    for cut in range(0, _regions(data)[1][1] + 2):
        _same_when_fast(data[:cut])
        if cut >= 12:
            _same_when_fast(_riff(data[:cut]))


@pytest.mark.skipif(len(BOXED) < 3, reason="the shared WebP and HEIF photos are absent")
def test_truncations_of_a_heif_file_are_pinned() -> None:
    data = BOXED["exif-samples/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif"]
    (_, meta_end), (exif_start, exif_end) = _regions(data)
    for cut in [*range(0, meta_end + 2, 7), *range(exif_start, exif_end + 2, 5), len(data) - 1]:
        _same_when_fast(data[:cut])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(BOXED) or ["absent"]), st.lists(
    st.tuples(st.booleans(), st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_corrupted_webp_and_heif_files_agree(name: str, changes: list[tuple[bool, float, int]]) -> None:
    if name not in BOXED:
        pytest.skip("the shared WebP and HEIF photos are absent")
    data = bytearray(BOXED[name])
    regions = _regions(bytes(data))
    for second, where, value in changes:
        start, end = regions[1] if second and len(regions) > 1 else regions[0]
        data[start + min(int(where * (end - start)), end - start - 1)] = value
    _same_when_fast(bytes(data))



def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _heif(tiff: bytes, *, prefix: bytes = b"Exif\x00\x00", infe: int = 2, count: int = 2, extents: int = 1,
          method: int = 0, base: int | None = None, junk: bool = False, one_each: bool = False,
          decoy: bool = False) -> bytes:
    """A HEIF with an image item and an Exif item holding ``tiff`` (no picture, so Pillow cannot open it).

    ``one_each`` gives the image item an extent too (the usual table of one extent an item);
    ``decoy`` puts an earlier iloc entry for the Exif item, pointing at the start of the file.
    """
    payload = len(prefix).to_bytes(4, "big") + prefix + tiff
    image = _box(b"infe", b"\x02\x00\x00\x00\x00\x01\x00\x00hvc1\x00")
    item_id = (2).to_bytes(2 if infe == 2 else 4, "big")
    exif = _box(b"infe", bytes([infe, 0, 0, 0]) + item_id + b"\x00\x00Exif\x00")
    entries = image + (_box(b"free", b"") if junk else b"") + exif
    iinf = _box(b"iinf", b"\x00\x00\x00\x00" + count.to_bytes(2, "big") + entries)
    ftyp = _box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")
    hdlr = _box(b"hdlr", b"\x00" * 8 + b"pict" + b"\x00" * 13)
    base_field = b"" if base is None else base.to_bytes(4, "big")

    def meta(where: int) -> bytes:
        size, half = len(payload), len(payload) // 2
        parts = [(where, size)] if extents == 1 else [(where, half), (where + half, size - half)]
        item = (2).to_bytes(2, "big") + method.to_bytes(2, "big") + b"\x00\x00" + base_field
        item += len(parts).to_bytes(2, "big")
        for start, length in parts:
            item += max(start - (base or 0), 0).to_bytes(4, "big") + length.to_bytes(4, "big")
        sizes = b"\x44\x00" if base is None else b"\x44\x40"
        header = b"\x01\x00\x00\x00" + sizes + (3 if decoy else 2).to_bytes(2, "big")
        image = b"\x00\x01\x00\x00\x00\x00" + base_field  # the image item
        one = b"\x00\x01" + (where + 8).to_bytes(4, "big") + b"\x00\x00\x00\x01"
        image += one if one_each else b"\x00\x00"
        first = b"\x00\x02\x00\x00\x00\x00" + base_field + b"\x00\x01" + bytes(4) + size.to_bytes(4, "big")
        table = image + (first if decoy else b"") + item
        return _box(b"meta", b"\x00\x00\x00\x00" + hdlr + iinf + _box(b"iloc", header + table))

    where = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(where) + _box(b"mdat", payload)


def test_made_heif_files_read_fast_exactly_where_exifread_reads_them() -> None:
    made = SAMPLES["made.jpg"]
    span = jpeg_exif_span(made)
    assert span is not None
    big, little = made[span[0] : span[1]], SAMPLES["made.tif"]
    assert big[:2] == b"MM" and little[:2] == b"II"
    read = {
        "plain": _heif(big),
        "another box among the infe": _heif(big, junk=True),
        "no Exif prefix, little-endian": _heif(little, prefix=b""),
        "infe version 3": _heif(big, infe=3),
        "a zero base offset": _heif(big, base=0),
        "one extent each": _heif(big, one_each=True),
        "one extent each, the last entry counts": _heif(big, one_each=True, decoy=True),
        "the last entry counts": _heif(big, decoy=True),
        "one extent each, a zero base offset": _heif(big, one_each=True, base=0),
        "Android prefix": _heif(big, prefix=b"\xff\xe1\x00\x00Exif\x00\x00"),
    }
    for what, data in read.items():
        raw = fast_tags(data, container_check(data)[0])
        assert raw is not None and raw["GPSLatitudeRef"] == "N", what
        result = read_exif(data)
        assert result.lat == pytest.approx(44.8156111) and result == read_exif(data, fast=False), what
    left = {
        "no Exif prefix, big-endian": _heif(big, prefix=b""),
        "bad prefix": _heif(big, prefix=b"Exig\x00\x00"),
        "two extents": _heif(big, extents=2),
        "infe version 4": _heif(big, infe=4),
        "Exif beyond the count": _heif(big, count=1),
        "construction method": _heif(big, method=1),
        "a base offset": _heif(big, base=8),
        "construction method, one extent each": _heif(big, method=1, one_each=True),
        "a base offset, one extent each": _heif(big, base=8, one_each=True),
    }
    for what, data in left.items():
        assert heif_exif_span(data) is None and fast_tags(data, "heif") is None, what
        result = read_exif(data)
        assert result == read_exif(data, fast=False), what
        if "construction" not in what and "base" not in what:  # exifread ignores these two
            assert result.lat is None, what  # exifread fails and Pillow cannot open the file
