"""Move playable streams into an MP4 with the index first, without re-encoding them.

Stream copy keeps quality and takes seconds, but timestamps must be made valid for
MP4: Matroska and TS leave some packets without a decode time, AVI has no presentation
times at all (so B-frames would play out of order), and every input may start late.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.failures import removing_on_failure
from ferryman.media.keep_tags import recording_tags
from ferryman.media.probe import first_streams

MP4_OPTIONS = {"movflags": "+faststart"}  # second pass moves moov before mdat


def remux_to_mp4(src: Path, dst: Path) -> None:
    """Copy the first video and audio stream of ``src`` into MP4 ``dst`` (faststart).

    Raises ``media.convert_failed``; a partial ``dst`` is removed.
    """
    with removing_on_failure(src, dst, "remux"):
        _remux(src, dst)


def _remux(src: Path, dst: Path) -> None:
    with av.open(str(src)) as inp:
        video, audio = first_streams(inp)
        if video is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no video stream to remux")
        display = _avi_display_times(src, video.index) if _needs_display_times(inp, video) else {}
        streams: list[VideoStream | AudioStream] = [s for s in (video, audio) if s is not None]
        with av.open(str(dst), "w", format="mp4", options=MP4_OPTIONS) as out:
            out.metadata.update(recording_tags(inp))
            fixers = {s.index: Timestamps(inp, s, out) for s in streams}
            for packet in inp.demux(streams):
                if packet.size == 0:  # end-of-stream marker from the demuxer
                    continue
                if display and packet.stream_index == video.index and packet.pts is not None:
                    packet.pts = display.get(packet.pts, packet.pts)
                out.mux(fixers[packet.stream_index].push(packet))
            for fixer in fixers.values():
                out.mux(fixer.flush())


def _needs_display_times(inp: InputContainer, video: VideoStream) -> bool:
    return inp.format.name == "avi" and bool(video.codec_context.has_b_frames)


def _avi_display_times(src: Path, index: int) -> dict[int, int]:
    """Map AVI's made-up presentation times to real ones, learned by decoding once.

    AVI stores frames in decode order with no presentation times; FFmpeg invents
    ``pts = dts + 1``, which in MP4 would show B-frames out of order. The decoder
    emits frames in display order, each tagged with its packet's made-up pts, so the
    k-th frame out gets the k-th tick of the (evenly spaced) decode clock, shifted
    so that no frame is shown before it is decoded.
    """
    dts_of: dict[int, int] = {}
    shown: list[int] = []
    with av.open(str(src)) as inp:
        stream = next(s for s in inp.streams.video if s.index == index)
        for packet in inp.demux(stream):
            if packet.size and packet.pts is not None and packet.dts is not None:
                dts_of[packet.pts] = packet.dts
            shown.extend(f.pts for f in packet.decode() if f.pts is not None)
    ticks = sorted(dts_of.values())
    pairs = [(pts, tick) for pts, tick in zip(shown, ticks, strict=False) if pts in dts_of]
    if len(pairs) != len(dts_of):  # frames lost in decoding: keep FFmpeg's guess
        return {}
    shift = max((dts_of[pts] - tick for pts, tick in pairs), default=0)
    return {pts: tick + max(shift, 0) for pts, tick in pairs}


class Timestamps:
    """Makes one stream's packets muxable: every packet gets a rising dts and pts >= dts.

    Packets without a dts (the first B-frame-delayed packets of Matroska, say) are held
    until a packet with one arrives, then given dts counting back from it. All times
    move back by the input's start so the output starts at zero.
    """

    def __init__(
        self,
        inp: InputContainer,
        stream: VideoStream | AudioStream,
        out: OutputContainer,
        start: int | None = None,
    ):
        """``start`` (in ``av.time_base`` units) replaces the input's own start: streams
        joined from several files move back by one shared start, so they stay in sync."""
        self._out_stream: Stream = out.add_stream_from_template(stream)
        time_base = stream.time_base or Fraction(1, av.time_base)
        begin = inp.start_time or 0 if start is None else start
        self._offset = round(Fraction(begin, av.time_base) / time_base)
        self._pending: list[Packet[Stream]] = []
        self._last_dts: int | None = None
        self._last_duration = 1

    def push(self, packet: Packet[Stream]) -> list[Packet[Stream]]:
        if packet.dts is None:
            self._pending.append(packet)
            return []
        dts = packet.dts
        for held in reversed(self._pending):
            dts -= held.duration or self._last_duration
            held.dts = dts if held.pts is None else min(dts, held.pts)
        ready, self._pending = [*self._pending, packet], []
        return [self._emit(p) for p in ready]

    def flush(self) -> list[Packet[Stream]]:
        """Packets never followed by one with a dts: trust their pts, else count on."""
        ready, self._pending = self._pending, []
        for held in ready:
            held.dts = held.pts
        return [self._emit(p) for p in ready]

    def _emit(self, packet: Packet[Stream]) -> Packet[Stream]:
        dts = packet.dts
        if dts is None:
            dts = 0 if self._last_dts is None else self._last_dts + self._last_duration
        else:
            dts -= self._offset
        if self._last_dts is not None and dts <= self._last_dts:
            dts = self._last_dts + 1
        pts = dts if packet.pts is None else max(packet.pts - self._offset, dts)
        packet.dts, packet.pts = dts, pts
        self._last_dts = dts
        self._last_duration = packet.duration or self._last_duration
        packet.stream = self._out_stream
        return packet
