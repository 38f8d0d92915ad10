"""Files as phones and cameras make them, made here with real tools (pillow-heif, PyAV,
Pillow) and, where no tool here writes the odd part, byte-patched the way the
camera's file has it (an iPhone spatial photo's stereo group, a header claiming a
size its decoder refuses, an APNG whose frames are out of sequence)."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import pillow_heif
from PIL import Image


def heif_images(path: Path, images: list[Image.Image], **options: object) -> Path:
    """A HEIF holding every image of ``images`` as a top-level image (a burst)."""
    heif = pillow_heif.from_pillow(images[0])
    for image in images[1:]:
        heif.add_from_pillow(image)
    heif.save(str(path), quality=85, **options)
    return path


def with_entity_group(path: Path, group: bytes, item_ids: list[int]) -> Path:
    """Add an entity group (``ster``: a stereo pair, as an iPhone's spatial photo has)
    to the HEIF's ``meta`` box, moving the item locations by the bytes added."""
    data = bytearray(path.read_bytes())
    meta = _box(data, 0, len(data), b"meta")
    body = struct.pack(">I", 0) + struct.pack(">II", 1, len(item_ids))
    body += b"".join(struct.pack(">I", item) for item in item_ids)
    entity = struct.pack(">I4s", 8 + len(body), group) + body
    grpl = struct.pack(">I4s", 8 + len(entity), b"grpl") + entity
    meta_end = meta + struct.unpack_from(">I", data, meta)[0]
    _shift_locations(data, meta, meta_end, len(grpl))
    data[meta_end:meta_end] = grpl
    struct.pack_into(">I", data, meta, meta_end - meta + len(grpl))
    path.write_bytes(bytes(data))
    return path


def with_claimed_size(path: Path, width: int, height: int) -> Path:
    """Every ``ispe`` of the HEIF/AVIF claims ``width`` x ``height``."""
    data = bytearray(path.read_bytes())
    at = data.find(b"ispe")
    while at != -1:
        struct.pack_into(">II", data, at + 8, width, height)
        at = data.find(b"ispe", at + 4)
    path.write_bytes(bytes(data))
    return path


def _box(data: bytearray, start: int, end: int, kind: bytes) -> int:
    pos = start
    while pos + 8 <= end:
        size, found = struct.unpack_from(">I4s", data, pos)
        if found == kind:
            return pos
        pos += size
    raise ValueError(f"no {kind!r} box")


def _shift_locations(data: bytearray, meta: int, meta_end: int, delta: int) -> None:
    """Add ``delta`` to every file offset in ``iloc`` (construction method 0)."""
    iloc = _box(data, meta + 12, meta_end, b"iloc")
    version = data[iloc + 8]
    pos = iloc + 12
    offset_size, length_size = data[pos] >> 4, data[pos] & 0x0F
    base_size, index_size = data[pos + 1] >> 4, data[pos + 1] & 0x0F
    pos += 2
    count_size = 2 if version < 2 else 4
    count = int.from_bytes(data[pos : pos + count_size], "big")
    pos += count_size
    for _ in range(count):
        pos += 2 if version < 2 else 4  # item id
        method = 0
        if version in (1, 2):
            method = int.from_bytes(data[pos : pos + 2], "big") & 0x0F
            pos += 2
        pos += 2  # data reference index
        base = int.from_bytes(data[pos : pos + base_size], "big") if base_size else 0
        if base_size and method == 0 and base:
            data[pos : pos + base_size] = (base + delta).to_bytes(base_size, "big")
        pos += base_size
        extents = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        for _ in range(extents):
            if version in (1, 2) and index_size:
                pos += index_size
            offset = int.from_bytes(data[pos : pos + offset_size], "big")
            if method == 0 and not base and offset_size:
                data[pos : pos + offset_size] = (offset + delta).to_bytes(offset_size, "big")
            pos += offset_size + length_size


def video_with_pixel_shape(
    path: Path,
    codec: str,
    sar: Fraction,
    size: tuple[int, int] = (720, 576),
    frames: int = 12,
    options: dict[str, str] | None = None,
) -> Path:
    """A video whose pixels are not square: ``sar`` in the MP4's ``pasp`` box (VP9
    has no other place for it), in the stream too where the codec has one (H.264)."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream(codec, rate=25, options=options or {})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.sample_aspect_ratio = sar
        for index in range(frames):
            picture = Image.new("RGB", size, (20 * index % 255, 90, 160))
            frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def with_container_shape(path: Path, sar: Fraction) -> Path:
    """The MP4's ``pasp`` box says ``sar`` whatever the stream says (as an editor that
    re-tags the display shape writes it): FFmpeg, and a player, take the container's."""
    data = bytearray(path.read_bytes())
    at = data.find(b"pasp")
    struct.pack_into(">II", data, at + 4, sar.numerator, sar.denominator)
    path.write_bytes(bytes(data))
    return path


