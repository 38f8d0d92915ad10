"""The resumable transcode's encoders (``segmented``): one segment's video decoded
from its keyframe and encoded alone, and the audio track encoded once."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.hdr import ToneMapper, tag_bt709
from ferryman.media.probe import first_streams
from ferryman.media.segment_plan import (
    EncodeSettings,
    OutputFormat,
    ScannedVideo,
    Segment,
    video_stream,
)
from ferryman.media.transcode import AUDIO_RATE, retime_in_samples

_SEEK_BACK = (0.0, 2.0, 10.0)  # seconds before a keyframe to seek to, tried in turn


def encode_segment(
    src: Path,
    dst: Path,
    segment: Segment,
    source: ScannedVideo,
    fmt: OutputFormat,
    settings: EncodeSettings,
    report: Callable[[float], None],
    cube: Path | None = None,
) -> None:
    """Encode ``segment`` of ``src`` into ``dst``; an HDR source is tone-mapped with
    the table ``cube`` (``media.hdr``)."""
    with av.open(str(dst), "w", format="mp4") as out:
        encoder = _VideoEncoder(out, source, fmt, settings, cube)
        for frame in _segment_frames(src, segment, source.time_base, settings.threads):
            report(encoder.encode(frame))
        if encoder.frames == 0:
            raise FerrymanError(
                "media.convert_failed",
                f"{src.name}: segment {segment.index + 1}: no decodable video",
            )
        encoder.flush()


def _segment_frames(
    src: Path, segment: Segment, time_base: Fraction, threads: int
) -> Iterator[VideoFrame]:
    """The decoded frames with ``start <= pts < end``, in display order.

    The first segment is decoded from the top of the file, so frames before the first
    keyframe are kept if they decode at all. The others seek back to their keyframe.
    MPEG-TS has no index, and its timestamp search can land just past the keyframe;
    then the seek aims earlier (decoding a little for nothing), and last from the top.
    """
    if segment.index > 0:
        for back in _SEEK_BACK:
            target = segment.start - round(back / time_base)
            landed = yield from _decode_range(src, segment, target, threads)
            if landed:
                return
    yield from _decode_range(src, segment, None, threads)


def _decode_range(
    src: Path, segment: Segment, seek: int | None, threads: int
) -> Generator[VideoFrame, None, bool]:
    """Yield the segment's frames, seeking to ``seek`` first (if given).

    Returns False, having yielded nothing, when the seek landed past the keyframe.
    Frames before ``start`` are dropped: the frames before the keyframe a seek landed
    early on, and the leading frames of an open GOP, which belong to the previous
    segment (whose decoder saw their references). Decoders emit frames in display
    order, so the first frame at or past ``end`` means the segment is complete.
    """
    lower = segment.start if segment.index > 0 else None
    kept = False
    with av.open(str(src)) as inp:
        video = video_stream(inp, src)
        video.thread_type = "AUTO"
        video.thread_count = threads  # each decoder thread holds frames of its own
        if seek is not None:
            inp.seek(seek, stream=video, backward=True)
        for frame in _decoded(inp, video):
            pts = frame.pts
            if pts is not None and segment.end is not None and pts >= segment.end:
                break
            if not kept and lower is not None:
                if pts is None or pts < lower:
                    continue
                if seek is not None and pts != lower:
                    return False
            kept = True
            yield frame
    return kept or seek is None


def _decoded(inp: InputContainer, video: VideoStream) -> Iterator[VideoFrame]:
    for packet in inp.demux(video):
        try:
            frames = packet.decode()
        except av.InvalidDataError:
            continue  # a damaged packet: skip it like FFmpeg does
        yield from frames


class _VideoEncoder:
    """Scales, converts to yuv420p and encodes frames with x264, keeping their timestamps.

    Every segment's encoder is configured from the same ``OutputFormat`` and settings, which
    is what makes the segments' SPS/PPS identical and the join a plain copy.
    """

    def __init__(
        self,
        out: OutputContainer,
        source: ScannedVideo,
        fmt: OutputFormat,
        settings: EncodeSettings,
        cube: Path | None,
    ) -> None:
        self._stream = out.add_stream("libx264", rate=fmt.rate, options=settings.x264_options())
        self._stream.width, self._stream.height = fmt.size
        self._stream.pix_fmt = "yuv420p"
        ctx = self._stream.codec_context
        ctx.time_base = source.time_base
        # PyAV defaults to slice threads, which x264 takes as --sliced-threads (slower,
        # worse compression); frame threads are what the ffmpeg command uses.
        ctx.thread_type = "AUTO"
        ctx.thread_count = settings.threads  # a frame in flight each (0: by the cores)
        self._out = out
        self._time_base = source.time_base
        self._offset = source.offset
        self._step = max(1, round(1 / (fmt.rate * source.time_base)))
        self._size = fmt.size
        self._reformatter = VideoReformatter()  # one scaler for all frames, not one each
        self._mapper = ToneMapper(fmt.size, cube) if cube is not None else None
        if self._mapper is not None:
            tag_bt709(ctx)
        self._last: int | None = None
        self.frames = 0

    def encode(self, frame: VideoFrame) -> float:
        """Encode one decoded frame; returns its time in seconds from the source's start."""
        if frame.pts is None:
            pts = 0 if self._last is None else self._last + self._step
        else:
            pts = frame.pts - self._offset
        seconds = float(pts * self._time_base)
        if self._last is not None and pts <= self._last:
            return seconds  # duplicate or backwards time: x264 would refuse it
        self._last = pts
        if self._mapper is not None:
            image = self._mapper.convert(frame)
        else:
            image = self._reformatter.reformat(
                frame,
                width=self._size[0],
                height=self._size[1],
                format="yuv420p",
                interpolation="BICUBIC",
            )
        image.pts, image.time_base = pts, self._time_base
        self._out.mux(self._stream.encode(image))
        self.frames += 1
        return seconds

    def flush(self) -> None:
        self._out.mux(self._stream.encode(None))


