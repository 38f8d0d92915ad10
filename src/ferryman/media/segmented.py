"""A full transcode that survives crashes: the video is encoded in keyframe-aligned segments.

A one-pass transcode of a long film that dies at 45 % must start again from zero. Here
the video is cut at the source's keyframes into segments of ~``segment_seconds``; each
is decoded from its own keyframe and encoded alone into a part file in ``workdir``, and
the audio is encoded once into a part of its own. A part is renamed into place only
once it is on disk, and only then reported (``on_part``), so a caller that records the
reported indexes can pass them back as ``done`` after a crash: only the part that was
in progress is encoded again. Every part uses the same encoder settings, so the parts'
H.264 streams share one SPS/PPS and are joined by copying packets, without re-encoding.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Callable, Collection, Generator, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.probe import first_streams
from ferryman.media.progress import PROGRESS_INTERVAL
from ferryman.media.remux import MP4_OPTIONS
from ferryman.media.transcode import AUDIO_RATE, output_size, retime_in_samples

AUDIO_PART = -1  # the index reported for the audio track's part
AUDIO_NAME = "audio.m4a"

_JOIN = -2  # the join's key in the progress weights
_FALLBACK_RATE = Fraction(25)
_FAILURES = (av.FFmpegError, OSError, ValueError, EOFError)
# Rough costs, only to weigh the parts of the progress curve against each other
# (measured at 1080p with x264 veryfast on two cores): seconds of work per output
# pixel, per second of audio, and the join as a share of the video's work.
_PIXEL_COST = 1 / 60e6
_AUDIO_COST = 1 / 80
_JOIN_SHARE = 0.04
_TOLERANCE = Fraction(1, 1000)  # seconds a part's timestamps may stray from its segment
_ALMOST_DONE = 1 - 1e-9  # the curve reaches 1.0 only once the output is complete
_SEEK_BACK = (0.0, 2.0, 10.0)  # seconds before a keyframe to seek to, tried in turn


# The finished parts cannot be joined: the caller must discard them and start over.
PARTS_UNUSABLE = "media.parts_unusable"


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    crf: int = 23
    preset: str = "veryfast"
    max_height: int = 1080  # bound on the short side (see ``transcode.output_size``)
    audio_bitrate: int = 128_000
    max_bitrate: int | None = None  # video bits/s cap (capped CRF), to fit a size limit

    def x264_options(self) -> dict[str, str]:
        """Encoder options; a cap keeps CRF's quality where it fits and limits the peaks."""
        options = {"crf": str(self.crf), "preset": self.preset}
        if self.max_bitrate:
            options |= {"maxrate": str(self.max_bitrate), "bufsize": str(self.max_bitrate)}
        return options


@dataclass(frozen=True, slots=True)
class Segment:
    index: int
    start: int  # first keyframe pts of the segment, in the video stream's time_base
    end: int | None  # next segment's start pts (exclusive); None for the last


def plan_segments(src: Path, target_seconds: float = 20.0) -> list[Segment]:
    """Cut the video of ``src`` at keyframes into segments of at least ~``target_seconds``.

    Reads packets only (no decoding), and depends on nothing but the file, so a
    restarted job gets the same plan. Raises ``media.convert_failed``.
    """
    with _failing(src, "scan"):
        return _cut(_scan(src), target_seconds)


def video_part_name(index: int) -> str:
    return f"video-{index:05d}.mp4"


def part_name(index: int) -> str:
    """The file in ``workdir`` that holds part ``index`` (``AUDIO_PART`` or a segment)."""
    return AUDIO_NAME if index == AUDIO_PART else video_part_name(index)


def transcode_resumable(
    src: Path,
    dst: Path,
    workdir: Path,
    settings: EncodeSettings,
    *,
    done: Collection[int] = (),
    on_part: Callable[[int], None] | None = None,
    progress: Callable[[float], None] | None = None,
    segment_seconds: float = 20.0,
) -> None:
    """Re-encode ``src`` to H.264 (yuv420p) + AAC stereo 48 kHz in MP4 ``dst`` (faststart).

    Parts listed in ``done`` whose files are in ``workdir`` are reused; every other part
    is encoded, made durable, then passed to ``on_part``. ``progress`` gets one rising
    curve ending at 1.0 (reused parts count from the start). Raises
    ``media.convert_failed``; ``dst`` is removed on failure, finished parts are kept.
    """
    try:
        _run(src, dst, workdir, settings, set(done), on_part, progress, segment_seconds)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise


