"""The resumable transcode's plan (``segmented``): the video cut at keyframes into
segments, each part's file name, and the output format every segment shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.hdr import hdr_transfer
from ferryman.media.probe import first_streams, pixel_shape
from ferryman.media.transcode import output_size

AUDIO_PART = -1  # the index reported for the audio track's part
AUDIO_NAME = "audio.m4a"
_FALLBACK_RATE = Fraction(25)

# The finished parts cannot be joined: the caller must discard them and start over.
PARTS_UNUSABLE = "media.parts_unusable"


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    crf: int = 23
    preset: str = "veryfast"
    max_height: int = 1080  # bound on the short side (see ``transcode.output_size``)
    audio_bitrate: int = 128_000
    max_bitrate: int | None = None  # video bits/s cap (capped CRF), to fit a size limit
    # FFmpeg's threads for the decoder and for x264 (0: by the cores; config's
    # ``convert.threads``). Out of the repr, which names the parts' folder: the parts
    # are the same whatever the threads, and a change must not discard them.
    threads: int = field(default=0, repr=False)
    # x264's lookahead in frames (None: the preset's; ``convert.lookahead``): each frame
    # it holds costs memory, and so does the queue feeding a lookahead thread, which a
    # set lookahead turns off. Out of the repr, as ``threads``: parts still join.
    lookahead: int | None = field(default=None, repr=False)

    def x264_options(self) -> dict[str, str]:
        """Encoder options; a cap keeps CRF's quality where it fits and limits the peaks."""
        options = {"crf": str(self.crf), "preset": self.preset}
        if self.max_bitrate:
            options |= {"maxrate": str(self.max_bitrate), "bufsize": str(self.max_bitrate)}
        if self.lookahead is not None:
            options |= {"rc-lookahead": str(self.lookahead), "x264-params": "sync-lookahead=0"}
        return options


@dataclass(frozen=True, slots=True)
class Segment:
    index: int
    start: int  # first keyframe pts of the segment, in the video stream's time_base
    end: int | None  # next segment's start pts (exclusive); None for the last


def video_part_name(index: int) -> str:
    return f"video-{index:05d}.mp4"


def part_name(index: int) -> str:
    """The file in ``workdir`` that holds part ``index`` (``AUDIO_PART`` or a segment)."""
    return AUDIO_NAME if index == AUDIO_PART else video_part_name(index)


@dataclass(frozen=True, slots=True)
class ScannedVideo:
    """What the demux-only scan learned about the video stream (times in its ticks)."""

    time_base: Fraction
    keyframes: tuple[int, ...]  # pts of the keyframes, rising
    first: int  # lowest pts
    end: int  # end of the last frame
    offset: int  # the container's start: output times count from here

    def seconds(self, pts: int) -> float:
        return float((pts - self.offset) * self.time_base)


def scan_video(src: Path) -> ScannedVideo:
    with av.open(str(src)) as inp:
        video = video_stream(inp, src)
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
    return ScannedVideo(time_base, tuple(sorted(keyframes)), first, end, offset)


def cut_segments(source: ScannedVideo, target_seconds: float) -> list[Segment]:
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


def video_stream(inp: InputContainer, src: Path) -> VideoStream:
    video, _ = first_streams(inp)
    if video is None:
        raise FerrymanError("media.convert_failed", f"{src.name}: no video stream")
    return video


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """The output's fixed parameters, identical for every segment."""

    rate: Fraction
    size: tuple[int, int]
    rotation: int
    has_audio: bool
    hdr: str | None = None  # "pq" or "hlg": tone-mapped to BT.709 (``media.hdr``)


def output_format(src: Path, settings: EncodeSettings) -> OutputFormat:
    with av.open(str(src)) as inp:
        video, audio = first_streams(inp)
        if video is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no video stream")
        ctx = video.codec_context
        size = output_size(ctx.width, ctx.height, pixel_shape(video), settings.max_height)
        rate = video.average_rate or video.guessed_rate or _FALLBACK_RATE
        rotation = _rotation(inp, video)
        return OutputFormat(rate, size, rotation, audio is not None, hdr_transfer(video))


def _rotation(inp: InputContainer, video: VideoStream) -> int:
    """The display rotation (degrees, counter-clockwise) of the first decodable frame."""
    for packet in inp.demux(video):
        try:
            for frame in packet.decode():
                return frame.rotation
        except av.InvalidDataError:
            continue
    return 0
