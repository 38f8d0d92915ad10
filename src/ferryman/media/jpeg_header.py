"""A plain JPEG's header read in the engine, without decoding: its size, EXIF
orientation and date (what a photo's probe needs), so that a photo costs no call to a
decoding worker (``media.box``; the round trip was most of a small photo's cost).

Bounded and total: it reads at most ``HEAD_BYTES`` and the file's last two bytes,
walks at most ``MAX_MARKERS`` markers and two EXIF directories of at most
``MAX_TAGS`` tags, touches no decoder and no C library, and answers None for anything
it does not fully know (another marker, a multi-picture file, CMYK, 12-bit samples,
two EXIF blocks, no end marker: a cut file): the box's Pillow probe then decides, as
before. Pixel data is never looked at: a JPEG's scan is decoded only where a picture
is fitted, in the box (``tests/media/test_jpeg_header.py`` holds the property).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ferryman.model import MediaInfo

HEAD_BYTES = 256 << 10  # JPEG's APPn segments are 64 KiB each at most
MAX_MARKERS = 64
MAX_TAGS = 256
EXIF_ORIENTATION = 0x0112
EXIF_TRANSPOSED = frozenset({5, 6, 7, 8})  # orientations that rotate by 90 or 270 degrees
EXIF_DEGREES = {3: 180, 4: 180, 5: 90, 6: 270, 7: 270, 8: 90}  # counter-clockwise to fix
EXIF_MIRRORED = frozenset({2, 4, 5, 7})
_EXIF_IFD, _ORIGINAL, _DATETIME = 0x8769, 0x9003, 0x0132
_EARLIEST = datetime(1970, 1, 2)  # as ``media.taken``: a zeroed camera clock is unknown
_FRAMES = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended, progressive (Huffman)
_TABLES = frozenset({0xC4, 0xDB, 0xDD, 0xFE})  # DHT, DQT, DRI, COM
_MODES = {1: "L", 3: "RGB"}


@dataclass(frozen=True, slots=True)
class JpegHeader:
    width: int
    height: int
    mode: str  # Pillow's mode for it: L or RGB
    orientation: int | None
    taken: datetime | None


def probe_header(path: Path, max_pixels: int | None, max_bytes: int | None) -> MediaInfo | None:
    """``path``'s MediaInfo as ``media.probe.probe_image`` gives it for a plain JPEG
    within the limits, or None (the box probes it)."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(HEAD_BYTES)
            f.seek(max(0, size - 2))
            tail = f.read(2)
    except OSError:
        return None
    if tail != b"\xff\xd9":  # no end marker: a cut file (or a trailer), the box decides
        return None
    header = read_header(head)
    if header is None:
        return None
    pixels = header.width * header.height
    if max_pixels is not None and pixels > max_pixels:
        return None
    if max_bytes is not None and pixels * len(header.mode) > max_bytes:
        return None
    width, height = header.width, header.height
    if header.orientation in EXIF_TRANSPOSED:
        width, height = height, width
    return MediaInfo(
        container="jpeg",
        width=width,
        height=height,
        frames=1,
        rotation=EXIF_DEGREES.get(header.orientation or 1, 0),
        mirrored=header.orientation in EXIF_MIRRORED or None,
        size=size,
        image_mode=header.mode,
        bit_depth=8,
        pages=None,
        taken=seconds(header.taken),
    )


def read_header(head: bytes) -> JpegHeader | None:
    """The header of the JPEG that starts ``head``, or None (never raises)."""
    try:
        return _walk(head[:HEAD_BYTES])
    except (ValueError, struct.error, OverflowError):
        return None


def _walk(data: bytes) -> JpegHeader | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    at, frame, exif = 2, None, None
    for _ in range(MAX_MARKERS):
        if at + 4 > len(data) or data[at] != 0xFF:
            return None
        marker = data[at + 1]
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if length < 2 or at + 2 + length > len(data):
            return None
        body = data[at + 4 : at + 2 + length]
        if marker == 0xDA:  # start of scan: the header is over
            return _header(frame, exif)
        if marker in _FRAMES:
            if frame is not None:
                return None
            frame = body
        elif marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            if exif is not None:  # Pillow keeps the last one: leave it to Pillow
                return None
            exif = body[6:]
        elif marker == 0xE2 and body.startswith(b"MPF\x00"):
            return None  # a multi-picture file (MPO): Pillow's to count
        elif marker not in _TABLES and not 0xE0 <= marker <= 0xEF:
            return None
        at += 2 + length
    return None