def dv_file(path: Path, frames: int = 10) -> Path:
    """A camcorder's raw DV (PAL, 720 x 576), written by FFmpeg's DV muxer."""
    with av.open(str(path), "w", format="dv") as out:
        stream = out.add_stream("dvvideo", rate=25)
        stream.width, stream.height = 720, 576
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            picture = Image.new("RGB", (720, 576), (200, 20 * index % 255, 40))
            frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def jpeg_xl(path: Path, size: tuple[int, int] = (320, 240)) -> Path:
    """A JPEG XL photo, written by the Pillow plugin (libjxl)."""
    import pillow_jxl  # noqa: F401  (registers the JPEG XL plugin with Pillow)

    Image.new("RGB", size, (120, 40, 200)).save(path, "JXL", quality=90)
    return path


def apng(path: Path, frames: int = 3, size: tuple[int, int] = (48, 32)) -> Path:
    colours = [(255, 0, 0), (0, 160, 0), (0, 0, 255), (200, 200, 0)]
    images = [Image.new("RGB", size, colours[i % len(colours)]) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def apng_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(position, type, length) of each chunk."""
    found, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        found.append((pos, kind, length))
        pos += 12 + length
    return found


def patch_chunk(data: bytes, index: int, body: bytes | None) -> bytes:
    """Chunk ``index`` with a new body (its CRC made right), or dropped (None)."""
    pos, kind, length = apng_chunks(data)[index]
    if body is None:
        return data[:pos] + data[pos + 12 + length :]
    chunk = struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", zlib.crc32(kind + body))
    return data[:pos] + chunk + data[pos + 12 + length :]


def broken_apngs(root: Path) -> dict[str, Path]:
    """APNGs Pillow opens (and shows the first frame of) but cannot play through, each
    broken as Pillow's own test images are: a frame out of sequence, a frame control
    without its data, more frames claimed than there are, a frame outside the canvas."""
    good = apng(root / "good.png").read_bytes()
    chunks = apng_chunks(good)
    controls = [i for i, (_, kind, _) in enumerate(chunks) if kind == b"fcTL"]
    data = [i for i, (_, kind, _) in enumerate(chunks) if kind == b"fdAT"]
    actl = next(i for i, (_, kind, _) in enumerate(chunks) if kind == b"acTL")

    def body(index: int) -> bytearray:
        pos, _, length = chunks[index]
        return bytearray(good[pos + 8 : pos + 8 + length])

    gap = body(controls[1])
    struct.pack_into(">I", gap, 0, 9)  # sequence number 9 where 1 belongs
    high = body(actl)
    struct.pack_into(">I", high, 0, 5)  # five frames claimed, three there
    wide = body(controls[2])
    struct.pack_into(">I", wide, 4, 1000)  # wider than the canvas
    variants = {
        "sequence_gap.png": patch_chunk(good, controls[1], bytes(gap)),
        "no_fdat.png": patch_chunk(good, data[0], None),
        "num_frames_high.png": patch_chunk(good, actl, bytes(high)),
        "frame_too_wide.png": patch_chunk(good, controls[2], bytes(wide)),
    }
    (root / "good.png").unlink()
    paths = {}
    for name, content in variants.items():
        paths[name] = root / name
        paths[name].write_bytes(content)
    return paths
