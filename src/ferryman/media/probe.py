"""Read what a media file holds (streams, size, duration, index position) without converting it.

``probe`` uses FFmpeg (PyAV) and decodes one frame, so a file that opens but cannot be
decoded is caught here rather than half-way through a delivery. ``probe_image`` uses
Pillow, which applies EXIF orientation and decodes animated WebP (this FFmpeg cannot).
PyAV is imported by the functions that use it: a run of photos and documents never
loads it (~0.1 s of start-up, ~20 MB; ``tests/cli/test_startup_imports.py``).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from ferryman.errors import FerrymanError
from ferryman.media import apng
from ferryman.media.budget import check_budget
from ferryman.media.heif_boxes import HEADER_BYTES, parse_header
from ferryman.media.jpeg_header import (
    EXIF_DEGREES,
    EXIF_MIRRORED,
    EXIF_ORIENTATION,
    EXIF_TRANSPOSED,
)
from ferryman.media.openers import check_claimed_size, check_decoder, ensure_openers, named
from ferryman.media.policy import MP4_FAMILY
from ferryman.media.taken import as_seconds, container_taken, exif_taken
from ferryman.model import MediaInfo

if TYPE_CHECKING:
    from av.audio.stream import AudioStream
    from av.container import InputContainer
    from av.video.stream import VideoStream

__all__ = [
    "MP4_FAMILY",
    "QUICKTIME",
    "displayed_size",
    "first_streams",
    "pixel_shape",
    "probe",
    "probe_image",
]

QUICKTIME = "mov"  # our name for a QuickTime file (same demuxer as MP4, other brand)

_PILLOW_CONTAINERS = frozenset({"webp_pipe"})  # FFmpeg cannot decode animated WebP
_ANIMATION_CONTAINERS = frozenset({"gif", "apng", "webp_pipe"})
# Give up looking for a first frame after this many packets: a stream cut mid-GOP (TS
# recordings) only decodes from the next keyframe, which can be seconds in.
_MAX_DECODE_PACKETS = 1000
# Shared with the engine's header read of a plain JPEG (one table for both).
_EXIF_ORIENTATION = EXIF_ORIENTATION
_EXIF_TRANSPOSED = EXIF_TRANSPOSED
_EXIF_DEGREES = EXIF_DEGREES
_EXIF_MIRRORED = EXIF_MIRRORED
# A colour key (tRNS) makes these modes transparent: the plan must see the alpha.
_KEYED_MODES = {"P": "PA", "L": "LA", "RGB": "RGBA", "1": "LA"}
# What Pillow raises on a later TIFF page it cannot set up (TypeError: no size).
_PAGE_ERRORS = (TypeError, ValueError, KeyError, OSError, EOFError, SyntaxError, struct.error)
_TAG_CHARS = 256  # a tag is shown in a chat's player: longer ones are cut
_MODE_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}


def probe(path: Path) -> MediaInfo:
    """Streams, size, duration and faststart of ``path``; raises ``media.unreadable``."""
    import av  # lazy: PyAV (module docstring)

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from exc
    try:
        with container:
            if container.format.name in _PILLOW_CONTAINERS:
                return probe_image(path)
            return _probe_container(path, container)
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise _unreadable(path, exc) from exc


def probe_image(path: Path, data: bytes | None = None, max_bytes: int | None = None) -> MediaInfo:
    """Size (after EXIF rotation) and frame count (capped at 2) of an image, via Pillow.
    ``data``: the file's bytes, already in memory (the file is then not opened).

    Raises ``media.unreadable``, or ``media.too_many_pixels`` for an image over Pillow's
    decompression-bomb limit, or ``media.over_budget`` for one whose check would decode
    more than ``max_bytes`` (``media.budget``): neither is decoded.
    """
    if data is not None and (plain := _plain_jpeg(path, data, max_bytes)) is not None:
        return plain
    try:
        return _probe_pillow(path, data, max_bytes)
    except Image.DecompressionBombError as exc:
        raise FerrymanError("media.too_many_pixels", f"{path.name}: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        check_claimed_size(path, data)
        check_decoder(path, data)
        raise _unreadable(path, exc) from exc


def _probe_pillow(path: Path, data: bytes | None, max_bytes: int | None) -> MediaInfo:
    ensure_openers()

    def source() -> Path | io.BytesIO:
        return path if data is None else io.BytesIO(data)

    with Image.open(source()) as image:
        width, height = image.size
        frames = 2 if _animated(image, source) else 1
        pages = _pages(image, source)
        orientation, taken = _exif_facts(image, max_bytes)
        if orientation in _EXIF_TRANSPOSED:
            width, height = height, width
        info = MediaInfo(
            container=(image.format or "").lower() or None,
            width=width,
            height=height,
            frames=frames,
            rotation=_EXIF_DEGREES.get(orientation or 1, 0),
            mirrored=orientation in _EXIF_MIRRORED or None,
            size=path.stat().st_size if data is None else len(data),
            image_mode=_mode(image),
            bit_depth=_MODE_BITS.get(image.mode, 8),
            pages=pages if pages > 1 else None,
            taken=as_seconds(taken),
        )
        _check_data(image, source, max_bytes)
        return info


# A plain JPEG's markers (``_plain_jpeg``): tables, comments, JFIF; any other APPn (EXIF,
# XMP, ICC, MPF, Adobe) or marker is Pillow's to read.
_PLAIN_TABLES = frozenset({0xC4, 0xDB, 0xDD, 0xE0, 0xFE})  # DHT, DQT, DRI, APP0, COM
_PLAIN_FRAMES = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended, progressive (Huffman)
_PLAIN_MODES = {1: "L", 3: "RGB"}
_PLAIN_PIXELS = 1 << 20  # larger pictures: the decode outweighs Pillow's header parse


def _plain_jpeg(path: Path, data: bytes, max_bytes: int | None) -> MediaInfo | None:
    """A small plain JPEG (no EXIF, no colour profile, 8-bit grey or colour) read the
    way Pillow reads it, without its marker-by-marker parse in Python (half of Pillow's
    check of a tiny photo): the header walked here, then Pillow's decoder at 1/8 scale
    over the whole data, as ``_check_data`` does. None: anything else, and any picture
    the decode finds fault with, is left to ``_probe_pillow`` (which then decides)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    at, end, frame = 2, len(data), None
    while at + 4 <= end and data[at] == 0xFF:
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == 0xDA:  # start of scan: the header is over
            break
        if marker in _PLAIN_FRAMES and frame is None and length >= 8:
            frame = data[at + 4 : at + 2 + length]
        elif marker not in _PLAIN_TABLES:
            return None
        at += 2 + length
    else:
        return None
    if frame is None or len(frame) < 6 or frame[0] != 8:
        return None
    if (mode := _PLAIN_MODES.get(frame[5])) is None:
        return None
    height, width = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
    if not 0 < width * height <= _PLAIN_PIXELS:
        return None
    scale = 8 if min(width, height) >= 8 else 1  # as ``draft`` picks for 1/8 of the size
    small = (-(-width // scale), -(-height // scale))
    if max_bytes is not None and small[0] * small[1] * len(mode) > max_bytes:
        return None
    try:
        Image.frombytes(mode, small, data, "jpeg", mode, "", scale, 0)
    except (ValueError, OSError):
        return None
    return MediaInfo(
        container="jpeg",
        width=width,
        height=height,
        frames=1,
        rotation=0,
        mirrored=None,
        size=len(data),
        image_mode=mode,
        bit_depth=8,
        pages=None,
    )


def _exif_facts(image: Image.Image, max_bytes: int | None) -> tuple[int | None, datetime | None]:
    """The EXIF orientation and when the picture was taken. Pillow looks for a PNG's
    EXIF after its pixel data by decoding the whole picture (``getexif`` loads it): a
    149 MP 16-bit PNG took 600 MB here. Over the budget, only an eXIf chunk before the
    data counts."""
    if image.format == "PNG" and "exif" not in image.info and max_bytes is not None:
        try:
            check_budget(image, "", max_bytes)
        except FerrymanError:
            return None, None
    value = image.getexif().get(_EXIF_ORIENTATION)
    return (value if isinstance(value, int) else None), exif_taken(image)


def _animated(image: Image.Image, source: Callable[[], Path | io.BytesIO]) -> bool:
    """More than one frame to show in turn. An MPO's frames are views of one scene (a
    stereo pair, a preview): it is a photo, its base JPEG, even when the index is wrong.
    A TIFF has no frame durations: its pages are never an animation (see ``_pages``);
    nor are a HEIF's images (a burst, a stereo pair: photos). An APNG that cannot be
    played as one (``media.apng``) is a picture, its first frame."""
    if image.format in ("MPO", "TIFF", "HEIF"):
        return False
    if not getattr(image, "is_animated", False):
        return False
    if image.format == "PNG":
        with _opened(source()) as file:
            return apng.playable(file)
    return True


def _opened(source: Path | io.BytesIO) -> io.BufferedReader | io.BytesIO:
    return source.open("rb") if isinstance(source, Path) else source


def _pages(image: Image.Image, source: Callable[[], Path | io.BytesIO]) -> int:
    """A TIFF's pages, when all are of one size (a scan's, a fax's: each a photo); 1 when
    later pages differ in size from the first (a camera's or scanner's picture with its
    thumbnails: a photo, its first page) or cannot be counted (a later page without a
    size: Pillow's ``n_frames`` raises ``TypeError``). A HEIF's images (a burst), each
    a photo, whatever their sizes; 1 for a stereo pair (an iPhone's spatial photo: its
    primary view) or any other format."""
    if image.format == "HEIF":
        count = int(getattr(image, "n_frames", 1))
        if count > 1:
            with _opened(source()) as file:
                if parse_header(file.read(HEADER_BYTES)).one_scene:
                    return 1
        return count
    if image.format != "TIFF":
        return 1
    try:
        return _same_size_pages(image)
    except _PAGE_ERRORS:
        return 1  # the first page, read like any picture, is all that can be trusted
    finally:
        image.seek(0)  # a failure here is the picture's own: the probe says unreadable


def _same_size_pages(image: Image.Image) -> int:
    count = int(getattr(image, "n_frames", 1))
    first = image.size
    for page in range(1, count):
        image.seek(page)
        if image.size != first:
            return 1
    return count


def _mode(image: Image.Image) -> str:
    """Pillow's mode, with the alpha a colour key (``transparency``) gives it."""
    if "transparency" in image.info and image.mode in _KEYED_MODES:
        return _KEYED_MODES[image.mode]
    return image.mode


def _check_data(
    image: Image.Image, source: Callable[[], Path | io.BytesIO], max_bytes: int | None
) -> None:
    """Read the pixel data cheaply, so a cut-off file fails here and not at delivery;
    never a decode over ``max_bytes``."""
    if image.format == "PNG":
        with Image.open(source()) as fresh:  # verify() must come straight after open
            fresh.verify()  # checks every chunk's CRC without holding the pixels
        return
    if image.format == "JPEG":  # decode at 1/8 scale: enough to reach the end of the data
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
    if max_bytes is not None:
        check_budget(image, Path(getattr(image, "filename", "") or "picture").name, max_bytes)
    image.load()


def _unreadable(path: Path, exc: BaseException) -> FerrymanError:
    return FerrymanError("media.unreadable", f"{path.name}: cannot decode ({named(exc, path)})")


def first_streams(container: InputContainer) -> tuple[VideoStream | None, AudioStream | None]:
    """The first real video stream (cover art is not video) and the main audio stream.

    The main audio is the track a player picks: the one flagged default, else the first;
    the plan judges the same track the fixers keep.
    """
    from av.stream import Disposition  # lazy: PyAV (module docstring)

    video = next(
        (s for s in container.streams.video if not s.disposition & Disposition.attached_pic),
        None,
    )
    sounds = list(container.streams.audio)
    flagged = (s for s in sounds if s.disposition & Disposition.default)
    return video, next(flagged, sounds[0] if sounds else None)


def _probe_container(path: Path, container: InputContainer) -> MediaInfo:
    from av.video.frame import VideoFrame  # lazy: PyAV (module docstring)

    video, audio = first_streams(container)
    main = video or audio
    if main is None:
        raise FerrymanError("media.unreadable", f"{path.name}: no audio or video stream")
    first = _first_frame(container, main)
    if first is None:
        raise FerrymanError("media.unreadable", f"{path.name}: no decodable frame")
    fmt = container.format.name
    info: dict[str, Any] = {
        "container": QUICKTIME if fmt == MP4_FAMILY and _major_brand(path) == b"qt  " else fmt,
        "taken": as_seconds(container_taken(container.metadata)),
        "duration": _duration(container, main),
        "faststart": _mp4_layout(path) if fmt == MP4_FAMILY else None,
        "size": path.stat().st_size,
        "audio_tracks": len(container.streams.audio),
        "other_audio": [
            s.codec_context.codec.canonical_name
            for s in container.streams.audio
            if (audio is None or s.index != audio.index) and s.codec_context is not None
        ]
        or None,
    }
    if audio is not None:
        info.update(
            audio_codec=audio.codec_context.codec.canonical_name,
            audio_channels=audio.codec_context.layout.nb_channels or None,
        )
    if video is None and audio is not None:  # a song: the tags its player shows
        tags = song_tags(container.metadata, audio.metadata)
        info.update(title=tags.get("title"), performer=tags.get("artist"))
    if video is not None:
        from ferryman.media.hdr import hdr_transfer  # av is loaded: it opened the file

        ctx = video.codec_context
        coded = ctx.width, ctx.height
        width, height = displayed_size(*coded, pixel_shape(video))
        rotation = int(first.rotation) % 360 if isinstance(first, VideoFrame) else 0
        if rotation % 180 == 90:
            width, height = height, width
        rate = video.average_rate or video.guessed_rate
        if (width, height) not in (coded, coded[::-1]):
            info.update(coded_width=coded[0], coded_height=coded[1])
        info.update(
            video_codec=ctx.codec.canonical_name,
            video_profile=ctx.profile or None,
            pix_fmt=ctx.pix_fmt,
            bit_depth=_bit_depth(ctx.pix_fmt),
            width=width,
            height=height,
            rotation=rotation,
            hdr=hdr_transfer(video),
            frame_rate=float(rate) if rate else None,
            frames=_count_frames(container, video) if fmt in _ANIMATION_CONTAINERS else None,
        )
    return MediaInfo(**info)


def pixel_shape(video: VideoStream) -> Fraction | None:
    """The shape of the video's pixels (sample aspect ratio) as FFmpeg shows them: the
    container's when it says (Matroska's display size, MP4's ``pasp``: a VP9 stream
    has no other), else the stream's own; None for square or unknown."""
    sar = video.sample_aspect_ratio  # av_guess_sample_aspect_ratio: container, then codec
    return Fraction(sar) if sar and sar > 0 and sar != 1 else None


def displayed_size(width: int, height: int, sar: Fraction | None) -> tuple[int, int]:
    """Stored sides as shown: the width scaled by the pixel shape (FFmpeg's way: the
    height stays), so a 720 x 576 picture of 64:45 pixels is 1024 x 576."""
    if sar is None:
        return width, height
    return max(1, round(width * sar)), height


def song_tags(*sources: dict[str, str]) -> dict[str, str]:
    """Title and artist from the container's tags, else the stream's (Ogg keeps its
    Vorbis comments there), whatever their case (FLAC's ``TITLE``, ID3's ``title``)."""
    found: dict[str, str] = {}
    for tags in sources:
        for key, value in tags.items():
            name = key.lower()
            if name in ("title", "artist") and value.strip() and name not in found:
                found[name] = value.strip()[:_TAG_CHARS]
    return found


def _bit_depth(pix_fmt: str | None) -> int | None:
    if not pix_fmt:
        return None
    import av  # lazy: PyAV (module docstring)

    try:
        return int(av.VideoFormat(pix_fmt).components[0].bits)
    except (ValueError, IndexError):
        return None


def _first_frame(container: InputContainer, stream: VideoStream | AudioStream) -> object | None:
    """The first decoded frame of ``stream``, or None if nothing decodes."""
    import av  # lazy: PyAV (module docstring)

    for count, packet in enumerate(container.demux(stream)):
        try:
            for frame in packet.decode():
                return frame
        except av.InvalidDataError:
            pass  # a damaged packet; a later keyframe may still decode
        if count >= _MAX_DECODE_PACKETS:
            break
    return None


def _count_frames(container: InputContainer, video: VideoStream) -> int:
    """Frames of an animation, counting only up to 2: all that matters is 'more than one'."""
    if video.frames:
        return min(int(video.frames), 2)
    container.seek(0)
    count = 0
    for packet in container.demux(video):
        if packet.size:
            count += 1
            if count >= 2:
                break
    return count


def _duration(container: InputContainer, stream: VideoStream | AudioStream) -> float | None:
    import av  # lazy: PyAV (module docstring)

    if container.duration:
        return float(container.duration / av.time_base)
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _major_brand(path: Path) -> bytes | None:
    """The ftyp major brand: ``qt  `` marks a QuickTime .mov, which FFmpeg reads with
    the same demuxer as MP4 but which phones and Telegram do not treat as MP4."""
    with path.open("rb") as f:
        head = f.read(12)
    return head[8:12] if head[4:8] == b"ftyp" else None


def _mp4_layout(path: Path) -> bool:
    """Whether ``moov`` precedes ``mdat`` (players start at once), from the top-level atoms.

    An atom running past the end of the file means a cut-off download: FFmpeg would
    happily open it and fail only at the missing part, so it is refused here.
    """
    with path.open("rb") as f:
        end = f.seek(0, 2)
        pos, moov, mdat = 0, -1, -1
        while pos + 8 <= end:
            f.seek(pos)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:
                (size,) = struct.unpack(">Q", f.read(8))
            elif size == 0:  # the last atom, up to the end
                size = end - pos
            if size < 8:
                break
            if pos + size > end:
                raise FerrymanError(
                    "media.unreadable",
                    f"{path.name}: truncated ({kind.decode('latin-1')!r} atom needs "
                    f"{pos + size} bytes, the file has {end})",
                )
            if kind == b"moov" and moov < 0:
                moov = pos
            elif kind == b"mdat" and mdat < 0:
                mdat = pos
            pos += size
    return moov >= 0 and (mdat < 0 or moov < mdat)