def transcode_in_child(
    *,
    src: Path,
    dst: Path,
    workdir: Path,
    settings: EncodeSettings,
    done: frozenset[int],
    segment_seconds: float,
    event: Callable[[str, Any], None],
    progress: Callable[[float], None],
) -> None:
    """``transcode_resumable`` as a child process's target (``media.child``): each
    finished part is told to the parent as a ``("part", index)`` event. Here, not in
    the convert stage, so a child imports the media modules only, not the engine's."""
    transcode_resumable(
        src,
        dst,
        workdir,
        settings,
        done=done,
        on_part=lambda index: event("part", index),
        progress=progress,
        segment_seconds=segment_seconds,
    )


# ---------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class _Source:
    """What the demux-only scan learned about the video stream (times in its ticks)."""

    time_base: Fraction
    keyframes: tuple[int, ...]  # pts of the keyframes, rising
    first: int  # lowest pts
    end: int  # end of the last frame
    offset: int  # the container's start: output times count from here

    def seconds(self, pts: int) -> float:
        return float((pts - self.offset) * self.time_base)


def _scan(src: Path) -> _Source:
    with av.open(str(src)) as inp:
        video = _video_stream(inp, src)
        time_base = video.time_base or Fraction(1, av.time_base)
        keyframes: set[int] = set()
        first: int | None = None
        end: int | None = None
        for packet in inp.demux(video):
            pts = packet.pts
            if not packet.size or pts is None:
                continue
            first = pts if first is None else min(first, pts)
            last = pts + (packet.duration or 0)
            end = last if end is None else max(end, last)
            if packet.is_keyframe:
                keyframes.add(pts)
        if first is None or end is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no video packets")
        offset = round(Fraction(inp.start_time or 0, av.time_base) / time_base)
    return _Source(time_base, tuple(sorted(keyframes)), first, end, offset)


def _cut(source: _Source, target_seconds: float) -> list[Segment]:
    """Boundaries at the first keyframe at least ``target_seconds`` after the last one.

    A last segment shorter than half the target joins the one before: a sliver would
    cost a whole encoder start for almost nothing.
    """
    if not source.keyframes:
        return [Segment(0, source.first, None)]
    target = Fraction(target_seconds) / source.time_base
    starts = [source.keyframes[0]]
    for pts in source.keyframes[1:]:
        if pts - starts[-1] >= target:
            starts.append(pts)
    if len(starts) > 1 and source.end - starts[-1] < target / 2:
        starts.pop()
    ends: list[int | None] = [*starts[1:], None]
    return [Segment(i, start, end) for i, (start, end) in enumerate(zip(starts, ends, strict=True))]


def _video_stream(inp: InputContainer, src: Path) -> VideoStream:
    video, _ = first_streams(inp)
    if video is None:
        raise FerrymanError("media.convert_failed", f"{src.name}: no video stream")
    return video


# ---------------------------------------------------------------------------- the job


@dataclass(frozen=True, slots=True)
class _Format:
    """The output's fixed parameters, identical for every segment."""

    rate: Fraction
    size: tuple[int, int]
    rotation: int
    has_audio: bool


def _run(
    src: Path,
    dst: Path,
    workdir: Path,
    settings: EncodeSettings,
    done: set[int],
    on_part: Callable[[int], None] | None,
    progress: Callable[[float], None] | None,
    segment_seconds: float,
) -> None:
    with _failing(src, "scan"):
        source = _scan(src)
        fmt = _format(src, settings)
    with _failing(src, "work folder"):
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in workdir.glob(".*.tmp"):  # half a part from a killed or stale writer
            if stale.is_file():
                stale.unlink(missing_ok=True)
    segments = _cut(source, segment_seconds)
    parts = ([AUDIO_PART] if fmt.has_audio else []) + [s.index for s in segments]
    reused = {i for i in parts if i in done and (workdir / part_name(i)).exists()}
    curve = _Curve(progress, _weights(source, segments, fmt), reused)
    if fmt.has_audio and AUDIO_PART not in reused:
        with _failing(src, "audio"), _durable(workdir, AUDIO_NAME) as tmp:
            _encode_audio(src, tmp, settings, _reporter(curve, AUDIO_PART, 0.0, _length(source)))
        _finished(AUDIO_PART, curve, on_part)
    for segment in segments:
        if segment.index not in reused:
            first, last = _span(source, segment)
            report = _reporter(curve, segment.index, first, last)
            with (
                _failing(src, _label(segment, len(segments), first, last)),
                _durable(workdir, video_part_name(segment.index)) as tmp,
            ):
                _encode_segment(src, tmp, segment, source, fmt, settings, report)
            _finished(segment.index, curve, on_part)
    with _failing(src, "join", PARTS_UNUSABLE):
        join = _reporter(curve, _JOIN, 0.0, _length(source))
        _join(src, dst, workdir, segments, source, fmt, join)
    curve.close()


