"""Hostile media made from real files: a tiny MP4 written by PyAV whose sample tables
are then made to declare what its bytes cannot hold (issue 56: 88 million samples in
2 KB took the engine to 3 GiB), and pictures that cost far more decoded than on disk."""

from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image

from ferryman.samples import make_video

SAMPLES = 88_000_000


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of the boxes between ``start`` and ``end`` (32-bit sizes)."""
    found, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        found.append((kind, pos, pos + size))
        pos += size
    return found


def _find(data: bytes, start: int, end: int, path: list[bytes]) -> tuple[int, int]:
    """The box at ``path`` (types, outermost first) inside ``start``..``end``."""
    for kind, box_start, box_end in _boxes(data, start, end):
        if kind == path[0]:
            return (
                (box_start, box_end)
                if len(path) == 1
                else _find(data, box_start + 8, box_end, path[1:])
            )
    raise LookupError(path)


def _declaring(trak: bytes, samples: int, track_id: int) -> bytes:
    """``trak`` whose ``stts`` and ``stsz`` say ``samples`` samples of one byte each."""
    out = bytearray(trak)
    stbl = _find(out, 8, len(out), [b"mdia", b"minf", b"stbl"])
    stts = _find(out, stbl[0] + 8, stbl[1], [b"stts"])[0]
    stsz = _find(out, stbl[0] + 8, stbl[1], [b"stsz"])[0]
    struct.pack_into(">I", out, stts + 16, samples)  # the first entry's sample count
    struct.pack_into(">II", out, stsz + 12, 1, samples)  # constant size 1, the count
    tkhd = _find(out, 8, len(out), [b"tkhd"])[0]
    struct.pack_into(">I", out, tkhd + 20, track_id)  # version 0: after two times
    return bytes(out)


def sample_count_bomb(path: Path, *, tracks: int = 1, samples: int = SAMPLES) -> Path:
    """A real H.264 MP4 (PyAV, a tenth of a second, 64 x 48, its index at the end) whose
    ``tracks`` video tracks each declare ``samples`` samples: FFmpeg builds an index of
    them all (tens of bytes each) before it reads a frame."""
    tiny = make_video(
        path.with_name(path.stem + ".src.mp4"),
        7,
        seconds=0.2,
        size=(64, 48),
        acodec=None,
        faststart=False,
    )
    data = tiny.read_bytes()
    tiny.unlink()
    top = _boxes(data, 0, len(data))
    moov_start, moov_end = next((s, e) for k, s, e in top if k == b"moov")
    inner = _boxes(data, moov_start + 8, moov_end)
    trak = next(data[s:e] for k, s, e in inner if k == b"trak")
    body = b"".join(
        _declaring(trak, samples, n + 1) if k == b"trak" else data[s:e]
        for k, s, e in inner
        for n in (range(tracks) if k == b"trak" else range(1))
    )
    moov = struct.pack(">I4s", 8 + len(body), b"moov") + body
    head = data[:moov_start] + data[moov_end:]  # ftyp, free, mdat: offsets unchanged
    path.write_bytes(head + moov)
    return path


def flat_png(path: Path, side: int) -> Path:
    """An 8-bit RGB PNG of ``side`` x ``side``, one colour: a few hundred KB on disk,
    ``3 * side**2`` bytes decoded, about 2.5 times that to fit it as a photo."""
    Image.new("RGB", (side, side), (90, 140, 200)).save(path, compress_level=1)
    return path
