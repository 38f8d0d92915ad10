"""What a picture costs in memory once decoded, counted from its header before any pixel
is: width x height x channels x bytes per sample (16-bit counted as 2). A pixel count
alone let a 1 MB 16-bit RGBA PNG of 149 MP take 2.2 GB on a 3 GB phone: the bytes are
what a phone runs out of. A JPEG is decoded reduced (its DCT scales 1/2 to 1/8: draft
mode) when the fit shrinks it anyway, and its budget is counted at that size; other
formats decode whole, so one over the budget is never decoded (it goes as a document).
"""

from __future__ import annotations

from PIL import Image

from ferryman.errors import FerrymanError

# The default of ``media.max_image_bytes``: a picture within it peaks at about 0.65 GB
# of RSS while it is fitted to a photo (docs/media.md, "Memory per picture"; measured by
# `bench memory`), a third of what a 3 GB phone leaves an app.
DEFAULT_MAX_IMAGE_BYTES = 256 * 1024 * 1024
_REDUCIBLE = frozenset({"JPEG", "MPO"})  # MPO: a camera's JPEG with its extra views
_MODE_SAMPLE_BYTES = {"I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2, "I": 4, "F": 4}


def sample_bytes(image: Image.Image) -> int:
    """Bytes per sample as stored: Pillow shows a 16-bit RGB(A) PNG or TIFF as 8-bit
    ``RGB(A)``, so the decoder's raw mode (``RGBA;16B``) says what the file holds."""
    size = _MODE_SAMPLE_BYTES.get(image.mode, 1)
    for tile in getattr(image, "tile", None) or ():
        args = tile.args
        raw = args if isinstance(args, str) else next(iter(args or ()), "")
        if isinstance(raw, str) and (";16" in raw or raw.startswith("I;16")):
            size = max(size, 2)
        elif isinstance(raw, str) and (";32" in raw or raw.startswith("F")):
            size = max(size, 4)
        elif tile.codec_name == "ppm" and _ppm_max(args) > 255:  # a PPM's maxval
            size = max(size, 2)
    return size


def _ppm_max(args: object) -> int:
    value = args[1] if isinstance(args, tuple) and len(args) > 1 else 0
    return value if isinstance(value, int) else 0


def decoded_bytes(image: Image.Image) -> int:
    """The picture's samples at the size it will be decoded (after ``reduce_for``)."""
    width, height = image.size
    return width * height * len(image.getbands()) * sample_bytes(image)


def check_budget(image: Image.Image, name: str, max_bytes: int) -> None:
    """Raise ``media.over_budget`` when decoding ``image`` (opened, not loaded) would
    take more than ``max_bytes``; call it before ``load``."""
    cost = decoded_bytes(image)
    if cost > max_bytes:
        width, height = image.size
        bands, bits = len(image.getbands()), 8 * sample_bytes(image)
        raise FerrymanError(
            "media.over_budget",
            f"{name}: {width}x{height}, {bands} channel{'s' * (bands != 1)} of {bits} bits"
            f" is {cost} bytes decoded, over the budget of {max_bytes}",
        )


def reduce_for(image: Image.Image, size: tuple[int, int]) -> bool:
    """Have a JPEG (opened, not loaded) decode at the smallest DCT scale still at least
    ``size``; whether it will be decoded smaller than stored. Others are left whole."""
    if image.format not in _REDUCIBLE or size == image.size:
        return False
    stored = image.size
    image.draft(image.mode, size)
    return image.size != stored
