"""A video's thumbnail and the attributes Telegram needs to play it inline.

The first frame of most clips is a fade-in, so a thumbnail taken at 0 is black. Here a
few frames spread over the clip are scored on a tiny greyscale copy and the most
detailed one that is neither dark nor flat wins; only that frame is converted in full.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image, ImageStat

from ferryman.errors import FerrymanError
from ferryman.media.policy import MP4_FAMILY, ThumbLimits
from ferryman.media.probe import first_streams
from ferryman.model import MediaInfo

_FIRST = 0.10  # first and last sample, as fractions of the duration: never exactly 0
_LAST = 0.85
_MIN_SEEK_SECONDS = 2.0  # shorter (or unknown) clips are decoded from the start
_FIRST_FRAMES = 50  # frames decoded from the start when not seeking
_SEEK_BUDGET_SECONDS = 2.0  # decoded media after a seek before taking what was reached
_SEEK_BUDGET_PACKETS = 300
_SCORE_WIDTH = 64  # width of the greyscale copy a candidate is scored on
_DARK_MEAN = 16.0  # mean luma (0-255) below which a frame counts as black
_FLAT_STDDEV = 8.0  # luma standard deviation below which a frame is flat (white, grey)
_QUALITY_RANGE = (30, 90)  # JPEG quality searched to fit the byte limit
_SHRINK_TRIES = 8  # downscales tried when even the lowest quality is too big
# Counter-clockwise quarter turns, indexed by how many (Pillow's ROTATE_90 turns that way)
_TURNS = (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A JPEG written for a video, and where in the video its frame was taken."""

    path: Path
    width: int
    height: int
    size: int  # bytes
    at_seconds: float  # where in the video the frame was taken


@dataclass(frozen=True, slots=True)
class VideoAttributes:
    """What a Telegram client needs to show a video inline before downloading it."""

    duration: float  # seconds, > 0
    width: int  # as displayed (after rotation)
    height: int
    supports_streaming: bool  # MP4 with the index first


def video_attributes(info: MediaInfo) -> VideoAttributes:
    """Telegram's video attributes from a probe result; raises ``media.unreadable``.

    A video sent without a positive duration and size shows as 00:00 and a square, so
    a probe missing them is an error rather than a silent zero.
    """
    duration, width, height = info.duration, info.width, info.height
    bad = [
        f"{name}={value}"
        for name, value in (("duration", duration), ("width", width), ("height", height))
        if value is None or not (math.isfinite(value) and value > 0)
    ]
    if bad or duration is None or width is None or height is None:
        raise FerrymanError(
            "media.unreadable",
            f"video ({info.container or 'unknown container'}) has no usable {', '.join(bad)}",
        )
    return VideoAttributes(
        duration=float(duration),
        width=width,
        height=height,
        supports_streaming=info.container == MP4_FAMILY and info.faststart is True,
    )


def make_thumbnail(src: Path, dst: Path, limits: ThumbLimits, *, samples: int = 6) -> Thumbnail:
    """Write a JPEG of a representative, upright frame of ``src`` to ``dst`` within ``limits``.

    ``samples`` frames spread over the clip are scored. Raises ``media.unreadable``
    (no decodable video) or ``media.convert_failed`` (``dst`` not writable); a partial
    ``dst`` is removed.
    """
    try:
        pick = _best_frame(src, samples)
        image = _upright_image(pick, limits.max_side)
        data, image = fit_jpeg(image, limits.max_bytes, src)
    except FerrymanError:
        dst.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        dst.unlink(missing_ok=True)
        raise FerrymanError("media.unreadable", f"{src.name}: cannot decode ({exc})") from exc
    try:
        dst.write_bytes(data)
    except OSError as exc:
        dst.unlink(missing_ok=True)
        raise FerrymanError(
            "media.convert_failed", f"{src.name}: cannot write thumbnail {dst.name} ({exc})"
        ) from exc
    return Thumbnail(dst, image.width, image.height, len(data), pick.seconds)


# ---------------------------------------------------------------------------- choosing