def _header(frame: bytes | None, exif: bytes | None) -> JpegHeader | None:
    if frame is None or len(frame) < 6 or frame[0] != 8:
        return None
    height = int.from_bytes(frame[1:3], "big")
    width = int.from_bytes(frame[3:5], "big")
    mode = _MODES.get(frame[5])
    if mode is None or width == 0 or height == 0 or len(frame) != 6 + 3 * frame[5]:
        return None
    orientation, taken = exif_facts(exif) if exif is not None else (None, None)
    return JpegHeader(width, height, mode, orientation, taken)


def exif_facts(tiff: bytes) -> tuple[int | None, datetime | None]:
    """IFD0's orientation and date, the EXIF directory's DateTimeOriginal, of a TIFF
    block (a JPEG's APP1 after ``Exif\0\0``, a HEIC's EXIF item): as Pillow reads them;
    ``ValueError`` for what Pillow reads in its own way."""
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        raise ValueError("no TIFF header")
    first = _tags(tiff, order, struct.unpack_from(order + "I", tiff, 4)[0])
    orientation = _short(first.get(EXIF_ORIENTATION), order)
    if orientation is None and EXIF_ORIENTATION in first:
        raise ValueError("an orientation of another type: Pillow's to read")
    pointer = first.get(_EXIF_IFD)
    if pointer is not None and (pointer[0] != 4 or pointer[1] != 1):
        raise ValueError("an EXIF directory pointer of another type: Pillow's to follow")
    inner = {} if pointer is None else _tags(tiff, order, struct.unpack(order + "I", pointer[2])[0])
    # As ``media.taken.exif_taken``: DateTimeOriginal, unless absent or empty; then DateTime.
    text = _text(tiff, order, inner.get(_ORIGINAL))
    if text == "":
        text = _text(tiff, order, first.get(_DATETIME))
    return orientation, _date(text)


Tag = tuple[int, int, bytes]  # type, count, the 4-byte value or offset


def _tags(tiff: bytes, order: str, offset: int) -> dict[int, Tag]:
    count = struct.unpack_from(order + "H", tiff, offset)[0]
    if count > MAX_TAGS:
        raise ValueError("too many tags")
    found: dict[int, Tag] = {}
    for number in range(count):
        tag, kind, many = struct.unpack_from(order + "HHI", tiff, offset + 2 + 12 * number)
        start = offset + 2 + 12 * number + 8
        found.setdefault(tag, (kind, many, tiff[start : start + 4]))
    return found


def _short(tag: Tag | None, order: str) -> int | None:
    if tag is None or tag[0] != 3 or tag[1] != 1:
        return None
    value: int = struct.unpack(order + "H", tag[2][:2])[0]
    return value


def _text(tiff: bytes, order: str, tag: Tag | None) -> str | None:
    """An ASCII tag's text as Pillow reads it ("" when absent or empty; None when of
    another type, which Pillow's date reading leaves unknown)."""
    if tag is None:
        return ""
    kind, count, value = tag
    if kind != 2:
        return None
    if count > 1024:
        raise ValueError("a long text: Pillow's to read")
    if count <= 4:
        raw = value[:count]
    else:
        at = struct.unpack(order + "I", value)[0]
        raw = tiff[at : at + count]
        if len(raw) != count:
            raise ValueError("a text past the EXIF block: Pillow's to read")
    return (raw[:-1] if raw.endswith(b"\x00") else raw).decode("latin-1")


def _date(text: str | None) -> datetime | None:
    """``YYYY:MM:DD HH:MM:SS`` (the local time cameras write), or None."""
    if not text:
        return None
    try:
        when = datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return when if when >= _EARLIEST else None


def seconds(when: datetime | None) -> float | None:
    try:
        return when.timestamp() if when is not None else None
    except (OverflowError, OSError, ValueError):
        return None
