"""Re-encode a video to the one format every phone plays inline: H.264/AAC in MP4.

Used when the streams themselves are unplayable (HEVC, VP9, 10-bit, 4:4:4, MP3…).
It is slow, so it reports progress and runs in a child process (see ``child``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.probe import first_streams
from ferryman.media.remux import MP4_OPTIONS

AUDIO_RATE = 48_000
PROGRESS_INTERVAL = 0.05  # seconds between progress reports (at most ~20 per second)
_FALLBACK_RATE = Fraction(25)


def transcode_to_mp4(
    src: Path,
    dst: Path,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    max_height: int = 1080,
    audio_bitrate: int = 128_000,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Re-encode ``src`` to H.264 (yuv420p) + AAC stereo 48 kHz in MP4 ``dst`` (faststart).

    ``max_height`` bounds the short side, so a portrait clip gets the same resolution
    as its landscape twin. ``progress`` receives rising fractions ending at 1.0.
    Raises ``media.convert_failed``; a partial ``dst`` is removed.
    """
    settings = _Settings(crf, preset, max_height, audio_bitrate)
    try:
        _transcode(src, dst, settings, _Progress(progress))
    except FerrymanError:
        dst.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        dst.unlink(missing_ok=True)
        raise FerrymanError(
            "media.convert_failed", f"{src.name}: transcode failed ({exc})"
        ) from exc


@dataclass(frozen=True, slots=True)
class _Settings:
    crf: int
    preset: str
    max_height: int
    audio_bitrate: int


class _Progress:
    """Turns decoded timestamps into rising fractions, throttled to ``PROGRESS_INTERVAL``."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self._callback = callback
        self._duration = 0.0
        self._sent = 0.0
        self._at = 0.0

    def start(self, duration: float | None) -> None:
        self._duration = duration or 0.0

    def update(self, seconds: float) -> None:
        if self._callback is None or self._duration <= 0:
            return
        fraction = min(1.0, max(0.0, seconds / self._duration))
        now = time.monotonic()
        if fraction > self._sent and now - self._at >= PROGRESS_INTERVAL:
            self._sent, self._at = fraction, now
            self._callback(fraction)

    def done(self) -> None:
        if self._callback is not None and self._sent < 1.0:
            self._sent = 1.0
            self._callback(1.0)


def _transcode(src: Path, dst: Path, settings: _Settings, progress: _Progress) -> None:
    rotation = _rotation(src)
    with av.open(str(src)) as inp:
        video, audio = first_streams(inp)
        if video is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no video stream")
        video.thread_type = "AUTO"
        start = Fraction(inp.start_time or 0, av.time_base)
        progress.start(_duration(inp, video))
        with av.open(str(dst), "w", format="mp4", options=MP4_OPTIONS) as out:
            encoder = _VideoEncoder(out, video, settings, rotation, start)
            sound = _AudioEncoder(out, audio, settings, start) if audio else None
            for packet in inp.demux([s for s in (video, audio) if s is not None]):
                try:
                    frames = packet.decode()
                except av.InvalidDataError:
                    continue  # a damaged packet: skip it like FFmpeg does
                for frame in frames:
                    if isinstance(frame, VideoFrame):
                        progress.update(encoder.encode(frame))
                    elif isinstance(frame, AudioFrame) and sound is not None:
                        progress.update(sound.encode(frame))
            if encoder.frames == 0:
                raise FerrymanError("media.convert_failed", f"{src.name}: no decodable video")
            encoder.flush()
            if sound is not None:
                sound.flush()
    progress.done()


def _rotation(src: Path) -> int:
    """The display rotation (degrees, counter-clockwise) of the first video frame."""
    with av.open(str(src)) as inp:
        video, _ = first_streams(inp)
        if video is None:
            return 0
        for packet in inp.demux(video):
            try:
                for frame in packet.decode():
                    return frame.rotation
            except av.InvalidDataError:
                continue
    return 0


def _duration(inp: InputContainer, video: VideoStream) -> float | None:
    if inp.duration:
        return inp.duration / av.time_base
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    return None


def output_size(width: int, height: int, sar: Fraction | None, max_height: int) -> tuple[int, int]:
    """Square-pixel size with the short side at most ``max_height``, both sides even."""
    if sar and sar > 0:
        width = round(width * sar)
    scale = min(1.0, max_height / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class _VideoEncoder:
    """Scales, converts to yuv420p and encodes frames, keeping their timestamps."""

    def __init__(
        self,
        out: OutputContainer,
        video: VideoStream,
        settings: _Settings,
        rotation: int,
        start: Fraction,
    ) -> None:
        ctx = video.codec_context
        rate = video.average_rate or video.guessed_rate or _FALLBACK_RATE
        self._time_base = video.time_base or 1 / rate
        self._offset = round(start / self._time_base)
        self._step = max(1, round(1 / (rate * self._time_base)))
        self._width, self._height = output_size(
            ctx.width, ctx.height, ctx.sample_aspect_ratio, settings.max_height
        )
        options = {"crf": str(settings.crf), "preset": settings.preset}
        self._stream = out.add_stream("libx264", rate=rate, options=options)
        self._stream.width, self._stream.height = self._width, self._height
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = self._time_base
        if rotation:
            self._stream.set_display_rotation(rotation)
        self._out = out
        self._last: int | None = None
        self.frames = 0

    def encode(self, frame: VideoFrame) -> float:
        """Encode one decoded frame; returns its time in seconds from the start."""
        if frame.pts is None:
            pts = 0 if self._last is None else self._last + self._step
        else:
            pts = frame.pts - self._offset
        seconds = float(pts * self._time_base)
        if self._last is not None and pts <= self._last:
            return seconds  # duplicate or backwards time: x264 would refuse it
        self._last = pts
        image = frame.reformat(
            width=self._width, height=self._height, format="yuv420p", interpolation="BICUBIC"
        )
        image.pts, image.time_base = pts, self._time_base
        self._out.mux(self._stream.encode(image))
        self.frames += 1
        return seconds

    def flush(self) -> None:
        self._out.mux(self._stream.encode(None))


class _AudioEncoder:
    """Resamples to stereo fltp 48 kHz and encodes AAC, keeping the timeline."""

    def __init__(
        self, out: OutputContainer, audio: AudioStream, settings: _Settings, start: Fraction
    ) -> None:
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        self._stream = out.add_stream("aac", rate=AUDIO_RATE)
        self._stream.layout = "stereo"
        self._stream.codec_context.bit_rate = settings.audio_bitrate
        self._time_base = audio.time_base or Fraction(1, audio.codec_context.sample_rate)
        self._offset = round(start / self._time_base)
        self._out = out

    def encode(self, frame: AudioFrame) -> float:
        """Encode one decoded frame; returns its time in seconds from the start."""
        seconds = 0.0
        if frame.pts is not None:
            frame.pts -= self._offset
            frame.time_base = self._time_base
            seconds = float(frame.pts * self._time_base)
        for resampled in self._resampler.resample(frame):
            self._out.mux(self._stream.encode(resampled))
        return seconds

    def flush(self) -> None:
        for resampled in self._resampler.resample(None):
            self._out.mux(self._stream.encode(resampled))
        self._out.mux(self._stream.encode(None))
