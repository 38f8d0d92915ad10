"""A full transcode that survives crashes: the video is encoded in keyframe-aligned segments.

A one-pass transcode of a long film that dies at 45 % must start again from zero. Here
the video is cut at the source's keyframes into segments of ~``segment_seconds``; each
is decoded from its own keyframe and encoded alone into a part file in ``workdir``, and
the audio is encoded once into a part of its own. A part is renamed into place only
once it is on disk, and only then reported (``on_part``), so a caller that records the
reported indexes can pass them back as ``done`` after a crash: only the part that was
in progress is encoded again. Every part uses the same encoder settings, so the parts'
H.264 streams share one SPS/PPS and are joined by copying packets, without re-encoding.

The parts: ``segment_plan`` (segments, names, the output format), ``segment_encode``
(a segment's video, the audio), ``segment_join`` (the copy); here, the run, its
progress curve and the durable renames.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import av

from ferryman.errors import FerrymanError
from ferryman.media.hdr import cube_file
from ferryman.media.progress import PROGRESS_INTERVAL
from ferryman.media.segment_encode import encode_audio, encode_segment
from ferryman.media.segment_join import join_parts
from ferryman.media.segment_plan import (
    AUDIO_NAME,
    AUDIO_PART,
    PARTS_UNUSABLE,
    EncodeSettings,
    OutputFormat,
    ScannedVideo,
    Segment,
    cut_segments,
    output_format,
    part_name,
    scan_video,
    video_part_name,
)

__all__ = [
    "AUDIO_PART",
    "PARTS_UNUSABLE",
    "EncodeSettings",
    "Segment",
    "part_name",
    "plan_segments",
    "transcode_in_child",
    "transcode_resumable",
]

_JOIN = -2  # the join's key in the progress weights
_FAILURES = (av.FFmpegError, OSError, ValueError, EOFError)
# Rough costs, only to weigh the parts of the progress curve against each other
# (measured at 1080p with x264 veryfast on two cores): seconds of work per output
# pixel, per second of audio, and the join as a share of the video's work.
_PIXEL_COST = 1 / 60e6
_AUDIO_COST = 1 / 80
_JOIN_SHARE = 0.04
_ALMOST_DONE = 1 - 1e-9  # the curve reaches 1.0 only once the output is complete


def plan_segments(src: Path, target_seconds: float = 20.0) -> list[Segment]:
    """Cut the video of ``src`` at keyframes into segments of at least ~``target_seconds``.

    Reads packets only (no decoding), and depends on nothing but the file, so a
    restarted job gets the same plan. Raises ``media.convert_failed``.
    """
    with _failing(src, "scan"):
        return cut_segments(scan_video(src), target_seconds)


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
        source = scan_video(src)
        fmt = output_format(src, settings)
    with _failing(src, "work folder"):
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in workdir.glob(".*.tmp"):  # half a part from a killed or stale writer
            if stale.is_file():
                stale.unlink(missing_ok=True)
    segments = cut_segments(source, segment_seconds)
    parts = ([AUDIO_PART] if fmt.has_audio else []) + [s.index for s in segments]
    reused = {i for i in parts if i in done and (workdir / part_name(i)).exists()}
    curve = _Curve(progress, _weights(source, segments, fmt), reused)
    if fmt.has_audio and AUDIO_PART not in reused:
        with _failing(src, "audio"), _durable(workdir, AUDIO_NAME) as tmp:
            encode_audio(src, tmp, settings, _reporter(curve, AUDIO_PART, 0.0, _length(source)))
        _finished(AUDIO_PART, curve, on_part)
    with cube_file(fmt.hdr) as cube:  # HDR: one tone-mapping table for every segment
        for segment in segments:
            if segment.index not in reused:
                first, last = _span(source, segment)
                report = _reporter(curve, segment.index, first, last)
                with (
                    _failing(src, _label(segment, len(segments), first, last)),
                    _durable(workdir, video_part_name(segment.index)) as tmp,
                ):
                    encode_segment(src, tmp, segment, source, fmt, settings, report, cube)
                _finished(segment.index, curve, on_part)
    with _failing(src, "join", PARTS_UNUSABLE):
        join = _reporter(curve, _JOIN, 0.0, _length(source))
        join_parts(src, dst, workdir, segments, source, fmt, join, settings.audio_bitrate)
    curve.close()


def _reporter(curve: _Curve, part: int, first: float, last: float) -> Callable[[float], None]:
    """Seconds reached inside ``[first, last)`` as that part's progress."""
    return lambda seconds: curve.at(part, (seconds - first) / (last - first))


def _length(source: ScannedVideo) -> float:
    return max(source.seconds(source.end), 1e-3)


def _span(source: ScannedVideo, segment: Segment) -> tuple[float, float]:
    """The seconds a segment covers; the first from the very start, the last to the end."""
    first = 0.0 if segment.index == 0 else source.seconds(segment.start)
    last = source.seconds(source.end if segment.end is None else segment.end)
    return first, max(last, first + 1e-3)


def _label(segment: Segment, count: int, first: float, last: float) -> str:
    return f"segment {segment.index + 1} of {count} ({first:.1f}-{last:.1f} s)"


def _weights(source: ScannedVideo, segments: list[Segment], fmt: OutputFormat) -> dict[int, float]:
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
