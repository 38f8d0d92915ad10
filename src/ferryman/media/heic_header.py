"""An iPhone's HEIC read in the engine from its boxes, without decoding: the picture's
size as shown (``ispe`` turned by ``irot``), and when it was taken (its EXIF item), so a
photo costs no call to a decoding worker (``media.box``), as ``media.jpeg_header`` does
for a plain JPEG.

Bounded and total: it reads at most ``HEAD_BYTES`` of the head (the ``meta`` box comes
first and is small), each top-level box's header (at most ``MAX_BOXES``) and at most
``EXIF_BYTES`` of the EXIF item; it touches no decoder and no C library, and answers
None for anything it does not fully know, leaving it to the box's Pillow probe as
before: another brand (AVIF), more than one picture shown (a burst, a stereo pair), a
primary picture that is not HEVC or a grid of HEVC tiles, alpha, a grey or a
deeper-than-8-bit picture, a property it does not know (a crop, ``clap``), an item
stored elsewhere than in the file, boxes that do not add up to the file's size (a cut
file), a picture over the limits. Pillow (pillow-heif, libheif) shows a HEIC turned and
mirrored as ``irot``/``imir`` say and its EXIF orientation reset: so the answer's
rotation is 0, its sides as shown. The HEVC data is never looked at: it is decoded only
where a picture is fitted, in the box (``tests/media/test_heic_header.py``).
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from ferryman.media.jpeg_header import exif_facts, seconds
from ferryman.model import MediaInfo

HEAD_BYTES = 1 << 20
EXIF_BYTES = 64 << 10
MAX_BOXES = 4096  # boxes walked in all: a crafted file of empty boxes ends here
MAX_ITEMS = 4096  # an iPhone's 48 MP photo is a grid of 48 tiles plus a few items
MAX_SIDE = 16384  # larger pictures: the box decides (libheif's and libavif's limits)
_HEIC_BRANDS = frozenset({b"heic", b"heix"})
_PICTURES = frozenset({b"hvc1", b"grid", b"av01", b"iden", b"iovl", b"jpeg", b"unci", b"hvt1"})
_KNOWN = frozenset(
    {b"hvcC", b"ispe", b"irot", b"imir", b"pixi", b"colr", b"clap"}
)  # else: the box's
_FULL = 4  # a full box's version and flags


@dataclass(slots=True)
class _Item:
    kind: bytes = b""
    hidden: bool = False
    extents: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    in_idat: bool = False
    props: list[int] = field(default_factory=list)  # 1-based indexes into ipco


@dataclass(frozen=True, slots=True)
class HeicHeader:
    width: int  # as shown: ``ispe`` turned by ``irot``
    height: int
    exif: tuple[int, int] | None  # the EXIF item's (offset, length) in the file
    end: int  # the furthest byte an item of the picture or its EXIF lies up to


def probe_header(path: Path, max_pixels: int | None, max_bytes: int | None) -> MediaInfo | None:
    """``path``'s MediaInfo as ``media.probe.probe_image`` gives it for a plain HEIC
    within the limits, or None (the box probes it)."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(HEAD_BYTES)
            if not _whole(f, size):
                return None
            header = read_header(head)
            if header is None or header.end > size:
                return None
            tiff = _exif_tiff(f, header.exif)
    except OSError:
        return None
    pixels = header.width * header.height
    if max_pixels is not None and pixels > max_pixels:
        return None
    if max_bytes is not None and pixels * 3 > max_bytes:
        return None
    try:
        _, taken = exif_facts(tiff) if tiff else (None, None)
    except (ValueError, struct.error, OverflowError):
        return None  # EXIF Pillow reads in its own way
    return MediaInfo(
        container="heif",
        width=header.width,
        height=header.height,
        frames=1,
        rotation=0,
        mirrored=None,
        size=size,
        image_mode="RGB",
        bit_depth=8,
        pages=None,
        taken=seconds(taken),
    )


def read_header(head: bytes) -> HeicHeader | None:
    """The header of the HEIC that starts ``head``, or None (never raises)."""
    try:
        return _read(head[:HEAD_BYTES])
    except (ValueError, struct.error, OverflowError, IndexError, KeyError):
        return None


def _whole(f: BinaryIO, size: int) -> bool:
    """Whether the file's top-level boxes end exactly at its end (a cut file's last box
    runs past it), read box header by box header."""
    at = 0
    for _ in range(MAX_BOXES):
        if at == size:
            return True
        f.seek(at)
        top = f.read(16)
        if len(top) < 8:
            return False
        length = int.from_bytes(top[:4], "big")
        if length == 1 and len(top) == 16:
            length = int.from_bytes(top[8:16], "big")
        elif length == 0:
            length = size - at
        if length < 8 or at + length > size:
            return False
        at += length
    return False


