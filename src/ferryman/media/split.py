"""Cut a playable MP4 that is over a destination's size limit into parts that each fit.

Cuts fall on video keyframes and are made by stream copy, so every part plays on its
own, starts at zero and loses nothing. Video packets go to the part of the keyframe
they follow in decode order; audio packets to the part whose time span holds their
start, so no sound is lost or doubled at a join. A part's size is planned from the
packet sizes plus an estimate of the MP4 index, then checked on disk: a part that came
out too big is cut one keyframe interval shorter and written again.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.keep_tags import recording_tags
from ferryman.media.probe import first_streams
from ferryman.media.progress import Progress
from ferryman.media.remux import MP4_OPTIONS
from ferryman.media.timestamps import copied_stream

# The MP4 index grows with the packets (sample size, time, chunk offset entries):
# budget this much per packet, plus a fixed allowance for headers and the mdat box.
INDEX_BYTES_PER_PACKET = 16
INDEX_BYTES_FIXED = 4096
_FAILURES = (av.FFmpegError, OSError, ValueError, EOFError)


def split_at_keyframes(
    src: Path,
    out_dir: Path,
    stem: str,
    max_bytes: int,
    progress: Callable[[float], None] | None = None,
) -> list[Path]:
    """Cut ``src`` at video keyframes into ``out_dir/{stem}.partN.mp4`` of at most ``max_bytes``.

    Returns ``[src]`` untouched if it already fits. Every part is a faststart MP4 whose
    first video packet is a keyframe at time zero. ``progress`` receives rising
    fractions ending at 1.0. Raises ``media.over_limit`` when one keyframe interval
    alone is too big, ``media.convert_failed`` otherwise; no part is left behind.
    """
    if src.stat().st_size <= max_bytes:
        return [src]
    created: list[Path] = []
    try:
        return _split(src, out_dir, stem, max_bytes, Progress(progress), created)
    except FerrymanError:
        _remove(created)
        raise
    except _FAILURES as exc:
        _remove(created)
        raise FerrymanError("media.convert_failed", f"{src.name}: split failed ({exc})") from exc


@dataclass(frozen=True, slots=True)
class _Gop:
    """One keyframe interval: where it starts and what it holds."""

    dts: int  # of its first video packet (video time base)
    pts: int  # of its first video packet, where a part starting here begins
    time: Fraction  # that pts in seconds: the audio is cut here too
    video: int  # video packets
    audio: int  # audio packets whose start falls in its time span
    size: int  # bytes of all those packets


@dataclass(frozen=True, slots=True)
class _Part:
    gops: tuple[_Gop, ...]
    end: Fraction | None  # the next part's start time; None for the last part

    @property
    def size(self) -> int:
        return sum(g.size for g in self.gops)

    @property
    def video(self) -> int:
        return sum(g.video for g in self.gops)

    @property
    def audio(self) -> int:
        return sum(g.audio for g in self.gops)


def _split(
    src: Path, out_dir: Path, stem: str, max_bytes: int, progress: Progress, created: list[Path]
) -> list[Path]:
    gops = _index(src)
    too_big = [g for g in gops if _estimate(g.size, g.video + g.audio) > max_bytes]
    if too_big:
        raise _over_limit(src, too_big[0], max_bytes)
    progress.start(sum(g.size for g in gops))
    out_dir.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    first, done = 0, 0
    while first < len(gops):
        path = out_dir / f"{stem}.part{len(parts) + 1}.mp4"
        temp = path.with_name(path.name + ".part")
        created += [temp, path]
        part = _write_fitting(src, temp, gops, first, max_bytes, _Ticker(progress, done))
        os.replace(temp, path)
        parts.append(path)
        done += part.size
        first += len(part.gops)
    progress.done()
    return parts


def _write_fitting(
    src: Path, temp: Path, gops: list[_Gop], first: int, max_bytes: int, ticker: _Ticker
) -> _Part:
    """Write the longest run of intervals from ``first`` that fits on disk into ``temp``."""
    last = _fill(gops, first, max_bytes)
    while True:
        part = _Part(tuple(gops[first:last]), gops[last].time if last < len(gops) else None)
        _write_part(src, temp, part, first == 0, ticker)
        if temp.stat().st_size <= max_bytes:
            return part
        if last - first == 1:  # the estimate was too kind and nothing is left to cut
            raise _over_limit(src, gops[first], max_bytes)
        last -= 1


class _Ticker:
    """Reports a part's bytes written on top of the bytes of the parts before it."""

    def __init__(self, progress: Progress, before: int) -> None:
        self._progress = progress
        self._before = before

    def __call__(self, written: int) -> None:
        self._progress.update(self._before + written)


def _estimate(payload: int, packets: int) -> int:
    return payload + packets * INDEX_BYTES_PER_PACKET + INDEX_BYTES_FIXED


def _fill(gops: list[_Gop], first: int, max_bytes: int) -> int:
    """The end (exclusive) of the longest run of intervals from ``first`` that fits."""
    size = packets = 0
    last = first
    while last < len(gops):
        gop = gops[last]
        if _estimate(size + gop.size, packets + gop.video + gop.audio) > max_bytes:
            break
        size, packets, last = size + gop.size, packets + gop.video + gop.audio, last + 1
    return max(last, first + 1)


def _over_limit(src: Path, gop: _Gop, max_bytes: int) -> FerrymanError:
    return FerrymanError(
        "media.over_limit",
        f"{src.name}: the keyframe interval at {float(gop.time):.1f}s holds {gop.size} bytes;"
        f" a part may hold {max_bytes}, so no keyframe cut can make it fit",
    )


def _streams(src: Path, inp: InputContainer) -> tuple[VideoStream, AudioStream | None]:
    video, audio = first_streams(inp)
    if video is None:
        raise FerrymanError("media.convert_failed", f"{src.name}: no video stream to split")
    return video, audio