def _reporter(curve: _Curve, part: int, first: float, last: float) -> Callable[[float], None]:
    """Seconds reached inside ``[first, last)`` as that part's progress."""
    return lambda seconds: curve.at(part, (seconds - first) / (last - first))


def _format(src: Path, settings: EncodeSettings) -> _Format:
    with av.open(str(src)) as inp:
        video, audio = first_streams(inp)
        if video is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no video stream")
        ctx = video.codec_context
        size = output_size(ctx.width, ctx.height, ctx.sample_aspect_ratio, settings.max_height)
        rate = video.average_rate or video.guessed_rate or _FALLBACK_RATE
        return _Format(rate, size, _rotation(inp, video), audio is not None)


def _rotation(inp: InputContainer, video: VideoStream) -> int:
    """The display rotation (degrees, counter-clockwise) of the first decodable frame."""
    for packet in inp.demux(video):
        try:
            for frame in packet.decode():
                return frame.rotation
        except av.InvalidDataError:
            continue
    return 0


def _length(source: _Source) -> float:
    return max(source.seconds(source.end), 1e-3)


def _span(source: _Source, segment: Segment) -> tuple[float, float]:
    """The seconds a segment covers; the first from the very start, the last to the end."""
    first = 0.0 if segment.index == 0 else source.seconds(segment.start)
    last = source.seconds(source.end if segment.end is None else segment.end)
    return first, max(last, first + 1e-3)


def _label(segment: Segment, count: int, first: float, last: float) -> str:
    return f"segment {segment.index + 1} of {count} ({first:.1f}-{last:.1f} s)"


def _weights(source: _Source, segments: list[Segment], fmt: _Format) -> dict[int, float]:
    """Each part's expected cost in seconds of work: what the progress curve divides."""
    per_second = fmt.size[0] * fmt.size[1] * float(fmt.rate) * _PIXEL_COST
    weights: dict[int, float] = {}
    for segment in segments:
        first, last = _span(source, segment)
        weights[segment.index] = (last - first) * per_second
    video = sum(weights.values())
    if fmt.has_audio:
        weights[AUDIO_PART] = _length(source) * _AUDIO_COST
    weights[_JOIN] = video * _JOIN_SHARE
    return weights


def _finished(index: int, curve: _Curve, on_part: Callable[[int], None] | None) -> None:
    curve.finish(index)
    if on_part is not None:
        on_part(index)


@contextmanager
def _failing(src: Path, what: str, code: str = "media.convert_failed") -> Iterator[None]:
    """FFmpeg's and the file system's errors as ``code`` naming the step."""
    try:
        yield
    except _FAILURES as exc:
        raise FerrymanError(code, f"{src.name}: {what}: {exc}") from exc


@contextmanager
def _durable(workdir: Path, name: str) -> Iterator[Path]:
    """A temp path that becomes ``workdir/name`` only once its bytes are surely on disk.

    The data is fsynced before the rename and the directory after it, so once this
    returns a crash can no longer lose the part, and the caller may record it.
    """
    tmp = workdir / f".{name}.{os.getpid()}.tmp"  # a second writer (lost lease) never shares it
    try:
        yield tmp
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        tmp.replace(workdir / name)
        fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with suppress(OSError):  # never hide the real failure behind the cleanup's
            tmp.unlink(missing_ok=True)
        raise


