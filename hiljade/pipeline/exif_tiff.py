"""The fast EXIF reader: GPS and date tags straight from the TIFF structure of a JPEG, TIFF, WebP or HEIF.

It reads only what the EXIF reader needs (the GPS IFD, the capture dates of the EXIF IFD and the
GPSInfo pointer) with ``struct.unpack_from`` over the bytes in memory, and gives the same plain
dict, with the same value types, as ``exif_readers.exifread_tags``. It answers only when it is
sure to read what exifread (or Pillow) would: whenever the file is laid out in a way it does not
read with certainty (a value outside the EXIF segment, an odd pointer, a second GPS IFD, an
unusual value type, no EXIF segment at all) it answers None and the exifread/Pillow path decides.
``exif_container`` finds the TIFF structure of a WebP or HEIF file where exifread finds it.
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Any

from exifread.utils import Ratio

from hiljade.pipeline.exif_container import heif_exif_span, webp_exif_span
from hiljade.pipeline.exif_readers import DATE_TAGS, GPS_TAGS

_GPS_POINTER = 0x8825
_EXIF_POINTER = 0x8769
_MAX_IFDS = 64  # a longer chain of IFDs is left to exifread
_MAX_COUNT = 1000  # exifread gives no values for a longer non-text field
_SKIPPED_TAGS = (0x02BC, 0x927C, 0x9286)  # exifread leaves these out when not asked for details
_TEXT = 2
_RATIOS = {5: "I", 10: "i"}
_FLOATS = {11: "f", 12: "d"}
_INTEGERS = {1: "B", 3: "H", 4: "I", 6: "b", 7: "B", 8: "h", 9: "i", 13: "I"}
_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_ORDERS = {b"II*\x00": "<", b"MM\x00*": ">"}
_NATIVE = "<" if sys.byteorder == "little" else ">"
_ENTRY = {order: struct.Struct(order + "HHII") for order in "<>"}
_SHORT = {order: struct.Struct(order + "H") for order in "<>"}
_LONG = {order: struct.Struct(order + "I") for order in "<>"}


class _Unsure(Exception):
    """The file is not laid out in a way this reader reads with certainty."""


def fast_tags(data: bytes, kind: str | None) -> dict[str, Any] | None:
    """GPS and date tags of a JPEG, TIFF, WebP or HEIF as ``exifread_tags`` gives them; None when unsure."""
    if kind == "tiff":
        start, end = 0, len(data)
    else:
        locate = _LOCATORS.get(kind or "")
        span = locate(data) if locate is not None else None
        if span is None:
            return None
        start, end = span
    try:
        return tiff_tags(data, start, end)
    except (_Unsure, struct.error):
        return None


def jpeg_exif_span(data: bytes) -> tuple[int, int] | None:
    """(start, end) of the TIFF structure in the first ``Exif`` APP1 segment before the scan.

    None when the segments before it are not cleanly laid out one after another (fill bytes,
    junk, a standalone marker, a segment running past the end) or there is no such segment. Where
    exifread misses such a segment (it looks only at the first 4,000 bytes and stops at a
    quantisation table), Pillow reads it on the slow path, and reads the same tags.
    """
    pos, size = 2, len(data)
    while pos + 4 <= size:
        marker = data[pos + 1]
        if data[pos] != 0xFF or marker < 0xC0 or 0xD0 <= marker <= 0xDA or marker == 0xFF:
            return None
        length = (data[pos + 2] << 8) | data[pos + 3]
        end = pos + 2 + length
        if length < 2 or end > size:
            return None
        if marker == 0xE1 and data[pos + 4 : pos + 8] == b"Exif":
            return (pos + 10, end) if data[pos + 8 : pos + 10] == b"\x00\x00" else None
        pos = end
    return None


_LOCATORS = {"jpeg": jpeg_exif_span, "webp": webp_exif_span, "heif": heif_exif_span}


def tiff_tags(data: bytes, start: int, end: int) -> dict[str, Any]:
    """The GPS and date tags of the TIFF structure at ``data[start:end]``; ``_Unsure`` when unsure."""
    order = _ORDERS.get(data[start : start + 4])
    if order is None or start + 8 > end:
        raise _Unsure
    ifd = _LONG[order].unpack_from(data, start + 4)[0]
    if ifd == 0:
        raise _Unsure  # exifread finds no tags and hands over to Pillow
    gps = exif = None
    seen: set[int] = set()
    known = False
    while ifd and ifd not in seen:  # the chain IFD0, IFD1, ... as exifread walks it
        if len(seen) == _MAX_IFDS:
            raise _Unsure
        first = not seen
        seen.add(ifd)
        entries, words, following = _ifd(data, start, ifd, end, order, chained=True)
        tags = words[0::6]
        if _GPS_POINTER in tags:
            if not first:
                raise _Unsure  # a GPS IFD that exifread would merge or Pillow ignore
            gps = _pointer(data, entries, tags, _GPS_POINTER, order)
        if first and _EXIF_POINTER in tags:
            exif = _pointer(data, entries, tags, _EXIF_POINTER, order)
        known = known or _any_tag(tags, words[1::6])
        ifd = 0 if following == ifd else following
    if not known:
        raise _Unsure  # exifread finds no tags and hands over to Pillow
    raw: dict[str, Any] = {}
    if exif is not None:
        entries, words, _ = _ifd(data, start, exif, end, order)
        tags = words[0::6]
        if _GPS_POINTER in tags:
            raise _Unsure
        _values(raw, data, start, end, order, entries, tags, DATE_TAGS)
    if gps is not None:
        raw["GPSInfo"] = [gps]
        entries, words, _ = _ifd(data, start, gps, end, order)
        _values(raw, data, start, end, order, entries, words[0::6], GPS_TAGS)
    return raw


def _ifd(
    data: bytes, start: int, offset: int, end: int, order: str, *, chained: bool = False
) -> tuple[int, array[int], int]:
    """Where one IFD's entries start, the entries as 16-bit words (6 an entry) and the next IFD."""
    if offset < 8:
        raise _Unsure  # inside the TIFF header: exifread would read the header as entries
    entries = start + offset + 2
    if entries > end:
        raise _Unsure
    stop = entries + 12 * _SHORT[order].unpack_from(data, entries - 2)[0]
    if stop + (4 if chained else 0) > end:
        raise _Unsure
    words = array("H", data[entries:stop])
    if order != _NATIVE:
        words.byteswap()
    return entries, words, _LONG[order].unpack_from(data, stop)[0] if chained else 0


