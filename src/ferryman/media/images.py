"""Turn any picture into a JPEG that Telegram shows as a photo, changing no more than needed.

Telegram re-encodes every photo anyway, so the output is always a baseline JPEG: it is
what fits the byte limit. The pixels are made upright (EXIF orientation), 8-bit and
opaque (CMYK through its ICC profile, 16-bit rescaled rather than clipped, alpha laid on
white). Then the picture is fitted cheapest first: scaled to the side-sum limit, then
the highest JPEG quality that fits the byte limit (binary search), and only when even
the lowest quality is too big, the largest scale that fits (binary search again).
"""

from __future__ import annotations

import io
import math
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from PIL.Image import ImagePointTransform

from ferryman.errors import FerrymanError
from ferryman.media.budget import DEFAULT_MAX_IMAGE_BYTES, check_budget, reduce_for
from ferryman.media.openers import ensure_openers, named
from ferryman.media.policy import PhotoLimits

DEFAULT_MAX_PIXELS = 200_000_000  # decompression-bomb guard, overridable per call

SCALE_QUALITY = 85  # the fixed quality of scale fitting (capped by start_quality)
_SCALE_PRECISION = 1.02  # scale fitting stops within 2% of the largest scale that fits
_ORIENTATION = 0x0112
_MAX_EXIF_BYTES = 65_000  # one JPEG APP1 segment; a bigger EXIF is dropped, not split
_WHITE = (255, 255, 255)
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    RuntimeError,  # pillow-heif: libheif failures
    struct.error,
)
_CONVERT_ERRORS = (OSError, ValueError, ImageCms.PyCMSError)


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What was written to ``path`` and what it took (for the job report)."""

    path: Path
    width: int
    height: int
    size: int  # bytes written
    format: str  # "JPEG"
    quality: int  # the JPEG quality used
    scale: float  # 1.0 when not scaled
    trials: int  # how many encodes the fitting needed
    actions: tuple[str, ...]  # what was done, e.g. ("exif_rotate", "to_jpeg", "fit_quality")


def check_pixels(
    path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, *, canvas_bytes: int | None = None
) -> tuple[int, int]:
    """Width and height as stored, read from the header only: no pixel is decoded.

    Raises ``media.too_many_pixels`` when any image in the file (every frame of a HEIF)
    claims more than ``max_pixels``, or when it is over Pillow's own hard limit, and
    ``media.unreadable`` when the file is not a picture Pillow can open.
    ``canvas_bytes``: an animation's budget, its canvas counted as RGBA (the frames are
    composed so): ``media.over_budget`` over it.
    """
    ensure_openers()
    try:
        with Image.open(path) as image:
            size, fmt = image.size, image.format
        sizes = _heif_sizes(path) if fmt == "HEIF" else [size]
        if fmt == "GIF":
            sizes.append(gif_canvas(path))
    except Image.DecompressionBombError as exc:
        raise FerrymanError("media.too_many_pixels", f"{path.name}: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise _unreadable(path, exc) from exc
    for width, height in sizes:
        if width * height > max_pixels:
            raise FerrymanError(
                "media.too_many_pixels",
                f"{path.name}: {width}x{height} is {width * height} pixels,"
                f" over the limit of {max_pixels}",
            )
        if canvas_bytes is not None and width * height * 4 > canvas_bytes:
            raise FerrymanError(
                "media.over_budget",
                f"{path.name}: a {width}x{height} canvas of RGBA frames is"
                f" {width * height * 4} bytes decoded, over the budget of {canvas_bytes}",
            )
    return size


def fit_photo(
    src: Path,
    dst: Path,
    limits: PhotoLimits,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    start_quality: int = 90,
    min_quality: int = 60,
    page: int | None = None,
) -> ImageResult:
    """Write ``src`` (its page ``page``: a scan's TIFF, a HEIF's image in file order;
    None: the picture as it opens, a HEIF's primary image) to ``dst`` as a JPEG within
    ``limits``; see the module docstring.

    ``max_bytes``: the decode's budget (``media.budget``), after a JPEG's reduction.
    Raises ``media.too_many_pixels`` and ``media.over_budget`` (checked before
    decoding), ``media.over_limit``
    (an aspect ratio no scaling fixes, or a byte limit not even a tiny picture meets),
    ``media.unreadable`` and ``media.convert_failed``; a partial ``dst`` is removed.
    """
    if not 1 <= min_quality <= start_quality <= 100:
        raise ValueError(f"need 1 <= min_quality <= start_quality <= 100, got {min_quality}")
    if dst.resolve() == src.resolve():  # a failure removes dst: it must never be the source
        raise ValueError(f"{src.name}: the output must not overwrite the source")
    try:
        return _fit_photo(
            src, dst, limits, (max_pixels, max_bytes), start_quality, min_quality, page
        )
    except BaseException:
        dst.unlink(missing_ok=True)
        raise


def _fit_photo(
    src: Path,
    dst: Path,
    limits: PhotoLimits,
    budget: tuple[int, int],  # pixels, bytes
    start_quality: int,
    min_quality: int,
    page: int | None,
) -> ImageResult:
    check_pixels(src, budget[0])
    with _open(src) as opened:
        if page is not None and page != opened.tell():
            _seek(opened, page, src)
        width, height = opened.size  # this page's: a burst's images may differ
        if not limits.aspect_ok(width, height):  # a 30:1 strip stays 30:1 at any size
            raise FerrymanError(
                "media.over_limit",
                f"{src.name}: {width}x{height} is longer than {limits.max_aspect:g}:1;"
                " no scaling fixes that, send it as a document",
            )
        reduced = reduce_for(opened, _side_target(opened.size, limits.max_side_sum))
        check_budget(opened, src.name, budget[1])
        image, encoder, actions = _prepare(opened, src)
        if image is not opened:
            opened.close()  # its pixels go now, not at the end: one copy fewer at the peak
        source_side = max(width, height)
        target = _side_target(image.size, limits.max_side_sum)
        if target != image.size:
            image = _resize(image, target)
        if reduced or max(image.size) < source_side:
            actions.append("fit_sides")
        fitted = _fit_bytes(image, encoder, limits.max_bytes, start_quality, min_quality, src)
    if fitted.quality < start_quality and fitted.size == image.size:
        actions.append("fit_quality")
    elif fitted.size != image.size:
        actions.append("fit_scale")
    _write(dst, fitted.data, src)
    return ImageResult(
        path=dst,
        width=fitted.size[0],
        height=fitted.size[1],
        size=len(fitted.data),
        format="JPEG",
        quality=fitted.quality,
        scale=max(fitted.size) / source_side,
        trials=encoder.trials,
        actions=tuple(actions),
    )


def _open(src: Path) -> Image.Image:
    ensure_openers()
    try:
        return Image.open(src)
    except Image.DecompressionBombError as exc:
        raise FerrymanError("media.too_many_pixels", f"{src.name}: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise _unreadable(src, exc) from exc


def _seek(opened: Image.Image, page: int, src: Path) -> None:
    """To another page of a multipage picture (a scan's TIFF, a HEIF burst's image)."""
    try:
        opened.seek(page)
    except _DECODE_ERRORS as exc:
        raise _unreadable(src, exc) from exc


def _prepare(opened: Image.Image, src: Path) -> tuple[Image.Image, _Encoder, list[str]]:
    """Decode ``opened`` upright, then make it an 8-bit opaque RGB or L picture."""
    actions = [] if opened.format in ("JPEG", "MPO") else ["to_jpeg"]  # MPO: camera JPEG
    try:
        opened.load()  # the first frame only (GIF, animated WebP, TIFF pages)
        if opened.getexif().get(_ORIENTATION, 1) != 1:
            ImageOps.exif_transpose(opened, in_place=True)  # also drops the tag
            actions.append("exif_rotate")
        exif = _exif_bytes(opened)
    except Image.DecompressionBombError as exc:
        raise FerrymanError("media.too_many_pixels", f"{src.name}: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise _unreadable(src, exc) from exc
    icc = opened.info.get("icc_profile") or None
    try:
        image, done = _to_photo_mode(opened, icc)
    except _CONVERT_ERRORS as exc:
        raise FerrymanError(
            "media.convert_failed", f"{src.name}: cannot convert mode {opened.mode} ({exc})"
        ) from exc
    actions.extend(done)
    if "cmyk_to_rgb" in done or not _profile_matches(icc, image.mode):
        icc = None  # converted to sRGB (JPEG's default), or a profile of another colour space
    return image, _Encoder(src, icc, exif), actions


def _to_photo_mode(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, list[str]]:
    """``image`` as RGB or L, 8 bits, no alpha; and the conversions that took."""
    done: list[str] = []
    if image.mode == "CMYK":
        image = _cmyk_to_rgb(image, icc)
        done.append("cmyk_to_rgb")
    elif image.mode.startswith("I") or image.mode == "F":
        image = _to_8bit(image)
        done.append("16bit_to_8bit")
    if image.has_transparency_data:
        image = _flatten(image)
        done.append("alpha_flattened")
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("RGB", "L"):  # P, YCbCr, HSV, LAB…
        done.append(f"{image.mode.lower()}_to_rgb")
        image = image.convert("RGB")
    return image, done


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Through the embedded profile when there is a usable one: ink is device-specific."""
    if icc is not None:
        try:
            converted = ImageCms.profileToProfile(
                image,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # a broken or non-CMYK profile: the plain formula still works
        if converted is not None:
            return converted
    return image.convert("RGB")


def _to_8bit(image: Image.Image) -> Image.Image:
    """Rescale 16-bit (or 32-bit int, float) samples to 0..255; Pillow's convert clips."""
    if image.mode.startswith("I;16"):
        low, high = 0.0, 65535.0
        image = image.convert("I")
    else:
        low, high = _value_range(image)
    scale = 255.0 / (high - low) if high > low else 1.0

    def transform(value: ImagePointTransform) -> ImagePointTransform:
        return value * scale - low * scale

    result = image.point(transform).convert("L")
    result.info.pop("transparency", None)  # a 16-bit transparent value means nothing now
    return result


def _value_range(image: Image.Image) -> tuple[float, float]:
    """The range that maps to 0..255: the full 8- or 16-bit range when the data fits it."""
    low, high = cast(tuple[float, float], image.getextrema())  # single band: I or F
    tops = (1.0, 255.0, 65535.0) if image.mode == "F" else (255.0, 65535.0)
    top = next((top for top in tops if high <= top), None)
    if low >= 0 and top is not None:
        return 0.0, top
    return float(low), float(high)  # anything else: stretch what is there


def _flatten(image: Image.Image) -> Image.Image:
    """Lay ``image`` on white, as a viewer without transparency would show it."""
    gray = image.mode in ("L", "LA", "La")
    mode = "LA" if gray else "RGBA"
    with_alpha = image if image.mode == mode else image.convert(mode)  # no copy: memory
    flat = Image.new("L" if gray else "RGB", image.size, 255 if gray else _WHITE)
    flat.paste(with_alpha, mask=with_alpha.getchannel("A"))
    return flat


def _profile_matches(icc: bytes | None, mode: str) -> bool:
    """Whether an ICC profile describes pixels of ``mode`` (its header names the space)."""
    if icc is None:
        return True
    return icc[16:20] == {"RGB": b"RGB ", "L": b"GRAY"}.get(mode)


def _exif_bytes(image: Image.Image) -> bytes | None:
    """The source EXIF without orientation, when it fits one JPEG segment; else none."""
    try:
        exif = image.getexif()
        exif.pop(_ORIENTATION, None)
        data = exif.tobytes() if len(exif) else b""
    except (ValueError, TypeError, KeyError, struct.error, OSError):
        return None  # odd EXIF is not worth failing a photo for
    return data if 0 < len(data) <= _MAX_EXIF_BYTES else None


class _Encoder:
    """Encodes trials in memory with the same options, and counts them."""

    def __init__(self, src: Path, icc: bytes | None, exif: bytes | None) -> None:
        self.src = src
        self.options: dict[str, bytes] = {}
        if icc:
            self.options["icc_profile"] = icc
        if exif:
            self.options["exif"] = exif
        self.trials = 0

    def encode(self, image: Image.Image, quality: int) -> bytes:
        self.trials += 1
        buffer = io.BytesIO()
        try:
            image.save(buffer, "JPEG", quality=quality, **self.options)
        except (OSError, ValueError) as exc:
            raise FerrymanError(
                "media.convert_failed", f"{self.src.name}: JPEG encoding failed ({exc})"
            ) from exc
        return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class _Fitted:
    data: bytes
    quality: int
    size: tuple[int, int]


def _fit_bytes(
    image: Image.Image,
    encoder: _Encoder,
    max_bytes: int | None,
    start_quality: int,
    min_quality: int,
    src: Path,
) -> _Fitted:
    """The highest quality that fits at full size; else the largest scale that fits."""
    data = encoder.encode(image, start_quality)
    if max_bytes is None or len(data) <= max_bytes:
        return _Fitted(data, start_quality, image.size)
    best: _Fitted | None = None
    smallest = len(data)  # ends as the size at min_quality when nothing fits
    low, high = min_quality, start_quality - 1
    while low <= high:  # sizes grow with quality: find the last quality that fits
        quality = (low + high) // 2
        data = encoder.encode(image, quality)
        if len(data) <= max_bytes:
            best, low = _Fitted(data, quality, image.size), quality + 1
        else:
            smallest, high = len(data), quality - 1
    if best is not None:
        return best
    quality = max(min_quality, min(start_quality, SCALE_QUALITY))
    return _fit_scale(image, encoder, max_bytes, quality, smallest, src)


def _fit_scale(
    image: Image.Image, encoder: _Encoder, max_bytes: int, quality: int, over: int, src: Path
) -> _Fitted:
    """The largest scale (within 2%) at which ``image`` fits ``max_bytes`` at ``quality``.

    A binary search in log scale between a scale that fits and one that does not; the
    first bracket comes from bytes growing with the pixel count, so the search starts
    close to the answer rather than at one half.
    """
    fits: tuple[float, _Fitted] | None = None
    too_big, scale = 1.0, _shrink(1.0, over, max_bytes)
    while True:
        size = _scaled(image.size, scale)
        data = encoder.encode(_resize(image, size), quality)
        if len(data) <= max_bytes:
            fits = scale, _Fitted(data, quality, size)
        else:
            too_big = scale
        if fits is None:
            if min(size) <= 1:
                raise FerrymanError(
                    "media.over_limit",
                    f"{src.name}: does not fit in {max_bytes} bytes even at {size[0]}x{size[1]}",
                )
            scale = _shrink(scale, len(data), max_bytes)
        elif too_big / fits[0] <= _SCALE_PRECISION or (
            max(_scaled(image.size, too_big)) - max(fits[1].size) <= 1
        ):
            return fits[1]
        else:
            scale = math.sqrt(fits[0] * too_big)


def _shrink(scale: float, size: int, max_bytes: int) -> float:
    """A smaller scale that likely fits: bytes follow the pixel count (scale squared)."""
    return scale * min(0.9, 0.95 * math.sqrt(max_bytes / size))


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _side_target(size: tuple[int, int], max_side_sum: int | None) -> tuple[int, int]:
    """``size`` scaled down so width + height is exactly ``max_side_sum`` (aspect kept)."""
    width, height = size
    if max_side_sum is None or width + height <= max_side_sum:
        return size
    new_width, new_height = _scaled(size, max_side_sum / (width + height))
    if new_width + new_height > max_side_sum:  # rounding both up overshoots by one
        if new_width >= new_height:
            new_width -= 1
        else:
            new_height -= 1
    return new_width, new_height


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    # reducing_gap: a fast integer reduce first, indistinguishable from plain LANCZOS
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _write(dst: Path, data: bytes, src: Path) -> None:
    try:
        dst.write_bytes(data)
    except OSError as exc:
        raise FerrymanError(
            "media.convert_failed", f"{src.name}: cannot write {dst} ({exc})"
        ) from exc


def gif_canvas(path: Path) -> tuple[int, int]:
    """The canvas a GIF needs to show every frame: its screen, grown to each frame's
    extent (Pillow grows it the same way when it reaches that frame), from the block
    structure alone. Frame extents far outside a small screen are how a few-hundred-byte
    GIF claims gigapixels, and the frame that claims them may come last."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end = len(data)
        if end < 13:
            return 0, 0
        width, height = struct.unpack_from("<HH", data, 6)
        pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
        while pos < end:
            block = data[pos]
            if block == 0x2C and pos + 10 <= end:  # image descriptor
                left, top, w, h, flags = struct.unpack_from("<HHHHB", data, pos + 1)
                width, height = max(width, left + w), max(height, top + h)
                pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            elif block == 0x21:  # extension: introducer and label, then sub-blocks
                pos += 2
            else:  # the trailer, or garbage: Pillow stops there too
                break
            while pos < end and data[pos]:  # sub-blocks, up to the empty one
                pos += 1 + data[pos]
            pos += 1
    return width, height


def _heif_sizes(path: Path) -> list[tuple[int, int]]:
    """The size of every top-level image of a HEIF, without decoding any."""
    heif = pillow_heif.open_heif(path)
    return [(int(image.size[0]), int(image.size[1])) for image in heif]


def _unreadable(path: Path, exc: BaseException) -> FerrymanError:
    return FerrymanError(
        "media.unreadable", f"{path.name}: not a readable picture ({named(exc, path)})"
    )