class _Curve:
    """One rising curve from 0 to 1 over all parts, each part weighted by its cost.

    Reports are throttled to ``PROGRESS_INTERVAL``, except that the curve is never held
    back by more than half the smallest segment's share, so it never jumps by more than
    one segment even when segments finish faster than the interval.
    """

    def __init__(
        self,
        callback: Callable[[float], None] | None,
        weights: dict[int, float],
        finished: Collection[int],
    ) -> None:
        total = sum(weights.values()) or 1.0
        self._share = {key: weight / total for key, weight in weights.items()}
        self._callback = callback
        self._base = sum(self._share[key] for key in finished)
        # Bounded by the segments alone: the audio and the join report in small steps.
        self._step = min(v for k, v in self._share.items() if k >= 0) / 2
        self._sent = -1.0
        self._at = 0.0
        self._send(self._base, force=True)

    def at(self, part: int, fraction: float) -> None:
        """Part ``part`` (not finished yet) is ``fraction`` done."""
        self._send(self._base + self._share[part] * min(1.0, max(0.0, fraction)))

    def finish(self, part: int) -> None:
        self._base += self._share[part]
        self._send(self._base)

    def close(self) -> None:
        if self._callback is not None and self._sent < 1.0:
            self._sent = 1.0
            self._callback(1.0)

    def _send(self, value: float, *, force: bool = False) -> None:
        value = min(value, _ALMOST_DONE)
        if self._callback is None or value <= self._sent:
            return
        now = time.monotonic()
        if force or now - self._at >= PROGRESS_INTERVAL or value - self._sent >= self._step:
            self._sent, self._at = value, now
            self._callback(value)


# ---------------------------------------------------------------------------- video


def _encode_segment(
    src: Path,
    dst: Path,
    segment: Segment,
    source: _Source,
    fmt: _Format,
    settings: EncodeSettings,
    report: Callable[[float], None],
) -> None:
    with av.open(str(dst), "w", format="mp4") as out:
        encoder = _VideoEncoder(out, source, fmt, settings)
        for frame in _segment_frames(src, segment, source.time_base):
            report(encoder.encode(frame))
        if encoder.frames == 0:
            raise FerrymanError(
                "media.convert_failed",
                f"{src.name}: segment {segment.index + 1}: no decodable video",
            )
        encoder.flush()


def _segment_frames(src: Path, segment: Segment, time_base: Fraction) -> Iterator[VideoFrame]:
    """The decoded frames with ``start <= pts < end``, in display order.

    The first segment is decoded from the top of the file, so frames before the first
    keyframe are kept if they decode at all. The others seek back to their keyframe.
    MPEG-TS has no index, and its timestamp search can land just past the keyframe;
    then the seek aims earlier (decoding a little for nothing), and last from the top.
    """
    if segment.index > 0:
        for back in _SEEK_BACK:
            target = segment.start - round(back / time_base)
            landed = yield from _decode_range(src, segment, target)
            if landed:
                return
    yield from _decode_range(src, segment, None)


