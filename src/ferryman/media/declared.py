"""What an MP4 (ISO base media: MP4, MOV, M4A, 3GP) declares, checked against its bytes
before any decoder reads it.

FFmpeg believes a sample table: a 2,429-byte file whose ``stsz`` says 88 million
samples of one byte each makes it build an index of 88 million entries (over a GiB,
seconds of CPU), and thirty such tracks thirty times that. A sample is at least a
byte of the file (a constant size says how many), and a table's entries are in the
box that holds them, so what no file of this size can hold is refused here
(``media.declares_too_much``) in a walk over the box headers and the tables' counts:
samples per track and over all tracks (``stsz``/``stz2``, ``stts``, fragments'
``trun``), every table's entry count against its box (``stts``, ``ctts``, ``stsc``,
``stco``, ``co64``, ``stss``, ``elst``), and a visual sample entry's width x height
against the pixel limit. Anything it cannot make sense of is left to the decoder
(which then runs in ``media.box.pool``, confined).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ferryman.errors import FerrymanError

CODE = "media.declares_too_much"
# Boxes that hold boxes, on the way to the sample tables.
_CONTAINERS = frozenset(
    {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"moof", b"traf", b"mvex"}
)
# A table box: bytes before its entries (version/flags, entry count), bytes an entry.
_TABLES = {
    b"stts": 8,
    b"ctts": 8,
    b"stsc": 12,
    b"stco": 4,
    b"co64": 8,
    b"stss": 4,
}
_VISUAL = frozenset({b"avc1", b"avc3", b"hvc1", b"hev1", b"mp4v", b"av01", b"vp09", b"jpeg"})
# The boxes an ISO base media file starts with (else it is none, and not looked at).
_FIRST = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp"})
_MAX_DEPTH = 12
_READ = 1 << 16  # stts entries read this many bytes at a time


@dataclass(slots=True)
class _Counts:
    """What the walk found declared, for the whole file."""

    size: int  # the file's bytes
    max_pixels: int
    samples: int = 0  # declared over all tracks
    tracks: list[int] = field(default_factory=list)


def check_declared(path: Path, max_pixels: int) -> None:
    """Raise ``media.declares_too_much`` when the file's boxes declare more than its
    bytes can hold; return quietly otherwise (also for what is no MP4, or makes no
    sense: the decoder judges that)."""
    with path.open("rb") as f:
        if f.read(8)[4:8] not in _FIRST:
            return
        size = f.seek(0, 2)
        counts = _Counts(size, max_pixels)
        try:
            _walk(f, 0, size, 0, counts, path.name)
        except (struct.error, ValueError, OverflowError):
            return  # short or odd boxes: not ours to judge
    if counts.samples > size:
        raise FerrymanError(
            CODE,
            f"{path.name}: its {len(counts.tracks)} tracks declare {counts.samples:,} samples"
            f" in all; a file of {size:,} bytes holds at most {size:,}",
        )


def _boxes(f: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes between ``start`` and ``end``."""
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        size, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", f.read(8))
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _walk(f: BinaryIO, start: int, end: int, depth: int, counts: _Counts, name: str) -> None:
    if depth > _MAX_DEPTH:
        return
    for kind, payload, box_end in _boxes(f, start, end):
        if kind in _CONTAINERS:
            if kind == b"trak":
                counts.tracks.append(0)
            _walk(f, payload, box_end, depth + 1, counts, name)
        elif kind in (b"stsz", b"stz2"):
            _sample_sizes(f, kind, payload, box_end, counts, name)
        elif kind == b"stts":
            _table(f, kind, payload, box_end, name)
            _declare(counts, _stts_samples(f, payload, box_end), name, kind)
        elif kind in _TABLES or kind == b"elst":
            _table(f, kind, payload, box_end, name)
        elif kind == b"trun":
            _trun(f, payload, box_end, counts, name)
        elif kind == b"stsd":
            _visual_sizes(f, payload, box_end, counts, name)


def _refuse(name: str, what: str) -> FerrymanError:
    return FerrymanError(CODE, f"{name}: {what}")


