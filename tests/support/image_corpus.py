"""Odd pictures, as the world makes them, written here with Pillow, pillow-heif and bytes.

Every sample is made by a real writer (Pillow's own encoders, pillow-heif's libheif) and
then, where the world's files are odd, changed the way broken writers change them: a GIF
without any palette, frame extents far outside the screen, an MPO whose index points
nowhere, a file cut short. The oracle is Pillow itself: ``pillow_decodes`` opens a file
and decodes every frame, with truncated images refused (Pillow's default).

Shared by ``tests/media/test_image_conformance.py`` (the engine over the whole corpus) and
``bench/conformance_images.py`` (the per-format table).
"""

from __future__ import annotations

import io
import random
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image, ImageDraw, ImageFile, ImageSequence

SIZE = (96, 64)


@dataclass(frozen=True, slots=True)
class Sample:
    """One corpus file: the format it is counted under, its name, and how it is made."""

    fmt: str
    name: str
    make: Callable[[], bytes]
    expect: str | None = None  # "photo", "animation" or "document": how it must arrive


# --------------------------------------------------------------------------- pictures


def picture(size: tuple[int, int] = SIZE, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """Gradients and a shape: compressible like a photo, with a clear up and left."""
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.linear_gradient("L").rotate(90).resize(size)
    blue = Image.new("L", size, (seed * 40) % 256)
    image = Image.merge("RGB", (red, green, blue))
    box = (width // 8, height // 8, max(width // 8, width // 3), max(height // 8, height // 2))
    ImageDraw.Draw(image).rectangle(box, fill=(255, 220, 0))
    return image.convert(mode) if mode != "RGB" else image


def with_alpha(size: tuple[int, int] = SIZE) -> Image.Image:
    image = picture(size).convert("RGBA")
    alpha = Image.linear_gradient("L").rotate(45).resize(size)
    image.putalpha(alpha)
    return image


def noise(size: tuple[int, int], seed: int = 1) -> Image.Image:
    data = random.Random(seed).randbytes(size[0] * size[1] * 3)
    return Image.frombytes("RGB", size, data)


def save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def frames(count: int, size: tuple[int, int] = SIZE, mode: str = "RGB") -> list[Image.Image]:
    out = []
    for index in range(count):
        image = picture(size, seed=index)
        x = (index * 11) % size[0]
        ImageDraw.Draw(image).ellipse((x, 4, x + 12, 16), fill=(200, 0, 200))
        out.append(image.convert(mode) if mode != "RGB" else image)
    return out


def animated(fmt: str, count: int = 4, mode: str = "RGB", **options: object) -> bytes:
    images = frames(count, mode=mode)
    extra: dict[str, object] = {"duration": 80, "loop": 0}
    extra.update(options)
    return save(images[0], fmt, save_all=True, append_images=images[1:], **extra)


def exif(orientation: int) -> Image.Exif:
    data = Image.Exif()
    data[0x0112] = orientation
    data[0x010F] = "corpus camera"  # Make: some EXIF besides the orientation
    return data


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: max(16, int(len(data) * keep))]


# --------------------------------------------------------------------------- raw writers


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def raw_png(size: tuple[int, int], colour_type: int, depth: int, samples: int) -> bytes:
    """A PNG Pillow cannot write itself (16-bit RGB/RGBA): smooth ramps per channel."""
    width, height = size
    top = (1 << depth) - 1
    fmt = ">H" if depth == 16 else ">B"
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            for channel in range(samples):
                value = [x * top // max(1, width - 1), y * top // max(1, height - 1)]
                value.append(top // 2)
                value.append(top - x * top // max(1, width - 1))
                rows += struct.pack(fmt, value[channel % 4])
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    body = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(bytes(rows)))
    return b"\x89PNG\r\n\x1a\n" + body + png_chunk(b"IEND", b"")


def tiff_without_second_width() -> bytes:
    """A two-page TIFF made by Pillow whose second page's ImageWidth tag was renamed:
    the first page reads, counting the pages raises ``TypeError: Missing dimensions``
    (it once failed a whole folder of pictures)."""
    buf = io.BytesIO()
    first = Image.new("RGB", (64, 48), (200, 10, 10))
    first.save(buf, "TIFF", save_all=True, append_images=[Image.new("RGB", (64, 48))])
    data = bytearray(buf.getvalue())
    assert data[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, ifd)[0]
    second = struct.unpack_from("<I", data, ifd + 2 + 12 * count)[0]
    for i in range(struct.unpack_from("<H", data, second)[0]):
        at = second + 2 + 12 * i
        if struct.unpack_from("<H", data, at)[0] == 256:  # ImageWidth
            struct.pack_into("<H", data, at, 0xFDE8)  # a private tag nobody reads
            return bytes(data)
    raise AssertionError("no ImageWidth tag in the second page")


def deep_png(path: Path, width: int, height: int, *, depth: int = 16, samples: int = 4) -> Path:
    """A real, complete PNG of ``width`` x ``height`` (16-bit RGBA by default) that is
    small on disk and quick to write however many pixels: one row of a ramp, then every
    other row filtered "Up" (all zeros: the same row again). The deflate stream is made
    of one compressed block of zero rows written over and over (a full flush makes each
    copy independent of what came before), so 149 MP take a second, not zlib's ten."""
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[samples]
    step = depth // 8
    first = bytearray(b"\x00")
    for x in range(width):
        value = (x * 251) % (1 << depth)
        first += value.to_bytes(step, "big") * (samples - 1)
        first += ((1 << depth) * 3 // 4).to_bytes(step, "big") if samples in (2, 4) else b""
        if samples not in (2, 4):
            first += value.to_bytes(step, "big")
    zero = b"\x02" + bytes(width * samples * step)
    block_rows = 64
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = head.compress(bytes(first)) + head.flush(zlib.Z_FULL_FLUSH)
    blocks = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = blocks.compress(zero * block_rows) + blocks.flush(zlib.Z_FULL_FLUSH)
    rest = zlib.compressobj(9, zlib.DEFLATED, -15)
    left = (height - 1) % block_rows
    tail = rest.compress(zero * left) + rest.flush(zlib.Z_FINISH)
    check = zlib.adler32(bytes(first))
    for _ in range(height - 1):
        check = zlib.adler32(zero, check)
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header))
        out.write(png_chunk(b"IDAT", b"\x78\xda" + start))
        for _ in range((height - 1) // block_rows):
            out.write(png_chunk(b"IDAT", block))
        out.write(png_chunk(b"IDAT", tail + check.to_bytes(4, "big")))
        out.write(png_chunk(b"IEND", b""))
    return path


def png_bomb(side: int = 30_000) -> bytes:
    """A PNG header claiming side x side pixels, with no data: a decompression bomb."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b"")


def png_bad_crc() -> bytes:
    data = bytearray(save(picture(), "PNG"))
    idat = data.find(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    data[idat + 4 + length] ^= 0xFF  # the IDAT CRC
    return bytes(data)


def raw_tiff_rgb16(size: tuple[int, int] = SIZE) -> bytes:
    """An uncompressed 16-bit RGB TIFF (scanners write these; Pillow writes none)."""
    width, height = size
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            pixels += struct.pack(
                "<HHH", x * 65535 // (width - 1), y * 65535 // (height - 1), 30000
            )
    entries = [
        (256, 3, 1, width),  # ImageWidth
        (257, 3, 1, height),  # ImageLength
        (258, 3, 3, 0),  # BitsPerSample: offset patched below
        (259, 3, 1, 1),  # no compression
        (262, 3, 1, 2),  # RGB
        (273, 4, 1, 0),  # StripOffsets: patched
        (277, 3, 1, 3),  # SamplesPerPixel
        (278, 3, 1, height),  # RowsPerStrip
        (279, 4, 1, len(pixels)),  # StripByteCounts
        (284, 3, 1, 1),  # contiguous
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    bits_at = 8 + ifd_size
    data_at = bits_at + 6
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = {258: bits_at, 273: data_at}.get(tag, value)
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<HHH", 16, 16, 16) + pixels


def _gif_blocks(data: bytes) -> tuple[int, int]:
    """Where the global colour table ends and the first image descriptor starts."""
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    after_table = pos
    while data[pos] == 0x21:  # extensions: introducer, label, sub-blocks
        pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
    assert data[pos] == 0x2C, "no image descriptor"
    return after_table, pos


def gif_without_palette(data: bytes) -> bytes:
    """The GIF with its global colour table removed and the flag cleared (no local
    tables either: Pillow writes none when frames share one)."""
    flags = data[10]
    if not flags & 0x80:
        return data
    after_table, _ = _gif_blocks(data)
    return data[:10] + bytes([flags & 0x70]) + data[11:13] + data[after_table:]


def gif_frame_at(data: bytes, left: int, top: int) -> bytes:
    """The first frame moved to (left, top): the canvas Pillow makes grows to hold it."""
    _, descriptor = _gif_blocks(data)
    out = bytearray(data)
    out[descriptor + 1 : descriptor + 5] = struct.pack("<HH", left, top)
    return bytes(out)


def gif_last_frame_at(data: bytes, left: int, top: int) -> bytes:
    """An animated GIF whose last frame (only) is moved to (left, top)."""
    _, descriptor = _gif_blocks(data)
    last = descriptor
    pos = descriptor
    while pos < len(data) and data[pos] != 0x3B:
        if data[pos] == 0x2C:
            last = pos
            flags = data[pos + 9]
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
        else:
            pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
    out = bytearray(data)
    out[last + 1 : last + 5] = struct.pack("<HH", left, top)
    return bytes(out)


def apng_frames(mode: str) -> bytes:
    """An APNG in ``mode`` (16-bit grey, palette, grey with alpha...)."""
    images = []
    for index, image in enumerate(frames(3)):
        if mode == "I;16":
            ramp = image.convert("L").convert("I").point(lambda v, i=index: v * 200 + i)
            images.append(ramp.convert("I;16"))
        elif mode == "P":
            images.append(image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
        else:
            images.append(image.convert(mode))
    return save(images[0], "PNG", save_all=True, append_images=images[1:], duration=90, loop=0)


def png_canvas(data: bytes, width: int, height: int) -> bytes:
    """The PNG (or APNG) with its header claiming another canvas size (CRC kept valid)."""
    start = data.index(b"IHDR")
    header = struct.pack(">II", width, height) + data[start + 12 : start + 17]
    return data[: start - 4] + png_chunk(b"IHDR", header) + data[start + 21 :]


def apng_subframes() -> bytes:
    """Frames that change only a small region: Pillow writes them as offset sub-frames."""
    base = picture((80, 60))
    images = [base]
    for index in range(1, 4):
        image = base.copy()
        ImageDraw.Draw(image).rectangle((10 * index, 20, 10 * index + 8, 28), fill=(0, 0, 255))
        images.append(image)
    return save(images[0], "PNG", save_all=True, append_images=images[1:], duration=70)


def gif87(image: Image.Image) -> bytes:
    data = save(image.convert("P"), "GIF")
    return b"GIF87a" + data[6:]


def mpo(second: bool = True) -> tuple[bytes, int]:
    """A two-view MPO, and where its second image starts."""
    left, right = picture(seed=1), picture(seed=2)
    data = save(left, "MPO", save_all=True, append_images=[right], quality=90)
    with Image.open(io.BytesIO(data)) as image:
        image.seek(1)
        offset = image.offset  # type: ignore[attr-defined]
    return data, offset


def mpo_bad_ifd() -> bytes:
    """The MP index's first IFD offset pointing past the end of its segment."""
    data, _ = mpo()
    start = data.find(b"MPF\x00") + 4
    out = bytearray(data)
    endian = "<" if out[start : start + 2] == b"II" else ">"
    out[start + 4 : start + 8] = struct.pack(f"{endian}I", 0x7FFF_0000)
    return bytes(out)


def mpo_no_second() -> bytes:
    data, offset = mpo()
    return data[:offset]


def bmp_top_down() -> bytes:
    """A BMP stored top row first (negative height), as some writers do."""
    data = bytearray(save(picture(), "BMP"))
    (height,) = struct.unpack_from("<i", data, 22)
    struct.pack_into("<i", data, 22, -height)
    rows = data[54:]
    stride = len(rows) // height
    flipped = b"".join(rows[i * stride : (i + 1) * stride] for i in reversed(range(height)))
    return bytes(data[:54]) + flipped


def sun_raster(size: tuple[int, int] = SIZE) -> bytes:
    """A Sun raster file (24-bit, standard encoding), written by hand: Pillow reads only."""
    width, height = size
    rows = picture(size).tobytes("raw", "BGR")
    header = struct.pack(">8I", 0x59A66A95, width, height, 24, len(rows), 1, 0, 0)
    return header + rows  # width * 3 is even here: no row padding


def psd(size: tuple[int, int] = SIZE) -> bytes:
    """A flat Photoshop file (RGB, raw planes), written by hand: Pillow reads only."""
    width, height = size
    planes = b"".join(band.tobytes() for band in picture(size).split())
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    return header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + planes


def bmp(
    size: tuple[int, int],
    bits: int,
    pixels: bytes,
    *,
    header: int = 40,
    compression: int = 0,
    palette: bytes = b"",
    masks: bytes = b"",
) -> bytes:
    """A BMP with the given DIB header size (12: OS/2 core; 40: v3; 124: v5), bit depth and
    compression, around ``pixels`` already encoded (rows bottom-up, padded to 4 bytes)."""
    width, height = size
    if header == 12:
        dib = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        colours = len(palette) // 4
        dib = struct.pack(
            "<IiiHHIIiiII", header, width, height, 1, bits, compression, len(pixels),
            2835, 2835, colours, 0,
        )  # fmt: skip
        dib += masks
        dib += bytes(header - len(dib))
    offset = 14 + len(dib) + len(palette)
    head = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return head + dib + palette + pixels


def _grey_palette(entry: int = 4) -> bytes:
    return b"".join(bytes((v, v, v, 0)[:entry]) for v in range(256))


def bmp_rle8(size: tuple[int, int] = SIZE) -> bytes:
    """8-bit RLE: each row as runs of equal grey, an end-of-line after each."""
    width, height = size
    grey = picture(size, mode="L").transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes()
    data = bytearray()
    for y in range(height):
        row = grey[y * width : (y + 1) * width]
        x = 0
        while x < width:
            run = 1
            while x + run < width and run < 255 and row[x + run] == row[x]:
                run += 1
            data += bytes((run, row[x]))
            x += run
        data += b"\x00\x00"
    data += b"\x00\x01"
    return bmp(size, 8, bytes(data), compression=1, palette=_grey_palette())


def bmp_565(size: tuple[int, int] = SIZE, header: int = 40) -> bytes:
    """16-bit RGB 5-6-5 with bit-field masks (BI_BITFIELDS), as phones' screenshots had."""
    width, height = size
    image = picture(size).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    rows = bytearray()
    for y in range(height):
        for x in range(width):
            r, g, b = image.getpixel((x, y))  # type: ignore[misc]
            rows += struct.pack("<H", (r >> 3) << 11 | (g >> 2) << 5 | b >> 3)
        rows += bytes(-(width * 2) % 4)
    masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
    if header == 40:  # after a v3 header the masks sit where a palette would
        return bmp(size, 16, bytes(rows), compression=3, palette=masks)
    return bmp(size, 16, bytes(rows), header=header, compression=3, masks=masks)


def bmp_core(size: tuple[int, int] = SIZE) -> bytes:
    """OS/2 1.x: a 12-byte header and a 3-byte-per-entry palette."""
    width, height = size
    grey = picture(size, mode="L").transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes()
    pad = bytes(-width % 4)
    rows = b"".join(grey[y * width : (y + 1) * width] + pad for y in range(height))
    return bmp(size, 8, rows, header=12, palette=_grey_palette(3))


def heif(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, format="HEIF", quality=85, **options)
    return buffer.getvalue()


def pfm(size: tuple[int, int] = SIZE) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("F").point(lambda v: v / 255.0)
    return save(image, "PPM")  # mode F: Pillow writes a PFM ("Pf")


def ppm16(size: tuple[int, int] = SIZE) -> bytes:
    width, height = size
    header = f"P6\n{width} {height}\n65535\n".encode()
    body = b"".join(
        struct.pack(">HHH", x * 65535 // (width - 1), y * 65535 // (height - 1), 20000)
        for y in range(height)
        for x in range(width)
    )
    return header + body


# --------------------------------------------------------------------------- the corpus


def _cmyk() -> Image.Image:
    return picture().convert("CMYK")


def _lab() -> Image.Image:
    from PIL import ImageCms

    srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
    converted = ImageCms.profileToProfile(picture(), srgb, lab, outputMode="LAB")
    assert converted is not None
    return converted


def _deep(mode: str) -> Image.Image:
    ramp = Image.linear_gradient("L").resize(SIZE)
    if mode == "F":
        return ramp.convert("F").point(lambda v: v * 3.5 - 100.0)
    return ramp.point(lambda v: v * 257).convert(mode) if mode == "I" else ramp.convert(mode)


def _i16(fmt: str) -> bytes:
    image = Image.new("I;16", SIZE)
    ramp = Image.linear_gradient("L").resize(SIZE).convert("I").point(lambda v: v * 257)
    image.paste(ramp.convert("I;16"))
    return save(image, fmt)


def _pa() -> bytes:
    image = picture().convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    return save(image, "PNG", transparency=bytes(range(0, 256, 8)))


def _transparent_gif() -> bytes:
    image = picture().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return save(image, "GIF", transparency=0)


def samples() -> list[Sample]:
    """The whole corpus, in a fixed order (names are unique)."""
    s: list[Sample] = []

    def add(fmt: str, name: str, make: Callable[[], bytes], expect: str | None = None) -> None:
        s.append(Sample(fmt, name, make, expect))

    # PNG: every colour type and depth, odd shapes and limits, damage.
    add("png", "rgb.png", lambda: save(picture(), "PNG"))
    add("png", "rgba.png", lambda: save(with_alpha(), "PNG"))
    add("png", "gray.png", lambda: save(picture(mode="L"), "PNG"))
    add("png", "gray_alpha.png", lambda: save(with_alpha().convert("LA"), "PNG"))
    add("png", "palette.png", lambda: save(picture().convert("P"), "PNG"))
    add("png", "palette_alpha.png", _pa, expect="photo")
    add("png", "bilevel.png", lambda: save(picture(mode="1"), "PNG"))
    add("png", "gray16.png", lambda: _i16("PNG"))
    add("png", "rgb16.png", lambda: raw_png(SIZE, 2, 16, 3))
    add("png", "rgba16.png", lambda: raw_png(SIZE, 6, 16, 4))
    add("png", "exif6.png", lambda: save(picture(), "PNG", exif=exif(6)))
    add("png", "tiny_1x1.png", lambda: save(picture((1, 1)), "PNG"))
    add("png", "strip_30to1.png", lambda: save(picture((3000, 100)), "PNG"), expect="document")
    add("png", "strip_20to1.png", lambda: save(picture((2000, 100)), "PNG"), expect="photo")
    add("png", "tall_40to1.png", lambda: save(picture((40, 1600)), "PNG"), expect="document")
    add("png", "line_10001x1.png", lambda: save(picture((10001, 1)), "PNG"), expect="document")
    add("png", "wide_9000x3000.png", lambda: save(picture((9000, 3000)), "PNG"), expect="photo")
    add("png", "bomb_30000.png", png_bomb, expect="document")
    add("png", "bad_crc.png", png_bad_crc)
    add("png", "truncated.png", lambda: truncated(save(noise(SIZE), "PNG")))
    # APNG: animation, blending and disposal, a default image outside the animation.
    add("apng", "anim.png", lambda: animated("PNG"), expect="animation")
    add(
        "apng",
        "anim_alpha.png",
        lambda: animated("PNG", mode="RGBA", disposal=1, blend=1),
        expect="animation",
    )
    add(
        "apng",
        "anim_default_image.png",
        lambda: animated("PNG", default_image=True),
        expect="animation",
    )
    add("apng", "anim_2frames.apng", lambda: animated("PNG", count=2), expect="animation")
    add("apng", "anim_gray16.png", lambda: apng_frames("I;16"), expect="animation")
    add("apng", "anim_palette.png", lambda: apng_frames("P"), expect="animation")
    add("apng", "anim_gray_alpha.png", lambda: apng_frames("LA"), expect="animation")
    add("apng", "anim_subframes.png", apng_subframes, expect="animation")
    add(
        "apng",
        "anim_canvas_over_limit.png",
        lambda: png_canvas(animated("PNG", count=2), 12300, 12300),
        expect="document",
    )
    add("apng", "anim_truncated.png", lambda: truncated(animated("PNG", count=3)))
    # JPEG: encodings, colour spaces, every EXIF orientation, limits, damage.
    add("jpeg", "baseline.jpg", lambda: save(picture(), "JPEG", quality=90))
    add("jpeg", "progressive.jpg", lambda: save(picture(), "JPEG", progressive=True))
    add("jpeg", "gray.jpg", lambda: save(picture(mode="L"), "JPEG"))
    add("jpeg", "cmyk.jpg", lambda: save(_cmyk(), "JPEG"))
    add("jpeg", "subsampling_444.jpg", lambda: save(picture(), "JPEG", subsampling=0))
    for orientation in range(1, 9):
        add(
            "jpeg",
            f"exif{orientation}.jpg",
            lambda o=orientation: save(picture((80, 48)), "JPEG", exif=exif(o)),
            expect="photo",
        )
    add("jpeg", "tiny_1x1.jpg", lambda: save(picture((1, 1)), "JPEG"))
    add(
        "jpeg",
        "over_10mb.jpg",
        lambda: save(noise((2800, 1900)), "JPEG", quality=100),
        expect="photo",
    )
    add("jpeg", "truncated.jpg", lambda: truncated(save(noise(SIZE), "JPEG")))
    # MPO: a stereo pair, an index pointing nowhere, the second view missing.
    add("mpo", "stereo.mpo", lambda: mpo()[0], expect="photo")
    add("mpo", "bad_ifd_offset.jpg", mpo_bad_ifd, expect="photo")
    add("mpo", "no_second_frame.mpo", mpo_no_second, expect="photo")
    add("mpo", "truncated.mpo", lambda: truncated(mpo()[0], 0.3))
    # GIF: palettes (or none), animation, interlace, transparency, huge frame extents.
    add("gif", "static.gif", lambda: save(picture().convert("P"), "GIF"))
    add("gif", "gif87a.gif", lambda: gif87(picture()))
    add("gif", "animated.gif", lambda: animated("GIF"), expect="animation")
    add("gif", "interlaced.gif", lambda: save(picture().convert("P"), "GIF", interlace=True))
    add("gif", "transparent.gif", _transparent_gif)
    add(
        "gif",
        "no_palette.gif",
        lambda: gif_without_palette(save(picture(mode="L"), "GIF")),
        expect="photo",
    )
    add(
        "gif",
        "no_palette_anim.gif",
        lambda: gif_without_palette(animated("GIF", mode="L")),
        expect="animation",
    )
    add("gif", "tiny_1x1.gif", lambda: save(picture((1, 1)).convert("P"), "GIF"))
    add(
        "gif",
        "extent_bomb.gif",
        lambda: gif_frame_at(save(picture((10, 10)).convert("P"), "GIF"), 60000, 60000),
        expect="document",
    )
    add(
        "gif",
        "extent_over_limit.gif",
        lambda: gif_frame_at(save(picture((10, 10)).convert("P"), "GIF"), 12900, 12900),
        expect="document",
    )
    add(
        "gif",
        "extent_grows.gif",
        lambda: gif_frame_at(save(picture((40, 30)).convert("P"), "GIF"), 100, 50),
    )
    add(
        "gif",
        "anim_extent_bomb.gif",
        lambda: gif_last_frame_at(animated("GIF", count=3), 60000, 60000),
        expect="document",
    )
    add(
        "gif",
        "anim_extent_over_limit.gif",
        lambda: gif_last_frame_at(animated("GIF", count=3), 12900, 12900),
        expect="document",
    )
    add(
        "gif",
        "anim_transparent.gif",
        lambda: animated("GIF", mode="RGBA", disposal=2),
        expect="animation",
    )
    add("gif", "truncated.gif", lambda: truncated(animated("GIF"), 0.5))
    # TIFF: depths, colour spaces, compressions, pages.
    add("tiff", "rgb.tif", lambda: save(picture(), "TIFF"))
    add("tiff", "lzw.tif", lambda: save(picture(), "TIFF", compression="tiff_lzw"))
    add("tiff", "deflate.tif", lambda: save(picture(), "TIFF", compression="tiff_adobe_deflate"))
    add("tiff", "jpeg.tif", lambda: save(picture(), "TIFF", compression="jpeg"))
    add("tiff", "cmyk.tif", lambda: save(_cmyk(), "TIFF"))
    add("tiff", "gray16.tif", lambda: _i16("TIFF"))
    add("tiff", "rgb16.tif", raw_tiff_rgb16)
    add("tiff", "page_without_width.tif", tiff_without_second_width, expect="photo")
    add("tiff", "int32.tif", lambda: save(_deep("I"), "TIFF"))
    add("tiff", "float.tif", lambda: save(_deep("F"), "TIFF"))
    add("tiff", "gray_alpha.tif", lambda: save(with_alpha().convert("LA"), "TIFF"))
    add("tiff", "rgba.tif", lambda: save(with_alpha(), "TIFF"))
    add("tiff", "g4.tif", lambda: save(picture(mode="1"), "TIFF", compression="group4"))
    add("tiff", "pages.tif", lambda: animated("TIFF", count=3))
    add("tiff", "exif8.tif", lambda: save(picture(), "TIFF", exif=exif(8)))
    add("tiff", "lab.tif", lambda: save(_lab(), "TIFF"))
    add("tiff", "ycbcr.tif", lambda: save(picture().convert("YCbCr"), "TIFF"))
    add("tiff", "packbits.tif", lambda: save(picture(), "TIFF", compression="packbits"))
    add("tiff", "truncated.tif", lambda: truncated(save(noise(SIZE), "TIFF")))
    # BMP
    add("bmp", "rgb24.bmp", lambda: save(picture(), "BMP"))
    add("bmp", "palette8.bmp", lambda: save(picture().convert("P"), "BMP"))
    add("bmp", "bilevel.bmp", lambda: save(picture(mode="1"), "BMP"))
    add("bmp", "gray.bmp", lambda: save(picture(mode="L"), "BMP"))
    add("bmp", "rgba32.bmp", lambda: save(with_alpha(), "BMP"))
    add("bmp", "top_down.bmp", bmp_top_down)
    add("bmp", "rle8.bmp", bmp_rle8)
    add("bmp", "rgb565_v3.bmp", bmp_565)
    add("bmp", "rgb565_v5.bmp", lambda: bmp_565(header=124))
    add("bmp", "os2_core.bmp", bmp_core)
    add("bmp", "truncated.bmp", lambda: truncated(save(picture(), "BMP")))
    # ICO
    add(
        "ico",
        "icon.ico",
        lambda: save(picture((64, 64)), "ICO", sizes=[(16, 16), (64, 64)]),
        expect="photo",
    )
    add("ico", "alpha.ico", lambda: save(with_alpha((48, 48)), "ICO", sizes=[(48, 48)]))
    add("ico", "bmp_inside.ico", lambda: save(picture((32, 32)), "ICO", bitmap_format="bmp"))
    add("ico", "truncated.ico", lambda: truncated(save(picture((64, 64)), "ICO")))
    # TGA
    add("tga", "rgb.tga", lambda: save(picture(), "TGA"), expect="photo")
    add("tga", "rgba_rle.tga", lambda: save(with_alpha(), "TGA", compression="tga_rle"))
    add("tga", "gray.tga", lambda: save(picture(mode="L"), "TGA"))
    add("tga", "palette.tga", lambda: save(picture().convert("P"), "TGA"))
    # PPM family
    add("ppm", "rgb.ppm", lambda: save(picture(), "PPM"))
    add("ppm", "gray.pgm", lambda: save(picture(mode="L"), "PPM"))
    add("ppm", "bilevel.pbm", lambda: save(picture(mode="1"), "PPM"))
    add("ppm", "rgb16.ppm", ppm16, expect="photo")
    add("ppm", "float.pfm", pfm, expect="photo")
    add("ppm", "truncated.ppm", lambda: truncated(save(noise(SIZE), "PPM")))
    # WebP
    add("webp", "lossy.webp", lambda: save(picture(), "WEBP", quality=80))
    add("webp", "lossless.webp", lambda: save(picture(), "WEBP", lossless=True))
    add("webp", "alpha.webp", lambda: save(with_alpha(), "WEBP"))
    add("webp", "animated.webp", lambda: animated("WEBP"), expect="animation")
    add(
        "webp",
        "animated_lossless.webp",
        lambda: animated("WEBP", lossless=True),
        expect="animation",
    )
    add("webp", "animated_alpha.webp", lambda: animated("WEBP", mode="RGBA"), expect="animation")
    add("webp", "exif3.webp", lambda: save(picture(), "WEBP", exif=exif(3)))
    add("webp", "truncated.webp", lambda: truncated(save(noise(SIZE), "WEBP", lossless=True)))
    # HEIC / AVIF
    add("heic", "photo.heic", lambda: heif(picture()))
    add("heic", "alpha.heic", lambda: heif(with_alpha()))
    add("heic", "odd_size.heic", lambda: heif(picture((97, 63))))
    add("heic", "truncated.heic", lambda: truncated(heif(noise(SIZE)), 0.5))
    add("avif", "photo.avif", lambda: save(picture(), "AVIF"))
    add("avif", "alpha.avif", lambda: save(with_alpha(), "AVIF"))
    add("avif", "animated.avif", lambda: animated("AVIF", count=3), expect="animation")
    add("avif", "truncated.avif", lambda: truncated(save(noise(SIZE), "AVIF"), 0.5))
    # Other formats Pillow reads and writes.
    add("other", "image.pcx", lambda: save(picture(), "PCX"))
    add("other", "image.sgi", lambda: save(picture(), "SGI"))
    add("other", "image.qoi", lambda: save(picture(), "QOI"))
    add("other", "image.jp2", lambda: save(picture(), "JPEG2000"))
    add("other", "image.j2k", lambda: save(picture(), "JPEG2000", no_jp2=True))
    add("other", "image.dds", lambda: save(with_alpha((64, 64)), "DDS"))
    add("other", "texture.blp", lambda: save(picture().convert("P"), "BLP"))
    add("other", "paint.msp", lambda: save(picture(mode="1"), "MSP"))
    add("other", "image.im", lambda: save(picture(), "IM"))
    add("other", "glyph.xbm", lambda: save(picture(mode="1"), "XBM"))
    add("other", "image.ras", sun_raster)
    add("other", "flat.psd", psd)
    add("other", "icon.icns", lambda: save(picture((128, 128)), "ICNS"))
    return s


def write_corpus(folder: Path) -> dict[str, Sample]:
    """Write every sample into ``folder``; returns them by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for sample in samples():
        (folder / sample.name).write_bytes(sample.make())
        written[sample.name] = sample
    return written


@dataclass(frozen=True, slots=True)
class Corpus:
    """The corpus written once, with the oracle's verdict on each file (by name): what a
    run's workers share (``tests.support.once.built_once``), so it is made and judged once."""

    folder: Path
    decodes: dict[str, bool]

    @staticmethod
    def make(folder: Path) -> Corpus:
        written = write_corpus(folder)
        return Corpus(folder, {name: pillow_decodes(folder / name) for name in written})


def pillow_decodes(path: Path) -> bool:
    """The oracle: Pillow opens ``path`` and decodes every frame (truncation refused)."""
    pillow_heif.register_heif_opener()
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb and malformed-MPO warnings
            with Image.open(path) as image:
                for frame in ImageSequence.Iterator(image):
                    frame.load()
    except Exception:  # the oracle's verdict, whatever the reason
        return False
    return True


# --------------------------------------------------------------------------- the engine

# Telegram's photo rules, as its Bot API states them (sendPhoto), written out here rather
# than read from ferryman's policy, so a wrong policy cannot pass its own check.
TG_PHOTO_BYTES = 10_000_000
TG_PHOTO_SIDE_SUM = 10_000
TG_PHOTO_ASPECT = 20.0


def telegram_photo_problems(path: Path) -> list[str]:
    """What keeps the delivered file ``path`` from showing as a Telegram photo, upright."""
    problems = []
    size = path.stat().st_size
    if size > TG_PHOTO_BYTES:
        problems.append(f"bytes={size}")
    with Image.open(path) as image:
        width, height = image.size
        if image.format not in ("JPEG", "PNG"):
            problems.append(f"format={image.format}")
        if image.getexif().get(0x0112, 1) != 1:
            problems.append("exif orientation left to the viewer")
        if getattr(image, "is_animated", False):
            problems.append("animated")
        image.load()
    if width + height > TG_PHOTO_SIDE_SUM:
        problems.append(f"width+height={width + height}")
    if max(width, height) > TG_PHOTO_ASPECT * min(width, height):
        problems.append(f"aspect {width}x{height}")
    return problems


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the engine did with one corpus file, and what the oracle says of it."""

    sample: Sample
    decodes: bool  # the oracle: Pillow decodes every frame
    state: str  # the item's final state
    plan: str | None
    kind: str
    reason: str | None
    error_code: str | None
    message: str | None  # the error's message, for a quarantined item
    delivered: Path | None  # the file in the library
    photo_problems: tuple[str, ...]  # for a file delivered as a photo

    @property
    def arrived(self) -> bool:
        return self.state == "delivered" and self.delivered is not None

    @property
    def as_expected(self) -> bool:
        """Arrived the way the sample says it must (photo, animation or document)."""
        want = self.sample.expect
        if want is None:
            return True
        if not self.arrived:
            return False
        if want == "document":
            return self.plan == "document"
        return self.kind == want and self.plan not in ("document", None)

    def describe(self) -> str:
        """One line for a table's notes."""
        why = self.message or self.reason or ""
        return f"{self.sample.name}: {self.state} as {self.kind}/{self.plan} ({why})"

    @property
    def clear(self) -> bool:
        """Ended with a registered code other than ``engine.internal`` (or delivered)."""
        from ferryman.errors import ERRORS

        if self.arrived:
            return True
        code = self.error_code or ""
        return code in ERRORS and code != "engine.internal"


def engine_settings(root: Path) -> object:
    """The library as destination, judged by Telegram's policy; retries are quick."""
    from ferryman.config import load_settings

    return load_settings(
        None,
        {
            "data_dir": root / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "media": {"policy": "telegram"},
            "retry": {"max_attempts": 2, "base_seconds": 0.1, "max_seconds": 0.2},
        },
    )


async def run_engine(
    root: Path, limit: float = 600.0, corpus: Corpus | None = None
) -> dict[str, Outcome]:
    """Send the corpus's folder through the whole engine (one job, the library as
    destination under Telegram's policy), and read back every item. The corpus is
    written under ``root`` unless one made before is given (the engine only reads it)."""
    import asyncio
    import json

    from ferryman.config import Settings
    from ferryman.engine.ops import intake
    from ferryman.engine.runner import Engine
    from ferryman.store import Store

    corpus = corpus or Corpus.make(root / "corpus")
    by_name = {sample.name: sample for sample in samples()}
    settings = engine_settings(root)
    assert isinstance(settings, Settings)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, corpus.folder)
        engine = Engine(store, settings)
        await asyncio.wait_for(engine.run(until_idle=True), limit)
        items = {item.source_path: item for item in await store.job_items(job.id)}
    finally:
        await store.close()
    arrived: dict[str, Path] = {}
    for manifest in settings.library.rglob("manifest.json"):
        for entry in json.loads(manifest.read_text())["items"]:
            arrived[entry["source_path"]] = manifest.parent / entry["file"]
    outcomes = {}
    for name, sample in by_name.items():
        item = items.get(name)
        path = arrived.get(name)
        as_photo = (
            item is not None and path is not None and item.kind.value == "photo"
            and item.plan is not None and item.plan.value != "document"
        )  # fmt: skip
        outcomes[name] = Outcome(
            sample=sample,
            decodes=corpus.decodes[name],
            state=item.state.value if item else "missing",
            plan=item.plan.value if item and item.plan else None,
            kind=item.kind.value if item else "missing",
            reason=item.reason if item else None,
            error_code=item.error_code if item else None,
            message=item.error_message if item else None,
            delivered=path,
            photo_problems=tuple(telegram_photo_problems(path)) if as_photo and path else (),
        )
    return outcomes
