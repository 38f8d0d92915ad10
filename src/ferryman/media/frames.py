"""What a conversion costs, known before it starts: an animation's frame count and
canvas read from its structure alone (nothing decoded: GIF, APNG, animated WebP), its
budget, and the deadline a conversion is held to (``deadline``).

Converting an animation composes every frame on the whole canvas (``media.animation``),
so its work is frames x canvas pixels, whatever each frame holds: a 460 KB GIF of
20,000 one-pixel frames on a 4000x4000 canvas is 320 billion pixels to compose, and
held the one conversion slot for as long as it was let. The walk reads block and chunk
heads and skips their data (no LZW, no VP8); it is total on any bytes, and each step
consumes bytes of the file, so it ends. Run in the media box, as every read of
untrusted bytes is.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ferryman.media import apng

_GIF = (b"GIF87a", b"GIF89a")
_RIFF = b"RIFF"
_WEBP = b"WEBP"
_PNG = b"\x89PNG\r\n\x1a\n"
_MAX_WEBP_CHUNKS = 10_000_000  # bounds a crafted file of empty chunks

# Pixels composed (frames x canvas) over which an animation is not converted: 1 G is 480
# frames of 1920x1080. The converter composes 4 to 8 MP a second on a busy 2-core
# machine (``docs/media.md``): within it, a few minutes at most.
MAX_ANIMATION_PIXELS = 1_000_000_000
# A conversion's deadline: a floor for starting and finishing, plus every pixel it must
# make at a slow phone's pace, never more than ``convert.timeout_seconds``.
DEADLINE_FLOOR = 60.0
SLOW_PIXELS_PER_SECOND = 1_000_000
_FRAME_RATE = 30.0  # a video's when its probe did not say


@dataclass(frozen=True, slots=True)
class Shape:
    """An animation's frames and canvas (the largest any frame reaches)."""

    frames: int
    width: int
    height: int

    @property
    def pixels(self) -> int:
        """Pixels composed to convert it: every frame on the whole canvas."""
        return self.frames * self.width * self.height


def shape_of(path: Path) -> Shape | None:
    """The animation ``path`` holds (a GIF, an APNG, an animated WebP); None when it is
    none of these, or a single picture."""
    with path.open("rb") as file:
        head = file.read(12)
        file.seek(0)
        if head[:6] in _GIF:
            found = _gif(file)
        elif head[:8] == _PNG:
            found = _png(file)
        elif head[:4] == _RIFF and head[8:12] == _WEBP:
            found = _webp(file)
        else:
            return None
    return found if found is not None and found.frames > 1 else None


def _gif(file: BinaryIO) -> Shape | None:
    """A GIF's image descriptors counted and its canvas grown by each (as Pillow does),
    extensions and image data skipped block by block."""
    screen = file.read(13)
    if len(screen) < 13:
        return None
    width, height, packed = struct.unpack_from("<HHB", screen, 6)
    if packed & 0x80:
        file.seek(3 << ((packed & 7) + 1), 1)  # the global colour table
    frames = 0
    while introducer := file.read(1):
        if introducer == b"\x2c":  # an image
            descriptor = file.read(9)
            if len(descriptor) < 9:
                break
            x, y, w, h, local = struct.unpack("<HHHHB", descriptor)
            width, height = max(width, x + w), max(height, y + h)
            if local & 0x80:
                file.seek(3 << ((local & 7) + 1), 1)
            if not file.read(1):  # the LZW code size
                break
            frames += 1
            if not _skip_blocks(file):
                break
        elif introducer == b"\x21":  # an extension: its label, then its blocks
            if not file.read(1) or not _skip_blocks(file):
                break
        else:  # the trailer (0x3B), or bytes that are no GIF block
            break
    return Shape(frames, width, height)


def _skip_blocks(file: BinaryIO) -> bool:
    """Past a run of data sub-blocks and its terminator; False when the file ends first."""
    while size := file.read(1):
        if size == b"\x00":
            return True
        file.seek(size[0], 1)
    return False


def _png(file: BinaryIO) -> Shape | None:
    """An APNG's frames as Pillow plays them (only a playable one is an animation:
    ``media.apng``), on its canvas."""
    if not apng.playable(file):
        return None
    file.seek(0)
    return Shape(*apng.frames_and_canvas(file))


def _webp(file: BinaryIO) -> Shape | None:
    """An animated WebP's ``ANMF`` chunks counted, on the ``VP8X`` canvas."""
    file.seek(12)
    frames, width, height = 0, 0, 0
    for fourcc, body in _riff_chunks(file):
        if fourcc == b"VP8X" and len(body) >= 10:
            width = 1 + int.from_bytes(body[4:7], "little")
            height = 1 + int.from_bytes(body[7:10], "little")
        elif fourcc == b"ANMF":
            frames += 1
    return Shape(frames, width, height)


def _riff_chunks(file: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(fourcc, its first 16 bytes) of each chunk; the rest skipped (padded to even)."""
    for _ in range(_MAX_WEBP_CHUNKS):
        head = file.read(8)
        if len(head) < 8:
            return
        fourcc, length = struct.unpack("<4sI", head)
        body = file.read(min(length, 16))
        yield fourcc, body
        file.seek(length + (length & 1) - len(body), 1)


def over_budget(shape: Shape, name: str, max_pixels: int = MAX_ANIMATION_PIXELS) -> str | None:
    """Why ``shape`` is not converted (it composes over ``max_pixels``), or None."""
    if shape.pixels <= max_pixels:
        return None
    return (
        f"{name}: {shape.frames} frames on a {shape.width}x{shape.height} canvas are"
        f" {shape.pixels} pixels to compose, over the budget of {max_pixels}"
    )


def deadline(
    ceiling: float,
    *,
    width: int | None,
    height: int | None,
    frames: int | None = None,
    duration: float | None = None,
    frame_rate: float | None = None,
) -> float:
    """Seconds one conversion may hold its slot: ``DEADLINE_FLOOR`` plus the pixels it
    makes (an animation's frames, a video's duration x frame rate, on its picture) at
    ``SLOW_PIXELS_PER_SECOND``; at most ``ceiling`` (``convert.timeout_seconds``), which
    is also what a file of unknown size gets. Sound alone gets a second of budget for
    each second it lasts."""
    area = (width or 0) * (height or 0)
    if frames is not None and area:
        pixels = float(frames * area)
    elif duration is not None and duration > 0 and area:
        pixels = duration * (frame_rate or _FRAME_RATE) * area
    elif duration is not None and duration > 0:  # sound: a second's budget a second
        pixels = duration * SLOW_PIXELS_PER_SECOND
    else:
        return ceiling
    return min(ceiling, DEADLINE_FLOOR + pixels / SLOW_PIXELS_PER_SECOND)