def _any_tag(tags: array[int], kinds: array[int]) -> bool:
    """Whether exifread keeps any of these entries (a known value type, not a detail it skips)."""
    return any(1 <= kind <= 13 and tag not in _SKIPPED_TAGS for tag, kind in zip(tags, kinds, strict=True))


def _pointer(data: bytes, entries: int, tags: array[int], tag: int, order: str) -> int:
    """The IFD offset of a pointer tag: one LONG (or IFD) value in one entry, else ``_Unsure``."""
    if tags.count(tag) != 1:
        raise _Unsure  # exifread would read each (and merge them), Pillow only the last
    _, kind, count, value = _ENTRY[order].unpack_from(data, entries + 12 * tags.index(tag))
    if kind not in (4, 13) or count != 1:
        raise _Unsure
    return value


def _values(
    raw: dict[str, Any], data: bytes, start: int, end: int, order: str, entries: int, tags: array[int],
    names: dict[int, str],
) -> None:
    """Put the values of the tags in ``names`` found in one IFD into ``raw``, by name."""
    for tag, name in names.items():
        if tag in tags:
            if tags.count(tag) != 1:
                raise _Unsure  # exifread keeps the last, Pillow may not: leave it to them
            pos = entries + 12 * tags.index(tag)
            _, kind, count, pointer = _ENTRY[order].unpack_from(data, pos)
            raw[name] = _value(data, start, end, order, kind, count, pos + 8, pointer)


def _value(
    data: bytes, start: int, end: int, order: str, kind: int, count: int, pos: int, pointer: int
) -> Any:
    """A field's values as exifread gives them (text, a list of ints, Ratios or 1-tuples of floats).

    ``pos`` is where the value field of the entry stands, ``pointer`` that field read as an offset.
    """
    size = _SIZES.get(kind)
    if size is None or (kind != _TEXT and count >= _MAX_COUNT):
        raise _Unsure  # exifread drops the tag or its values: leave it to exifread
    if size * count > 4:
        pos = start + pointer
        if pos + size * count > end:
            raise _Unsure  # outside the EXIF segment: exifread and Pillow read it differently
    if kind == _TEXT:
        if count == 0:
            return ""
        text = data[pos : pos + count].split(b"\x00", 1)[0]
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError:
            return text
    code = _RATIOS.get(kind)
    if code is not None:
        numbers = struct.unpack_from(f"{order}{2 * count}{code}", data, pos)
        return list(map(Ratio, numbers[0::2], numbers[1::2]))
    code = _FLOATS.get(kind)
    if code is not None:
        return [(number,) for number in struct.unpack_from(f"{order}{count}{code}", data, pos)]
    return list(struct.unpack_from(f"{order}{count}{_INTEGERS[kind]}", data, pos))
