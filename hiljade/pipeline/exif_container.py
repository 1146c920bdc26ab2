"""Container sniffing for photos: which kind of file it is and whether it is cut short or corrupt."""

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