def _index(src: Path) -> list[_Gop]:
    """The keyframe intervals of ``src``, read from packet headers (nothing decoded)."""
    video_packets: list[tuple[int, int, int, bool]] = []  # dts, pts, size, keyframe
    audio_packets: list[tuple[Fraction, int]] = []  # start time, size
    with av.open(str(src)) as inp:
        video, audio = _streams(src, inp)
        for packet in inp.demux([s for s in (video, audio) if s is not None]):
            if packet.size == 0:
                continue
            if packet.stream_index == video.index:
                dts, pts = _times(src, packet)
                video_packets.append((dts, pts, packet.size, packet.is_keyframe))
            else:
                audio_packets.append((_start(src, packet), packet.size))
        time_base = video.time_base or Fraction(1, av.time_base)
    if not video_packets:
        raise FerrymanError("media.convert_failed", f"{src.name}: no video packets to split")
    starts = [i for i, p in enumerate(video_packets) if p[3] and i > 0]
    bounds = list(zip([0, *starts], [*starts, len(video_packets)], strict=True))
    times = [video_packets[a][1] * time_base for a, _ in bounds]
    audio_count, audio_size = [0] * len(bounds), [0] * len(bounds)
    for start, size in audio_packets:
        owner = max(0, bisect.bisect_right(times, start) - 1)
        audio_count[owner] += 1
        audio_size[owner] += size
    gops = [
        _Gop(
            dts=video_packets[a][0],
            pts=video_packets[a][1],
            time=times[g],
            video=b - a,
            audio=audio_count[g],
            size=sum(p[2] for p in video_packets[a:b]) + audio_size[g],
        )
        for g, (a, b) in enumerate(bounds)
    ]
    return gops


def _times(src: Path, packet: Packet[Stream]) -> tuple[int, int]:
    if packet.dts is None or packet.pts is None:
        raise FerrymanError("media.convert_failed", f"{src.name}: a video packet has no time")
    return packet.dts, packet.pts


def _start(src: Path, packet: Packet[Stream]) -> Fraction:
    ts = packet.pts if packet.pts is not None else packet.dts
    if ts is None or packet.time_base is None:
        raise FerrymanError("media.convert_failed", f"{src.name}: an audio packet has no time")
    return ts * packet.time_base


def _write_part(
    src: Path, dst: Path, part: _Part, first: bool, progress: Callable[[int], None]
) -> None:
    """Copy one part's packets into ``dst``, seeking to its keyframe; retried from the
    start of the file if the seek skipped any of them."""
    if not _copy_part(src, dst, part, first, progress, seek=not first):
        dst.unlink(missing_ok=True)
        if not _copy_part(src, dst, part, first, progress, seek=False):
            raise FerrymanError(
                "media.convert_failed",
                f"{src.name}: the part at {float(part.gops[0].time):.1f}s lost packets",
            )


def _copy_part(
    src: Path, dst: Path, part: _Part, first: bool, progress: Callable[[int], None], *, seek: bool
) -> bool:
    """Whether every planned packet of ``part`` was written to ``dst``."""
    start = part.gops[0]
    with av.open(str(src)) as inp:
        video, audio = _streams(src, inp)
        if seek:
            inp.seek(start.dts, stream=video, backward=True)
        with av.open(str(dst), "w", format="mp4", options=MP4_OPTIONS) as out:
            out.metadata.update(recording_tags(inp))
            shift = _Shift(out, video, audio, start, first)
            for packet in inp.demux([s for s in (video, audio) if s is not None]):
                if packet.size == 0:
                    continue
                if packet.stream_index == video.index:
                    shift.video(packet, part)
                else:
                    shift.audio(src, packet, part)
                progress(shift.bytes)
                if shift.videos == part.video and (audio is None or shift.audio_done):
                    break
    return shift.videos == part.video and shift.audios == part.audio


class _Shift:
    """Picks a part's packets out of the demuxed ones and moves them to start at zero.

    Video and audio move back by the same instant (the part's first keyframe), so
    they stay in sync; the first part keeps the source's own timeline.
    """

    def __init__(
        self,
        out: av.container.OutputContainer,
        video: VideoStream,
        audio: AudioStream | None,
        start: _Gop,
        first: bool,
    ) -> None:
        self._out = out
        self._video = copied_stream(out, video)
        self._audio = copied_stream(out, audio) if audio is not None else None
        self._start = start
        self._first = first
        self._video_offset = 0 if first else start.pts
        audio_base = audio.time_base if audio is not None and audio.time_base else Fraction(1)
        self._audio_offset = 0 if first else round(start.time / audio_base)
        self.videos = self.audios = self.bytes = 0
        self.audio_done = False

    def video(self, packet: Packet[Stream], part: _Part) -> None:
        if self.videos == 0 and packet.dts != self._start.dts:
            return  # the seek landed before the part's keyframe
        if self.videos >= part.video or packet.dts is None or packet.pts is None:
            return
        packet.dts -= self._video_offset
        packet.pts -= self._video_offset
        self._mux(packet, self._video)
        self.videos += 1

    def audio(self, src: Path, packet: Packet[Stream], part: _Part) -> None:
        start = _start(src, packet)
        if not self._first and start < self._start.time:
            return
        if part.end is not None and start >= part.end:
            self.audio_done = True
            return
        if packet.pts is not None:
            packet.pts -= self._audio_offset
        if packet.dts is not None:
            packet.dts -= self._audio_offset
        assert self._audio is not None
        self._mux(packet, self._audio)
        self.audios += 1

    def _mux(self, packet: Packet[Stream], stream: Stream) -> None:
        self.bytes += packet.size
        packet.stream = stream
        self._out.mux(packet)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