@dataclass(frozen=True, slots=True)
class _Pick:
    """A candidate frame with its score; ``seconds`` counts from the video's start."""

    frame: VideoFrame
    seconds: float
    sar: Fraction | None
    usable: bool  # neither dark nor flat
    mean: float
    detail: float

    def beats(self, other: _Pick) -> bool:
        """Usable beats unusable; then more detail wins, or (all unusable) more light."""
        if self.usable != other.usable:
            return self.usable
        if self.usable:
            return self.detail > other.detail
        return self.mean > other.mean


def _best_frame(src: Path, samples: int) -> _Pick:
    with av.open(str(src)) as container:
        video = _video_stream(container, src)
        clip = _Clip(container, video)
        duration = clip.duration()
        if duration is not None and duration >= _MIN_SEEK_SECONDS:
            best = _choose(clip, clip.sought(_positions(duration, samples)))
            if best is not None:
                return best
    with av.open(str(src)) as container:  # seeking found nothing: read from the start
        clip = _Clip(container, _video_stream(container, src))
        best = _choose(clip, clip.first_frames(_FIRST_FRAMES))
    if best is None:
        raise FerrymanError("media.unreadable", f"{src.name}: no decodable video frame")
    return best


def _video_stream(container: InputContainer, src: Path) -> VideoStream:
    video, _ = first_streams(container)
    if video is None:
        raise FerrymanError("media.unreadable", f"{src.name}: no video stream")
    # Slice threads, not frame threads: FFmpeg gives a frame-threaded decoder a thread a
    # core, each holding frames of its own, so a 4K clip's thumbnail took 356 MiB on 9
    # threads (an 8-core phone) against 156 MiB on slices, as on one thread; a few
    # frames after each seek gain nothing from a pipeline of frames.
    video.thread_type = "SLICE"
    return video


def _positions(duration: float, samples: int) -> list[float]:
    """``samples`` times (seconds) spread evenly from 10 % to 85 % of the clip."""
    count = max(1, samples)
    if count == 1:
        return [duration * (_FIRST + _LAST) / 2]
    step = (_LAST - _FIRST) / (count - 1)
    return [duration * (_FIRST + i * step) for i in range(count)]


def _choose(clip: _Clip, frames: Iterable[VideoFrame]) -> _Pick | None:
    """The best-scoring frame; only the current best is kept, so memory stays flat."""
    best: _Pick | None = None
    for frame in frames:
        candidate = _score(clip, frame)
        if best is None or candidate.beats(best):
            best = candidate
    return best


def _score(clip: _Clip, frame: VideoFrame) -> _Pick:
    height = max(1, round(_SCORE_WIDTH * frame.height / max(1, frame.width)))
    stat = ImageStat.Stat(_to_image(frame, _SCORE_WIDTH, height, grey=True))
    mean, stddev = stat.mean[0], stat.stddev[0]
    usable = mean >= _DARK_MEAN and stddev >= _FLAT_STDDEV
    return _Pick(frame, clip.seconds(frame), clip.sar, usable, mean, stddev)


class _Clip:
    """Reads candidate frames from one open video stream, in that stream's time base."""

    def __init__(self, container: InputContainer, video: VideoStream) -> None:
        self._container = container
        self._video = video
        rate = video.average_rate or video.guessed_rate
        self._time_base = video.time_base or (1 / rate if rate else Fraction(1, av.time_base))
        if video.start_time is not None:
            self._start = video.start_time
        else:
            self._start = round(Fraction(container.start_time or 0, av.time_base) / self._time_base)
        self.sar = _sample_aspect(video)

    def duration(self) -> float | None:
        if self._video.duration and self._video.time_base:
            return float(self._video.duration * self._video.time_base)
        if self._container.duration:
            return self._container.duration / av.time_base
        return None

    def seconds(self, frame: VideoFrame) -> float:
        if frame.pts is None:
            return 0.0
        return max(0.0, float((frame.pts - self._start) * self._time_base))

    def sought(self, positions: list[float]) -> Iterator[VideoFrame]:
        """A frame at (or just after) each position, skipping repeats of the same frame."""
        seen: set[int | None] = set()
        for seconds in positions:
            frame = self._frame_at(self._start + round(seconds / self._time_base))
            if frame is not None and frame.pts not in seen:
                seen.add(frame.pts)
                yield frame

    def first_frames(self, limit: int) -> Iterator[VideoFrame]:
        for count, frame in enumerate(self._decode()):
            if count >= limit:
                return
            yield frame

    def _frame_at(self, target: int) -> VideoFrame | None:
        """Seek to the keyframe before ``target``, decode up to it within the budget.

        A long GOP would need seconds of decoding per candidate; past the budget the
        frame reached so far is taken instead.
        """
        try:
            self._container.seek(target, stream=self._video, backward=True)
        except av.FFmpegError:
            return None
        budget = round(_SEEK_BUDGET_SECONDS / self._time_base)
        first: int | None = None
        reached: VideoFrame | None = None
        for frame in self._decode(_SEEK_BUDGET_PACKETS):
            if frame.pts is None:
                return frame
            first = frame.pts if first is None else first
            reached = frame
            if frame.pts >= target or frame.pts - first >= budget:
                break
        return reached

    def _decode(self, max_packets: int | None = None) -> Iterator[VideoFrame]:
        """Decoded, intact frames; damaged packets are skipped as FFmpeg would."""
        for count, packet in enumerate(self._container.demux(self._video)):
            if max_packets is not None and count >= max_packets:
                return
            try:
                frames = packet.decode()
            except av.InvalidDataError:
                continue
            for frame in frames:
                if isinstance(frame, VideoFrame) and not frame.is_corrupt:
                    yield frame


