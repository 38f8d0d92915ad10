"""The resumable transcode's join (``segmented``): the parts' packets copied in
order, checked to share one SPS/PPS and to lie in their segments, no re-encoding."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.keep_tags import recording_tags
from ferryman.media.probe import first_streams
from ferryman.media.segment_plan import (
    AUDIO_NAME,
    PARTS_UNUSABLE,
    OutputFormat,
    ScannedVideo,
    Segment,
    video_part_name,
)
from ferryman.media.timestamps import MP4_OPTIONS
from ferryman.media.tracks import ExtraTracks

_TOLERANCE = Fraction(1, 1000)  # seconds a part's timestamps may stray from its segment


def join_parts(
    src: Path,
    dst: Path,
    workdir: Path,
    segments: list[Segment],
    source: ScannedVideo,
    fmt: OutputFormat,
    report: Callable[[float], None],
    audio_bitrate: int,
) -> None:
    """Copy the segments' packets in order, interleaved by time with the audio's and
    with the source's other tracks (``media.tracks``: read from ``src`` here, as they
    need no video decoding, so no part holds them)."""
    _check_parts(src, workdir, len(segments))
    with ExitStack() as stack:
        out = stack.enter_context(av.open(str(dst), "w", format="mp4", options=MP4_OPTIONS))
        with av.open(str(src)) as tagged:
            out.metadata.update(recording_tags(tagged))
        with av.open(str(workdir / video_part_name(0))) as first:
            video = out.add_stream_from_template(first.streams.video[0])
        if fmt.rotation:
            video.set_display_rotation(fmt.rotation)
        streams = [_video_packets(src, workdir, segments, source, video)]
        if fmt.has_audio:
            part = stack.enter_context(av.open(str(workdir / AUDIO_NAME)))
            audio = out.add_stream_from_template(part.streams.audio[0])
            streams.append(_copied(part.demux(part.streams.audio[0]), audio))
        original = stack.enter_context(av.open(str(src)))
        extras = ExtraTracks(original, first_streams(original)[1], out, audio_bitrate=audio_bitrate)
        if extras.inputs:
            streams.append(_extra_packets(original, extras))
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
    src: Path, workdir: Path, segments: list[Segment], source: ScannedVideo, out: VideoStream
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


def _bounds(source: ScannedVideo, segment: Segment) -> tuple[Fraction, Fraction]:
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


def _extra_packets(original: InputContainer, extras: ExtraTracks) -> Iterator[Packet[Any]]:
    """The other tracks' output packets, in the order the source interleaves them."""
    for packet in original.demux(extras.inputs):
        yield from extras.push(packet)
    yield from extras.flush()


def _time(packet: Packet[Any]) -> Fraction:
    return (packet.dts or 0) * packet.time_base
