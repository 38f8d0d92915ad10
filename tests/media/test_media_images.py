"""The image fixer against real pictures written here with Pillow and pillow-heif.

Every output is checked to be a JPEG within the limits, and its pixels are compared
(PSNR) with the source transformed the same way.
"""

from __future__ import annotations

import io
import itertools
import math
import random
import struct
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageOps, ImageStat

from ferryman.errors import FerrymanError
from ferryman.media.images import (
    DEFAULT_MAX_PIXELS,
    SCALE_QUALITY,
    ImageResult,
    check_pixels,
    fit_photo,
)
from ferryman.media.openers import ensure_openers
from ferryman.media.policy import LIBRARY, TELEGRAM, PhotoLimits
from tests.media.test_media_probe_plan import SIZE, frame_image, huge_png, write_image

PHOTO = TELEGRAM.photo
START, MIN = 90, 60  # fit_photo's default qualities

# ---------------------------------------------------------------------------- helpers


def scene(size: tuple[int, int] = SIZE, grain: int = 0, seed: int = 1) -> Image.Image:
    """Natural-ish content: two crossing gradients, a shape, optional grey grain (+-grain)."""
    red = Image.linear_gradient("L").rotate(90).resize(size)
    green = Image.linear_gradient("L").resize(size)
    blue = Image.new("L", size, 128)
    image = Image.merge("RGB", (red, green, blue))
    width, height = size
    ImageDraw.Draw(image).ellipse((width // 4, height // 4, width // 2, height // 2), "yellow")
    if grain:
        noise = Image.frombytes("L", size, random.Random(seed).randbytes(width * height))
        noise = noise.point([128 + (v - 128) * grain // 128 for v in range(256)])
        image = ImageChops.add(image, noise.convert("RGB"), 1.0, -128)
    return image


def noise_image(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """Uniform RGB noise: as incompressible as a picture gets."""
    data = random.Random(seed).randbytes(size[0] * size[1] * 3)
    return Image.frombytes("RGB", size, data)


def opened(path: Path) -> Image.Image:
    """The decoded picture at ``path``, with no file left open."""
    image = Image.open(io.BytesIO(path.read_bytes()))
    image.load()
    return image


def check_photo(result: ImageResult, limits: PhotoLimits = PHOTO) -> Image.Image:
    """The output, after asserting it is a JPEG within ``limits`` that matches ``result``."""
    out = opened(result.path)
    assert out.format == "JPEG" and result.format == "JPEG"
    assert out.size == (result.width, result.height)
    assert result.size == result.path.stat().st_size
    assert limits.problems(out.format, out.width, out.height, result.size) == []
    return out


def psnr(a: Image.Image, b: Image.Image, mode: str = "RGB") -> float:
    """Peak signal-to-noise ratio in dB (Pillow only: no numpy here)."""
    a, b = a.convert(mode), b.convert(mode)
    assert a.size == b.size
    squares = ImageStat.Stat(ImageChops.difference(a, b)).sum2
    mse = sum(squares) / (len(squares) * a.width * a.height)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def fits_at(src: Path, dst: Path, limits: PhotoLimits, quality: int) -> bool:
    """Whether ``src`` fits ``limits`` at ``quality`` without scaling."""
    return fit_photo(src, dst, limits, start_quality=quality, min_quality=quality).scale == 1.0


def encoded_size(src: Path, dst: Path, quality: int) -> int:
    return fit_photo(src, dst, LIBRARY.photo, start_quality=quality, min_quality=quality).size


def write_png(path: Path, size: tuple[int, int], depth: int = 8, rows: bytes = b"") -> Path:
    """An RGB PNG written by hand: Pillow writes neither 48-bit PNGs nor pixel-less ones.

    ``rows`` are the raw scanlines, each led by its filter byte; empty for a header only.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", *size, depth, 2, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(rows)) if rows else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + pixels + chunk(b"IEND", b""))
    return path


_D50 = (0.9642, 1.0, 0.8249)
_SRGB_TO_XYZ_D50 = (
    (0.4360747, 0.3850649, 0.1430804),
    (0.2225045, 0.7168786, 0.0606169),
    (0.0139322, 0.0971045, 0.7141733),
)


def _lab16(rgb: Sequence[float]) -> tuple[int, int, int]:
    """sRGB (0..1) as ICC v2 16-bit Lab."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    xyz = [sum(m * v for m, v in zip(row, linear, strict=True)) / w
           for row, w in zip(_SRGB_TO_XYZ_D50, _D50, strict=True)]  # fmt: skip
    f = [t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in xyz]
    lab = (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))
    return round(lab[0] * 0xFF00 / 100), round((lab[1] + 128) * 256), round((lab[2] + 128) * 256)


def _s15(*values: float) -> bytes:
    return struct.pack(f">{len(values)}i", *(round(v * 65536) for v in values))


def cmyk_profile(paper: float = 0.8) -> bytes:
    """A tiny but real CMYK ICC profile: naive ink mixing, full colours dimmed by ``paper``.

    Cyan comes out as sRGB (0, 204, 204) through it, not Pillow's plain (0, 255, 255),
    so a test can tell the profile was used. (Paper white itself stays white: LittleCMS
    pins a profile's white to white.)
    """
    clut = [
        value
        for c, m, y, k in itertools.product((0, 1), repeat=4)
        for value in _lab16([paper * (1 - ink) * (1 - k) for ink in (c, m, y)])
    ]
    ramp = struct.pack(">2H", 0, 0xFFFF)
    a2b0 = (b"mft2" + bytes(4) + bytes([4, 3, 2, 0]) + _s15(1, 0, 0, 0, 1, 0, 0, 0, 1)
            + struct.pack(">2H", 2, 2) + ramp * 4 + struct.pack(f">{len(clut)}H", *clut)
            + ramp * 3)  # fmt: skip
    text = b"ferryman test CMYK\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + bytes(4) + _s15(*_D50)), (b"A2B0", a2b0)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = struct.pack(">I4sI4s4s4s6H4s", offset + len(body), b"", 0x02100000, b"prtr",
                         b"CMYK", b"Lab ", 2024, 1, 1, 0, 0, 0, b"acsp")  # fmt: skip
    header = (header + bytes(68 - len(header)) + _s15(*_D50)).ljust(128, b"\0")
    return header + struct.pack(">I", len(tags)) + table + body


def centre(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, ...]:
    """The mean colour of ``box``, rounded: robust against JPEG ringing at edges."""
    return tuple(round(v) for v in ImageStat.Stat(image.convert("RGB").crop(box)).mean)


# ---------------------------------------------------------------------------- formats


def test_heic_becomes_a_similar_jpeg(tmp_path: Path) -> None:
    ensure_openers()
    src = tmp_path / "photo.heic"
    scene().save(src, format="HEIF", quality=95)
    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    out = check_photo(result)
    assert out.size == SIZE
    assert "to_jpeg" in result.actions
    assert (result.quality, result.scale, result.trials) == (START, 1.0, 1)
    assert psnr(out, opened(src)) >= 30
    assert psnr(out, scene()) >= 30  # and still the picture that went into the HEIC


@pytest.mark.parametrize("name", ["p.webp", "p.tiff", "p.bmp", "p.png", "p.gif"])
def test_other_formats_become_jpeg(tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    scene().save(src, quality=95)  # only WebP reads quality
    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    out = check_photo(result)
    assert result.actions[0] == "to_jpeg"
    assert psnr(out, opened(src).convert("RGB")) >= 30


def test_an_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    src = write_image(tmp_path / "anim.gif", frames=3)
    out = check_photo(fit_photo(src, tmp_path / "out.jpg", PHOTO))
    red, green, blue = centre(out, (0, 0, 16, 16))
    assert red < 5 and abs(green - 60) < 6 and abs(blue - 120) < 6  # frame 0: red level 0
    assert psnr(out, frame_image(0)) >= 30


def test_an_rgb_colour_profile_is_kept(tmp_path: Path) -> None:
    src = tmp_path / "tagged.png"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    scene().save(src, icc_profile=profile)
    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    assert check_photo(result).info.get("icc_profile") == profile


# ---------------------------------------------------------------------------- colour


@pytest.mark.parametrize("profiled", [False, True], ids=["plain", "icc"])
def test_cmyk_becomes_rgb(tmp_path: Path, profiled: bool) -> None:
    source = Image.new("CMYK", (96, 32), (0, 0, 0, 0))
    source.paste((255, 0, 0, 0), (0, 0, 32, 32))  # cyan | white | black
    source.paste((0, 0, 0, 255), (64, 0, 96, 32))
    src = tmp_path / "cmyk.jpg"
    profile = cmyk_profile()
    source.save(src, quality=95, icc_profile=profile if profiled else None)

    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    out = check_photo(result)
    assert out.mode == "RGB" and "cmyk_to_rgb" in result.actions
    assert "icc_profile" not in out.info  # converted to sRGB, JPEG's default
    red, green, blue = centre(out, (8, 8, 24, 24))
    assert red < 40
    if profiled:  # the profile's cyan (0, 204, 204), not Pillow's formula (0, 255, 255)
        assert 185 < green < 225 and 185 < blue < 225
    else:
        assert green > 235 and blue > 235
    assert min(centre(out, (40, 8, 56, 24))) > 240
    assert max(centre(out, (72, 8, 88, 24))) < 20

    decoded = opened(src)
    if profiled:
        srgb = ImageCms.createProfile("sRGB")
        cms = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        expected = ImageCms.profileToProfile(decoded, cms, srgb, outputMode="RGB")
        assert expected is not None
    else:
        expected = decoded.convert("RGB")
    assert psnr(out, expected) >= 30


def write_deep_gradient(path: Path, kind: str) -> Image.Image:
    """A 256-step gradient stored in 16 (or 32) bits; returns its expected 8-bit look."""
    size = (256, 16)
    gray = Image.new("L", size)
    gray.putdata([x for _ in range(size[1]) for x in range(size[0])])
    if kind == "rgb48.png":  # red rises, green falls, blue stays
        words = [v for x in range(256) for v in (x * 257, (255 - x) * 257, 32896)]
        row = b"\0" + struct.pack(f">{len(words)}H", *words)
        write_png(path, size, depth=16, rows=row * size[1])
        return Image.merge("RGB", (gray, ImageOps.invert(gray), Image.new("L", size, 128)))
    mode = kind.split("-")[0]
    words = [x * 257 for _ in range(size[1]) for x in range(size[0])]
    if mode == "I;16B":
        Image.frombytes(mode, size, struct.pack(f">{len(words)}H", *words)).save(path)
    else:
        deep = Image.new(mode, size)
        deep.putdata(words)
        deep.save(path)
    assert opened(path).mode == mode
    return gray


@pytest.mark.parametrize("kind", ["I;16-.png", "I;16-.tiff", "I;16B-.tiff", "I-.tiff", "rgb48.png"])
def test_16bit_gradient_is_rescaled_not_clipped(tmp_path: Path, kind: str) -> None:
    src = tmp_path / kind.replace(";", "_")
    expected = write_deep_gradient(src, kind)
    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    out = check_photo(result)
    if kind != "rgb48.png":  # Pillow itself reads 48-bit RGB as 8-bit
        assert "16bit_to_8bit" in result.actions
    red = out.convert("RGB").getchannel("R")
    for y in (0, 8, 15):
        row = list(red.crop((0, y, 256, y + 1)).tobytes())
        assert all(b >= a - 2 for a, b in itertools.pairwise(row))  # monotone, give or take
        assert all(b > a for a, b in itertools.pairwise(row[::16]))
        assert row[0] <= 3 and row[255] >= 252 and abs(row[128] - 128) <= 3  # full range
    assert psnr(out, expected, expected.mode) >= 30


def write_alpha_source(path: Path) -> tuple[Image.Image, tuple[int, int, int]]:
    """Transparent red left third, half-transparent black middle, opaque right third.

    Returns the picture and the colour of its opaque part.
    """
    size, kind = (96, 32), path.name
    if kind == "p.gif":  # a palette: index 0 (red) is the transparent one
        image = Image.new("P", size, 1)
        image.putpalette([255, 0, 0, 0, 0, 255])
        image.paste(0, (0, 0, 32, 32))
        image.save(path, transparency=0)
        return image, (0, 0, 255)
    if kind == "la.png":
        image = Image.new("LA", size, (60, 255))
        image.paste((0, 128), (32, 0, 64, 32))
        image.paste((200, 0), (0, 0, 32, 32))
        image.save(path)
        return image, (60, 60, 60)
    image = Image.new("RGBA", size, (0, 0, 255, 255))
    image.paste((0, 0, 0, 128), (32, 0, 64, 32))
    image.paste((255, 0, 0, 0), (0, 0, 32, 32))
    image.save(path, lossless=True)  # only WebP reads lossless
    return image, (0, 0, 255)


@pytest.mark.parametrize("kind", ["rgba.png", "la.png", "p.gif", "rgba.webp"])
def test_transparency_becomes_white(tmp_path: Path, kind: str) -> None:
    src = tmp_path / kind
    image, opaque = write_alpha_source(src)
    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    out = check_photo(result)
    assert "alpha_flattened" in result.actions
    assert min(centre(out, (8, 8, 24, 24))) > 245  # transparent: white, not red
    assert all(abs(a - b) < 12 for a, b in zip(centre(out, (72, 8, 88, 24)), opaque, strict=True))
    if kind != "p.gif":  # half-transparent black on white: mid grey
        assert all(abs(v - 127) < 10 for v in centre(out, (40, 8, 56, 24)))
    white = Image.new("RGBA", image.size, "white")
    expected = Image.alpha_composite(white, opened(src).convert("RGBA"))
    assert psnr(out, expected) >= 30


# ---------------------------------------------------------------------------- fitting


def test_png_over_10mb_fits_without_scaling(tmp_path: Path) -> None:
    src = tmp_path / "noise.png"
    source = noise_image((1900, 1900))
    source.save(src, compress_level=1)
    assert src.stat().st_size > (PHOTO.max_bytes or 0)

    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    out = check_photo(result)
    assert result.scale == 1.0 and out.size == (1900, 1900)
    if result.quality != START:  # the highest quality that fits: one more would not
        assert not fits_at(src, tmp_path / "probe.jpg", PHOTO, result.quality + 1)
    assert result.trials <= math.ceil(math.log2(START - MIN)) + 2
    # 4:2:0 chroma subsampling drops colour noise by design, so compare brightness
    assert psnr(out, source, "L") >= 30


def test_quality_is_found_by_binary_search(tmp_path: Path) -> None:
    src = tmp_path / "grain.png"
    source = scene((160, 120), grain=14)
    source.save(src)
    at_start = encoded_size(src, tmp_path / "a.jpg", START)
    at_min = encoded_size(src, tmp_path / "b.jpg", MIN)
    limits = PhotoLimits(max_bytes=(at_start + at_min) // 2)

    result = fit_photo(src, tmp_path / "out.jpg", limits)
    out = check_photo(result, limits)
    assert MIN <= result.quality < START and result.scale == 1.0
    assert result.actions == ("to_jpeg", "fit_quality")
    assert not fits_at(src, tmp_path / "probe.jpg", limits, result.quality + 1)
    assert result.trials <= math.ceil(math.log2(START - MIN)) + 2
    assert psnr(out, source, "L") >= 30  # luma: the grain is grey; 4:2:0 halves colour edges


def test_scale_is_found_when_no_quality_fits(tmp_path: Path) -> None:
    src = tmp_path / "grain.png"
    source = scene((160, 120), grain=20)
    source.save(src)
    limits = PhotoLimits(max_bytes=encoded_size(src, tmp_path / "a.jpg", MIN) // 3)

    result = fit_photo(src, tmp_path / "out.jpg", limits)
    out = check_photo(result, limits)
    assert result.scale < 1 and "fit_scale" in result.actions
    assert result.quality == SCALE_QUALITY
    assert result.size > 0.85 * (limits.max_bytes or 0)  # near the largest that fits
    assert abs(out.width / out.height - 160 / 120) < 0.05
    assert psnr(out, source.resize(out.size, Image.Resampling.LANCZOS)) >= 25


def test_a_byte_limit_nothing_meets_is_over_limit(tmp_path: Path) -> None:
    src = tmp_path / "p.png"
    scene().save(src)
    dst = tmp_path / "out.jpg"
    with pytest.raises(FerrymanError) as caught:
        fit_photo(src, dst, PhotoLimits(max_bytes=100))  # less than any JPEG header
    assert caught.value.code == "media.over_limit"
    assert not dst.exists()


def test_a_panorama_is_scaled_to_the_side_sum(tmp_path: Path) -> None:
    src = tmp_path / "pano.png"
    source = scene((12000, 800))
    source.save(src, compress_level=1)
    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    out = check_photo(result)
    assert 9990 <= out.width + out.height <= (PHOTO.max_side_sum or 0)
    assert abs(out.width / out.height / 15 - 1) < 0.01
    assert "fit_sides" in result.actions and result.scale == pytest.approx(10000 / 12800, 1e-3)
    assert psnr(out, source.resize(out.size, Image.Resampling.LANCZOS)) >= 25


@pytest.mark.parametrize("real", [True, False], ids=["pixels", "header_only"])
def test_a_30_to_1_strip_is_refused_at_once(tmp_path: Path, real: bool) -> None:
    src = tmp_path / "strip.png"
    if real:
        scene((600, 20)).save(src)
    else:  # no pixel data: decoding it would say unreadable, so this proves no decode
        write_png(src, (3000, 100))
    dst = tmp_path / "out.jpg"
    dst.write_bytes(b"partial")
    with pytest.raises(FerrymanError) as caught:
        fit_photo(src, dst, PHOTO)
    assert caught.value.code == "media.over_limit" and "strip.png" in caught.value.message
    assert not dst.exists()


# ---------------------------------------------------------------------------- orientation


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = Image.new("RGB", (160, 120), (128, 128, 128))
    stored.paste((255, 0, 0), (0, 0, 24, 24))  # the stored top-left corner is red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    exif[0x010F] = "FerryCam"
    src = tmp_path / "rotated.jpg"
    stored.save(src, quality=95, exif=exif)
    assert check_pixels(src) == (160, 120)  # as stored

    result = fit_photo(src, tmp_path / "out.jpg", PHOTO)
    out = check_photo(result)
    assert out.size == (120, 160) and result.actions == ("exif_rotate",)
    red, green, blue = centre(out, (100, 4, 116, 20))  # a viewer sees it top-right
    assert red > 200 and green < 50 and blue < 50
    for box in ((4, 4, 20, 20), (4, 140, 20, 156), (100, 140, 116, 156)):
        assert all(abs(v - 128) < 8 for v in centre(out, box))
    assert out.getexif().get(0x0112, 1) == 1
    assert out.getexif().get(0x010F) == "FerryCam"  # the rest of the EXIF is kept
    assert psnr(out, ImageOps.exif_transpose(opened(src))) >= 30


# ---------------------------------------------------------------------------- refusals


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
def test_a_decompression_bomb_is_refused_without_decoding(tmp_path: Path) -> None:
    src = huge_png(tmp_path / "bomb.png")
    dst = tmp_path / "out.jpg"
    limit = Image.MAX_IMAGE_PIXELS
    # CPU seconds of this process (PIL decodes here), not wall time: a loaded machine
    # stretches the wall clock, not the work a decode would have done.
    started = time.process_time()
    for call in (lambda: check_pixels(src), lambda: fit_photo(src, dst, PHOTO)):
        with pytest.raises(FerrymanError) as caught:
            call()
        assert caught.value.code == "media.too_many_pixels"
    assert time.process_time() - started < 1.0
    assert limit == Image.MAX_IMAGE_PIXELS and not dst.exists()


def test_max_pixels_is_a_per_call_limit(tmp_path: Path) -> None:
    src = tmp_path / "p.png"
    scene().save(src)
    assert check_pixels(src) == SIZE
    with pytest.raises(FerrymanError) as caught:
        fit_photo(src, tmp_path / "out.jpg", PHOTO, max_pixels=160 * 120 - 1)
    assert caught.value.code == "media.too_many_pixels" and "p.png" in caught.value.message
    assert check_pixels(write_png(tmp_path / "big.png", (5000, 5000))) == (5000, 5000)
    assert DEFAULT_MAX_PIXELS > 5000 * 5000


def test_every_heif_image_is_checked(tmp_path: Path) -> None:
    ensure_openers()
    src = tmp_path / "two.heic"
    scene((64, 48)).save(src, format="HEIF", save_all=True, append_images=[scene((160, 120))])
    assert check_pixels(src, max_pixels=160 * 120) == (64, 48)  # the primary image
    with pytest.raises(FerrymanError) as caught:
        check_pixels(src, max_pixels=64 * 48)
    assert caught.value.code == "media.too_many_pixels" and "160x120" in caught.value.message


def test_a_truncated_jpeg_is_unreadable(tmp_path: Path) -> None:
    whole = io.BytesIO()
    noise_image(SIZE).save(whole, "JPEG", quality=90)
    src = tmp_path / "cut.jpg"
    src.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    dst = tmp_path / "out.jpg"
    dst.write_bytes(b"partial")
    with pytest.raises(FerrymanError) as caught:
        fit_photo(src, dst, PHOTO)
    assert caught.value.code == "media.unreadable" and "cut.jpg" in caught.value.message
    assert not dst.exists()


def test_the_source_is_never_the_output(tmp_path: Path) -> None:
    src = write_image(tmp_path / "p.png")
    with pytest.raises(ValueError, match="overwrite"):
        fit_photo(src, tmp_path / "." / "p.png", PHOTO)
    assert opened(src).size == SIZE


def test_a_text_file_is_unreadable(tmp_path: Path) -> None:
    src = tmp_path / "notes.jpg"
    src.write_text("not a picture\n" * 20)
    dst = tmp_path / "out.jpg"
    for call in (lambda: check_pixels(src), lambda: fit_photo(src, dst, PHOTO)):
        with pytest.raises(FerrymanError) as caught:
            call()
        assert caught.value.code == "media.unreadable"
    assert not dst.exists()
