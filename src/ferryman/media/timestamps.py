"""Packet times an MP4 accepts, for streams copied from any container (``Timestamps``)."""

from __future__ import annotations

from fractions import Fraction

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

MP4_OPTIONS = {"movflags": "+faststart"}  # second pass moves moov before mdat
# HEVC in MP4/MOV is tagged ``hvc1`` (parameter sets in the sample entry), the tag Apple's
# players require; FFmpeg's muxer otherwise writes ``hev1``, which they refuse.
HEVC_TAG = "hvc1"
_TAGGED_FORMATS = frozenset({"mp4", "mov", "ipod", "3gp", "3g2", "ismv", "f4v"})


def copied_stream(out: OutputContainer, stream: VideoStream | AudioStream) -> Stream:
    """A stream of ``out`` for ``stream``'s packets, copied. A video keeps its shape:
    the pixel shape the source shows (its container's first, as FFmpeg reads it), which
    a copy of the codec's parameters alone would lose when the container says another
    (an MP4's ``pasp``, Matroska's display size), as the ffmpeg command keeps it."""
    copy = out.add_stream_from_template(stream)
    if isinstance(stream, VideoStream) and isinstance(copy, VideoStream):
        sar = stream.sample_aspect_ratio  # FFmpeg's guess: the container's, then the codec's
        if sar and sar > 0:
            copy.codec_context.sample_aspect_ratio = sar
    tag_for_apple(out, copy)
    return copy


def tag_for_apple(out: OutputContainer, stream: Stream) -> None:
    """An HEVC stream written to an MP4 or a MOV keeps (or gets) the ``hvc1`` tag an
    iPhone gave it: a remux or a join must not turn it into ``hev1``."""
    names = set(out.format.name.split(","))
    if stream.type == "video" and names & _TAGGED_FORMATS:
        context = stream.codec_context
        if context.codec.canonical_name == "hevc":
            context.codec_tag = HEVC_TAG


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
        self.stream: Stream = copied_stream(out, stream)
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
        packet.stream = self.stream
        return packet
