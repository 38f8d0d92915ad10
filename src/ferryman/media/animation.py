"""Turn a GIF or animated WebP into a silent H.264 MP4, which Telegram loops like a GIF.

Pillow decodes both formats (this FFmpeg cannot decode animated WebP), composes each
frame over the previous ones as the format says, and gives every frame its own delay.
The delays become real timestamps, so a GIF that pauses on one frame still pauses.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream
from PIL import Image, ImageSequence, UnidentifiedImageError

from ferryman.errors import FerrymanError
from ferryman.media.failures import MEDIA_FAILURES, removing_on_failure
from ferryman.media.openers import ensure_openers, named
from ferryman.media.progress import Progress
from ferryman.media.remux import MP4_OPTIONS
from ferryman.media.transcode import output_size

# The openers (HEIF, JPEG XL) registered as this module loads: a child imports it when its
# target is unpickled, before it confines its memory; loading libheif after that, in a
# 16 MiB allowance, killed the child instead of ending the encode with its code.
ensure_openers()

TIME_BASE = Fraction(1, 1000)  # GIF and WebP delays are whole milliseconds
# Browsers show a delay this short (or none) as 100 ms; so does the MP4.
_MIN_DELAY_MS = 20
_DEFAULT_DELAY_MS = 100
_BACKGROUND = (255, 255, 255, 255)  # transparency is composited on white
_FAILURES = (*MEDIA_FAILURES, UnidentifiedImageError, SyntaxError)
_DECODE_FAILURES = (OSError, ValueError, SyntaxError, EOFError)  # Pillow reading a frame


def animation_to_mp4(
    src: Path,
    dst: Path,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    max_height: int = 1080,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Encode the animation ``src`` (GIF, WebP, APNG) as a silent H.264 yuv420p MP4 ``dst``.

    Each frame keeps its delay; the sides are made even by repeating the last row or
    column, and the short side is scaled down to ``max_height``. A single frame is
    written twice, so the result is still an animation. ``progress`` receives rising
    fractions ending at 1.0. Raises ``media.too_many_pixels`` for a decompression bomb,
    ``media.unreadable`` for a frame Pillow cannot decode (a cut-off file: no retry
    heals it) and ``media.convert_failed`` otherwise; a partial ``dst`` is removed.
    """
    try:
        with removing_on_failure(src, dst, "animation conversion", _FAILURES):
            _convert(src, dst, crf, preset, max_height, Progress(progress))
    except Image.DecompressionBombError as exc:  # not in _FAILURES: it keeps its own code
        dst.unlink(missing_ok=True)
        raise FerrymanError("media.too_many_pixels", f"{src.name}: {exc}") from exc


def _convert(
    src: Path, dst: Path, crf: int, preset: str, max_height: int, progress: Progress
) -> None:
    ensure_openers()  # done at import already; cheap again (a test may import first)
    with Image.open(src) as image:
        count = getattr(image, "n_frames", 1)
        progress.start(count)
        size = _scaled_size(image.size, max_height)
        with av.open(str(dst), "w", format="mp4", options=MP4_OPTIONS) as out:
            stream = _add_video(out, size, crf, preset)
            delays: dict[int, int] = {}  # frame pts -> its delay, both in ms
            pts = 0
            for index, (frame, delay) in enumerate(_frames(image, count, src.name)):
                rgba = _even(_flatten(frame, size))
                picture = av.VideoFrame.from_bytes(rgba.tobytes(), *rgba.size, format="rgba")
                picture = picture.reformat(format="yuv420p")
                picture.pts, picture.time_base = pts, TIME_BASE
                delays[pts] = delay
                out.mux(_timed(stream.encode(picture), delays))
                pts += delay
                progress.update(index + 1)
            out.mux(_timed(stream.encode(None), delays))
    progress.done()


def _add_video(out: OutputContainer, size: tuple[int, int], crf: int, preset: str) -> VideoStream:
    """x264 without B-frames: an MP4 sample lasts until the next one in decode order, so
    only when decode order is display order does every frame keep its own delay."""
    options = {"crf": str(crf), "preset": preset, "bf": "0"}
    stream = out.add_stream("libx264", options=options)
    stream.width, stream.height = (side + side % 2 for side in size)  # as ``_even`` pads
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = TIME_BASE
    return stream


def _frames(image: Image.Image, count: int, name: str) -> Iterator[tuple[Image.Image, int]]:
    """Each composed frame with its delay in ms; a lone frame comes twice (half each).

    Pillow moves one image from frame to frame, so each must be used before the next.
    """
    frames = ImageSequence.Iterator(image)
    for index in itertools.count(1):
        try:
            frame = next(frames)
            delay = _delay(frame)  # decodes the frame
        except StopIteration:
            return
        except _DECODE_FAILURES as exc:
            raise FerrymanError(
                "media.unreadable",
                f"{name}: frame {index} cannot be decoded ({named(exc, Path(name))})",
            ) from exc
        if count > 1:
            yield frame, delay
        else:
            half = max(1, delay // 2)
            yield frame, half
            yield frame, max(1, delay - half)


def _delay(frame: Image.Image) -> int:
    frame.load()  # WebP sets the frame's duration only when it is loaded
    delay = round(frame.info.get("duration") or 0)
    return _DEFAULT_DELAY_MS if delay < _MIN_DELAY_MS else delay


def _flatten(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The frame on white (opaque RGBA), scaled to ``size`` if it is not that already."""
    rgba = frame.convert("RGBA")
    if rgba.size != size:
        rgba = rgba.resize(size, Image.Resampling.LANCZOS)
    return Image.alpha_composite(Image.new("RGBA", size, _BACKGROUND), rgba)


def _even(image: Image.Image) -> Image.Image:
    """Pad an odd side by repeating its last row or column: 4:2:0 needs even sides."""
    width, height = image.size
    if width % 2 == 0 and height % 2 == 0:
        return image
    padded = Image.new("RGBA", (width + width % 2, height + height % 2))
    padded.paste(image, (0, 0))
    if width % 2:
        padded.paste(image.crop((width - 1, 0, width, height)), (width, 0))
    if height % 2:
        padded.paste(padded.crop((0, height - 1, width + width % 2, height)), (0, height))
    return padded


def _scaled_size(size: tuple[int, int], max_height: int) -> tuple[int, int]:
    """The frame size with the short side at most ``max_height`` (possibly odd)."""
    width, height = size
    if min(width, height) <= max_height:
        return width, height
    return output_size(width, height, None, max_height)


def _timed(packets: list[Packet[VideoStream]], delays: dict[int, int]) -> list[Packet[VideoStream]]:
    """Give each packet its frame's delay: x264 does not pass durations through, and
    without one the MP4 guesses the last frame's (and so the total) length."""
    for packet in packets:
        if packet.pts is not None:
            packet.duration = delays.pop(packet.pts, packet.duration)
    return packets