def _declare(counts: _Counts, samples: int, name: str, kind: bytes) -> None:
    """A track's declared samples: each is at least a byte of the file. A track counts
    the larger of its tables' counts (``stsz`` and ``stts`` both say it)."""
    if samples > counts.size:
        raise _refuse(
            name, f"{kind.decode('latin-1')} declares {samples:,} samples in {counts.size:,} bytes"
        )
    if counts.tracks:
        before = counts.tracks[-1]
        if samples > before:
            counts.samples += samples - before
            counts.tracks[-1] = samples
    else:
        counts.samples += samples


def _sample_sizes(
    f: BinaryIO, kind: bytes, payload: int, end: int, counts: _Counts, name: str
) -> None:
    f.seek(payload)
    head = f.read(12)
    if len(head) < 12:
        return
    if kind == b"stsz":
        constant, samples = struct.unpack(">4xII", head)
        bits = 0 if constant else 32
    else:
        field_size, samples = struct.unpack(">7xBI", head)
        constant, bits = 0, field_size
    table = (samples * bits + 7) // 8
    if bits and payload + 12 + table > end:
        raise _refuse(
            name, f"{kind.decode('latin-1')} lists {samples:,} samples in {end - payload:,} bytes"
        )
    if constant and samples * constant > counts.size:
        raise _refuse(
            name,
            f"stsz declares {samples:,} samples of {constant:,} bytes in a file of"
            f" {counts.size:,} bytes",
        )
    _declare(counts, samples, name, kind)


def _table(f: BinaryIO, kind: bytes, payload: int, end: int, name: str) -> None:
    """A table's entry count against the bytes of its box."""
    f.seek(payload)
    head = f.read(8)
    if len(head) < 8:
        return
    version, entries = head[0], struct.unpack(">I", head[4:8])[0]
    each = (20 if version == 1 else 12) if kind == b"elst" else _TABLES[kind]
    if payload + 8 + entries * each > end:
        raise _refuse(
            name, f"{kind.decode('latin-1')} lists {entries:,} entries in {end - payload:,} bytes"
        )


def _stts_samples(f: BinaryIO, payload: int, end: int) -> int:
    """The samples an ``stts`` declares (the sum of its entries' counts)."""
    f.seek(payload + 4)
    (entries,) = struct.unpack(">I", f.read(4))
    total = 0
    left = entries * 8
    while left > 0:
        chunk = f.read(min(left, _READ))
        if len(chunk) < 8:
            break
        usable = len(chunk) - len(chunk) % 8
        total += sum(count for count, _ in struct.iter_unpack(">II", chunk[:usable]))
        left -= usable
    return total


def _trun(f: BinaryIO, payload: int, end: int, counts: _Counts, name: str) -> None:
    """A fragment's run: its samples count for the file, its per-sample fields fit."""
    f.seek(payload)
    head = f.read(8)
    if len(head) < 8:
        return
    flags = int.from_bytes(head[1:4], "big")
    (samples,) = struct.unpack(">I", head[4:8])
    fields = sum(4 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
    optional = (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
    if fields and payload + 8 + optional + samples * fields > end:
        raise _refuse(name, f"trun lists {samples:,} samples in {end - payload:,} bytes")
    counts.samples += samples
    if samples > counts.size:
        raise _refuse(name, f"trun declares {samples:,} samples in {counts.size:,} bytes")


def _visual_sizes(f: BinaryIO, payload: int, end: int, counts: _Counts, name: str) -> None:
    """Each visual sample entry's width x height against the pixel limit."""
    f.seek(payload + 4)
    (entries,) = struct.unpack(">I", f.read(4))
    for n, (kind, entry, _) in enumerate(_boxes(f, payload + 8, end)):
        if n >= entries:
            break
        if kind not in _VISUAL:
            continue
        f.seek(entry + 24)  # reserved, data reference, pre-defined, reserved
        width, height = struct.unpack(">HH", f.read(4))
        if width * height > counts.max_pixels:
            raise _refuse(
                name,
                f"its video declares {width} x {height} pixels, over {counts.max_pixels:,}",
            )
