"""The picture formats Pillow opens here, and what to say when it cannot open one.

Pillow's own readers, pillow-heif's (HEIC/HEIF) and, where it is installed, the JPEG
XL plugin's, registered in every process that opens a picture (a child starts without
its parent's). When a file still does not open, the reason is found here where one is
more true than "unreadable": a header claiming a picture over the limits (a document,
whatever the format), a format nothing installed decodes.
"""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

from PIL import Image

from ferryman.errors import FerrymanError
from ferryman.media.heif_boxes import parse_header, read_header


@functools.cache
def ensure_openers() -> None:
    """Let ``Image.open`` read HEIC/HEIF (iPhone photos), and JPEG XL where its plugin
    is installed (``jpeg_xl_decoder``); registered once per process, in every process
    that opens a picture (a child starts without its parent's)."""
    import pillow_heif  # lazy: a run of plain JPEGs never needs it

    pillow_heif.register_heif_opener()
    jpeg_xl_decoder()


@functools.cache
def jpeg_xl_decoder() -> bool:
    """Whether JPEG XL pictures can be decoded here: the maintained Pillow plugin
    ``pillow-jxl-plugin`` (libjxl through Rust bindings; the ``jxl`` extra) registers
    itself with Pillow when imported. It is optional: it is GPL-3.0 (ferryman is MIT)
    and has no wheel for Android (Termux would build libjxl from source)."""
    try:
        importlib.import_module("pillow_jxl")
    except ImportError:
        return False
    return True


_JPEG_XL = (b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")  # codestream, container


def check_decoder(path: Path, data: bytes | None) -> None:
    """A JPEG XL picture where nothing decodes JPEG XL: ``media.no_decoder``, the true
    reason, rather than "unreadable"."""
    if data is None:
        with path.open("rb") as f:
            data = f.read(len(_JPEG_XL[1]))
    if data.startswith(_JPEG_XL) and not jpeg_xl_decoder():
        raise FerrymanError(
            "media.no_decoder",
            f"{path.name}: a JPEG XL picture, and no JPEG XL decoder is installed"
            " (pip install 'ferryman[jxl]')",
        )


def check_claimed_size(path: Path, data: bytes | None = None) -> None:
    """A HEIF/AVIF its decoder refused: ``media.too_many_pixels`` when its header claims
    an image over Pillow's decompression-bomb limit (libavif stops at 16384 x 16384,
    before Pillow can say so), so it goes as a document like any picture over the
    limits; else nothing (the caller's error stands)."""
    header = parse_header(data) if data is not None else read_header(path)
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)  # where Pillow raises DecompressionBombError
    for width, height in header.sizes:
        if limit and width * height > limit:
            raise FerrymanError(
                "media.too_many_pixels",
                f"{path.name}: {width}x{height} is {width * height} pixels,"
                f" over the limit of {limit}",
            )


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def named(exc: BaseException, path: Path) -> str:
    """``exc`` as text naming the file, never a Python object: Pillow names what it was
    handed, and a picture probed from memory is handed as ``<_io.BytesIO object …>``."""
    return _OBJECT_REPR.sub(repr(path.name), str(exc))