def _sample_aspect(video: VideoStream) -> Fraction | None:
    """The pixel shape: the container's if it says, else the codec's (FFmpeg's order)."""
    for sar in (video.sample_aspect_ratio, video.codec_context.sample_aspect_ratio):
        if sar and sar > 0 and sar != 1:
            return Fraction(sar)
    return None


# ---------------------------------------------------------------------------- the image


def _upright_image(pick: _Pick, max_side: int) -> Image.Image:
    """The frame as displayed: square pixels, rotated upright, long side within ``max_side``."""
    frame = pick.frame
    width = frame.width * pick.sar if pick.sar else Fraction(frame.width)
    height = Fraction(frame.height)
    scale = min(Fraction(1), Fraction(max_side) / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return _rotate(_to_image(frame, *size), frame.rotation)


def _to_image(frame: VideoFrame, width: int, height: int, *, grey: bool = False) -> Image.Image:
    """The frame scaled (area-averaged) to a Pillow image, RGB or greyscale."""
    mode, pix_fmt = ("L", "gray") if grey else ("RGB", "rgb24")
    plane = frame.reformat(width, height, pix_fmt, interpolation="AREA", threads=1).planes[0]
    return Image.frombuffer(mode, (width, height), bytes(plane), "raw", mode, plane.line_size, 1)


def _rotate(image: Image.Image, rotation: int) -> Image.Image:
    """Apply a display rotation given counter-clockwise, as ``VideoFrame.rotation`` gives it.

    Pillow's ``ROTATE_90`` is counter-clockwise too; a player shows a clip whose frames
    report 90 with the stored top-left corner at the bottom left.
    """
    turn = _TURNS[round(rotation / 90) % 4]
    return image if turn is None else image.transpose(turn)


def fit_jpeg(image: Image.Image, max_bytes: int, src: Path) -> tuple[bytes, Image.Image]:
    """The best JPEG within ``max_bytes``: highest quality first, then smaller sizes."""
    low, high = _QUALITY_RANGE
    for _ in range(_SHRINK_TRIES):
        data = _jpeg(image, high)
        if len(data) <= max_bytes:
            return data, image
        data = _jpeg(image, low)
        if len(data) <= max_bytes:
            return _best_quality(image, max_bytes, low, high, data), image
        if image.width == 1 and image.height == 1:
            break
        factor = max(0.1, min(0.9, math.sqrt(max_bytes / len(data)) * 0.9))
        image = image.resize(
            (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
            Image.Resampling.LANCZOS,
        )
    raise FerrymanError("media.over_limit", f"{src.name}: no thumbnail fits in {max_bytes} bytes")


def _best_quality(image: Image.Image, max_bytes: int, low: int, high: int, fits: bytes) -> bytes:
    """Binary search on quality: ``low`` is known to fit (as ``fits``), ``high`` not."""
    while high - low > 1:
        middle = (low + high) // 2
        data = _jpeg(image, middle)
        if len(data) <= max_bytes:
            low, fits = middle, data
        else:
            high = middle
    return fits


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()
