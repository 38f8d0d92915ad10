"""Whether an animated PNG can be played as one, from its chunks alone (nothing decoded).

Pillow opens a malformed APNG (frames out of sequence, a frame control without its
data, fewer frames than the animation control claims, a frame outside the canvas),
shows its first frame, and fails only when it reaches the bad frame: at the
conversion, after the plan was made. Such a file is a picture, its first frame, and
this says so before the plan. The rules are the ones Pillow's reader enforces
(``PngImagePlugin``), so a file that passes plays there. Total on any bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_CHUNKS = 1_000_000  # bounds the walk of a crafted file made of empty chunks
_CONTROLS = frozenset({b"IHDR", b"acTL", b"fcTL"})
_CONTROL_BYTES = 64  # more than any of them holds


def playable(file: BinaryIO) -> bool:
    """Whether the APNG ``file`` (read from its start; only chunk heads and frame
    controls are read, never the pixel data) has a sound frame structure: one
    sequence of ``fcTL``/``fdAT`` numbers from 0 without gap or repeat, every frame
    control followed by its data, within the canvas, and at least as many frames as
    ``acTL`` claims. A PNG that is no animation at all is playable (as a picture)."""
    if file.read(len(_SIGNATURE)) != _SIGNATURE:
        return False
    canvas: tuple[int, int] | None = None
    claimed: int | None = None
    frames = 0
    sequence = 0
    waiting = False  # a frame control seen, its data not yet
    for kind, body in _chunks(file):
        if kind == b"IHDR" and len(body) >= 8:
            canvas = (int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big"))
        elif kind == b"acTL" and len(body) >= 8 and claimed is None:
            claimed = int.from_bytes(body[:4], "big")
        elif kind in (b"fcTL", b"fdAT"):
            if len(body) < 4 or int.from_bytes(body[:4], "big") != sequence:
                return False
            sequence += 1
            if kind == b"fdAT":
                waiting = False
                continue
            if waiting or not _inside(body, canvas):
                return False
            frames, waiting = frames + 1, True
        elif kind == b"IDAT":
            waiting = False
        elif kind == b"IEND":
            break
    return not waiting and (not claimed or frames >= claimed)


def frames_and_canvas(file: BinaryIO) -> tuple[int, int, int]:
    """An APNG's frame controls counted (read from its start, a playable one: each is a
    frame Pillow plays) and its canvas: (frames, width, height)."""
    if file.read(len(_SIGNATURE)) != _SIGNATURE:
        return 0, 0, 0
    frames, width, height = 0, 0, 0
    for kind, body in _chunks(file):
        if kind == b"IHDR" and len(body) >= 8:
            width, height = struct.unpack_from(">II", body)
        elif kind == b"fcTL":
            frames += 1
        elif kind == b"IEND":
            break
    return frames, width, height


def _inside(control: bytes, canvas: tuple[int, int] | None) -> bool:
    """A frame control's region: not empty, and within the canvas."""
    if len(control) < 20 or canvas is None:
        return False
    width, height, x, y = (int(n) for n in struct.unpack_from(">IIII", control, 4))
    return width > 0 and height > 0 and x + width <= canvas[0] and y + height <= canvas[1]


def _chunks(file: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(type, body) of each chunk after the signature; the body of a control chunk
    only (``_CONTROL_BYTES`` at most), the others' first 4 bytes (a sequence number)."""
    pos = file.tell()
    for _ in range(_MAX_CHUNKS):
        head = file.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        body = file.read(min(length, _CONTROL_BYTES if kind in _CONTROLS else 4))
        if len(body) < min(length, 4):
            return  # cut off
        yield kind, body
        pos += 12 + length
        file.seek(pos)