# ---------------------------------------------------------------------------- audio


def encode_audio(
    src: Path, dst: Path, settings: EncodeSettings, report: Callable[[float], None]
) -> None:
    """The whole first audio track, once: its decode is cheap, and cutting AAC is not."""
    with av.open(str(src)) as inp:
        _, audio = first_streams(inp)
        if audio is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no audio stream")
        start = Fraction(inp.start_time or 0, av.time_base)
        with av.open(str(dst), "w", format="mp4") as out:
            encoder = _AudioEncoder(out, audio, settings, start)
            for packet in inp.demux(audio):
                try:
                    frames = packet.decode()
                except av.InvalidDataError:
                    continue
                for frame in frames:
                    report(encoder.encode(frame))
            encoder.flush()


class _AudioEncoder:
    """Resamples to stereo fltp 48 kHz and encodes AAC, keeping the timeline."""

    def __init__(
        self, out: OutputContainer, audio: AudioStream, settings: EncodeSettings, start: Fraction
    ) -> None:
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        self._stream = out.add_stream("aac", rate=AUDIO_RATE)
        self._stream.layout = "stereo"
        self._stream.codec_context.bit_rate = settings.audio_bitrate
        self._time_base = audio.time_base or Fraction(1, audio.codec_context.sample_rate)
        self._start = start
        self._out = out

    def encode(self, frame: AudioFrame) -> float:
        """Encode one decoded frame; returns its time in seconds from the start."""
        seconds = retime_in_samples(frame, self._time_base, self._start) or 0.0
        for resampled in self._resampler.resample(frame):
            self._out.mux(self._stream.encode(resampled))
        return seconds

    def flush(self) -> None:
        for resampled in self._resampler.resample(None):
            self._out.mux(self._stream.encode(resampled))
        self._out.mux(self._stream.encode(None))