def _decode_range(
    src: Path, segment: Segment, seek: int | None
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
        video = _video_stream(inp, src)
        video.thread_type = "AUTO"
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

    Every segment's encoder is configured from the same ``_Format`` and settings, which
    is what makes the segments' SPS/PPS identical and the join a plain copy.
    """

    def __init__(
        self, out: OutputContainer, source: _Source, fmt: _Format, settings: EncodeSettings
    ) -> None:
        self._stream = out.add_stream("libx264", rate=fmt.rate, options=settings.x264_options())
        self._stream.width, self._stream.height = fmt.size
        self._stream.pix_fmt = "yuv420p"
        ctx = self._stream.codec_context
        ctx.time_base = source.time_base
        # PyAV defaults to slice threads, which x264 takes as --sliced-threads (slower,
        # worse compression); frame threads are what the ffmpeg command uses.
        ctx.thread_type = "AUTO"
        self._out = out
        self._time_base = source.time_base
        self._offset = source.offset
        self._step = max(1, round(1 / (fmt.rate * source.time_base)))
        self._size = fmt.size
        self._reformatter = VideoReformatter()  # one scaler for all frames, not one each
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


def _encode_audio(
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


# ---------------------------------------------------------------------------- join


def _join(
    src: Path,
    dst: Path,
    workdir: Path,
    segments: list[Segment],
    source: _Source,
    fmt: _Format,
    report: Callable[[float], None],
) -> None:
    """Copy the segments' packets in order, interleaved by time with the audio's."""
    _check_parts(src, workdir, len(segments))
    with ExitStack() as stack:
        out = stack.enter_context(av.open(str(dst), "w", format="mp4", options=MP4_OPTIONS))
        with av.open(str(workdir / video_part_name(0))) as first:
            video = out.add_stream_from_template(first.streams.video[0])
        if fmt.rotation:
            video.set_display_rotation(fmt.rotation)
        streams = [_video_packets(src, workdir, segments, source, video)]
        if fmt.has_audio:
            part = stack.enter_context(av.open(str(workdir / AUDIO_NAME)))
            audio = out.add_stream_from_template(part.streams.audio[0])
            streams.append(_copied(part.demux(part.streams.audio[0]), audio))
        for packet in heapq.merge(*streams, key=_time):
            report(float(_time(packet)))
            out.mux(packet)


def _check_parts(src: Path, workdir: Path, count: int) -> None:
    """All segments must share the first one's SPS/PPS and clock, or the copy would lie."""
    expected: tuple[bytes | None, Fraction | None] | None = None
    for index in range(count):
        with av.open(str(workdir / video_part_name(index))) as part:
            stream = part.streams.video[0]
            found = (stream.codec_context.extradata, stream.time_base)
        if expected is None:
            expected = found
        elif found != expected:
            raise FerrymanError(
                PARTS_UNUSABLE,
                f"{src.name}: {video_part_name(index)} was encoded with other settings than "
                f"{video_part_name(0)} (SPS/PPS or time base differ)",
            )


def _video_packets(
    src: Path, workdir: Path, segments: list[Segment], source: _Source, out: VideoStream
) -> Iterator[Packet[Any]]:
    """The segments' packets, one file after the other, with strictly rising dts.

    Each packet must lie inside its segment: a part left by a run with another plan
    (other ``segment_seconds``) would otherwise double or drop frames without a word.
    """
    last_dts: int | None = None
    for segment in segments:
        lower, upper = _bounds(source, segment)
        name = video_part_name(segment.index)
        with av.open(str(workdir / name)) as part:
            stream = part.streams.video[0]
            for packet in part.demux(stream):
                if not packet.size:
                    continue
                shown = (packet.pts or 0) * packet.time_base
                if not lower <= shown < upper:
                    raise FerrymanError(
                        PARTS_UNUSABLE,
                        f"{src.name}: {name} holds a frame at {float(shown):.3f} s, outside "
                        f"segment {segment.index + 1} (a part from another plan?)",
                    )
                last_dts = _rising(packet, last_dts)
                packet.stream = out
                yield packet


def _bounds(source: _Source, segment: Segment) -> tuple[Fraction, Fraction]:
    """The output times a segment's frames may have, with a little slack for rounding."""
    inf = Fraction(10**18)
    lower = -inf if segment.index == 0 else (segment.start - source.offset) * source.time_base
    upper = inf if segment.end is None else (segment.end - source.offset) * source.time_base
    return lower - _TOLERANCE, upper + _TOLERANCE


def _rising(packet: Packet[Any], last_dts: int | None) -> int:
    """Give ``packet`` a dts above ``last_dts`` and a pts not below it (as MP4 requires).

    Where two segments meet, x264's B-frame delay can give the next segment's first
    dts a value at or under the previous segment's last; one tick later is still exact.
    """
    dts = packet.dts if packet.dts is not None else packet.pts
    if dts is None:
        dts = 0 if last_dts is None else last_dts + 1
    if last_dts is not None and dts <= last_dts:
        dts = last_dts + 1
    packet.dts = dts
    packet.pts = dts if packet.pts is None else max(packet.pts, dts)
    return dts


def _copied(packets: Iterator[Packet[AudioStream]], out: AudioStream) -> Iterator[Packet[Any]]:
    last_dts: int | None = None
    for packet in packets:
        if packet.size:
            last_dts = _rising(packet, last_dts)
            packet.stream = out
            yield packet


def _time(packet: Packet[Any]) -> Fraction:
    return (packet.dts or 0) * packet.time_base
