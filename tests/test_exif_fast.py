"""The fast EXIF reader (``exif_tiff``) pinned to the exifread/Pillow path it stands in for.

On every shared photo ``read_exif`` gives the same result with the fast reader as without it, and
where the fast reader answers, its tags equal exifread's, value types included. Truncated and
corrupted real JPEG and TIFF files never make it raise, and wherever both paths find a fix it is
the same fix.
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
from hiljade.pipeline.exif_container import container_check
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
                 "exif-samples/jpg/invalid/image01137.jpg", "metadata-extractor-images/webp/HTC Desire.webp",
                 "metadata-extractor-images/heic/IMG_1034.heic"):
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