def _exif_tiff(f: BinaryIO, where: tuple[int, int] | None) -> bytes:
    """The EXIF item's TIFF block (after its offset field and any ``Exif\\0\\0``)."""
    if where is None:
        return b""
    offset, length = where
    f.seek(offset)
    data = f.read(min(length, EXIF_BYTES))
    if len(data) < 4:
        raise OSError("a cut EXIF item")
    skip = 4 + int.from_bytes(data[:4], "big")
    tiff = data[skip:]
    return tiff[6:] if tiff.startswith(b"Exif\x00\x00") else tiff


def _read(data: bytes) -> HeicHeader | None:
    walk = _Walk(data)
    top = list(_heads(data))
    if not top or top[0][0] != b"ftyp" or not _heic_brand(data, top[0][1], top[0][2]):
        return None
    meta = next(((s, e) for kind, s, e in top if kind == b"meta"), None)
    if meta is None:
        return None
    return walk.meta(meta[0] + _FULL, meta[1])


def _heads(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """The top-level boxes wholly in ``data`` (the head: ``mdat`` runs on past it)."""
    pos = 0
    for _ in range(MAX_BOXES):
        if pos + 8 > len(data):
            return
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= len(data):
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        if size < header or pos + size > len(data):
            return
        yield kind, pos + header, pos + size
        pos += size


def _heic_brand(data: bytes, start: int, end: int) -> bool:
    brands = {data[at : at + 4] for at in range(start, end - 3, 4) if at != start + 4}
    return bool(brands & _HEIC_BRANDS)


class _Walk:
    """One ``meta`` box read: its items, their places, references and properties."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.walked = 0
        self.items: dict[int, _Item] = {}
        self.props: list[tuple[bytes, int, int]] = []  # ipco's boxes, in order
        self.refs: list[tuple[bytes, int, list[int]]] = []  # (kind, from, to)
        self.primary: int | None = None
        self.idat: tuple[int, int] | None = None

    def boxes(self, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
        """(type, payload start, payload end) of each box in ``data[start:end]``."""
        pos, data = start, self.data
        while pos + 8 <= end:
            self.walked += 1
            if self.walked > MAX_BOXES:
                raise ValueError("too many boxes")
            size, kind = struct.unpack_from(">I4s", data, pos)
            header = 8
            if size == 1:
                size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
            elif size == 0:
                size = end - pos
            if size < header or pos + size > end:
                raise ValueError("a box past its parent")
            yield kind, pos + header, pos + size
            pos += size
        if pos != end:
            raise ValueError("bytes after the last box")

    def item(self, item_id: int) -> _Item:
        if item_id not in self.items and len(self.items) >= MAX_ITEMS:
            raise ValueError("too many items")
        return self.items.setdefault(item_id, _Item())

    def meta(self, start: int, end: int) -> HeicHeader | None:
        seen: set[bytes] = set()
        for kind, s, e in self.boxes(start, end):
            if kind in seen and kind != b"free":
                raise ValueError("a box twice")
            seen.add(kind)
            if kind == b"hdlr" and self.data[s + 8 : s + 12] != b"pict":
                return None
            reader = _READERS.get(kind)
            if reader is not None:
                reader(self, s, e)
        if not {b"hdlr", b"pitm", b"iinf", b"iloc", b"iprp"} <= seen:
            return None
        return self._header()

    def _header(self) -> HeicHeader | None:
        primary = self.items.get(self.primary) if self.primary is not None else None
        if primary is None or primary.kind not in (b"hvc1", b"grid"):
            return None
        if self._shown() != [self.primary]:
            return None  # a burst, a stereo pair: the box counts pages
        if self._alpha():
            return None
        tiles = self._to(b"dimg", self.primary) if primary.kind == b"grid" else []
        if primary.kind == b"grid" and not tiles:
            return None
        coded = [self.items.get(t, _Item()) for t in tiles] if tiles else [primary]
        if any(t.kind != b"hvc1" or not t.extents or t.in_idat for t in coded):
            return None
        for part in (primary, *coded):
            if not self._plain(part):
                return None
        sides = self._prop(primary, b"ispe")
        if sides is None or sides[1] - sides[0] < _FULL + 8:
            return None
        width, height = struct.unpack_from(">II", self.data, sides[0] + _FULL)
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            return None
        shown = self._shown_sides(primary, width, height)
        if shown is None:
            return None
        width, height = shown
        exif = self._exif()
        if exif is False:
            return None
        placed = [*coded, *([] if exif is None else [self.items[exif]])]
        end = max(offset + length for it in placed for offset, length in it.extents)
        where = None if exif is None else self.items[exif].extents[0]
        return HeicHeader(width, height, where, end)

    def _shown_sides(self, item: _Item, width: int, height: int) -> tuple[int, int] | None:
        """The sides as shown: the transforms in the order ``ipma`` lists them, as
        libheif applies them (a crop, ``clap``, of whole pixels; a quarter turn,
        ``irot``, swaps; a mirror, ``imir``, keeps); None for a crop of fractions."""
        for index in item.props:
            kind, s, e = self.props[index - 1]
            if kind == b"irot" and self.data[s] & 3 in (1, 3):
                width, height = height, width
            elif kind == b"clap":
                if e - s != 32:
                    return None
                values = struct.unpack_from(">IIIIiIiI", self.data, s)
                if not all(values[1::2]):
                    return None
                across = _cropped(width, Fraction(*values[0:2]), Fraction(*values[4:6]))
                down = _cropped(height, Fraction(*values[2:4]), Fraction(*values[6:8]))
                if across is None or down is None:
                    return None
                width, height = across, down
        return (width, height) if width > 0 and height > 0 else None

    def _shown(self) -> list[int]:
        """The pictures a reader shows (libheif's top-level images): not hidden, not a
        thumbnail, an auxiliary picture or a grid's tile."""
        hidden = {f for kind, f, _ in self.refs if kind in (b"thmb", b"auxl")}
        hidden |= {t for kind, _, to in self.refs if kind == b"dimg" for t in to}
        return sorted(
            i
            for i, it in self.items.items()
            if it.kind in _PICTURES and not it.hidden and i not in hidden
        )

    def _alpha(self) -> bool:
        """An auxiliary picture of the primary's that is its alpha, or of a kind not
        said (a depth map's, an HDR gain map's are not: Pillow's mode stays RGB)."""
        for kind, source, to in self.refs:
            if kind != b"auxl" or to != [self.primary]:
                continue
            aux = self._prop(self.items.get(source, _Item()), b"auxC")
            if aux is None or b"alpha" in self.data[aux[0] : aux[1]]:
                return True
            if b"auxid:1" in self.data[aux[0] : aux[1]]:
                return True
        return False

    def _to(self, kind: bytes, source: int | None) -> list[int]:
        found = [to for k, f, to in self.refs if k == kind and f == source]
        return found[0] if len(found) == 1 else []

    def _plain(self, item: _Item) -> bool:
        """Its properties all known; 8-bit colour (``hvcC``, ``pixi``) where it says."""
        for index in item.props:
            kind, s, e = self.props[index - 1]
            if kind == b"auxC":
                continue
            if kind not in _KNOWN:
                return False
            if kind == b"hvcC" and (e - s < 19 or self.data[s + 16] & 3 == 0):
                return False  # a grey picture (4:0:0): Pillow's mode is another
            if kind == b"hvcC" and self.data[s + 17] & 7 != 0:
                return False  # deeper than 8 bits
            if kind == b"pixi" and self.data[s + _FULL : e] not in (b"\x03\x08\x08\x08",):
                return False
            if kind in (b"irot", b"imir") and e - s != 1:
                return False
        return True

    def _prop(self, item: _Item, kind: bytes) -> tuple[int, int] | None:
        found = [(s, e) for k, s, e in (self.props[i - 1] for i in item.props) if k == kind]
        if len(found) > 1:
            raise ValueError(f"two {kind!r}")
        return found[0] if found else None

    def _exif(self) -> int | bool | None:
        """The primary's EXIF item's id (None: none; False: one the header does not
        read: two, or one in pieces or inside the ``meta`` box)."""
        found = [
            f
            for kind, f, to in self.refs
            if kind == b"cdsc" and self.primary in to and self.items.get(f, _Item()).kind == b"Exif"
        ]
        if not found:
            return None
        if len(found) > 1 or self.items[found[0]].in_idat or len(self.items[found[0]].extents) != 1:
            return False
        return found[0]

    # ------------------------------------------------------------------ boxes

    def pitm(self, s: int, e: int) -> None:
        version = self.data[s]
        self.primary = int.from_bytes(self.data[s + _FULL : s + _FULL + (2 if version == 0 else 4)])

    def iinf(self, s: int, e: int) -> None:
        at = s + _FULL + (2 if self.data[s] == 0 else 4)
        for kind, b, _ in self.boxes(at, e):
            if kind != b"infe":
                continue
            version, flags = self.data[b], int.from_bytes(self.data[b + 1 : b + 4])
            if version < 2:
                raise ValueError("an item info of version 0 or 1")
            width = 2 if version == 2 else 4
            item_id = int.from_bytes(self.data[b + _FULL : b + _FULL + width])
            at_type = b + _FULL + width + 2
            item = self.item(item_id)
            item.kind, item.hidden = self.data[at_type : at_type + 4], bool(flags & 1)

    def iloc(self, s: int, e: int) -> None:
        data, version = self.data, self.data[s]
        if version > 2:
            raise ValueError("an iloc of a version to come")
        sizes = data[s + _FULL], data[s + _FULL + 1]
        offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
        base_size, index_size = sizes[1] >> 4, (sizes[1] & 15) if version else 0
        if not {offset_size, length_size, base_size, index_size} <= {0, 4, 8}:
            raise ValueError("a field size iloc does not take")
        at = s + _FULL + 2
        count, at = _int(data, at, 2 if version < 2 else 4)
        for _ in range(count):
            item_id, at = _int(data, at, 2 if version < 2 else 4)
            method = 0
            if version:
                method, at = _int(data, at, 2)
                method &= 15
            at += 2  # data_reference_index
            base, at = _int(data, at, base_size)
            extents, at = _int(data, at, 2)
            item = self.item(item_id)
            if item.extents:
                raise ValueError("an item placed twice")
            item.in_idat = method == 1
            for _ in range(extents):
                at += index_size
                offset, at = _int(data, at, offset_size)
                length, at = _int(data, at, length_size)
                if method > 1 or length == 0:
                    raise ValueError("an item elsewhere, or of unknown length")
                item.extents.append((base + offset, length))
            if at > e:
                raise ValueError("iloc past its box")

    def iref(self, s: int, e: int) -> None:
        width = 2 if self.data[s] == 0 else 4
        for kind, b, end in self.boxes(s + _FULL, e):
            source, at = _int(self.data, b, width)
            count, at = _int(self.data, at, 2)
            to = []
            for _ in range(count):
                target, at = _int(self.data, at, width)
                to.append(target)
            if at > end:
                raise ValueError("a reference past its box")
            self.refs.append((kind, source, to))

    def iprp(self, s: int, e: int) -> None:
        for kind, b, end in self.boxes(s, e):
            if kind == b"ipco":
                self.props = list(self.boxes(b, end))
            elif kind == b"ipma":
                self._ipma(b, end)

    def _ipma(self, s: int, e: int) -> None:
        data, version = self.data, self.data[s]
        wide = data[s + 3] & 1
        count, at = _int(data, s + _FULL, 4)
        for _ in range(count):
            item_id, at = _int(data, at, 2 if version < 1 else 4)
            many, at = data[at], at + 1
            item = self.item(item_id)
            for _ in range(many):
                value, at = _int(data, at, 2 if wide else 1)
                index = value & (0x7FFF if wide else 0x7F)
                if index:
                    if index > len(self.props):
                        raise ValueError("a property not in ipco")
                    item.props.append(index)
            if at > e:
                raise ValueError("ipma past its box")

    def idat_box(self, s: int, e: int) -> None:
        self.idat = (s, e)


def _cropped(side: int, clean: Fraction, offset: Fraction) -> int | None:
    """A side after ``clap``'s crop as libheif makes it (its first and last pixel
    rounded half up from the centre's offset), or None for a crop past the picture."""
    centre = offset + Fraction(side - 1, 2)
    half = (clean - 1) / 2
    first, last = (
        math.floor(centre - half + Fraction(1, 2)),
        math.floor(centre + half + Fraction(1, 2)),
    )
    if first < 0 or last > side - 1 or last < first:
        return None
    return last - first + 1


def _int(data: bytes, at: int, width: int) -> tuple[int, int]:
    """A big-endian unsigned of ``width`` bytes at ``at`` (0 bytes: 0), and what follows."""
    if at + width > len(data):
        raise ValueError("past the data")
    return int.from_bytes(data[at : at + width]), at + width


_READERS = {
    b"pitm": _Walk.pitm,
    b"iinf": _Walk.iinf,
    b"iloc": _Walk.iloc,
    b"iref": _Walk.iref,
    b"iprp": _Walk.iprp,
    b"idat": _Walk.idat_box,
}
