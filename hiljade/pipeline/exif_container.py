"""Container sniffing for photos: which kind of file it is, whether it is cut short or corrupt, and
where exifread finds the TIFF structure of a WebP or HEIF file."""

from __future__ import annotations

import struct


def container_check(data: bytes) -> tuple[str | None, str | None]:
    """The container kind (jpeg, png, webp, heif, tiff or None) and why it is truncated/corrupt, if so."""
    if len(data) < 12:
        return None, "not an image (too short)"
    if data[:2] == b"\xff\xd8":
        return "jpeg", _jpeg_problem(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png", _png_problem(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        declared = struct.unpack_from("<I", data, 4)[0] + 8
        return "webp", "truncated WebP (RIFF size exceeds the file)" if declared > len(data) else None
    if data[4:8] == b"ftyp":
        return "heif", _heif_problem(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        offset = struct.unpack_from("<I" if data[:2] == b"II" else ">I", data, 4)[0]
        return "tiff", "truncated TIFF (first IFD beyond the end)" if offset + 2 > len(data) else None
    return None, None


def _jpeg_problem(data: bytes) -> str | None:
    """Why the metadata of a JPEG cannot be read whole, or None.

    The metadata (EXIF, XMP, MPF, ICC) stands in the segments before the first scan, so only a file
    cut there is truncated for us. The compressed picture after it and whatever follows the picture
    (an Ultra HDR gain map, the further images of an MPF file, a phone's trailer) are not judged: a
    file cut inside the picture (Pillow's ``ultrahdr.jpg``) still has its metadata whole.
    """
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # junk between segments: leave the verdict to the parsers
        marker = data[pos + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:  # fill byte or standalone marker
            pos += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if marker == 0xD9:  # end of image before any scan
            return None
        if length < 2:
            return f"corrupt JPEG (segment length {length} at byte {pos})"
        if pos + 2 + length > len(data):
            return "truncated JPEG (a segment runs past the end of the file)"
        if marker == 0xDA:  # start of scan: the metadata is behind us, whole
            return None
        pos += 2 + length
    return "truncated JPEG (file ends inside the header segments)"


def _png_problem(data: bytes) -> str | None:
    pos = 8
    while pos + 12 <= len(data) and data[pos + 4 : pos + 8] != b"IEND":
        pos += 12 + struct.unpack_from(">I", data, pos)[0]
    return "truncated PNG (a chunk runs past the end of the file)" if pos + 12 > len(data) else None


def _heif_problem(data: bytes) -> str | None:
    pos = 0
    while pos + 8 <= len(data):
        size = struct.unpack_from(">I", data, pos)[0]
        if size == 0:  # the last box runs to the end of the file
            return None
        if size == 1 and pos + 16 <= len(data):
            size = struct.unpack_from(">Q", data, pos + 8)[0]
        if size < 8:
            return f"corrupt HEIF (box size {size} at byte {pos})"
        pos += size
    return "truncated HEIF (a box runs past the end of the file)" if pos != len(data) else None


def webp_exif_span(data: bytes) -> tuple[int, int] | None:
    """(start, end) of the TIFF structure in the ``EXIF`` chunk of an extended WebP, where exifread reads it.

    exifread walks the chunks after a ``VP8X`` chunk of the usual size (skipping no pad byte) and
    reads the TIFF structure 6 bytes into the first ``EXIF`` chunk. None when that is not provably
    the same place: a chunk running past the RIFF size before it, or no ``Exif\\0\\0`` prefix.
    """
    if data[12:20] != b"VP8X\x0a\x00\x00\x00":
        return None
    riff_end = min(struct.unpack_from("<I", data, 4)[0] + 8, len(data))
    pos = 30
    while pos + 8 <= riff_end:
        size = struct.unpack_from("<I", data, pos + 4)[0]
        end = pos + 8 + size
        if end > riff_end:
            return None
        if data[pos : pos + 4] == b"EXIF":
            return (pos + 14, end) if data[pos + 8 : pos + 14] == b"Exif\x00\x00" else None
        pos = end  # no pad byte after an odd size: exifread's walk, wherever it leads
    return None


_HEIF_BRANDS = (b"ftypheic", b"ftypavif", b"ftypmif1")  # the brands exifread opens
_META_SKIPPED = (b"meta", b"ftyp", b"infe")  # boxes exifread would parse inside meta: left to it
_FIELDS = {0: "", 4: "I", 8: "Q"}  # iloc field sizes in bytes -> struct codes


def _box(data: bytes, pos: int, end: int) -> tuple[bytes, int, int]:
    """(type, payload start, box end) of a plain box inside ``data[:end]``; ValueError when odd."""
    size = struct.unpack_from(">I", data, pos)[0]
    kind = data[pos + 4 : pos + 8]
    if size < 8 or pos + size > end or len(kind) != 4 or not kind.isascii():
        raise ValueError("odd box")  # 64-bit or to-the-end sizes, overruns, names exifread cannot decode
    return kind, pos + 8, pos + size


def heif_exif_span(data: bytes) -> tuple[int, int] | None:
    """(start, end) of the TIFF structure of the Exif item of a HEIF file, where exifread reads it.

    It follows exifread's walk (``ftyp``, the first ``meta``, its ``iinf`` and ``iloc``) over a
    cleanly laid out file and gives None for anything it does not read with certainty: other
    brands, box versions or field sizes, several extents, a base offset or construction method
    (which exifread ignores), duplicate or nested boxes, an Exif item without a TIFF header.
    """
    try:
        return _heif_span(data)
    except (ValueError, struct.error):
        return None


def _heif_span(data: bytes) -> tuple[int, int] | None:
    size = len(data)
    if data[4:12] not in _HEIF_BRANDS or data[12:16] != b"\x00\x00\x00\x00":
        return None  # exifread wants minor version 0
    kind, body, pos = _box(data, 0, size)
    if body + 8 > pos or (pos - body) % 4:
        return None
    while kind != b"meta":
        kind, body, after = _box(data, pos, size)
        if kind == b"meta":
            break
        pos = after
    meta_end = after
    subs: dict[bytes, tuple[int, int]] = {}
    pos = body + 4
    while pos < meta_end:
        kind, body, after = _box(data, pos, meta_end)
        if kind in _META_SKIPPED or kind in subs:
            return None
        subs[kind] = (body, after)
        pos = after
    if b"iinf" not in subs or b"iloc" not in subs:
        return None
    item = _exif_item(data, *subs[b"iinf"])
    extent = _item_extent(data, *subs[b"iloc"], item) if item is not None else None
    if extent is None:
        return None
    start, end = extent
    if end > size or start + 4 > end:
        return None
    header = struct.unpack_from(">I", data, start)[0]
    if header == 0:  # the TIFF header straight after the offset field; exifread knows only II
        return (start + 4, end) if data[start + 4 : start + 8] == b"II*\x00" else None
    if header < 6 or data[start + 4 + header - 6 : start + 4 + header] != b"Exif\x00\x00":
        return None
    return start + 4 + header, end


def _exif_item(data: bytes, body: int, end: int) -> int | None:
    """The item id of the first ``infe`` of type Exif among the first ``count`` entries of ``iinf``."""
    if data[body] != 0:
        return None  # exifread reads a 16-bit count, as in version 0
    count = struct.unpack_from(">H", data, body + 4)[0]
    pos = body + 6
    while count:
        size = struct.unpack_from(">I", data, pos)[0]
        kind, infe, after = data[pos + 4 : pos + 8], pos + 8, pos + size
        if size < 8 or after > end or not kind.isascii():
            return None
        pos = after
        if kind != b"infe":
            continue  # exifread skips other boxes while looking for the next infe
        count -= 1
        version = data[infe]
        if version < 2:
            continue
        if version > 3:
            return None
        field = 2 if version == 2 else 4
        fixed = infe + 4 + field + 2 + 4
        if fixed > after or data.find(b"\x00", fixed, after) < 0:
            return None  # exifread would read the name past the box
        if data[fixed - 4 : fixed] == b"Exif":
            return int.from_bytes(data[infe + 4 : infe + 4 + field], "big")
    return None


def _item_extent(data: bytes, body: int, end: int, item: int) -> tuple[int, int] | None:
    """(offset, end) of the one extent of ``item`` in ``iloc``; None when not plainly laid out."""
    version = data[body]
    offset_size, length_size = data[body + 4] >> 4, data[body + 4] & 15
    base_size, index_size = data[body + 5] >> 4, data[body + 5] & 15 if version else 0
    sizes = (offset_size, length_size, base_size, index_size)
    if version > 2 or not offset_size or not length_size or any(size not in _FIELDS for size in sizes):
        return None  # exifread reads 2-byte fields too; offsets or lengths of none are left to it
    wide = "I" if version == 2 else "H"
    # item id, construction method (versions 1 and 2), data reference, base offset, extent count
    head = struct.Struct(f">{wide}{'H' if version else ''}H{_FIELDS[base_size]}H")
    extent = struct.Struct(f">{_FIELDS[index_size]}{_FIELDS[offset_size]}{_FIELDS[length_size]}")
    count, pos = struct.unpack_from(f">{wide}", data, body + 6)[0], body + 6 + struct.calcsize(wide)
    single = struct.Struct(head.format + extent.format[1:])  # the usual table: one extent an item
    table = data[pos : min(pos + count * single.size, end)]
    if len(table) == count * single.size:
        at_count = 2 + bool(version) + bool(base_size)  # where the extent count stands in an entry
        entries = list(single.iter_unpack(table))
        if all(entry[at_count] == 1 for entry in entries):
            mine = [entry for entry in entries if entry[0] == item][-1:]  # the last counts, as in exifread
            if not mine or (version and mine[0][1]) or (base_size and mine[0][at_count - 1]):
                return None  # no such item, a construction method or a base offset: left to exifread
            return (mine[0][-2], mine[0][-2] + mine[0][-1]) if mine[0][-1] else None
    found: list[tuple[int, int]] | None = None
    for _ in range(count):
        fields = head.unpack_from(data, pos)
        pos += head.size
        extents = []
        for _ in range(fields[-1]):
            *_, start, length = extent.unpack_from(data, pos)
            extents.append((start, start + length))
            pos += extent.size
        if pos > end:
            return None
        if fields[0] == item:  # the last entry for the item counts, as in exifread
            plain = not (version and fields[1]) and not (base_size and fields[-2])
            found = extents if plain else None  # a construction method or base offset: left to exifread
    return found[0] if found is not None and len(found) == 1 and found[0][1] > found[0][0] else None
