"""EXIF/XMP GPS reader: the shared third-party images, and small images these tests make themselves."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from hiljade.harvester.exif_files import read_exif_file
from hiljade.harvester.twitter_tweet import exact_position
from hiljade.pipeline import exif
from hiljade.pipeline.exif import ExifResult, read_exif
from hiljade.pipeline.exif_container import container_check
from hiljade.pipeline.exif_gps import iso_datetime
from hiljade.pipeline.exif_xmp import xmp_coordinate
from hiljade.pipeline.locate import locate
from hiljade.services.process import platform_candidate, stored_exif_candidates
from tests.support.paths import SHARED_DATA

TOLERANCE_DEG = 2e-5
CSV = SHARED_DATA / "exif_images" / "expected_gps.csv"
ROWS = list(csv.DictReader(CSV.open(encoding="utf-8"))) if CSV.is_file() else []
BELGRADE = (44.8155556, 20.4622222)  # 44°48'56"N 20°27'44"E


# --- images made here --------------------------------------------------------------------------------


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10_000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 10_000)


def gps_ifd(lat: float, lon: float, **extra: object) -> dict[int, object]:
    """A GPS IFD (Pillow tag ids) for a position, plus extra tags by id."""
    tags: dict[int, object] = {1: "N" if lat >= 0 else "S", 2: _dms(lat)}
    tags.update({3: "E" if lon >= 0 else "W", 4: _dms(lon)})
    tags.update({int(k.lstrip("t")): v for k, v in extra.items()})
    return tags


def make_image(
    gps: dict[int, object] | None, fmt: str = "JPEG", dates: dict[int, str] | None = None
) -> bytes:
    """A tiny image in ``fmt`` whose EXIF holds ``gps`` (GPS IFD) and ``dates`` (EXIF IFD)."""
    exif_data = Image.Exif()
    if gps is not None:
        exif_data.get_ifd(0x8825).update(gps)
    if dates:
        exif_data.get_ifd(0x8769).update(dates)
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, fmt, exif=exif_data.tobytes())
    return out.getvalue()


def with_xmp(jpeg: bytes, packet: str) -> bytes:
    """The JPEG with an XMP APP1 segment inserted right after SOI."""
    body = b"http://ns.adobe.com/xap/1.0/\x00" + packet.encode("utf-8")
    segment = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    return jpeg[:2] + segment + jpeg[2:]


def xmp_packet(inner: str, attrs: str = "") -> str:
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" {attrs}>{inner}'
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


def plain_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, "JPEG")
    return out.getvalue()


# --- made-here images: formats and fields ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF"])
def test_position_read_from_every_format(fmt: str) -> None:
    data = make_image(gps_ifd(*BELGRADE), fmt)
    result = read_exif(data, name=f"made.{fmt.lower()}")
    assert result.error is None
    assert result.lat == pytest.approx(BELGRADE[0], abs=1e-6)
    assert result.lon == pytest.approx(BELGRADE[1], abs=1e-6)
    assert result.gps_source == "exif"
    assert result.file == f"made.{fmt.lower()}"


def test_southern_and_western_hemispheres_are_negative() -> None:
    result = read_exif(make_image(gps_ifd(-33.8688, -70.6693)))
    assert (result.lat, result.lon) == (pytest.approx(-33.8688, abs=1e-6), pytest.approx(-70.6693, abs=1e-6))


def test_altitude_direction_time_and_precision() -> None:
    gps = gps_ifd(*BELGRADE, t5=b"\x00", t6=IFDRational(1175, 10), t16="M", t17=IFDRational(2455, 10),
                  t31=IFDRational(5, 1))
    dates = {0x9003: "2019:05:04 12:30:01", 0x9011: "+02:00"}
    result = read_exif(make_image(gps, dates=dates), name="cam.jpg")
    assert result.as_dict() == {
        "file": "cam.jpg",
        "lat": pytest.approx(BELGRADE[0], abs=1e-6),
        "lon": pytest.approx(BELGRADE[1], abs=1e-6),
        "altitude": 117.5, "direction": 245.5, "taken_at": "2019-05-04T12:30:01+02:00", "error": None,
    }
    candidate = result.to_candidate()
    assert candidate is not None
    assert (candidate.method, candidate.status, candidate.precision_m) == ("exif", "auto", 5.0)
    assert candidate.evidence["direction"] == 245.5 and candidate.evidence["direction_ref"] == "M"
    assert candidate.matched == "cam.jpg"


def test_default_precision_and_altitude_below_sea_level() -> None:
    result = read_exif(make_image(gps_ifd(*BELGRADE, t5=b"\x01", t6=IFDRational(12, 1), t16="T",
                                          t17=IFDRational(90, 1))))
    candidate = result.to_candidate()
    assert result.altitude == -12.0
    assert candidate is not None and candidate.precision_m == exif.DEFAULT_PRECISION_M
    assert candidate.evidence["direction_ref"] == "T"


def test_taken_at_without_offset_and_digitized_fallback() -> None:
    original = make_image(None, dates={0x9003: "2019:05:04 12:30:01"})
    digitized = make_image(None, dates={0x9004: "2020:01:02 03:04:05"})
    assert read_exif(original).taken_at == "2019-05-04T12:30:01"
    assert read_exif(digitized).taken_at == "2020-01-02T03:04:05"
    assert read_exif(make_image(None, dates={0x9003: "0000:00:00 00:00:00"})).taken_at is None


def test_iso_datetime() -> None:
    assert iso_datetime("2019:05:04 12:30:01", "-04:00") == "2019-05-04T12:30:01-04:00"
    assert iso_datetime("2019:05:04 12:30:01\x00", "junk") == "2019-05-04T12:30:01"
    assert iso_datetime("2011-03-12T15:36:11.00+01:00") == "2011-03-12T15:36:11+01:00"
    assert iso_datetime("2019:02:30 12:30:01") is None
    assert iso_datetime("    :  :     :  :  ") is None


def test_result_is_a_frozen_record_and_dict_has_exact_keys() -> None:
    result = read_exif(make_image(gps_ifd(*BELGRADE)))
    assert set(result.as_dict()) == {"file", "lat", "lon", "altitude", "direction", "taken_at", "error"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.lat = 1.0  # type: ignore[misc]


def test_path_input(tmp_path: Path) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(make_image(gps_ifd(*BELGRADE)))
    result = read_exif_file(path)
    assert result.file == str(path) and result.lat == pytest.approx(BELGRADE[0], abs=1e-6)
    missing = read_exif_file(tmp_path / "nope.jpg")
    assert missing.lat is None and missing.error and "cannot read" in missing.error


def test_files_over_the_size_limit_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_image(gps_ifd(*BELGRADE))
    monkeypatch.setattr(exif, "MAX_BYTES", len(data) - 1)
    path = tmp_path / "big.jpg"
    path.write_bytes(data)
    for result in (read_exif(data), read_exif_file(path)):
        assert result.lat is None and result.error and "too large" in result.error


# --- no fix: zero, invalid, absent -------------------------------------------------------------------


def test_zero_gps_is_no_fix_and_no_error() -> None:
    zero = (IFDRational(0, 1),) * 3
    result = read_exif(make_image({1: "N", 2: zero, 3: "E", 4: zero}))
    assert (result.lat, result.lon, result.error) == (None, None, None)
    assert result.to_candidate() is None


def test_no_gps_is_no_fix_and_no_error() -> None:
    result = read_exif(make_image(None, dates={0x9003: "2019:05:04 12:30:01"}))
    assert (result.lat, result.lon, result.error) == (None, None, None)
    assert read_exif(plain_jpeg()).error is None


@pytest.mark.parametrize(
    ("gps", "reason"),
    [
        ({2: _dms(44.8), 4: _dms(20.4)}, "reference"),
        ({1: "N", 2: _dms(44.8), 3: "X", 4: _dms(20.4)}, "reference"),
        ({1: "N", 2: (IFDRational(95, 1),) * 3, 3: "E", 4: _dms(20.4)}, "range"),
        ({1: "N", 2: (IFDRational(44, 1), IFDRational(5, 0), IFDRational(0, 1)), 3: "E", 4: _dms(20.4)},
         "denominator"),
        ({1: "N", 2: (), 3: "E", 4: _dms(20.4)}, "components"),
        ({1: "N", 2: _dms(44.8)}, "without longitude"),
    ],
)
def test_invalid_gps_is_no_fix_with_a_reason(gps: dict[int, object], reason: str) -> None:
    result = read_exif(make_image(gps))
    assert result.lat is None and result.lon is None
    assert result.error is not None and reason in result.error


def test_zero_over_zero_seconds_count_as_zero() -> None:
    """The Nikon D5000 writes 0/0 seconds after fractional minutes."""
    lat = (IFDRational(48, 1), IFDRational(2666179, 50000), IFDRational(0, 0))
    lon = (IFDRational(21, 1), IFDRational(259507, 100000), IFDRational(0, 0))
    result = read_exif(make_image({1: "N", 2: lat, 3: "E", 4: lon}))
    assert result.error is None
    assert result.lat == pytest.approx(48 + 2666179 / 50000 / 60, abs=1e-7)
    assert result.lon == pytest.approx(21 + 259507 / 100000 / 60, abs=1e-7)


# --- XMP fallback ------------------------------------------------------------------------------------


def test_xmp_attribute_form_when_exif_has_no_gps() -> None:
    packet = xmp_packet("", 'exif:GPSLatitude="44,48.933333N" exif:GPSLongitude="20,27.733333E" '
                            'exif:GPSAltitude="1175/10" exif:GPSAltitudeRef="0" exif:GPSImgDirection="90/1" '
                            'exif:GPSImgDirectionRef="T" exif:DateTimeOriginal="2019-05-04T12:30:01+02:00"')
    result = read_exif(with_xmp(plain_jpeg(), packet))
    assert result.gps_source == "xmp" and result.error is None
    assert result.lat == pytest.approx(44 + 48.933333 / 60, abs=1e-7)
    assert result.lon == pytest.approx(20 + 27.733333 / 60, abs=1e-7)
    assert (result.altitude, result.direction, result.direction_ref) == (117.5, 90.0, "T")
    assert result.taken_at == "2019-05-04T12:30:01+02:00"
    candidate = result.to_candidate()
    assert candidate is not None and candidate.method == "exif" and candidate.source == "xmp:GPS"


def test_xmp_element_form_and_southern_western() -> None:
    packet = xmp_packet("<exif:GPSLatitude>33,52,7.68S</exif:GPSLatitude>"
                        "<exif:GPSLongitude>70,40,9.48W</exif:GPSLongitude>")
    result = read_exif(with_xmp(plain_jpeg(), packet))
    assert result.lat == pytest.approx(-(33 + 52 / 60 + 7.68 / 3600), abs=1e-7)
    assert result.lon == pytest.approx(-(70 + 40 / 60 + 9.48 / 3600), abs=1e-7)


def test_exif_wins_over_xmp_and_bad_xmp_is_ignored() -> None:
    data = with_xmp(make_image(gps_ifd(*BELGRADE)), xmp_packet("", 'exif:GPSLatitude="10,0N" '
                                                                   'exif:GPSLongitude="10,0E"'))
    assert read_exif(data).lat == pytest.approx(BELGRADE[0], abs=1e-6)
    junk = with_xmp(plain_jpeg(), xmp_packet("", 'exif:GPSLatitude="95,0N" exif:GPSLongitude="abc"'))
    assert (read_exif(junk).lat, read_exif(junk).error) == (None, None)


def test_xmp_coordinate() -> None:
    assert xmp_coordinate("44,48.5N", "Latitude") == pytest.approx(44 + 48.5 / 60)
    assert xmp_coordinate("20,27,44.3E", "Longitude") == pytest.approx(20 + 27 / 60 + 44.3 / 3600)
    assert xmp_coordinate("44,48.5E", "Latitude") is None
    assert xmp_coordinate("44,61N", "Latitude") is None
    assert xmp_coordinate("44.8", "Latitude") is None


# --- broken files -------------------------------------------------------------------------------------


def test_random_bytes_and_empty_input_get_an_error() -> None:
    rng = random.Random(7)
    for data in (b"", b"\xff\xd8", bytes(rng.getrandbits(8) for _ in range(4096)), b"<html></html>" * 10):
        result = read_exif(data)
        assert result.lat is None and result.error


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_truncated_files_get_an_error_and_no_coordinates(fmt: str) -> None:
    data = make_image(gps_ifd(*BELGRADE), fmt)
    # a JPEG's metadata ends where its picture starts: only a cut before that is truncated for us
    cuts = [len(data) // 3, len(data) // 2] + ([] if fmt == "JPEG" else [len(data) - 1])
    for cut in cuts:
        result = read_exif(data[:cut])
        assert result.lat is None, cut
        assert result.error, cut


def _app(marker: int, body: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + (len(body) + 2).to_bytes(2, "big") + body


def ultra_hdr(primary: bytes, gain_map: bytes) -> bytes:
    """An Ultra HDR-style file: the primary JPEG with a gain-map XMP and an MPF segment, then the gain
    map appended after its end-of-image marker."""
    xmp = b'http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x="adobe:ns:meta/" hdrgm:Version="1.0"/>'
    mpf = b"MPF\x00II*\x00\x08\x00\x00\x00\x00\x00"  # an MP header with no entries
    exif_end = 4 + int.from_bytes(primary[4:6], "big")  # SOI, then Pillow's EXIF APP1
    return primary[:exif_end] + _app(0xE1, xmp) + _app(0xE2, mpf) + primary[exif_end:] + gain_map


def test_ultra_hdr_and_appended_data_keep_the_primary_exif() -> None:
    primary = make_image(gps_ifd(*BELGRADE))
    gain_map = plain_jpeg()
    whole = ultra_hdr(primary, gain_map)
    scan = whole.index(b"\xff\xda")
    sos_end = scan + 2 + int.from_bytes(whole[scan + 2 : scan + 4], "big")
    for data in (
        whole,  # primary + gain map
        primary + b"\x00" * 64 + b"SEFHtrailer",  # trailing bytes after the image
        whole[: len(primary) + 200],  # the gain map cut short
        whole[:sos_end],  # Pillow's ultrahdr.jpg: the file ends where the primary's picture starts
        whole[: sos_end + 5],  # cut inside the compressed picture: the metadata is whole
    ):
        result = read_exif(data)
        assert result.error is None, len(data)
        assert result.lat == pytest.approx(BELGRADE[0], abs=1e-6), len(data)
        assert result.lon == pytest.approx(BELGRADE[1], abs=1e-6), len(data)
    for cut in (40, int.from_bytes(primary[4:6], "big"), scan + 3):  # inside the EXIF or the scan header
        result = read_exif(whole[:cut])
        assert result.lat is None and result.error and "truncated" in result.error, cut


def test_every_truncation_point_gives_the_truth_or_nothing() -> None:
    data = make_image(gps_ifd(*BELGRADE, t17=IFDRational(90, 1)))
    for cut in range(len(data)):
        result = read_exif(data[:cut])
        assert result.lat is None or result.lat == pytest.approx(BELGRADE[0], abs=1e-6), cut


def test_container_check() -> None:
    jpeg = make_image(gps_ifd(*BELGRADE))
    assert container_check(jpeg) == ("jpeg", None)
    assert container_check(jpeg[:200])[1] is not None
    kind, problem = container_check(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)
    assert kind == "png" and problem and "truncated" in problem
    assert container_check(b"not an image at all") == (None, None)


MAGICS = [b"", b"\xff\xd8\xff\xe1", b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP", b"\x00\x00\x00\x18ftypheic",
          b"\x89PNG\r\n\x1a\n"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.sampled_from(MAGICS))
def test_arbitrary_bytes_never_raise(body: bytes, magic: bytes) -> None:
    result = read_exif(magic + body)
    assert isinstance(result, ExifResult)
    assert result.lat is None or -90 <= result.lat <= 90


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
def test_corrupting_one_byte_never_raises(position: int, value: int) -> None:
    data = bytearray(make_image(gps_ifd(*BELGRADE)))
    data[position % len(data)] = value
    result = read_exif(bytes(data))
    assert isinstance(result, ExifResult)


# --- the shared third-party images -----------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS or [None], ids=[r["file"] for r in ROWS] or ["absent"])
def test_shared_image(shared_data: Path, row: dict[str, str] | None) -> None:
    assert row is not None
    result = read_exif_file(shared_data / "exif_images" / row["file"])
    category = row["category"]
    if category == "gps":
        assert result.error is None
        assert result.lat is not None and result.lon is not None, result
        assert abs(result.lat - float(row["lat"])) <= TOLERANCE_DEG
        assert abs(result.lon - float(row["lon"])) <= TOLERANCE_DEG
        assert result.to_candidate() is not None
    else:  # gps_zero, gps_ifd_without_coords, no_gps, malformed: answered, never a fix
        assert (result.lat, result.lon) == (None, None)
        assert result.to_candidate() is None
        if category in ("gps_zero", "no_gps", "gps_ifd_without_coords"):
            assert result.error is None


def test_shared_images_summary(shared_data: Path) -> None:
    rows = list(csv.DictReader((shared_data / "exif_images" / "expected_gps.csv").open(encoding="utf-8")))
    gps_rows = [r for r in rows if r["category"] == "gps"]
    errors = []
    for row in gps_rows:
        result = read_exif_file(shared_data / "exif_images" / row["file"])
        assert result.lat is not None and result.lon is not None, row["file"]
        errors.append(max(abs(result.lat - float(row["lat"])), abs(result.lon - float(row["lon"]))))
    assert len(gps_rows) >= 35
    assert max(errors) <= TOLERANCE_DEG
    pointer = read_exif_file(shared_data / "exif_images" / "exif-samples/jpg/tests/45-gps_ifd.jpg")
    assert pointer.error and "GPS IFD" in pointer.error


def test_positions_out_of_range_are_refused_by_every_reader() -> None:
    for latitude in ("999,0N", "95,0N", "90,30S"):
        packet = xmp_packet("", f'exif:GPSLatitude="{latitude}" exif:GPSLongitude="20,27.6E"')
        result = read_exif(with_xmp(plain_jpeg(), packet))
        assert (result.lat, result.lon, result.to_candidate()) == (None, None, None), latitude
        assert xmp_coordinate(latitude, "Latitude") is None
    assert xmp_coordinate("181,0E", "Longitude") is None and xmp_coordinate("90,0N", "Latitude") == 90
    assert ExifResult(file="x.jpg", lat=999.0, lon=20.46).to_candidate() is None
    stored = {"file": "x.jpg", "lat": 999.0, "lon": 20.46, "sha256": "ab"}
    assert stored_exif_candidates([stored, {**stored, "lat": float("nan")}]) == []
    for lat, lon in ((999.0, 20.46), (44.8, float("inf")), (float("nan"), 20.46)):  # stored before the checks
        assert locate("", None, extra=platform_candidate(lat, lon)).outcome == "nothing"
    assert locate("", None, extra=platform_candidate(44.8, 20.46)).chosen is not None
    flat = {"id": "1", "text": "x", "geo": {"coordinates": {"type": "Point", "coordinates": [20.46, 95.0]}}}
    assert exact_position(flat) is None
