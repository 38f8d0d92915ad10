"""What a HEIF/AVIF file's header says, read from its boxes without any decoder.

Two things no decoder here tells: whether the file's images are the two views of one
scene (an iPhone spatial photo: a ``ster`` entity group), which is one photo, its
primary view, rather than a burst (every image a photo); and the sizes the images
claim (``ispe``), which count when the decoder itself refuses a picture for its size
(libavif stops at 16384 x 16384) so that it still goes as a document, not as broken.
Total on any bytes: a box that runs past the data or lies about its size ends the walk.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADER_BYTES = 1 << 20  # the ``meta`` box comes first and is small; read this much at most
_FULL_BOX = 4  # version and flags before a full box's payload
_MAX_BOXES = 10_000  # bounds the walk of a crafted file made of empty boxes
# Entity groups whose images are views of one scene, shown as one picture.
_ONE_SCENE_GROUPS = frozenset({b"ster"})


@dataclass(frozen=True, slots=True)
class HeifHeader:
    """The parts of a HEIF's ``meta`` box the delivery needs."""

    sizes: tuple[tuple[int, int], ...]  # every ``ispe`` (image spatial extent) claimed
    one_scene: bool  # its images form a stereo pair: one photo, the primary view


def read_header(path: Path) -> HeifHeader:
    """The header of the HEIF at ``path`` (empty when it has none there to read)."""
    with path.open("rb") as f:
        return parse_header(f.read(HEADER_BYTES))


def parse_header(data: bytes) -> HeifHeader:
    """The ``meta`` box's sizes and groups in ``data`` (the file's first bytes)."""
    sizes: list[tuple[int, int]] = []
    one_scene = False
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"meta":
            continue
        for child, c_start, c_end in _boxes(data, start + _FULL_BOX, end):
            if child == b"iprp":
                sizes.extend(_extents(data, c_start, c_end))
            elif child == b"grpl":
                groups = {group for group, _, _ in _boxes(data, c_start, c_end)}
                one_scene = one_scene or bool(groups & _ONE_SCENE_GROUPS)
        break
    return HeifHeader(tuple(sizes), one_scene)


def _extents(data: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Each ``ispe`` in the item properties (``iprp`` → ``ipco``)."""
    for kind, c_start, c_end in _boxes(data, start, end):
        if kind != b"ipco":
            continue
        for prop, p_start, p_end in _boxes(data, c_start, c_end):
            if prop == b"ispe" and p_end - p_start >= _FULL_BOX + 8:
                yield struct.unpack_from(">II", data, p_start + _FULL_BOX)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in ``data[start:end]``."""
    pos = start
    for _ in range(_MAX_BOXES):
        if pos + 8 > end:
            return
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:  # a 64-bit size follows
            if pos + 16 > end:
                return
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:  # up to the end
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size
